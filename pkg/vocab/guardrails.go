package vocab

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Environment variables a platform team sets once for everyone who runs bind (a flag wins over them).
const (
	// EnvPermissionsBoundary is the default of --permissions-boundary.
	EnvPermissionsBoundary = "KUBECTL_SDC_PERMISSIONS_BOUNDARY"
	// EnvRolePath is the default of --role-path.
	EnvRolePath = "KUBECTL_SDC_ROLE_PATH"
	// EnvTags holds comma-separated KEY=VALUE tags added to every --tag.
	EnvTags = "KUBECTL_SDC_TAGS"
)

// TagAssumeRoleARN records, on the role bind makes for one binding, the role ARN its SDC stages assume
// ("Assume Another Role"); a role shared on purpose records each binding's under TagAssumeRoleARN/<id>.
const TagAssumeRoleARN = "kubectl-sdc/assume-role-arn"

// The STS action SDC's "Assume Another Role" performs with the pod's credentials.
const ActionAssumeRole = "sts:AssumeRole"

// IAM's limits on the guardrail settings of a role.
const (
	// MinMaxSessionDuration and MaxMaxSessionDuration bound a role's MaxSessionDuration, in seconds.
	MinMaxSessionDuration = 3600
	MaxMaxSessionDuration = 43200
	// MaxPath is the longest role or policy path IAM accepts.
	MaxPath = 512
	// MaxRoleDescription is the longest role description IAM accepts.
	MaxRoleDescription = 1000
	// OwnRoleTags is how many tags bind itself may write on a role made for one binding (managed-by,
	// cluster, cluster ARN, namespace, ServiceAccount, stages, assume-role target): MaxRoleTags minus
	// these is what --tag may add.
	OwnRoleTags = 7
)

