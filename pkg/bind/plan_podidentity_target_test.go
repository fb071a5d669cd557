package bind

import (
	"strings"
	"testing"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/eksread"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iamread"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/plan"
)

const tChainTarget = "arn:aws:iam::210987654321:role/data"

// chainRequest is podRequest with --target-role-arn and --target-profile.
func chainRequest(t *testing.T) *Request {
	r := podRequest(t)
	r.TargetRoleARN, r.TargetProfile = tChainTarget, "data"
	return r
}

func TestChainPlan(t *testing.T) {
	t.Parallel()
	yes := true
	readOnly := iampolicy.NewPolicy(iampolicy.Statement{Effect: iampolicy.Allow, Action: iampolicy.Values{"s3:GetObject"}, Resource: iampolicy.Values{"*"}})
	const ext = "us-west-2/123456789012/demo/ns1/sdc"
	for _, tc := range []struct {
		name string
		req  func(*Request)
		obs  func(*Observed)
		// wantTrust is a fragment of the target's planned trust; wantAssoc of the association's view.
		wantTrust, wantAssoc string
		assocAction          plan.Action
		placeholder          bool // the target's trust waits for EKS's external ID
	}{
		{name: "session tags: the trust conditions on the tags", req: func(*Request) {}, obs: func(*Observed) {},
			wantTrust: `"aws:RequestTag/kubernetes-service-account": "sdc"`, wantAssoc: "targetRoleArn: " + tChainTarget, assocAction: plan.Create},
		{name: "session tags disabled, new association: the external ID comes from EKS's answer", req: func(r *Request) { r.DisableSessionTags = &yes }, obs: func(*Observed) {},
			wantTrust: externalIDPlaceholder, wantAssoc: "disableSessionTags: true", assocAction: plan.Create, placeholder: true},
		{name: "session tags disabled, the association has the target: its external ID", req: func(r *Request) { r.DisableSessionTags = &yes; r.SessionPolicy = readOnly },
			obs: func(o *Observed) {
				o.Association = &eksread.Association{Summary: eksread.Summary{ID: "a-1", Namespace: "ns1", ServiceAccount: "sdc"}, RoleARN: tRole,
					TargetRoleARN: tChainTarget, ExternalID: ext, DisableSessionTags: true}
			},
			wantTrust: `"sts:ExternalId": "` + ext + `"`, wantAssoc: "policy: ", assocAction: plan.Update},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := chainRequest(t)
			tc.req(r)
			o := podFresh(r)
			tc.obs(o)
			res, err := Plan(r, o)
			if err != nil {
				t.Fatal(err)
			}
			own := mustParse(t, change(t, res, "policy").After)
			if !iampolicy.Evaluate(iampolicy.Request{Action: "sts:AssumeRole", Resource: tChainTarget}, own).Allowed() ||
				iampolicy.Evaluate(iampolicy.Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k"}, own).Allowed() {
				t.Errorf("the binding's role's policy: %s", own.Canonical())
			}
			tr := change(t, res, idTargetRole)
			if tr.Action != plan.Create || !strings.Contains(tr.After, tc.wantTrust) {
				t.Errorf("target trust %s:\n%s\nwant %q", tr.Action, tr.After, tc.wantTrust)
			}
			if !contains(tr.Deps, idAssociation) {
				t.Errorf("the target's trust does not wait for the association: %v", tr.Deps)
			}
			op := tr.Op.(inTarget).Op
			if _, waits := op.(withExternalID); waits != tc.placeholder {
				t.Errorf("target trust op %T, placeholder %v", op, tc.placeholder)
			}
			a := change(t, res, idAssociation)
			if a.Action != tc.assocAction || !strings.Contains(a.After, tc.wantAssoc) {
				t.Errorf("association %s:\n%s\nwant %q", a.Action, a.After, tc.wantAssoc)
			}
		})
	}
}

// A second plan over what the first one made changes nothing.
func TestChainRerunChangesNothing(t *testing.T) {
	t.Parallel()
	r := chainRequest(t)
	o := podFresh(r)
	res, err := Plan(r, o)
	if err != nil {
		t.Fatal(err)
	}
	podApply(t, res, o)
	o.Association.TargetRoleARN = tChainTarget
	o.Target.Role = &iamread.Role{ARN: tChainTarget, Name: "data", Trust: mustParse(t, change(t, res, idTargetRole).After), Attached: []string{o.Target.PolicyARN},
		Tags: change(t, res, idTargetRole).Op.(inTarget).Op.(writeTrust).Create.Tags}
	o.Target.Policy = &iamread.Policy{ARN: o.Target.PolicyARN, DefaultVersion: "v1", Document: mustParse(t, change(t, res, idTargetPolicy).After),
		Tags: change(t, res, idTargetPolicy).Op.(inTarget).Op.(writePolicy).Tags}
	again, err := Plan(r, o)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range again.Plan.Changes {
		if c.Action != plan.Unchanged {
			t.Errorf("rerun: %s %s %s", c.Action, c.Kind, c.Name)
		}
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// The SDK rule holds on the chain too: an SDC known to bundle an SDK that cannot read Pod Identity
// credentials is refused (the target's credentials come through Pod Identity as well), --force binds it.
func TestChainKeepsTheSDKRule(t *testing.T) {
	t.Parallel()
	for _, force := range []bool{false, true} {
		r := chainRequest(t)
		r.Deployment, r.CreateDeployment, r.Image, r.Force = "sdc", true, "streamsets/datacollector:3.19.0", force
		res, err := Plan(r, podFresh(r))
		switch {
		case !force && (err == nil || !strings.Contains(err.Error(), "refusing EKS Pod Identity, nothing was changed") || !strings.Contains(err.Error(), "--force")):
			t.Errorf("without --force: %v", err)
		case force && err != nil:
			t.Errorf("with --force: %v", err)
		case force && !strings.Contains(strings.Join(res.Warnings, "\n"), "--force: Deployment ns1/sdc to create runs streamsets/datacollector:3.19.0"):
			t.Errorf("with --force, warnings %q", res.Warnings)
		}
	}
}
