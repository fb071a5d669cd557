package iampolicy

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// RequestPrincipal is who makes a request, for resource-based (trust)
// evaluation, e.g. {"Federated", "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/ABC"}.
type RequestPrincipal struct{ Type, ID string }

// Request is what is asked of IAM.
type Request struct {
	Principal *RequestPrincipal   // nil: identity-based evaluation (statements' Principal ignored)
	Action    string              // "s3:GetObject"
	Resource  string              // "arn:aws:s3:::bucket/key", or "*"; empty means "*"
	Context   map[string][]string // condition keys, matched case-insensitively, e.g. "oidc.eks.us-west-2.amazonaws.com/id/ABC:sub"
}

// Decision is the outcome of Evaluate and the statement that decided it.
type Decision struct {
	Effect         Effect // Allow, Deny (explicit), ImplicitDeny
	PolicyIndex    int    // which policy (index into the policies passed) decided; -1 for ImplicitDeny
	StatementIndex int    // which statement; -1 for ImplicitDeny
	Sid            string
}

// Allowed reports whether the request is allowed.
func (d Decision) Allowed() bool { return d.Effect == Allow }

// String describes the decision and where it came from, for messages.
func (d Decision) String() string {
	if d.Effect == ImplicitDeny {
		return "implicitly denied: no statement allows it"
	}
	verb := "allowed"
	if d.Effect == Deny {
		verb = "explicitly denied"
	}
	s := fmt.Sprintf("%s by policy %d, statement %d", verb, d.PolicyIndex, d.StatementIndex)
	if d.Sid != "" {
		s += fmt.Sprintf(" (Sid %q)", d.Sid)
	}
	return s
}

// Evaluate decides req against the policies with IAM's rules: an explicit
// Deny in any statement wins, then an Allow, else the request is implicitly
// denied. The first deciding statement, in order, is reported. Nil policies
// are skipped.
//
// With req.Principal nil the policies are treated as identity policies and
// their Principal elements are ignored; with it set they are treated as
// resource-based (trust) policies, and a statement applies only when its
// Principal names the requester (or its NotPrincipal does not).
func Evaluate(req Request, policies ...*Policy) Decision {
	ev := evaluation{req: req, ctx: foldContext(req.Context)}
	if ev.req.Resource == "" {
		ev.req.Resource = "*"
	}
	decision := Decision{Effect: ImplicitDeny, PolicyIndex: -1, StatementIndex: -1}
	for i, p := range policies {
		if p == nil {
			continue
		}
		ev.variables = p.Version == Version2012
		for j := range p.Statements {
			s := &p.Statements[j]
			if !ev.applies(s) {
				continue
			}
			switch s.Effect {
			case Deny:
				return Decision{Effect: Deny, PolicyIndex: i, StatementIndex: j, Sid: s.Sid}
			case Allow:
				if decision.Effect != Allow {
					decision = Decision{Effect: Allow, PolicyIndex: i, StatementIndex: j, Sid: s.Sid}
				}
			}
		}
	}
	return decision
}

type evaluation struct {
	req       Request
	ctx       map[string][]string // lower-cased keys
	variables bool                // policy variables are substituted (version 2012-10-17)
}

// foldContext lower-cases context keys, merging keys that differ only in case.
func foldContext(ctx map[string][]string) map[string][]string {
	out := make(map[string][]string, len(ctx))
	for k, v := range ctx {
		lk := strings.ToLower(k)
		out[lk] = append(out[lk], v...)
	}
	return out
}

