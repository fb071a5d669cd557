package iampolicy

import (
	"bytes"
	"slices"
	"strconv"
	"strings"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// WebIdentityStatement is the IRSA trust statement: Allow, Principal
// {"Federated": providerARN}, Action sts:AssumeRoleWithWebIdentity,
// Condition StringEquals {<issuer>:sub: system:serviceaccount:<ns>:<sa>,
// <issuer>:aud: audience}. issuerHostPath may be given with https://; an
// empty audience means vocab.DefaultAudience.
func WebIdentityStatement(providerARN, issuerHostPath, namespace, serviceAccount, audience string) Statement {
	host := vocab.IssuerHostPath(issuerHostPath)
	if audience == "" {
		audience = vocab.DefaultAudience
	}
	return Statement{
		Effect:    Allow,
		Principal: &Principal{Values: map[string]Values{"Federated": {providerARN}}},
		Action:    Values{vocab.ActionAssumeRoleWithWebIdentity},
		Condition: Conditions{"StringEquals": {
			host + ":sub": {vocab.Subject(namespace, serviceAccount)},
			host + ":aud": {audience},
		}},
	}
}

// WebIdentityRequest is the request STS evaluates against a role's trust
// policy when a token with this subject and audience, from the issuer of
// providerARN, asks to assume the role.
func WebIdentityRequest(providerARN, issuerHostPath, subject, audience string) Request {
	host := vocab.IssuerHostPath(issuerHostPath)
	return Request{
		Principal: &RequestPrincipal{Type: "Federated", ID: providerARN},
		Action:    vocab.ActionAssumeRoleWithWebIdentity,
		Context: map[string][]string{
			host + ":sub": {subject},
			host + ":aud": {audience},
		},
	}
}

// MergeStatement returns p with s appended unless an equivalent statement
// (same canonical form, Sid ignored) is already there; it never removes,
// reorders or changes other statements. p is not modified. When s's Sid is
// already taken by another statement, the appended copy gets the first free
// Sid formed by adding a number (Sid2, Sid3, ...), since IAM refuses
// duplicate Sids. A nil p yields a new 2012-10-17 policy holding s.
func MergeStatement(p *Policy, s Statement) (merged *Policy, changed bool) {
	if p == nil {
		return NewPolicy(s), true
	}
	want := s.equivalenceKey()
	for i := range p.Statements {
		if bytes.Equal(p.Statements[i].equivalenceKey(), want) {
			return p.Clone(), false
		}
	}
	merged = p.Clone()
	add := s.clone()
	if add.Sid != "" {
		taken := map[string]bool{}
		for _, existing := range p.Statements {
			taken[existing.Sid] = true
		}
		for n, base := 2, add.Sid; taken[add.Sid]; n++ {
			add.Sid = base + strconv.Itoa(n)
		}
	}
	merged.Statements = append(merged.Statements, add)
	return merged, true
}

func (s Statement) equivalenceKey() []byte {
	s.Sid = ""
	return s.appendCanonical(nil)
}

// webIdentityShape returns the :sub values of s when s has exactly the shape of WebIdentityStatement for
// providerARN and audience: Allow; Federated providerARN as the only principal; sts:AssumeRoleWithWebIdentity
// as the only action; no resource elements; and conditions StringEquals on <host>:aud (audience alone) and
// <host>:sub, nothing else. A Sid is allowed. ok is false for any other statement.
func webIdentityShape(s Statement, providerARN, hostPath, audience string) (subjects Values, ok bool) {
	host := vocab.IssuerHostPath(hostPath)
	if s.Effect != Allow || s.NotPrincipal != nil || s.Principal == nil || s.Principal.Wildcard ||
		len(s.Principal.Values) != 1 || len(s.Principal.Values["Federated"]) != 1 ||
		!strings.EqualFold(s.Principal.Values["Federated"][0], providerARN) ||
		len(s.Action) != 1 || !strings.EqualFold(s.Action[0], vocab.ActionAssumeRoleWithWebIdentity) ||
		len(s.NotAction) > 0 || len(s.Resource) > 0 || len(s.NotResource) > 0 || len(s.Condition) != 1 {
		return nil, false
	}
	keys, found := s.Condition["StringEquals"]
	if !found || len(keys) != 2 {
		return nil, false
	}
	var sub, aud Values
	for k, v := range keys {
		switch {
		case strings.EqualFold(k, host+":sub"):
			sub = v
		case strings.EqualFold(k, host+":aud"):
			aud = v
		}
	}
	if len(sub) == 0 || len(aud) != 1 || aud[0] != audience {
		return nil, false
	}
	return sub, true
}

// subKey is the :sub key of s's StringEquals as written (keys are case-insensitive, so keep the author's).
func subKey(s Statement, hostPath string) string {
	host := vocab.IssuerHostPath(hostPath)
	for k := range s.Condition["StringEquals"] {
		if strings.EqualFold(k, host+":sub") {
			return k
		}
	}
	return host + ":sub"
}

// AdmitSubject returns p changed so that it also admits subject with audience through providerARN, the
// compact way: when a statement of exactly WebIdentityStatement's shape for that provider and audience
// exists, subject joins its :sub list (about 35 characters per ServiceAccount, where a statement of its
// own costs about 270); otherwise such a statement is appended. Statements of any other shape are never
// touched, and p is not modified. changed is false when a statement of that shape already lists subject.
// A nil p yields a new policy.
func AdmitSubject(p *Policy, providerARN, hostPath, subject, audience string) (merged *Policy, changed bool) {
	if audience == "" {
		audience = vocab.DefaultAudience
	}
	return admit(p, subject,
		func(s Statement) (Values, bool) { return webIdentityShape(s, providerARN, hostPath, audience) },
		func(s *Statement) {
			k := subKey(*s, hostPath)
			s.Condition["StringEquals"][k] = append(s.Condition["StringEquals"][k], subject)
		},
		func() Statement {
			st := WebIdentityStatement(providerARN, hostPath, "", "", audience)
			st.Condition["StringEquals"][vocab.IssuerHostPath(hostPath)+":sub"] = Values{subject}
			return st
		})
}

// admit is the compact way to make a trust admit one more value (a subject, a principal): listed tells the
// statements of the shape that lists such values, and which; when one lists value, nothing changes;
// otherwise join adds value to the first of them, or, when there is none, fresh is appended. Statements of
// any other shape are never touched, and p is not modified. A nil p yields a new policy.
func admit(p *Policy, value string, listed func(Statement) (Values, bool), join func(*Statement), fresh func() Statement) (merged *Policy, changed bool) {
	if p == nil {
		p = &Policy{Version: Version2012}
	}
	first := -1
	for i, s := range p.Statements {
		values, ok := listed(s)
		if !ok {
			continue
		}
		if slices.Contains(values, value) {
			return p.Clone(), false
		}
		if first < 0 {
			first = i
		}
	}
	merged = p.Clone()
	if first >= 0 {
		join(&merged.Statements[first])
		return merged, true
	}
	merged.Statements = append(merged.Statements, fresh())
	return merged, true
}

// RevokeSubject returns p without subject in the :sub lists of the statements of WebIdentityStatement's
// shape for providerARN and audience; a statement whose list becomes empty is removed. Statements of any
// other shape (wildcards, other operators) are never touched, so subject may still be admitted through
// them: the caller checks with Evaluate. p is not modified.
func RevokeSubject(p *Policy, providerARN, hostPath, subject, audience string) (out *Policy, changed bool) {
	if audience == "" {
		audience = vocab.DefaultAudience
	}
	if p == nil {
		return nil, false
	}
	out = &Policy{Version: p.Version, ID: p.ID}
	for _, s := range p.Statements {
		subs, ok := webIdentityShape(s, providerARN, hostPath, audience)
		if !ok || !slices.Contains(subs, subject) {
			out.Statements = append(out.Statements, s.clone())
			continue
		}
		changed = true
		rest := slices.DeleteFunc(slices.Clone(subs), func(v string) bool { return v == subject })
		if len(rest) == 0 {
			continue
		}
		c := s.clone()
		c.Condition["StringEquals"][subKey(c, hostPath)] = rest
		out.Statements = append(out.Statements, c)
	}
	return out, changed
}

// RevokeWebIdentitySubject is RevokeSubject for every audience: subject leaves the :sub lists of the
// statements of WebIdentityStatement's shape for providerARN whatever audience each admits (a binding may
// have been made for its ServiceAccount's own audience). Statements of any other shape are never touched.
func RevokeWebIdentitySubject(p *Policy, providerARN, hostPath, subject string) (out *Policy, changed bool) {
	if p == nil {
		return nil, false
	}
	var audiences []string
	for _, s := range p.Statements {
		if aud := audienceOf(s, hostPath); aud != "" && !slices.Contains(audiences, aud) {
			audiences = append(audiences, aud)
		}
	}
	out = p.Clone()
	for _, aud := range audiences {
		var c bool
		out, c = RevokeSubject(out, providerARN, hostPath, subject, aud)
		changed = changed || c
	}
	return out, changed
}

// audienceOf is the single :aud value of s's StringEquals, "" when it has none or several.
func audienceOf(s Statement, hostPath string) string {
	for k, v := range s.Condition["StringEquals"] {
		if strings.EqualFold(k, vocab.IssuerHostPath(hostPath)+":aud") && len(v) == 1 {
			return v[0]
		}
	}
	return ""
}

// TrustsAnyone reports whether p has an Allow statement: a trust without one lets nobody assume the role.
func TrustsAnyone(p *Policy) bool {
	if p == nil {
		return false
	}
	for _, s := range p.Statements {
		if s.Effect == Allow {
			return true
		}
	}
	return false
}

// TrustsProvider reports whether an Allow statement of p names providerARN as a Federated principal: the
// role can be assumed with the provider's tokens (by some ServiceAccount, or by any).
func TrustsProvider(p *Policy, providerARN string) bool {
	if p == nil {
		return false
	}
	for _, s := range p.Statements {
		if s.Effect != Allow || s.Principal == nil {
			continue
		}
		if s.Principal.Wildcard || slices.ContainsFunc(s.Principal.Values["Federated"], func(v string) bool { return strings.EqualFold(v, providerARN) }) {
			return true
		}
	}
	return false
}

// WebIdentitySubjects are the subjects p's statements of WebIdentityStatement's shape list for
// providerARN (any audience), sorted and without repeats: the ServiceAccounts a role is shared by.
func WebIdentitySubjects(p *Policy, providerARN, hostPath string) []string {
	if p == nil {
		return nil
	}
	var out []string
	for _, s := range p.Statements {
		if subs, ok := webIdentityShape(s, providerARN, hostPath, audienceOf(s, hostPath)); ok {
			out = append(out, subs...)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Equivalent reports whether s and o are the same statement apart from their Sids (in canonical form:
// value order and repeats do not matter).
func (s Statement) Equivalent(o Statement) bool {
	return bytes.Equal(s.equivalenceKey(), o.equivalenceKey())
}
