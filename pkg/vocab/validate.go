package vocab

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// FlagError is bad input: which flag, which value, and the rule it breaks. It is reported before anything
// is written.
type FlagError struct {
	Flag, Value, Rule string
}

func (e *FlagError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("%s: %s", e.Flag, e.Rule)
	}
	return fmt.Sprintf("%s %q: %s", e.Flag, e.Value, e.Rule)
}

var iamNameRE = regexp.MustCompile(`^[\w+=,.@-]+$`)

// ValidateNamespace checks a namespace name (a DNS-1123 label).
func ValidateNamespace(flag, v string) error {
	if errs := validation.IsDNS1123Label(v); len(errs) > 0 {
		return &FlagError{flag, v, "not a valid namespace name: " + strings.Join(errs, "; ")}
	}
	return nil
}

// ValidateObjectName checks a ServiceAccount or Deployment name (a DNS-1123 subdomain).
func ValidateObjectName(flag, v string) error {
	if errs := validation.IsDNS1123Subdomain(v); len(errs) > 0 {
		return &FlagError{flag, v, "not a valid Kubernetes object name: " + strings.Join(errs, "; ")}
	}
	return nil
}

// ValidateIAMName checks a role or policy name against IAM's rules.
func ValidateIAMName(flag, v string, limit int) error {
	switch {
	case v == "":
		return &FlagError{flag, v, "must not be empty"}
	case len(v) > limit:
		return &FlagError{flag, v, fmt.Sprintf("IAM allows at most %d characters here, this has %d", limit, len(v))}
	case !iamNameRE.MatchString(v):
		return &FlagError{flag, v, "IAM names may contain only letters, digits and +=,.@_-"}
	}
	return nil
}

// ValidatePolicyARN checks the form of a managed policy ARN: a customer managed policy in any partition,
// or an AWS managed one (account "aws"), with its path.
func ValidatePolicyARN(flag, v string) error {
	if _, ok := ParsePolicyARN(v); !ok {
		return &FlagError{flag, v, "not a managed policy ARN: want arn:<partition>:iam::<account or aws>:policy/[path/]<name>, e.g. arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"}
	}
	return nil
}

var (
	subjectPatternNamespace      = regexp.MustCompile(`^[a-z0-9*?-]{1,63}$`)
	subjectPatternServiceAccount = regexp.MustCompile(`^[a-z0-9.*?-]{1,253}$`)
)

// ValidateSubjectPattern checks an IRSA subject pattern: system:serviceaccount:<namespace>:<name>, each part
// made of the characters its names may hold and the wildcards '*' and '?' (IAM's StringLike), with at least
// one wildcard, and not "*" for both parts (which admits every ServiceAccount of the cluster).
func ValidateSubjectPattern(flag, v string) error {
	rest, ok := strings.CutPrefix(v, subjectPrefix)
	if !ok {
		return &FlagError{flag, v, "must be " + subjectPrefix + "<namespace>:<name>, with '*' or '?' in either part, e.g. " + subjectPrefix + "sdc-*:sdc"}
	}
	ns, sa, ok := strings.Cut(rest, ":")
	switch {
	case !ok || strings.Contains(sa, ":"):
		return &FlagError{flag, v, "must have exactly two parts after " + subjectPrefix + ": <namespace>:<name>, e.g. " + subjectPrefix + "sdc-*:sdc"}
	case !subjectPatternNamespace.MatchString(ns):
		return &FlagError{flag, v, "its namespace part " + strconv.Quote(ns) + " may hold only lower-case letters, digits, '-' and the wildcards '*' and '?'"}
	case !subjectPatternServiceAccount.MatchString(sa):
		return &FlagError{flag, v, "its name part " + strconv.Quote(sa) + " may hold only lower-case letters, digits, '-', '.' and the wildcards '*' and '?'"}
	case !strings.ContainsAny(rest, "*?"):
		return &FlagError{flag, v, "has no wildcard: for one ServiceAccount leave --subject-pattern out (bind names it)"}
	case strings.Trim(ns, "*") == "" && strings.Trim(sa, "*") == "":
		return &FlagError{flag, v, "admits every ServiceAccount of the cluster: name a namespace or ServiceAccount prefix, e.g. " + subjectPrefix + "sdc-*:sdc"}
	}
	return nil
}
