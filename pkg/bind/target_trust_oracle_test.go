package bind

import (
	"encoding/json"
	"testing"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
	"github.com/kubectl-sdc/kubectl-sdc/test/oracle"
)

// The target's trust bind writes for EKS Pod Identity's own chain admits EKS's second hop for this binding
// and no other, as iam-simulate judges it: with session tags, the tagged hop of the binding's role for this
// cluster, namespace and ServiceAccount (sts:AssumeRole and sts:TagSession), and not another namespace's,
// ServiceAccount's, cluster's or role's; with them disabled, the untagged hop with the association's
// external ID, and not with another or none. pkg/iampolicy must agree.
func TestOracleTargetTrustAdmitsOnlyTheBindingsHop(t *testing.T) {
	o := oracle.Start(t)
	t.Parallel()
	const ext = "us-west-2/123456789012/demo/ns1/sdc"
	base := iampolicy.PodIdentitySession{ClusterARN: tCluster, ClusterName: "demo", Namespace: "ns1", ServiceAccount: "sdc", PodName: "sdc-0", PodUID: "u-1"}
	type hop struct {
		name      string
		s         iampolicy.PodIdentitySession
		role, ext string
		want      bool
	}
	vary := func(f func(*iampolicy.PodIdentitySession)) iampolicy.PodIdentitySession {
		s := base
		f(&s)
		return s
	}
	untagged := vary(func(s *iampolicy.PodIdentitySession) { s.DisableSessionTags = true })
	for _, tagsOff := range []bool{false, true} {
		written := base
		written.DisableSessionTags = tagsOff
		trust, _ := iampolicy.AdmitPodIdentityTarget(nil, tRole, tChainTarget, written, map[bool]string{true: ext}[tagsOff])
		hops := []hop{
			{"this binding, tagged", base, tRole, "", !tagsOff},
			{"another namespace", vary(func(s *iampolicy.PodIdentitySession) { s.Namespace = "ns2" }), tRole, "", false},
			{"another ServiceAccount", vary(func(s *iampolicy.PodIdentitySession) { s.ServiceAccount = "other" }), tRole, "", false},
			{"another cluster", vary(func(s *iampolicy.PodIdentitySession) {
				s.ClusterARN = "arn:aws:eks:us-west-2:123456789012:cluster/other"
			}), tRole, "", false},
			{"another role", base, "arn:aws:iam::123456789012:role/other", "", false},
			{"untagged, the external ID", untagged, tRole, ext, tagsOff},
			{"untagged, another external ID", untagged, tRole, ext + "-other", false},
			{"untagged, another role with the external ID", untagged, "arn:aws:iam::123456789012:role/other", ext, false},
		}
		var sims []oracle.Simulation
		var wants []bool
		var names []string
		for _, h := range hops {
			for _, req := range iampolicy.PodIdentityTargetRequests(h.s, h.role, tChainTarget, h.ext) {
				sim := oracle.Simulation{Principal: req.Principal.ID, Action: req.Action, Resource: tChainTarget, ResourceAccount: "210987654321",
					Context: map[string]any{}, ResourcePolicy: trust.Compact(),
					Identity: []json.RawMessage{json.RawMessage(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`)}}
				for k, v := range req.Context {
					if k == "aws:TagKeys" {
						sim.Context[k] = v
					} else {
						sim.Context[k] = v[0]
					}
				}
				sims = append(sims, sim)
				wants = append(wants, h.want)
				names = append(names, h.name+" "+req.Action)
				if got := iampolicy.Evaluate(req, trust).Allowed(); got != h.want {
					t.Errorf("session tags off=%v, %s %s: pkg/iampolicy allowed=%v, want %v", tagsOff, h.name, req.Action, got, h.want)
				}
			}
		}
		decisions, err := o.Simulate(sims)
		if err != nil {
			t.Fatal(err)
		}
		for i, d := range decisions {
			if (d == oracle.Allowed) != wants[i] {
				t.Errorf("session tags off=%v, %s: iam-simulate says %s, want allowed=%v\n%s", tagsOff, names[i], d, wants[i], trust.Canonical())
			}
		}
	}
}
