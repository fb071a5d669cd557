package iampolicy

import (
	"bytes"
	"strconv"
	"strings"
)

// DefaultAudience is the token audience IRSA uses unless the service
// account's eks.amazonaws.com/audience annotation names another.
const DefaultAudience = "sts.amazonaws.com"

// ActionAssumeRoleWithWebIdentity is the STS action a pod's web identity token performs.
const ActionAssumeRoleWithWebIdentity = "sts:AssumeRoleWithWebIdentity"

// ServiceAccountSubject is the token subject Kubernetes gives a service
// account: system:serviceaccount:<namespace>:<name>.
func ServiceAccountSubject(namespace, serviceAccount string) string {
	return "system:serviceaccount:" + namespace + ":" + serviceAccount
}

// IssuerHostPath returns an OIDC issuer without its https:// scheme and
// trailing slash: the form IAM uses in provider ARNs and condition keys.
func IssuerHostPath(issuer string) string {
	return strings.TrimSuffix(strings.TrimPrefix(issuer, "https://"), "/")
}

// WebIdentityStatement is the IRSA trust statement: Allow, Principal
// {"Federated": providerARN}, Action sts:AssumeRoleWithWebIdentity,
// Condition StringEquals {<issuer>:sub: system:serviceaccount:<ns>:<sa>,
// <issuer>:aud: audience}. issuerHostPath may be given with https://; an
// empty audience means DefaultAudience.
func WebIdentityStatement(providerARN, issuerHostPath, namespace, serviceAccount, audience string) Statement {
	host := IssuerHostPath(issuerHostPath)
	if audience == "" {
		audience = DefaultAudience
	}
	return Statement{
		Effect:    Allow,
		Principal: &Principal{Values: map[string]Values{"Federated": {providerARN}}},
		Action:    Values{ActionAssumeRoleWithWebIdentity},
		Condition: Conditions{"StringEquals": {
			host + ":sub": {ServiceAccountSubject(namespace, serviceAccount)},
			host + ":aud": {audience},
		}},
	}
}

// WebIdentityRequest is the request STS evaluates against a role's trust
// policy when a token with this subject and audience, from the issuer of
// providerARN, asks to assume the role.
func WebIdentityRequest(providerARN, issuerHostPath, subject, audience string) Request {
	host := IssuerHostPath(issuerHostPath)
	return Request{
		Principal: &RequestPrincipal{Type: "Federated", ID: providerARN},
		Action:    ActionAssumeRoleWithWebIdentity,
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
