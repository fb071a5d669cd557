package doctor

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// Stand-ins for "some other" ServiceAccount, namespace and audience: names nobody uses, so a statement
// that admits them admits more than the target.
const (
	otherName     = "kubectl-sdc-doctor-other"
	otherAudience = "kubectl-sdc-doctor-other-audience"
)

// iamTrustScope: warn when the statements that admit this ServiceAccount also admit others: no :sub
// condition, a wildcard, no :aud condition.
var iamTrustScope = Check{
	ID: "iam.trust-scope", Layer: LayerIAM, Scope: TargetScope,
	Needs: []string{"iam.trust"},
	// The Pod Identity statement names no ServiceAccount: the associations that name the role decide who
	// uses it, so scope is a question of IRSA's trust alone.
	Applies: func(_ *Facts, t *Target) bool { return t.UsesIRSA() },
	Run: func(_ context.Context, f *Facts, t *Target) Result {
		r := f.Roles[t.RoleARN]
		host := vocab.IssuerHostPath(f.Cluster.Issuer)
		req := trustRequest(f, t, t.Subject(), t.Audience())
		others := []iampolicy.Request{
			trustRequest(f, t, vocab.Subject(t.Namespace, otherName), t.Audience()),
			trustRequest(f, t, vocab.Subject(otherName, t.ServiceAccount), t.Audience()),
		}
		var issues []string
		broad := map[int]bool{}
		patterns := iampolicy.SubjectPatterns(r.Trust, f.ProviderARN, f.Cluster.Issuer)
		var patternNotes []string
		patternFix := ""
		for i := range r.Trust.Statements {
			p := only(r.Trust, i)
			if !iampolicy.Evaluate(req, p).Allowed() {
				continue
			}
			label := statementLabel(r.Trust, i)
			sub, aud := conditionOn(r.Trust.Statements[i], host+":sub"), conditionOn(r.Trust.Statements[i], host+":aud")
			pats := iampolicy.SubjectPatterns(p, f.ProviderARN, f.Cluster.Issuer)
			switch {
			case len(pats) > 0 && len(patterns) > 0 && sharedOnPurpose(r.Tags) && (f.AllServiceAccounts != nil || f.AllServiceAccountsErr != nil):
				// A role for many ServiceAccounts on purpose (bind --subject-pattern): what matters is which
				// ServiceAccounts of the cluster the pattern admits without being bound to the role.
				unbound, all := patternAdmits(f, pats[0], t.RoleARN)
				switch {
				case f.AllServiceAccountsErr != nil:
					issues = append(issues, fmt.Sprintf("%s admits every ServiceAccount matching %s, and the cluster's ServiceAccounts could not be listed to say which: %v", label, pats[0], f.AllServiceAccountsErr))
					broad[i] = true
				case len(unbound) > 0:
					patternFix = patternScopeFix(t, r.Name, pats[0], unbound[0])
					issues = append(issues, fmt.Sprintf("%s admits every ServiceAccount matching %s: %d of the cluster's are not bound to role %s on purpose (no role annotation naming it): %s",
						label, pats[0], len(unbound), r.Name, strings.Join(unbound, ", ")))
					broad[i] = true
				default:
					patternNotes = append(patternNotes, fmt.Sprintf("%s admits every ServiceAccount matching %s: today %s, each bound to the role", label, pats[0], strings.Join(all, ", ")))
				}
			case sub == "":
				issues = append(issues, fmt.Sprintf("%s has no %s:sub condition: every ServiceAccount of the cluster can assume the role", label, host))
				broad[i] = true
			case admitted(others, p) != "":
				issues = append(issues, fmt.Sprintf("%s's %s also admits other ServiceAccounts, e.g. %s", label, sub, admitted(others, p)))
				broad[i] = true
			}
			switch {
			case aud == "":
				issues = append(issues, fmt.Sprintf("%s has no %s:aud condition: tokens minted for any audience are accepted", label, host))
				broad[i] = true
			case iampolicy.Evaluate(trustRequest(f, t, t.Subject(), otherAudience), p).Allowed():
				issues = append(issues, fmt.Sprintf("%s's %s also admits other audiences", label, aud))
				broad[i] = true
			}
		}
		if len(issues) == 0 && len(patternNotes) > 0 {
			return pass("the trust's pattern admits only ServiceAccounts bound to the role", strings.Join(patternNotes, "; "))
		}
		if len(issues) == 0 {
			// A role shared on purpose lists its ServiceAccounts by name: that is a scope, not a warning.
			named := slices.DeleteFunc(iampolicy.WebIdentitySubjects(r.Trust, f.ProviderARN, host), func(s string) bool { return s == t.Subject() })
			if len(named) == 0 {
				return pass("the trust admits only this ServiceAccount", fmt.Sprintf("sub=%s, aud=%s", t.Subject(), t.Audience()))
			}
			return pass(fmt.Sprintf("the trust admits this ServiceAccount and %d other(s), each by name (a role shared on purpose)", len(named)),
				fmt.Sprintf("sub=%s, aud=%s; also admitted: %s", t.Subject(), t.Audience(), namedList(named)))
		}
		fix := narrowTrustFix(f, t, r, broad)
		if patternFix != "" && len(broad) == 1 {
			fix = patternFix
		}
		return warn(fmt.Sprintf("role %s's trust admits more than ServiceAccount %s/%s", r.Name, t.Namespace, t.ServiceAccount),
			strings.Join(issues, "; "), fix)
	},
}

