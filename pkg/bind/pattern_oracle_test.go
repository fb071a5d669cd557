package bind

import (
	"path"
	"testing"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iamread"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
	"github.com/kubectl-sdc/kubectl-sdc/test/oracle"
)

// A --subject-pattern binding admits every ServiceAccount whose subject matches the pattern and no other:
// the trust Plan makes (for a new role, and for a role whose trust names another ServiceAccount already)
// is judged by iam-simulate over subjects that match and subjects that nearly do, and what it admits
// must be exactly what the pattern matches (Go's path.Match, which agrees with StringLike for subjects,
// which hold no '/'), or was admitted before by name. pkg/iampolicy must agree with the oracle.
func TestOraclePatternAdmitsExactlyTheMatchingServiceAccounts(t *testing.T) {
	o := oracle.Start(t)
	t.Parallel()
	patterns := []string{
		"system:serviceaccount:sdc-*:sdc",
		"system:serviceaccount:ns1:sdc-*",
		"system:serviceaccount:team-?:sdc",
		"system:serviceaccount:ns1:*",
		"system:serviceaccount:*-etl:loader",
		"system:serviceaccount:sdc-*:*-writer",
	}
	subjects := []string{}
	for _, ns := range []string{"ns1", "sdc-a", "sdc-", "sdc", "sdc-a-b", "team-1", "team-12", "team-", "prod-etl", "etl", "x-etl-y", "sdcx-a"} {
		for _, sa := range []string{"sdc", "sdc-1", "sdc-", "loader", "s3-writer", "writer", "sdcx", "loader-2"} {
			subjects = append(subjects, vocab.Subject(ns, sa))
		}
	}
	const named = "system:serviceaccount:other:named"
	type trial struct {
		pattern string
		trust   *iampolicy.Policy
		before  bool // the role existed, naming another ServiceAccount
	}
	var trials []trial
	var sims []oracle.Simulation
	for _, pat := range patterns {
		for _, before := range []bool{false, true} {
			r := request(t)
			r.RoleName, r.SubjectPattern = tRoleName, pat
			ns, sa := firstMatch(t, pat, subjects)
			r.Namespace, r.ServiceAccount = ns, sa
			if err := r.Validate(); err != nil {
				t.Fatalf("pattern %s: %v", pat, err)
			}
			ob := fresh(r)
			if before {
				trust := iampolicy.NewPolicy(iampolicy.WebIdentityStatement(tProvider, tHost, "other", "named", vocab.DefaultAudience))
				ob.Role = &iamread.Role{ARN: tRole, Name: tRoleName, Trust: trust, Tags: map[string]string{vocab.ManagedByKey: vocab.ManagedByValue}}
			}
			res, err := Plan(r, ob)
			if err != nil {
				t.Fatalf("pattern %s: %v", pat, err)
			}
			trust := mustParse(t, change(t, res, "role").After)
			trials = append(trials, trial{pattern: pat, trust: trust, before: before})
			for _, sub := range append(subjects, named) {
				sims = append(sims, mergeSimulation(trust, iampolicy.WebIdentityRequest(tProvider, tHost, sub, vocab.DefaultAudience)))
			}
		}
	}
	decisions, err := o.Simulate(sims)
	if err != nil {
		t.Fatal(err)
	}
	next, admitted := 0, 0
	for _, tr := range trials {
		for _, sub := range append(subjects, named) {
			d := decisions[next]
			next++
			match, err := path.Match(tr.pattern, sub)
			if err != nil {
				t.Fatal(err)
			}
			want := match || (tr.before && sub == named)
			if got := d == oracle.Allowed; got != want {
				t.Errorf("pattern %s (role existed: %v): iam-simulate says %s for %s, want admitted=%v\n%s", tr.pattern, tr.before, d, sub, want, tr.trust.Canonical())
			}
			if ours := iampolicy.Evaluate(iampolicy.WebIdentityRequest(tProvider, tHost, sub, vocab.DefaultAudience), tr.trust).Allowed(); ours != (d == oracle.Allowed) {
				t.Errorf("pattern %s: pkg/iampolicy says %v for %s, iam-simulate %s", tr.pattern, ours, sub, d)
			}
			if want {
				admitted++
			}
		}
	}
	// Each pattern must admit some subjects and refuse others, or the trial proves nothing.
	if admitted == 0 || admitted == next {
		t.Fatalf("%d of %d requests admitted: the sample does not tell patterns apart", admitted, next)
	}
	t.Logf("%d requests judged by iam-simulate, %d admitted", next, admitted)
}

// firstMatch is the first subject the pattern matches, as a namespace and name.
func firstMatch(t *testing.T, pattern string, subjects []string) (string, string) {
	t.Helper()
	for _, s := range subjects {
		if ok, _ := path.Match(pattern, s); ok {
			rest := s[len("system:serviceaccount:"):]
			for i := range rest {
				if rest[i] == ':' {
					return rest[:i], rest[i+1:]
				}
			}
		}
	}
	t.Fatalf("no sample subject matches %s", pattern)
	return "", ""
}
