package bind

import (
	"bytes"
	"strings"
	"testing"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/gitops"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iamread"
)

// The resources emitted for a plan read back into the plan's end state, in both formats: the guide's
// binding, a Pod Identity binding, a second binding joining a shared role, and a cross-account binding.
func TestDesiredRoundTripsThroughACKAndCloudFormation(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		plan func(t *testing.T) *Result
		// want are lines the ACK output must hold.
		want []string
	}{
		{"the guide", func(t *testing.T) *Result {
			r := request(t)
			r.Deployment, r.CreateDeployment, r.Image = "sdc", true, "streamsets/datacollector:5.11.0"
			return mustPlan(t, r, fresh(r))
		}, []string{"kind: OpenIDConnectProvider", "kind: Policy", "kind: Role", "kind: ServiceAccount", "kind: Deployment", "eks.amazonaws.com/role-arn"}},
		{"pod identity", func(t *testing.T) *Result {
			r := podRequest(t)
			return mustPlan(t, r, podFresh(r))
		}, []string{"kind: PodIdentityAssociation", "clusterName: demo", "pods.eks.amazonaws.com"}},
		{"a shared role", func(t *testing.T) *Result {
			one := request(t)
			one.RoleName = "shared"
			o := bound(t, one)
			two := request(t)
			two.RoleName, two.ServiceAccount = "shared", "other"
			two.Selection.Params = map[string]string{"bucket": "bucket-two"}
			o2 := *o
			o2.Names, o2.ServiceAccount = NamesFor(two, o.Cluster, o.Identity, nil), nil
			return mustPlan(t, two, &o2)
		}, []string{"EXISTS: this is its whole desired state", gitops.ACKAdoptionPolicy + ": adopt-or-create", "system:serviceaccount:ns1:sdc", "system:serviceaccount:ns1:other"}},
		{"cross-account", func(t *testing.T) *Result {
			r := request(t)
			r.AssumeRoleARN, r.TargetProfile = "arn:aws:iam::210987654321:role/sdc-data", "data"
			o := fresh(r)
			o.Target.Role = &iamread.Role{ARN: r.AssumeRoleARN, Name: "sdc-data", Trust: mustParse(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`),
				Attached: []string{"arn:aws:iam::aws:policy/ReadOnlyAccess"}}
			return mustPlan(t, r, o)
		}, []string{gitops.ACKOwnerAccount + ": \"210987654321\"", "ec2.amazonaws.com", "arn:aws:iam::aws:policy/ReadOnlyAccess"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			res := c.plan(t)
			want, err := res.Desired()
			if err != nil {
				t.Fatal(err)
			}
			var ack, cfn bytes.Buffer
			if err := gitops.Write(&ack, gitops.ACK(want)); err != nil {
				t.Fatal(err)
			}
			for _, w := range c.want {
				if !strings.Contains(ack.String(), w) {
					t.Errorf("the ACK output lacks %q:\n%s", w, ack.String())
				}
			}
			objs, err := gitops.Read(&ack)
			if err != nil {
				t.Fatal(err)
			}
			got, err := gitops.ReadACK(objs, tAccount, "aws")
			if err != nil {
				t.Fatal(err)
			}
			if d := gitops.Diff(want, got); len(d) > 0 {
				t.Errorf("ACK read back differs:\n%s", strings.Join(d, "\n"))
			}
			if err := gitops.Write(&cfn, gitops.CloudFormation(want)); err != nil {
				t.Fatal(err)
			}
			objs, err = gitops.Read(&cfn)
			if err != nil {
				t.Fatal(err)
			}
			var templates []map[string]any
			for _, o := range objs {
				if o["AWSTemplateFormatVersion"] != nil {
					templates = append(templates, o)
				}
			}
			if len(templates) != len(want.Accounts) {
				t.Fatalf("%d templates for %d accounts:\n%s", len(templates), len(want.Accounts), cfn.String())
			}
			got, err = gitops.ReadCloudFormation(templates, "aws")
			if err != nil {
				t.Fatal(err)
			}
			if d := gitops.DiffTemplate(want, got); len(d) > 0 {
				t.Errorf("CloudFormation read back differs:\n%s", strings.Join(d, "\n"))
			}
		})
	}
}

func mustPlan(t *testing.T, r *Request, o *Observed) *Result {
	t.Helper()
	res, err := Plan(r, o)
	if err != nil {
		t.Fatal(err)
	}
	return res
}
