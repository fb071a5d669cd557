package bind

import (
	"strings"
	"testing"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/plan"
)

// needsOf are the needs of every write of a plan, as the preflight asks them.
func needsOf(t *testing.T, p *plan.Plan, f *permFacts) []need {
	t.Helper()
	var out []need
	for _, c := range p.Changes {
		if op, ok := c.Op.(operation); ok && c.Action != plan.Unchanged {
			out = append(out, op.needs(f)...)
		}
	}
	return out
}

// A fresh bind's writes are asked in a few simulator requests, every write action among them with the
// resource it writes; a no-op bind asks nothing.
func TestPreflightOfAFreshBind(t *testing.T) {
	r := request(t)
	o := fresh(r)
	res, err := Plan(r, o)
	if err != nil {
		t.Fatal(err)
	}
	needs := needsOf(t, res.Plan, factsOfBind(o))
	var aws []string
	var awsNeeds []need
	for _, n := range needs {
		if n.Kube == nil {
			aws, awsNeeds = append(aws, n.String()), append(awsNeeds, n)
		}
	}
	groups := groupNeeds(awsNeeds)
	t.Logf("%d needs in %d groups: %s", len(needs), len(groups), strings.Join(aws, "; "))
	for _, want := range []string{
		"iam:CreateOpenIDConnectProvider on arn:aws:iam::123456789012:oidc-provider/" + strings.TrimPrefix(tIssuer, "https://"),
		"iam:CreatePolicy on " + o.Names.PolicyARN,
		"iam:CreateRole on " + o.Names.RoleARN,
		"iam:AttachRolePolicy on " + o.Names.RoleARN + " (policy " + o.Names.PolicyARN + ")",
	} {
		if !strings.Contains(strings.Join(aws, "\n")+"\n", want+"\n") {
			t.Errorf("no need %q", want)
		}
	}
	// The provider's, the policy's and the role's tags, and the policy an attach names: four contexts.
	if len(groups) != 4 {
		t.Errorf("%d simulator requests for a fresh bind, want 4", len(groups))
	}
	noop, err := Plan(r, bound(t, r))
	if err != nil {
		t.Fatal(err)
	}
	if n := needsOf(t, noop.Plan, factsOfBind(bound(t, r))); len(n) != 0 {
		t.Errorf("a no-op bind needs %v", n)
	}
}

// Needs whose condition keys differ, even by one key's presence, are never asked together: the simulator
// gives a request's keys to all of its actions.
func TestNeedsWithOtherKeysAreAskedApart(t *testing.T) {
	without := need{Action: "iam:CreateRole", Resource: "arn:aws:iam::1:role/sdc-a"}
	with := need{Action: "iam:CreateRole", Resource: "arn:aws:iam::1:role/sdc-a", Context: map[string][]string{"iam:PermissionsBoundary": {"arn:aws:iam::1:policy/B"}}}
	same := need{Action: "iam:TagRole", Resource: "arn:aws:iam::1:role/sdc-a", Context: map[string][]string{"iam:PermissionsBoundary": {"arn:aws:iam::1:policy/B"}}}
	g := groupNeeds([]need{without, with, same})
	if len(g) != 2 || len(g[1].members) != 2 || len(g[0].members) != 1 {
		t.Errorf("groups: %+v", g)
	}
}