func (ev *evaluation) applies(s *Statement) bool {
	if ev.req.Principal != nil {
		switch {
		case s.Principal != nil:
			if !principalMatches(s.Principal, ev.req.Principal) {
				return false
			}
		case s.NotPrincipal != nil:
			if principalMatches(s.NotPrincipal, ev.req.Principal) {
				return false
			}
		default:
			// A resource-based statement without a principal grants or
			// denies nobody.
			return false
		}
	}
	switch {
	case s.Action != nil:
		if !ev.anyAction(s.Action) {
			return false
		}
	case s.NotAction != nil:
		if ev.anyAction(s.NotAction) {
			return false
		}
	default:
		return false
	}
	switch {
	case s.Resource != nil:
		if matched, _ := ev.anyResource(s.Resource); !matched {
			return false
		}
	case s.NotResource != nil:
		// A NotResource entry whose variable has no value cannot be
		// matched, so the statement cannot say the resource is not it.
		if matched, unresolved := ev.anyResource(s.NotResource); matched || unresolved {
			return false
		}
	}
	return ev.conditionsHold(s.Condition)
}

func (ev *evaluation) anyAction(patterns Values) bool {
	for _, p := range patterns {
		if matchString(p, ev.req.Action, true) {
			return true
		}
	}
	return false
}

// anyResource reports whether a pattern matches the request's resource, and
// whether a pattern names a policy variable without a value.
func (ev *evaluation) anyResource(patterns Values) (matched, unresolved bool) {
	for _, p := range patterns {
		if ev.literal(p) {
			if matchString(p, ev.req.Resource, false) {
				matched = true
			}
			continue
		}
		pat, ok := ev.pattern(p)
		if !ok {
			unresolved = true
			continue
		}
		if matchPattern(pat, ev.req.Resource, false) {
			matched = true
		}
	}
	return matched, unresolved
}

// pchar is one element of a compiled pattern: a literal rune, or a
// wildcard ('*' any run, '?' one character).
type pchar struct {
	r    rune
	wild bool
}

func literalPattern(s string) []pchar {
	out := make([]pchar, 0, len(s))
	for _, r := range s {
		out = append(out, pchar{r: r, wild: r == '*' || r == '?'})
	}
	return out
}

// literal reports whether s names no policy variable: it is then its own pattern (matchString).
func (ev *evaluation) literal(s string) bool {
	return !ev.variables || !strings.Contains(s, "${")
}

// pattern compiles a Resource or condition value. In version 2012-10-17
// documents, ${key} is replaced by the request's value of key (taken
// literally, so a '*' in a user name is no wildcard), ${key, 'default'}
// falls back to default, and ${*}, ${?}, ${$} are the literal characters.
// ok is false when a variable has no single value and no default, or is
// malformed: IAM then treats the value as matching nothing.
func (ev *evaluation) pattern(s string) (pat []pchar, ok bool) {
	if !ev.variables || !strings.Contains(s, "${") {
		return literalPattern(s), true
	}
	for s != "" {
		i := strings.Index(s, "${")
		if i < 0 {
			return append(pat, literalPattern(s)...), true
		}
		pat = append(pat, literalPattern(s[:i])...)
		value, rest, ok := ev.variable(s[i+2:])
		if !ok {
			return nil, false
		}
		for _, r := range value {
			pat = append(pat, pchar{r: r})
		}
		s = rest
	}
	return pat, true
}

// variableRef is the inside of ${...}: a key, then optionally a quoted default
// in which a doubled single quote stands for one.
var variableRef = regexp.MustCompile(`^\s*([^\s,{}]+)\s*(?:,\s*'((?:[^']|'')*)'\s*)?}`)

func (ev *evaluation) variable(s string) (value, rest string, ok bool) {
	m := variableRef.FindStringSubmatchIndex(s)
	if m == nil {
		return "", "", false
	}
	name := s[m[2]:m[3]]
	rest = s[m[1]:]
	switch name {
	case "*", "?", "$":
		return name, rest, true
	}
	if v := ev.ctx[strings.ToLower(name)]; len(v) == 1 {
		return v[0], rest, true
	}
	if m[4] >= 0 {
		return strings.ReplaceAll(s[m[4]:m[5]], "''", "'"), rest, true
	}
	return "", "", false
}

func patternString(p []pchar) string {
	var b strings.Builder
	for _, c := range p {
		b.WriteRune(c.r)
	}
	return b.String()
}

