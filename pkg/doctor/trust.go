package doctor

import (
	"fmt"
	"sort"
	"strings"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// trustRequest is what STS evaluates when the target's pods present their token: the same request the
// sandbox's STS and pkg/iampolicy's tests use, plus the role as resource and the provider key STS adds.
func trustRequest(f *Facts, t *Target, subject, audience string) iampolicy.Request {
	host := vocab.IssuerHostPath(f.Cluster.Issuer)
	req := iampolicy.WebIdentityRequest(f.ProviderARN, host, subject, audience)
	req.Resource = t.RoleARN
	req.Context["aws:FederatedProvider"] = []string{f.ProviderARN}
	return req
}

// only is a policy holding statement i of p, for asking which statement admits what.
func only(p *iampolicy.Policy, i int) *iampolicy.Policy {
	return &iampolicy.Policy{Version: p.Version, Statements: []iampolicy.Statement{p.Statements[i]}}
}

func statementLabel(p *iampolicy.Policy, i int) string {
	if sid := p.Statements[i].Sid; sid != "" {
		return fmt.Sprintf("statement %d (Sid %s)", i+1, sid)
	}
	return fmt.Sprintf("statement %d", i+1)
}

// conditionHolds evaluates one operator on one key of a statement against the request's context.
func conditionHolds(version, op, key string, values iampolicy.Values, req iampolicy.Request) bool {
	p := &iampolicy.Policy{Version: version, Statements: []iampolicy.Statement{{
		Effect: iampolicy.Allow, Principal: &iampolicy.Principal{Wildcard: true}, Action: iampolicy.Values{"*"},
		Condition: iampolicy.Conditions{op: {key: values}},
	}}}
	return iampolicy.Evaluate(req, p).Allowed()
}

// reason is one explanation of why a statement does not admit the target: short for the title, long for
// the detail.
type reason struct{ short, long string }

// explainTrust says why no statement of trust admits the request, statement by statement, most telling
// reason first.
func explainTrust(f *Facts, t *Target, trust *iampolicy.Policy, d iampolicy.Decision) []reason {
	host := vocab.IssuerHostPath(f.Cluster.Issuer)
	req := trustRequest(f, t, t.Subject(), t.Audience())
	if d.Effect == iampolicy.Deny {
		return []reason{{"a statement explicitly denies it",
			statementLabel(trust, d.StatementIndex) + " denies sts:AssumeRoleWithWebIdentity to this ServiceAccount, and a Deny always wins"}}
	}
	var out []reason
	federated := 0
	for i, s := range trust.Statements {
		if s.Effect != iampolicy.Allow {
			continue
		}
		label := statementLabel(trust, i)
		var provs []string
		if s.Principal != nil {
			provs = s.Principal.Values["Federated"]
		}
		if len(provs) == 0 && (s.Principal == nil || !s.Principal.Wildcard) {
			continue
		}
		federated++
		if s.Principal != nil && !s.Principal.Wildcard && !containsFold(provs, f.ProviderARN) {
			out = append(out, otherProvider(label, provs, f.ProviderARN))
			continue
		}
		if !iampolicy.Evaluate(iampolicy.Request{Principal: req.Principal, Action: req.Action, Resource: req.Resource},
			&iampolicy.Policy{Version: trust.Version, Statements: []iampolicy.Statement{withoutConditions(s)}}).Allowed() {
			out = append(out, reason{"no statement allows sts:AssumeRoleWithWebIdentity",
				fmt.Sprintf("%s allows %s, not sts:AssumeRoleWithWebIdentity", label, strings.Join(s.Action, ", "))})
			continue
		}
		out = append(out, explainConditions(label, trust.Version, s, req, host, t)...)
	}
	if federated == 0 {
		out = append(out, reason{"no statement trusts a web identity provider",
			"the trust policy has no Allow statement with a Federated principal: it does not trust any OIDC provider, so no ServiceAccount can assume the role"})
	}
	if len(out) == 0 {
		out = append(out, reason{"no statement admits it", "IAM's rules deny the request: " + d.String()})
	}
	sort.SliceStable(out, func(i, j int) bool { return rank(out[i]) < rank(out[j]) })
	return out
}

// rank orders reasons so that the title names the most specific one.
func rank(r reason) int {
	switch {
	case strings.Contains(r.short, "namespace"), strings.Contains(r.short, "ServiceAccount"), strings.Contains(r.short, ":aud key"):
		return 0
	case strings.Contains(r.short, "provider"):
		return 1
	}
	return 2
}

func withoutConditions(s iampolicy.Statement) iampolicy.Statement {
	s.Condition = nil
	return s
}

func containsFold(list []string, v string) bool {
	for _, x := range list {
		if strings.EqualFold(x, v) {
			return true
		}
	}
	return false
}

// otherProvider explains a statement that trusts other providers: which, and whose they look like.
func otherProvider(label string, provs []string, want string) reason {
	wantAcct, wantHost, _ := vocab.ParseProviderARN(want)
	var whose []string
	for _, p := range provs {
		acct, h, _ := vocab.ParseProviderARN(p)
		switch {
		case h == "":
			whose = append(whose, p+" (not an OIDC provider ARN)")
		case strings.EqualFold(h, wantHost) && acct != wantAcct:
			whose = append(whose, fmt.Sprintf("%s (the same issuer's provider in account %s)", p, acct))
		default:
			region, _, isEKS := vocab.ParseEKSIssuer(h)
			wantRegion, _, wantEKS := vocab.ParseEKSIssuer(wantHost)
			switch {
			case isEKS && wantEKS && region != wantRegion:
				whose = append(whose, fmt.Sprintf("%s (a cluster in region %s; this cluster is in %s)", p, region, wantRegion))
			case isEKS:
				whose = append(whose, fmt.Sprintf("%s (another EKS cluster's issuer)", p))
			default:
				whose = append(whose, fmt.Sprintf("%s (another issuer)", p))
			}
		}
	}
	return reason{"it trusts another cluster's or region's OIDC provider",
		fmt.Sprintf("%s trusts %s; this cluster's provider is %s", label, strings.Join(whose, ", "), want)}
}

// explainConditions says which of a statement's conditions fail for the target's token, and how.
func explainConditions(label, version string, s iampolicy.Statement, req iampolicy.Request, host string, t *Target) []reason {
	var out []reason
	for _, c := range failedConditions(version, s, req) {
		out = append(out, explainCondition(label, c.op, c.key, c.values, host, t))
	}
	if len(out) == 0 {
		out = append(out, reason{"its conditions do not admit it",
			fmt.Sprintf("%s's conditions do not hold together for sub=%s, aud=%s", label, t.Subject(), t.Audience())})
	}
	return out
}

// failedCondition is one condition of a statement that does not hold for a request.
type failedCondition struct {
	op, key string
	values  iampolicy.Values
}

// failedConditions lists the conditions of s that do not hold for req, by operator and then key.
func failedConditions(version string, s iampolicy.Statement, req iampolicy.Request) []failedCondition {
	var out []failedCondition
	ops := make([]string, 0, len(s.Condition))
	for op := range s.Condition {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	for _, op := range ops {
		keys := make([]string, 0, len(s.Condition[op]))
		for k := range s.Condition[op] {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, key := range keys {
			if values := s.Condition[op][key]; !conditionHolds(version, op, key, values, req) {
				out = append(out, failedCondition{op, key, values})
			}
		}
	}
	return out
}

func explainCondition(label, op, key string, values iampolicy.Values, host string, t *Target) reason {
	cond := fmt.Sprintf("%s %s %s = %s", label, op, key, strings.Join(values, ", "))
	keyHost, suffix, _ := cutLast(key, ":")
	if !strings.EqualFold(keyHost, host) && (suffix == "sub" || suffix == "aud") {
		return reason{"its conditions name another issuer",
			fmt.Sprintf("%s: the key names issuer %s, but this cluster's tokens come from %s (condition keys are <issuer>:sub and <issuer>:aud)", cond, keyHost, host)}
	}
	switch strings.ToLower(suffix) {
	case "sub":
		for _, v := range values {
			ns, sa, ok := vocab.ParseSubject(v)
			if !ok {
				continue
			}
			switch {
			case ns != t.Namespace:
				return reason{fmt.Sprintf("it trusts ServiceAccount %s/%s of another namespace", ns, sa),
					fmt.Sprintf("%s: it admits ServiceAccount %s/%s, in namespace %s; this one is %s/%s", cond, ns, sa, ns, t.Namespace, t.ServiceAccount)}
			case sa != t.ServiceAccount:
				return reason{fmt.Sprintf("it trusts another ServiceAccount, %s/%s", ns, sa),
					fmt.Sprintf("%s: it admits ServiceAccount %s/%s, not %s/%s", cond, ns, sa, t.Namespace, t.ServiceAccount)}
			}
		}
		return reason{"its :sub condition does not admit " + t.Subject(),
			fmt.Sprintf("%s does not match the token's subject %s", cond, t.Subject())}
	case "aud":
		for _, v := range values {
			if _, _, ok := vocab.ParseSubject(v); ok {
				return reason{"the subject is under the :aud key",
					fmt.Sprintf("%s: a ServiceAccount subject is under the :aud key; it belongs under %s:sub, and %s:aud must be the audience %s", cond, host, host, t.Audience())}
			}
		}
		return reason{fmt.Sprintf("it admits audience %s, the tokens carry %s", strings.Join(values, ", "), t.Audience()),
			fmt.Sprintf("%s does not match the token's audience %s", cond, t.Audience())}
	}
	return reason{"a condition does not hold",
		fmt.Sprintf("%s does not hold for a web identity token of %s", cond, t.Subject())}
}

// cutLast splits s around the last sep.
func cutLast(s, sep string) (before, after string, found bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}
