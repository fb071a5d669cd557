package iampolicy

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// AssumeRoleStatement is the trust statement that lets a role (its sessions) assume the role whose trust
// holds it, with session tags: Allow, Principal {"AWS": principalARN}, Action sts:AssumeRole and
// sts:TagSession. It is what SDC's "Assume Another Role" needs in the other account's role: SDC tags its
// sessions by default (vocab.SDCSessionTagKey), and STS then asks the trust for sts:TagSession too.
func AssumeRoleStatement(principalARN string) Statement {
	return Statement{
		Effect:    Allow,
		Principal: &Principal{Values: map[string]Values{"AWS": {principalARN}}},
		Action:    Values{vocab.ActionAssumeRole, vocab.ActionTagSession},
	}
}

// SDCAssumeRoleRequests are the requests STS evaluates against a role's trust policy (or, without a
// Principal, against the caller's permissions) when a session of roleARN makes SDC's tagged AssumeRole:
// sts:AssumeRole and sts:TagSession, both with the session tag SDC sets (value: the pipeline's user, which
// only a trust that conditions on it cares about) as aws:RequestTag and aws:TagKeys.
func SDCAssumeRoleRequests(roleARN, sessionName, user string) []Request {
	base := AssumeRoleRequest(roleARN, sessionName)
	var out []Request
	for _, action := range []string{vocab.ActionAssumeRole, vocab.ActionTagSession} {
		r := base
		r.Action = action
		r.Context = make(map[string][]string, len(base.Context)+2)
		for k, v := range base.Context {
			r.Context[k] = v
		}
		r.Context["aws:RequestTag/"+vocab.SDCSessionTagKey] = []string{user}
		r.Context["aws:TagKeys"] = []string{vocab.SDCSessionTagKey}
		out = append(out, r)
	}
	return out
}

// SDCAssumeRolePolicy is what a role whose stages assume target needs, least privilege: sts:AssumeRole on
// exactly target, and sts:TagSession on it for SDC's session tag only.
func SDCAssumeRolePolicy(target string) *Policy {
	return NewPolicy(
		Statement{Sid: "AssumeAnotherRole", Effect: Allow, Action: Values{vocab.ActionAssumeRole}, Resource: Values{target}},
		Statement{Sid: "AssumeAnotherRoleSessionTags", Effect: Allow, Action: Values{vocab.ActionTagSession}, Resource: Values{target},
			Condition: Conditions{"ForAllValues:StringEquals": {"aws:TagKeys": Values{vocab.SDCSessionTagKey}}}},
	)
}

// AssumeRoleRequest is the request STS evaluates against a role's trust policy when a session of the role
// roleARN (named sessionName) calls sts:AssumeRole on it, with the condition keys STS sets.
func AssumeRoleRequest(roleARN, sessionName string) Request {
	p, _ := vocab.ParseRoleARN(roleARN)
	return Request{
		Principal: &RequestPrincipal{Type: "AWS", ID: "arn:" + p.Partition + ":sts::" + p.Account + ":assumed-role/" + p.Name + "/" + sessionName},
		Action:    vocab.ActionAssumeRole,
		Context: map[string][]string{
			"aws:PrincipalArn":     {roleARN},
			"aws:PrincipalAccount": {p.Account},
			"aws:PrincipalType":    {"AssumedRole"},
			"sts:RoleSessionName":  {sessionName},
		},
	}
}

// assumeRoleShape returns the AWS principals of s when s has exactly AssumeRoleStatement's shape: Allow,
// AWS as the only principal type, sts:AssumeRole and sts:TagSession as the only actions, no resource or
// condition elements (a Sid is allowed).
func assumeRoleShape(s Statement) (Values, bool) {
	return awsPrincipalShape(s, vocab.ActionAssumeRole, vocab.ActionTagSession)
}

// untaggedAssumeRoleShape is the shape kubectl-sdc wrote before it knew SDC tags its sessions: the same
// with sts:AssumeRole alone. Its principals still count as the roles a target is shared by.
func untaggedAssumeRoleShape(s Statement) (Values, bool) {
	return awsPrincipalShape(s, vocab.ActionAssumeRole)
}

func awsPrincipalShape(s Statement, actions ...string) (Values, bool) {
	if s.Effect != Allow || s.NotPrincipal != nil || s.Principal == nil || s.Principal.Wildcard ||
		len(s.Principal.Values) != 1 || len(s.Principal.Values["AWS"]) == 0 ||
		len(s.Action) != len(actions) || len(s.NotAction) > 0 || len(s.Resource) > 0 || len(s.NotResource) > 0 || len(s.Condition) > 0 {
		return nil, false
	}
	for _, a := range actions {
		if !slices.ContainsFunc(s.Action, func(have string) bool { return strings.EqualFold(have, a) }) {
			return nil, false
		}
	}
	return s.Principal.Values["AWS"], true
}

// AdmitAWSPrincipal returns p changed so that it also lets principalARN call sts:AssumeRole, the compact
// way: the ARN joins the AWS principal list of the first statement of AssumeRoleStatement's exact shape,
// else such a statement is appended. Statements of any other shape are never touched and p is not
// modified. changed is false when a statement of that shape already lists the ARN. A nil p yields a new
// policy.
func AdmitAWSPrincipal(p *Policy, principalARN string) (merged *Policy, changed bool) {
	return admit(p, principalARN, assumeRoleShape,
		func(s *Statement) { s.Principal.Values["AWS"] = append(s.Principal.Values["AWS"], principalARN) },
		func() Statement { return AssumeRoleStatement(principalARN) })
}

// AWSPrincipals are the AWS principals p's statements of AssumeRoleStatement's shape list, sorted and
// without repeats: the roles a target role is shared by.
func AWSPrincipals(p *Policy) []string {
	if p == nil {
		return nil
	}
	var out []string
	for _, s := range p.Statements {
		if principals, ok := assumeRoleShape(s); ok {
			out = append(out, principals...)
		} else if principals, ok := untaggedAssumeRoleShape(s); ok {
			out = append(out, principals...)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Permission is IAM's decision on an identity-based request of a principal with identity policies and a
// permissions boundary: allowed only when an identity policy allows it and the boundary (if there is one)
// allows it too; an explicit deny in either wins.
type Permission struct {
	Identity Decision
	// Boundary is the boundary's decision; nil when the principal has no permissions boundary.
	Boundary *Decision
}

// Allowed reports whether IAM allows the request.
func (p Permission) Allowed() bool {
	return p.Identity.Allowed() && (p.Boundary == nil || p.Boundary.Allowed())
}

// DeniedByBoundary reports whether the boundary alone refuses: the identity policies do not deny it, but
// the boundary does not allow it (or denies it explicitly).
func (p Permission) DeniedByBoundary() bool {
	return p.Identity.Effect != Deny && p.Boundary != nil && !p.Boundary.Allowed()
}

// EvaluatePermission decides req (an identity-based request: no Principal) for a principal whose identity
// policies are identity and whose permissions boundary is boundary (nil: none), as IAM does.
func EvaluatePermission(req Request, identity []*Policy, boundary *Policy) Permission {
	out := Permission{Identity: Evaluate(req, identity...)}
	if boundary != nil {
		d := Evaluate(req, boundary)
		out.Boundary = &d
	}
	return out
}

// Canonical renders one statement as Policy.Canonical renders the statements of a policy (indented), for
// the statement a person adds to a document by hand.
func (s Statement) Canonical() []byte {
	var out bytes.Buffer
	_ = json.Indent(&out, s.appendCanonical(nil), "", "  ")
	return out.Bytes()
}