var (
	// pathRE is IAM's path: "/" alone, or printable ASCII without spaces between a leading and a trailing "/".
	pathRE = regexp.MustCompile(`^/([\x21-\x7E]*/)?$`)
	// tagKeyRE and tagValueRE are IAM's tag alphabet (letters, separators, digits and _.:/=+-@); a value may be empty.
	tagKeyRE   = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]+$`)
	tagValueRE = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)
	// descriptionRE is IAM's role description alphabet.
	descriptionRE = regexp.MustCompile(`^[\x{0009}\x{000A}\x{000D}\x{0020}-\x{007E}\x{00A1}-\x{00FF}]*$`)
)

// ValidatePath checks a role (and policy) path against IAM's rules: "/" first and last, printable ASCII
// without spaces, at most MaxPath characters.
func ValidatePath(flag, v string) error {
	switch {
	case len(v) > MaxPath:
		return &FlagError{flag, v, fmt.Sprintf("IAM allows paths of at most %d characters, this has %d", MaxPath, len(v))}
	case !strings.HasPrefix(v, "/") || !strings.HasSuffix(v, "/"):
		return &FlagError{flag, v, "an IAM path starts and ends with /, e.g. /sdc/ or /teams/data/"}
	case !pathRE.MatchString(v):
		return &FlagError{flag, v, "an IAM path holds only printable ASCII characters, without spaces"}
	}
	return nil
}

// ValidateRoleDescription checks a role description against IAM's rules.
func ValidateRoleDescription(flag, v string) error {
	switch {
	case len(v) > MaxRoleDescription:
		return &FlagError{flag, v, fmt.Sprintf("IAM allows role descriptions of at most %d characters, this has %d", MaxRoleDescription, len(v))}
	case !descriptionRE.MatchString(v):
		return &FlagError{flag, v, "IAM role descriptions hold printable Latin-1 characters, tabs and new lines only"}
	}
	return nil
}

// ParseSessionDuration reads a role's maximum session duration as a Go duration (2h, 90m) or whole
// seconds (7200), and checks IAM's range of 1 to 12 hours.
func ParseSessionDuration(flag, v string) (int32, error) {
	var secs int64
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		secs = n
	} else if d, err := time.ParseDuration(v); err == nil && d%time.Second == 0 {
		secs = int64(d / time.Second)
	} else {
		return 0, &FlagError{flag, v, "want a duration like 2h or 90m, or whole seconds like 7200"}
	}
	if secs < MinMaxSessionDuration || secs > MaxMaxSessionDuration {
		return 0, &FlagError{flag, v, fmt.Sprintf("IAM allows a role's maximum session duration from 1h to 12h (%d to %d seconds)", MinMaxSessionDuration, MaxMaxSessionDuration)}
	}
	return int32(secs), nil
}

// ValidTagValue reports whether IAM takes v as a tag value.
func ValidTagValue(v string) bool {
	return len([]rune(v)) <= MaxTagValue && tagValueRE.MatchString(v)
}

// OwnTag reports whether key is one of the tags kubectl-sdc writes itself.
func OwnTag(key string) bool {
	return key == ManagedByKey || strings.HasPrefix(key, "kubectl-sdc/")
}

// ValidateTag checks one user tag against IAM's rules, and keeps bind's own keys for bind.
func ValidateTag(flag, key, value string) error {
	kv := key + "=" + value
	switch {
	case key == "":
		return &FlagError{flag, kv, "a tag needs a key: KEY=VALUE"}
	case len([]rune(key)) > MaxTagKey:
		return &FlagError{flag, kv, fmt.Sprintf("IAM allows tag keys of at most %d characters, this one has %d", MaxTagKey, len([]rune(key)))}
	case len([]rune(value)) > MaxTagValue:
		return &FlagError{flag, kv, fmt.Sprintf("IAM allows tag values of at most %d characters, this one has %d", MaxTagValue, len([]rune(value)))}
	case strings.HasPrefix(strings.ToLower(key), "aws:"):
		return &FlagError{flag, kv, "tag keys starting with aws: are reserved for AWS"}
	case !tagKeyRE.MatchString(key):
		return &FlagError{flag, kv, "IAM tag keys hold letters, digits, spaces and _.:/=+-@ only"}
	case !tagValueRE.MatchString(value):
		return &FlagError{flag, kv, "IAM tag values hold letters, digits, spaces and _.:/=+-@ only"}
	case OwnTag(key):
		return &FlagError{flag, kv, "kubectl-sdc writes " + ManagedByKey + " and the kubectl-sdc/ tags itself: choose another key"}
	}
	return nil
}

// ParseTags reads KEY=VALUE tags (from --tag, or the comma-separated EnvTags) into m, checking each with
// ValidateTag. A key given twice (IAM compares keys without case) is an error unless the value is the same.
func ParseTags(flag string, items []string, m map[string]string) error {
	for _, kv := range items {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return &FlagError{flag, kv, "want KEY=VALUE, e.g. cost-center=data-platform"}
		}
		if err := ValidateTag(flag, k, v); err != nil {
			return err
		}
		for old, ov := range m {
			if strings.EqualFold(old, k) && (old != k || ov != v) {
				return &FlagError{flag, kv, fmt.Sprintf("tag key %s is given twice (as %s=%s); IAM keeps one value per key, compared without case", k, old, ov)}
			}
		}
		m[k] = v
	}
	if len(m) > MaxRoleTags-OwnRoleTags {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		return &FlagError{flag, strings.Join(keys, ","), fmt.Sprintf("%d tags: IAM allows %d on a role and kubectl-sdc writes up to %d of its own, so at most %d may be added",
			len(m), MaxRoleTags, OwnRoleTags, MaxRoleTags-OwnRoleTags)}
	}
	return nil
}

// SplitEnvTags splits EnvTags' comma-separated KEY=VALUE list (IAM's tag alphabet has no comma).
func SplitEnvTags(v string) []string {
	var out []string
	for _, f := range strings.Split(v, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// RoleARNAt is the ARN of role name at path ("/" or "/a/b/") in an account.
func RoleARNAt(partition, account, path, name string) string {
	return fmt.Sprintf("arn:%s:iam::%s:role%s%s", partition, account, normalPath(path), name)
}

// PolicyARNAt is the ARN of the customer managed policy name at path in an account.
func PolicyARNAt(partition, account, path, name string) string {
	return fmt.Sprintf("arn:%s:iam::%s:policy%s%s", partition, account, normalPath(path), name)
}

func normalPath(p string) string {
	if p == "" {
		return "/"
	}
	return p
}

// ParsedPolicyARN is a managed policy ARN taken apart.
type ParsedPolicyARN struct {
	Partition string
	// Account is the 12-digit account, or "aws" for an AWS managed policy.
	Account string
	// Path is "/" or "/a/b/"; Name is the policy's name.
	Path, Name string
}

var policyPartsRE = regexp.MustCompile(`^arn:(aws|aws-cn|aws-us-gov):iam::(\d{12}|aws):policy(/(?:[\x21-\x7E]*/)?)([\w+=,.@-]{1,128})$`)

// ParsePolicyARN splits a managed policy ARN; ok is false when s is not a well-formed one.
func ParsePolicyARN(s string) (ParsedPolicyARN, bool) {
	m := policyPartsRE.FindStringSubmatch(s)
	if m == nil {
		return ParsedPolicyARN{}, false
	}
	return ParsedPolicyARN{Partition: m[1], Account: m[2], Path: m[3], Name: m[4]}, true
}

// ValidateRoleARN checks the form of a role ARN.
func ValidateRoleARN(flag, v string) error {
	if _, ok := ParseRoleARN(v); !ok {
		return &FlagError{flag, v, "not an IAM role ARN: want arn:<partition>:iam::<12-digit account>:role/[path/]<name>, e.g. arn:aws:iam::210987654321:role/sdc-data"}
	}
	return nil
}