// admitted is the subject of the first request p allows, "" when none.
func admitted(reqs []iampolicy.Request, p *iampolicy.Policy) string {
	for _, r := range reqs {
		if iampolicy.Evaluate(r, p).Allowed() {
			for k, v := range r.Context {
				if strings.HasSuffix(k, ":sub") {
					return v[0]
				}
			}
		}
	}
	return ""
}

// conditionOn describes the conditions a statement puts on key (operator and values), "" when none.
func conditionOn(s iampolicy.Statement, key string) string {
	var parts []string
	for op, keys := range s.Condition {
		for k, v := range keys {
			if strings.EqualFold(k, key) {
				parts = append(parts, fmt.Sprintf("%s %s = %s", op, k, strings.Join(v, ", ")))
			}
		}
	}
	return strings.Join(parts, " and ")
}

// narrowTrustFix replaces the broad statements with bind's exact one; the other statements stay.
func narrowTrustFix(f *Facts, t *Target, r *Role, broad map[int]bool) string {
	kept := &iampolicy.Policy{Version: r.Trust.Version, ID: r.Trust.ID}
	for i, s := range r.Trust.Statements {
		if !broad[i] {
			kept.Statements = append(kept.Statements, s)
		}
	}
	exact := iampolicy.WebIdentityStatement(f.ProviderARN, vocab.IssuerHostPath(f.Cluster.Issuer), t.Namespace, t.ServiceAccount, t.Audience())
	narrowed, _ := iampolicy.MergeStatement(kept, exact)
	return command("aws", "iam", "update-assume-role-policy", "--role-name", r.Name, "--policy-document", string(narrowed.Compact()))
}

// namedList lists ServiceAccount subjects as namespace/name, the first 20 and how many more.
func namedList(subjects []string) string {
	var out []string
	for i, s := range subjects {
		if i == 20 {
			out = append(out, fmt.Sprintf("and %d more", len(subjects)-20))
			break
		}
		if ns, sa, ok := vocab.ParseSubject(s); ok {
			s = ns + "/" + sa
		}
		out = append(out, s)
	}
	return strings.Join(out, ", ")
}

// patternAdmits are the cluster's ServiceAccounts ("namespace/name") that pattern admits and whose role
// annotation does not name roleARN (unbound), and all it admits, sorted.
func patternAdmits(f *Facts, pattern, roleARN string) (unbound, all []string) {
	for key, annotation := range f.AllServiceAccounts {
		ns, name, _ := strings.Cut(key, "/")
		if !iampolicy.PatternAdmits(pattern, vocab.Subject(ns, name)) {
			continue
		}
		all = append(all, key)
		if annotation != roleARN {
			unbound = append(unbound, key)
		}
	}
	slices.Sort(unbound)
	slices.Sort(all)
	return unbound, all
}

// patternScopeFix: a ServiceAccount a pattern admits without being bound is either to be bound on purpose
// (bind with the role's name: the pattern admits it, so its trust does not change), or the pattern is too
// broad.
func patternScopeFix(t *Target, role, pattern, unbound string) string {
	ns, name, _ := strings.Cut(unbound, "/")
	words := append([]string{"kubectl", "sdc", "bind", "-n", ns, "--service-account", name, "--role-name", role}, permissionWords(t)...)
	line := command(words...)
	if t.Selection == nil {
		line += " --stage <STAGE> [--set KEY=VALUE ...]"
	}
	return line +
		"   # bind it on purpose; or narrow " + pattern + " (aws iam update-assume-role-policy --role-name " + role + ")"
}

// sharedOnPurpose reports whether bind made the role for several bindings (--role-name): it records each
// binding's stages under a key of its own. Only then is a subject pattern of its trust bind's, meant to
// admit many; a pattern on a role made for one binding is a wildcard like any other.
func sharedOnPurpose(tags map[string]string) bool {
	for k := range tags {
		if strings.HasPrefix(k, vocab.TagStages+"/") {
			return true
		}
	}
	return false
}
