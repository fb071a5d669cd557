package catalog

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// kindRules validate a value of each kind with AWS's own naming rules, so a typo fails before any call
// that writes, with the rule in the message.
var kindRules = map[Kind]func(p *Parameter, v string) error{
	KindBucket:         checkBucket,
	KindPrefix:         checkPrefix,
	KindQueue:          checkQueue,
	KindStream:         pattern(`^[A-Za-z0-9_.-]{1,128}$`, "Kinesis stream names are 1-128 letters, digits, underscores, hyphens and periods"),
	KindDeliveryStream: pattern(`^[A-Za-z0-9_.-]{1,64}$`, "Firehose delivery stream names are 1-64 letters, digits, underscores, hyphens and periods"),
	KindApplication:    pattern(`^[A-Za-z0-9_.-]{3,255}$`, "KCL application names name a DynamoDB table: 3-255 letters, digits, underscores, hyphens and periods"),
	KindSecret:         checkSecret,
	KindKMSKey:         checkKMSKey,
	KindChoice:         checkChoice,
}

func kindNames() []string {
	names := make([]string, 0, len(kindRules))
	for k := range kindRules {
		names = append(names, string(k))
	}
	sort.Strings(names)
	return names
}

// check validates v against the parameter's kind.
func (p *Parameter) check(v string) error {
	rule, ok := kindRules[p.Kind]
	if !ok {
		return fmt.Errorf("unknown kind %q", p.Kind)
	}
	return rule(p, v)
}

func pattern(expr, rule string) func(*Parameter, string) error {
	re := regexp.MustCompile(expr)
	return func(_ *Parameter, v string) error {
		if !re.MatchString(v) {
			return errors.New(rule)
		}
		return nil
	}
}

var (
	bucketRE   = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]*[a-z0-9]$`)
	ipv4LikeRE = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$`)
)

// checkBucket applies the S3 general purpose bucket naming rules.
func checkBucket(_ *Parameter, v string) error {
	const rule = "S3 bucket names are 3-63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit"
	switch {
	case len(v) < 3 || len(v) > 63 || !bucketRE.MatchString(v):
		return errors.New(rule)
	case strings.Contains(v, ".."):
		return errors.New("S3 bucket names cannot contain two adjacent periods")
	case ipv4LikeRE.MatchString(v):
		return errors.New("S3 bucket names cannot look like an IP address")
	}
	for _, p := range []string{"xn--", "sthree-", "amzn-s3-demo-"} {
		if strings.HasPrefix(v, p) {
			return fmt.Errorf("S3 bucket names cannot start with %q (reserved by AWS)", p)
		}
	}
	for _, s := range []string{"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"} {
		if strings.HasSuffix(v, s) {
			return fmt.Errorf("S3 bucket names cannot end with %q (reserved by AWS for access points and special buckets)", s)
		}
	}
	return nil
}

// checkPrefix keeps object key prefixes from widening the grant: '*' and '?' are IAM wildcards and "${"
// starts an IAM policy variable.
func checkPrefix(_ *Parameter, v string) error {
	switch {
	case len(v) > 1024 || !utf8.ValidString(v):
		return errors.New("S3 key prefixes are at most 1024 bytes of UTF-8")
	case strings.ContainsAny(v, "*?"):
		return errors.New("a key prefix cannot contain * or ?, which IAM reads as wildcards: give the literal prefix (the policy appends * itself)")
	case strings.Contains(v, "${"):
		return errors.New("a key prefix cannot contain ${, which IAM reads as a policy variable")
	case strings.IndexFunc(v, unicode.IsControl) >= 0:
		return errors.New("a key prefix cannot contain control characters")
	}
	return nil
}

var queueRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func checkQueue(_ *Parameter, v string) error {
	base := strings.TrimSuffix(v, ".fifo")
	if len(v) > 80 || base == "" || !queueRE.MatchString(base) {
		return errors.New("SQS queue names are 1-80 letters, digits, hyphens and underscores, FIFO queues ending in .fifo")
	}
	return nil
}

var secretRE = regexp.MustCompile(`^[A-Za-z0-9/_+=.@-]{1,512}$`)

func checkSecret(_ *Parameter, v string) error {
	if strings.HasPrefix(v, "arn:") {
		return errors.New("give the secret's name, not its ARN: the policy builds the ARN and matches the random suffix AWS appends")
	}
	if !secretRE.MatchString(v) {
		//lint:ignore ST1005 "Secrets Manager" is the service's name
		return errors.New("Secrets Manager secret names are 1-512 letters, digits and /_+=.@- characters")
	}
	return nil
}

var (
	kmsKeyARNRE   = regexp.MustCompile(`^arn:(aws|aws-cn|aws-us-gov):kms:[a-z]{2}(-[a-z]+)+-[0-9]+:[0-9]{12}:key/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$`)
	kmsAliasARNRE = regexp.MustCompile(`^arn:(aws|aws-cn|aws-us-gov):kms:([a-z]{2}(?:-[a-z]+)+-[0-9]+):([0-9]{12}):(alias/[A-Za-z0-9/_-]{1,250})$`)
)

func checkKMSKey(_ *Parameter, v string) error {
	if m := kmsAliasARNRE.FindStringSubmatch(v); m != nil {
		if strings.HasPrefix(m[4], "alias/aws/") {
			return errors.New("AWS managed keys (alias/aws/...) are usable through their service without an IAM grant: leave kms-key unset")
		}
		return nil
	}
	if !kmsKeyARNRE.MatchString(v) {
		return errors.New("a KMS key is a key ARN (arn:aws:kms:REGION:ACCOUNT:key/KEY-ID) or an alias ARN (arn:aws:kms:REGION:ACCOUNT:alias/NAME); 'aws kms describe-key --key-id alias/NAME' prints the key ARN")
	}
	return nil
}

func checkChoice(p *Parameter, v string) error {
	if !slices.Contains(p.Values, v) {
		return fmt.Errorf("must be one of %s", strings.Join(p.Values, ", "))
	}
	return nil
}
