package iampolicy

import (
	"bytes"
	"strconv"

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
