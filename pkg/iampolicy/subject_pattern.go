package iampolicy

import (
	"slices"
	"strings"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// A role meant for many ServiceAccounts can admit them by a pattern instead of by name (eksctl's
// --subject-pattern): the IRSA statement with a StringLike condition on <issuer>:sub, where '*' matches any
// run of characters and '?' one, as STS matches it.

// WebIdentityPatternStatement is the IRSA trust statement for the ServiceAccounts whose subject matches
// pattern: Allow, Principal {"Federated": providerARN}, Action sts:AssumeRoleWithWebIdentity, Condition
// StringEquals {<issuer>:aud: audience} and StringLike {<issuer>:sub: pattern}.
func WebIdentityPatternStatement(providerARN, issuerHostPath, pattern, audience string) Statement {
	host := vocab.IssuerHostPath(issuerHostPath)
	if audience == "" {
		audience = vocab.DefaultAudience
	}
	return Statement{
		Effect:    Allow,
		Principal: &Principal{Values: map[string]Values{"Federated": {providerARN}}},
		Action:    Values{vocab.ActionAssumeRoleWithWebIdentity},
		Condition: Conditions{
			"StringEquals": {host + ":aud": {audience}},
			"StringLike":   {host + ":sub": {pattern}},
		},
	}
}

// AdmitSubjectPattern returns p with WebIdentityPatternStatement added (p is not modified; every other
// statement stays); changed is false when an equivalent statement is there already.
func AdmitSubjectPattern(p *Policy, providerARN, issuerHostPath, pattern, audience string) (*Policy, bool) {
	return MergeStatement(p, WebIdentityPatternStatement(providerARN, issuerHostPath, pattern, audience))
}

// SubjectPatterns are the :sub patterns of p's statements of WebIdentityPatternStatement's shape for the
// provider (any audience), in order, without repeats.
func SubjectPatterns(p *Policy, providerARN, issuerHostPath string) []string {
	if p == nil {
		return nil
	}
	host := vocab.IssuerHostPath(issuerHostPath)
	var out []string
	for _, s := range p.Statements {
		if s.Effect != Allow || s.NotPrincipal != nil || s.Principal == nil || s.Principal.Wildcard ||
			len(s.Principal.Values) != 1 || len(s.Principal.Values["Federated"]) != 1 ||
			!strings.EqualFold(s.Principal.Values["Federated"][0], providerARN) ||
			len(s.Action) != 1 || !strings.EqualFold(s.Action[0], vocab.ActionAssumeRoleWithWebIdentity) ||
			len(s.NotAction) > 0 || len(s.Resource) > 0 || len(s.NotResource) > 0 || len(s.Condition) != 2 {
			continue
		}
		eq, like := s.Condition["StringEquals"], s.Condition["StringLike"]
		if len(eq) != 1 || len(like) != 1 {
			continue
		}
		for k, v := range like {
			if strings.EqualFold(k, host+":sub") {
				for _, pat := range v {
					if !slices.Contains(out, pat) {
						out = append(out, pat)
					}
				}
			}
		}
	}
	return out
}

// PatternAdmits reports whether StringLike's pattern matches subject, as STS matches it.
func PatternAdmits(pattern, subject string) bool {
	p := NewPolicy(Statement{Effect: Allow, Principal: &Principal{Wildcard: true}, Action: Values{"*"},
		Condition: Conditions{"StringLike": {"k:sub": {pattern}}}})
	return Evaluate(Request{Principal: &RequestPrincipal{Type: "AWS", ID: "*"}, Action: "a:b", Context: map[string][]string{"k:sub": {subject}}}, p).Allowed()
}

// MatchingPattern is the first of patterns that admits subject, "" for none.
func MatchingPattern(patterns []string, subject string) string {
	for _, pat := range patterns {
		if PatternAdmits(pat, subject) {
			return pat
		}
	}
	return ""
}
