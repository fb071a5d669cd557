package iampolicy

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// Kind says which IAM rules a document must follow.
type Kind int

// The kinds of policy document IAM stores.
const (
	Identity Kind = iota // customer managed policy
	Inline               // inline policy of a role
	Trust                // role trust (assume role) policy
)

// String names the kind as IAM's documentation does.
func (k Kind) String() string {
	switch k {
	case Identity:
		return "managed policy"
	case Inline:
		return "inline policy"
	case Trust:
		return "trust policy"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// MaxSize is the size limit IAM applies to a document of this kind, in characters without whitespace (the
// default quota for a trust policy; see vocab).
func (k Kind) MaxSize() int {
	switch k {
	case Inline:
		return vocab.MaxInlinePolicies
	case Trust:
		return vocab.MaxTrustPolicy
	}
	return vocab.MaxManagedPolicy
}

func (k Kind) withArticle() string {
	if k == Inline {
		return "an " + k.String()
	}
	return "a " + k.String()
}

// Error is one rule a policy document breaks.
type Error struct {
	Path string // where: "Statement[1].Effect"; empty for the document as a whole
	Msg  string // what is wrong, with the offending value, and what to do
}

// Error returns "Path: Msg".
func (e *Error) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

// SizeError reports a document over IAM's size limit for its kind.
type SizeError struct {
	Kind  Kind
	Size  int // characters without whitespace
	Limit int
}

// Error names the size and the limit.
func (e *SizeError) Error() string {
	return fmt.Sprintf("policy document is %d characters without whitespace, over the %d-character limit for %s: "+
		"split its statements into more than one policy or shorten them", e.Size, e.Limit, e.Kind.withArticle())
}

func errf(path, format string, args ...any) error {
	return &Error{Path: path, Msg: fmt.Sprintf(format, args...)}
}

// Validate checks p against IAM's rules for a document of the given kind:
// the structure Parse enforces, the elements the kind allows or needs, and
// the size limit. Every problem found is reported, joined.
func (p *Policy) Validate(kind Kind) error { return p.ValidateWithin(kind, kind.MaxSize()) }

// ValidateWithin is Validate with another size limit: a trust policy under a raised quota.
func (p *Policy) ValidateWithin(kind Kind, maxSize int) error {
	if p == nil {
		return &Error{Msg: "policy is nil"}
	}
	errs := p.structureErrors()
	for i, s := range p.Statements {
		path := fmt.Sprintf("Statement[%d]", i)
		if s.Sid != "" && !sidPattern.MatchString(s.Sid) {
			errs = append(errs, errf(path+".Sid", "%q has characters other than A-Z, a-z and 0-9, which IAM refuses in a Sid", s.Sid))
		}
		switch kind {
		case Identity, Inline:
			if s.Principal != nil || s.NotPrincipal != nil {
				errs = append(errs, errf(path, "%s must not name a Principal or NotPrincipal: remove it (principals belong in trust policies)", kind.withArticle()))
			}
			if len(s.Resource) == 0 && len(s.NotResource) == 0 {
				errs = append(errs, errf(path, "%s statement needs Resource or NotResource: add \"Resource\": \"*\" or the ARNs it covers", kind.withArticle()))
			}
		case Trust:
			if s.Principal == nil && s.NotPrincipal == nil {
				errs = append(errs, errf(path, "a trust policy statement needs a Principal: name who may assume the role"))
			}
			if len(s.Resource) > 0 || len(s.NotResource) > 0 {
				errs = append(errs, errf(path, "a trust policy must not have Resource or NotResource (the role is the resource): remove it"))
			}
			for _, a := range s.Action {
				if !strings.HasPrefix(strings.ToLower(a), "sts:") {
					errs = append(errs, errf(path+".Action", "%q is not an STS action; a trust policy may only grant sts: actions such as sts:AssumeRoleWithWebIdentity", a))
				}
			}
		default:
			errs = append(errs, errf("", "unknown policy kind %d: use Identity, Inline or Trust", int(kind)))
			return errors.Join(errs...)
		}
	}
	if size := p.Size(); size > maxSize {
		errs = append(errs, &SizeError{Kind: kind, Size: size, Limit: maxSize})
	}
	return errors.Join(errs...)
}

var (
	sidPattern = regexp.MustCompile(`^[A-Za-z0-9]*$`)
	// Vendor prefixes are letters, digits and dashes ("execute-api"); action
	// names are letters and digits. Wildcards may stand in for either part.
	actionPattern = regexp.MustCompile(`^(\*|[A-Za-z0-9*?-]+:[A-Za-z0-9*?_-]+)$`)
)

// principalTypes are the keys IAM accepts in a Principal map.
var principalTypes = map[string]bool{"AWS": true, "Federated": true, "Service": true, "CanonicalUser": true}

// structureErrors checks the rules every IAM policy document follows,
// whatever its kind. Parse and Validate both apply them, so a Policy built
// in Go is held to the same rules as one read from JSON.
func (p *Policy) structureErrors() []error {
	var errs []error
	if p.Version != "" && p.Version != Version2012 && p.Version != Version2008 {
		errs = append(errs, errf("Version", "%q is not a policy language version: use %q", p.Version, Version2012))
	}
	if len(p.Statements) == 0 {
		errs = append(errs, errf("Statement", "the policy has no statement: add at least one"))
	}
	sids := map[string]int{}
	for i, s := range p.Statements {
		path := fmt.Sprintf("Statement[%d]", i)
		if s.Sid != "" {
			if first, dup := sids[s.Sid]; dup {
				errs = append(errs, errf(path+".Sid", "%q is already the Sid of Statement[%d]: Sids must be unique within a policy", s.Sid, first))
			} else {
				sids[s.Sid] = i
			}
		}
		errs = append(errs, s.structureErrors(path)...)
	}
	return errs
}

func (s *Statement) structureErrors(path string) []error {
	var errs []error
	if s.Effect != Allow && s.Effect != Deny {
		errs = append(errs, errf(path+".Effect", "%q is not Allow or Deny (the value is case-sensitive)", string(s.Effect)))
	}
	switch {
	case s.Action != nil && s.NotAction != nil:
		errs = append(errs, errf(path, "has both Action and NotAction: keep one"))
	case len(s.Action) == 0 && len(s.NotAction) == 0:
		errs = append(errs, errf(path, "has neither Action nor NotAction: name the actions it covers"))
	}
	errs = append(errs, actionErrors(path+".Action", s.Action)...)
	errs = append(errs, actionErrors(path+".NotAction", s.NotAction)...)
	if s.Resource != nil && s.NotResource != nil {
		errs = append(errs, errf(path, "has both Resource and NotResource: keep one"))
	}
	errs = append(errs, nonEmptyErrors(path+".Resource", "resource", s.Resource)...)
	errs = append(errs, nonEmptyErrors(path+".NotResource", "resource", s.NotResource)...)
	if s.Principal != nil && s.NotPrincipal != nil {
		errs = append(errs, errf(path, "has both Principal and NotPrincipal: keep one"))
	}
	errs = append(errs, s.Principal.structureErrors(path+".Principal")...)
	errs = append(errs, s.NotPrincipal.structureErrors(path+".NotPrincipal")...)
	errs = append(errs, s.Condition.structureErrors(path+".Condition")...)
	return errs
}

func actionErrors(path string, actions Values) []error {
	if actions != nil && len(actions) == 0 {
		return []error{errf(path, "is an empty list: name at least one action")}
	}
	var errs []error
	for _, a := range actions {
		if !actionPattern.MatchString(a) {
			errs = append(errs, errf(path, "%q is not an action: write \"*\" or \"service:Action\" (wildcards * and ? allowed), e.g. \"s3:GetObject\"", a))
		}
	}
	return errs
}

func nonEmptyErrors(path, what string, values Values) []error {
	if values != nil && len(values) == 0 {
		return []error{errf(path, "is an empty list: name at least one %s", what)}
	}
	for _, v := range values {
		if v == "" {
			return []error{errf(path, "has an empty %s: remove it or write its ARN", what)}
		}
	}
	return nil
}

func (p *Principal) structureErrors(path string) []error {
	if p == nil {
		return nil
	}
	if p.Wildcard {
		if len(p.Values) > 0 {
			return []error{errf(path, "is both \"*\" and a map of principals: keep one")}
		}
		return nil
	}
	if len(p.Values) == 0 {
		return []error{errf(path, "names no principal: write \"*\" or a map such as {\"Federated\": \"<provider ARN>\"}")}
	}
	var errs []error
	for _, typ := range sortedKeys(p.Values) {
		if !principalTypes[typ] {
			errs = append(errs, errf(path, "%q is not a principal type: use AWS, Federated, Service or CanonicalUser", typ))
		}
		errs = append(errs, nonEmptyErrors(path+"."+typ, "principal", p.Values[typ])...)
		if p.Values[typ] == nil {
			errs = append(errs, errf(path+"."+typ, "names no principal: give at least one"))
		}
	}
	return errs
}

func (c Conditions) structureErrors(path string) []error {
	if c == nil {
		return nil
	}
	if len(c) == 0 {
		return []error{errf(path, "is an empty condition block: remove it or add a condition")}
	}
	var errs []error
	for _, op := range sortedKeys(c) {
		o, err := parseOperator(op)
		if err != nil {
			errs = append(errs, errf(path, "%v", err))
			continue
		}
		if o.base == opNull && o.ifExists {
			errs = append(errs, errf(path, "%q: Null cannot take IfExists (Null already tests whether the key exists)", op))
		}
		keys := c[op]
		if len(keys) == 0 {
			errs = append(errs, errf(path+"."+op, "is an empty condition block: remove it or add a condition key"))
			continue
		}
		seen := map[string]string{}
		for _, k := range sortedKeys(keys) {
			if k == "" {
				errs = append(errs, errf(path+"."+op, "has an empty condition key"))
			}
			// Condition keys are case-insensitive, so two spellings of one key
			// would be two conditions on the same value with no defined order.
			if other, dup := seen[strings.ToLower(k)]; dup {
				errs = append(errs, errf(path+"."+op, "keys %q and %q differ only in case, and condition keys are case-insensitive: merge them", other, k))
			}
			seen[strings.ToLower(k)] = k
			if len(keys[k]) == 0 {
				errs = append(errs, errf(path+"."+op+"."+k, "has no values: give at least one"))
			}
		}
	}
	return errs
}