// matchPattern reports whether s matches the whole pattern; fold makes
// literal characters match case-insensitively.
func matchPattern(p []pchar, s string, fold bool) bool {
	str := []rune(s)
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(str) {
		if pi < len(p) {
			c := p[pi]
			switch {
			case c.wild && c.r == '*':
				star, mark = pi, si
				pi++
				continue
			case c.wild || runeEqual(c.r, str[si], fold):
				pi++
				si++
				continue
			}
		}
		if star < 0 {
			return false
		}
		// Let the last '*' swallow one more character and retry from there.
		mark++
		pi, si = star+1, mark
	}
	for pi < len(p) && p[pi].wild && p[pi].r == '*' {
		pi++
	}
	return pi == len(p)
}

// matchString is matchPattern(literalPattern(p), s, fold) without compiling p: '*' and '?' of p are its
// wildcards. Most of what a policy names has no variable, and an evaluation matches many of them.
func matchString(p, s string, fold bool) bool {
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		if pi < len(p) {
			pc, pn := utf8.DecodeRuneInString(p[pi:])
			if pc == '*' {
				star, mark = pi, si
				pi += pn
				continue
			}
			sc, sn := utf8.DecodeRuneInString(s[si:])
			if pc == '?' || runeEqual(pc, sc, fold) {
				pi += pn
				si += sn
				continue
			}
		}
		if star < 0 {
			return false
		}
		// Let the last '*' swallow one more character and retry from there.
		_, mn := utf8.DecodeRuneInString(s[mark:])
		mark += mn
		pi, si = star+1, mark
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

func runeEqual(a, b rune, fold bool) bool {
	if a == b {
		return true
	}
	return fold && unicode.ToLower(a) == unicode.ToLower(b)
}

// principalMatches reports whether a Principal element names the requester.
func principalMatches(p *Principal, rp *RequestPrincipal) bool {
	if p.Wildcard {
		return true
	}
	// IAM documents {"AWS": "*"} as equivalent to "*": everyone.
	for _, v := range p.Values["AWS"] {
		if v == "*" {
			return true
		}
	}
	for _, v := range p.Values[rp.Type] {
		if v == rp.ID || v == "*" {
			return true
		}
		if rp.Type == "AWS" && awsPrincipalCovers(v, rp.ID) {
			return true
		}
	}
	return false
}

var (
	accountID     = regexp.MustCompile(`^[0-9]{12}$`)
	iamARN        = regexp.MustCompile(`^arn:([^:]+):(iam|sts)::([0-9]{12}):(.+)$`)
	assumedRoleID = regexp.MustCompile(`^assumed-role/([^/]+)/[^/]+$`)
)

// awsPrincipalCovers applies IAM's rules for AWS principals: an account
// (its id or its :root ARN) covers every principal of that account, and a
// role ARN covers that role's sessions (assumed-role ARNs).
func awsPrincipalCovers(policyValue, requester string) bool {
	reqAccount, reqPartition, reqResource := "", "", ""
	if accountID.MatchString(requester) {
		reqAccount = requester
	} else if m := iamARN.FindStringSubmatch(requester); m != nil {
		reqPartition, reqAccount, reqResource = m[1], m[3], m[4]
	} else {
		return false
	}
	if accountID.MatchString(policyValue) {
		return policyValue == reqAccount
	}
	m := iamARN.FindStringSubmatch(policyValue)
	if m == nil || m[3] != reqAccount || (reqPartition != "" && m[1] != reqPartition) {
		return false
	}
	if m[2] == "iam" && m[4] == "root" {
		return true
	}
	if role, ok := strings.CutPrefix(m[4], "role/"); ok {
		if s := assumedRoleID.FindStringSubmatch(reqResource); s != nil {
			// A role ARN may carry a path; sessions carry only the name.
			return role[strings.LastIndex(role, "/")+1:] == s[1]
		}
	}
	return false
}
