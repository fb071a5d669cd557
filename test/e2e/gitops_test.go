package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox"
	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox/sandboxtest"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/gitops"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
	"github.com/kubectl-sdc/kubectl-sdc/test/cfnspec"
)

// ackIAMModule is the ACK IAM controller whose CRDs (config/crd/bases) validate bind -o ack; `make ack-crds`
// puts it in the module cache.
const ackIAMModule = "github.com/aws-controllers-k8s/iam-controller@v1.9.1"

var ackOnce struct {
	sync.Once
	err error
}

// ackCRDs installs the CRDs of the ACK resources bind -o ack prints into the sandbox's kube-apiserver, once:
// the IAM controller's Role, Policy and OpenIDConnectProvider from its module, the EKS controller's
// PodIdentityAssociation from testdata/ack (see its README).
func ackCRDs(t *testing.T) {
	t.Helper()
	ackOnce.Do(func() {
		cmd := exec.Command("go", "mod", "download", "-json", ackIAMModule)
		cmd.Dir = os.TempDir()
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
		out, err := cmd.Output()
		var mod struct{ Dir, Error string }
		if err != nil || json.Unmarshal(out, &mod) != nil || mod.Dir == "" {
			ackOnce.err = fmt.Errorf("go mod download %s: %v %s%s: run `make ack-crds` (with access to the Go module proxy)", ackIAMModule, err, mod.Error, out)
			return
		}
		bases := filepath.Join(mod.Dir, "config", "crd", "bases")
		args := []string{"apply", "--server-side", "--field-manager", "e2e"}
		for _, f := range []string{"iam.services.k8s.aws_roles.yaml", "iam.services.k8s.aws_policies.yaml", "iam.services.k8s.aws_openidconnectproviders.yaml"} {
			args = append(args, "-f", filepath.Join(bases, f))
		}
		args = append(args, "-f", filepath.Join("testdata", "ack", "eks.services.k8s.aws_podidentityassociations.yaml"))
		if r := kubectl(t, args...); r.Code != 0 {
			ackOnce.err = fmt.Errorf("installing the ACK CRDs: %s", r)
			return
		}
		if r := kubectl(t, "wait", "--for", "condition=established", "--timeout", "60s", "crd/roles.iam.services.k8s.aws", "crd/policies.iam.services.k8s.aws",
			"crd/openidconnectproviders.iam.services.k8s.aws", "crd/podidentityassociations.eks.services.k8s.aws"); r.Code != 0 {
			ackOnce.err = fmt.Errorf("the ACK CRDs are not established: %s", r)
		}
	})
	if ackOnce.err != nil {
		t.Fatal(ackOnce.err)
	}
}

// dryRunServer applies a YAML stream with server-side apply and server-side dry run: the kube-apiserver
// validates it against the CRDs' schemas (types, required fields, enums) and writes nothing.
func dryRunServer(t *testing.T, stream string) result {
	t.Helper()
	return runInput(t, stream, nil, "kubectl", "apply", "--server-side", "--dry-run=server", "--field-manager", "kubectl-sdc", "-f", "-")
}

// emitted runs bind with -o FORMAT and returns the objects of its output, checking that the plan went to
// standard error.
func emitted(t *testing.T, format string, args ...string) (string, []map[string]any) {
	t.Helper()
	r := kubectl(t, append([]string{"sdc", "bind", "-o", format}, args...)...)
	if r.Code != 0 {
		t.Fatalf("bind -o %s: %s", format, r)
	}
	if !strings.Contains(r.Stderr, "Plan: ") || strings.Contains(r.Stdout, "Plan: ") {
		t.Errorf("bind -o %s: the plan belongs on standard error, the resources alone on standard output:\n%s", format, r)
	}
	objs, err := gitops.Read(strings.NewReader(r.Stdout))
	if err != nil {
		t.Fatalf("bind -o %s printed YAML that does not parse: %v\n%s", format, err, r.Stdout)
	}
	return r.Stdout, objs
}

// The guide's binding, a Pod Identity binding, a second binding of a shared role and a cross-account
// binding, each emitted as ACK resources and as CloudFormation: the ACK resources pass the kube-apiserver's
// server-side dry run against ACK's own CRDs, the templates pass @aws-cdk/aws-service-spec's schemas, both
// read back to the same end state, and that end state is what bind then makes in AWS (policies and trusts
// compared as IAM documents). -o writes nothing. Not parallel: it counts the sandbox's calls.
func TestGitOpsOutputsValidateAndMatchWhatBindMakes(t *testing.T) {
	ackCRDs(t)
	sb := sandboxtest.Get(t)
	type scenario struct {
		name  string
		setup func(t *testing.T) []string // bind's arguments
		want  []string                    // in the ACK output
	}
	scenarios := []scenario{
		{"the guide", func(t *testing.T) []string {
			return []string{"-n", newNamespace(t), "--bucket", newBucket(t), "--deployment", "sdc", "--create-deployment", "--image", sdcImage}
		}, []string{"kind: Role", "kind: Policy", "kind: ServiceAccount", "kind: Deployment"}},
		{"pod identity", func(t *testing.T) []string {
			return []string{"-n", newNamespace(t), "--bucket", newBucket(t), "--mechanism", "pod-identity"}
		}, []string{"kind: PodIdentityAssociation", "clusterName: " + sandbox.ClusterName}},
		{"a shared role", func(t *testing.T) []string {
			ns := newNamespace(t)
			mustBind(t, "-n", ns, "--service-account", "one", "--role-name", "shared-"+ns, "--bucket", newBucket(t), "--yes")
			return []string{"-n", ns, "--service-account", "two", "--role-name", "shared-" + ns, "--bucket", newBucket(t)}
		}, []string{"EXISTS: this is its whole desired state", gitops.ACKAdoptionPolicy + ": adopt-or-create", ":one", ":two"}},
		{"cross-account", func(t *testing.T) []string {
			ns := newNamespace(t)
			target := "arn:aws:iam::" + sb.Target.AccountID + ":role/data/sdc-gitops-" + ns
			return []string{"-n", ns, "--bucket", newTargetBucket(t), "--assume-role-arn", target, "--target-profile", sb.Target.Profile}
		}, []string{gitops.ACKOwnerAccount + `: "` + sb.Target.AccountID + `"`}},
	}
	negativeDone := false
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			args := sc.setup(t)
			sb.Front.ResetCalls()
			stream, objs := emitted(t, "ack", args...)
			if c := calls(t); c.Writes != 0 {
				t.Errorf("bind -o ack made %d AWS writes: %v", c.Writes, c.ByAction)
			}
			for _, w := range sc.want {
				if !strings.Contains(stream, w) {
					t.Errorf("bind -o ack lacks %q:\n%s", w, stream)
				}
			}
			if r := dryRunServer(t, stream); r.Code != 0 {
				t.Fatalf("the ACK resources fail the server-side dry run: %s\n%s", r, stream)
			}
			if !negativeDone {
				negativeDone = true
				dryRunCatchesABadRole(t, objs)
			}
			fromACK, err := gitops.ReadACK(objs, sb.AccountID, "aws")
			if err != nil {
				t.Fatal(err)
			}

			_, cfnObjs := emitted(t, "cloudformation", args...)
			var templates []map[string]any
			for _, o := range cfnObjs {
				if o["AWSTemplateFormatVersion"] != nil {
					templates = append(templates, o)
				}
			}
			if len(templates) != len(fromACK.Accounts) {
				t.Fatalf("%d templates for %d accounts", len(templates), len(fromACK.Accounts))
			}
			v := cfnspec.Validate(t, templates)
			t.Logf("@aws-cdk/aws-service-spec %s: %d resources checked", v.Version, v.Checked)
			if len(v.Problems) > 0 || v.Checked == 0 {
				t.Errorf("the CloudFormation templates fail the registry schemas (%d checked):\n%s", v.Checked, strings.Join(v.Problems, "\n"))
			}
			fromCFN, err := gitops.ReadCloudFormation(templates, "aws")
			if err != nil {
				t.Fatal(err)
			}
			if d := gitops.DiffTemplate(fromACK, fromCFN); len(d) > 0 {
				t.Errorf("the two formats say different things:\n%s", strings.Join(d, "\n"))
			}

			mustBind(t, append(args, "--yes")...)
			if d := gitops.Diff(fromACK, actual(t, fromACK)); len(d) > 0 {
				t.Errorf("what bind made differs from what -o ack said:\n%s", strings.Join(d, "\n"))
			}
		})
	}
}

// dryRunCatchesABadRole shows that the dry run judges: a Role with a wrong type, and one without a required
// field, are refused for that.
func dryRunCatchesABadRole(t *testing.T, objs []map[string]any) {
	t.Helper()
	for _, o := range objs {
		if o["kind"] != "Role" {
			continue
		}
		for field, spoil := range map[string]func(spec map[string]any){
			"maxSessionDuration":       func(spec map[string]any) { spec["maxSessionDuration"] = "an hour" },
			"assumeRolePolicyDocument": func(spec map[string]any) { delete(spec, "assumeRolePolicyDocument") },
		} {
			bad := map[string]any{}
			b, _ := json.Marshal(o)
			_ = json.Unmarshal(b, &bad)
			spoil(bad["spec"].(map[string]any))
			y, err := yaml.Marshal(bad)
			if err != nil {
				t.Fatal(err)
			}
			if r := dryRunServer(t, string(y)); r.Code == 0 || !strings.Contains(r.Stderr, field) {
				t.Errorf("a Role with %s spoiled passed the dry run, or was refused for something else: %s", field, r)
			}
		}
		return
	}
	t.Fatal("no Role in the output to spoil")
}

// actual reads, from AWS, the resources that want names: what is there after bind.
func actual(t *testing.T, want *gitops.Desired) *gitops.Desired {
	t.Helper()
	ctx := context.Background()
	sb := sandboxtest.Get(t)
	out := &gitops.Desired{}
	for _, a := range want.Accounts {
		c := awsAdmin(t).IAM
		if a.ID == sb.Target.AccountID {
			c = targetAdmin(t).IAM
		}
		got := gitops.Account{ID: a.ID}
		if a.Provider != nil {
			p, err := c.GetOpenIDConnectProvider(ctx, &iam.GetOpenIDConnectProviderInput{OpenIDConnectProviderArn: aws.String(a.Provider.ARN)})
			if err != nil {
				t.Fatal(err)
			}
			u := aws.ToString(p.Url)
			if !strings.HasPrefix(u, "https://") {
				u = "https://" + u
			}
			got.Provider = &gitops.Provider{ARN: a.Provider.ARN, URL: u, ClientIDs: p.ClientIDList, Thumbprints: p.ThumbprintList, Tags: iamTags(p.Tags)}
		}
		for _, want := range a.Policies {
			p, err := c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(want.ARN)})
			if err != nil {
				t.Fatal(err)
			}
			tags, err := c.ListPolicyTags(ctx, &iam.ListPolicyTagsInput{PolicyArn: aws.String(want.ARN)})
			if err != nil {
				t.Fatal(err)
			}
			got.Policies = append(got.Policies, gitops.Policy{ARN: want.ARN, Name: aws.ToString(p.Policy.PolicyName), Path: aws.ToString(p.Policy.Path),
				Document: policyDoc(t, c, want.ARN), Tags: iamTags(tags.Tags)})
		}
		for _, want := range a.Roles {
			r, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(want.Name)})
			if err != nil {
				t.Fatal(err)
			}
			doc, err := url.QueryUnescape(aws.ToString(r.Role.AssumeRolePolicyDocument))
			if err != nil {
				t.Fatal(err)
			}
			trust, err := iampolicy.Parse([]byte(doc))
			if err != nil {
				t.Fatal(err)
			}
			att, err := c.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String(want.Name)})
			if err != nil {
				t.Fatal(err)
			}
			role := gitops.Role{ARN: aws.ToString(r.Role.Arn), Name: want.Name, Path: aws.ToString(r.Role.Path), Trust: trust, Tags: iamTags(r.Role.Tags),
				Description: aws.ToString(r.Role.Description), MaxSessionDuration: aws.ToInt32(r.Role.MaxSessionDuration)}
			if b := r.Role.PermissionsBoundary; b != nil {
				role.Boundary = aws.ToString(b.PermissionsBoundaryArn)
			}
			for _, p := range att.AttachedPolicies {
				role.Policies = append(role.Policies, aws.ToString(p.PolicyArn))
			}
			got.Roles = append(got.Roles, role)
		}
		for _, want := range a.Associations {
			for _, as := range associationsOf(t, want.Namespace) {
				if as.ServiceAccount != want.ServiceAccount {
					continue
				}
				r := run(t, nil, "aws", "eks", "describe-pod-identity-association", "--cluster-name", sandbox.ClusterName, "--association-id", as.AssociationID, "--output", "json")
				var d struct {
					Association struct {
						Tags map[string]string `json:"tags"`
					} `json:"association"`
				}
				if err := json.Unmarshal([]byte(r.Stdout), &d); err != nil {
					t.Fatalf("%v: %s", err, r)
				}
				got.Associations = append(got.Associations, gitops.Association{Cluster: sandbox.ClusterName, Namespace: as.Namespace,
					ServiceAccount: as.ServiceAccount, RoleARN: as.RoleARN, Tags: d.Association.Tags})
			}
		}
		out.Accounts = append(out.Accounts, got)
	}
	return out
}

func iamTags(tags []iamtypes.Tag) map[string]string {
	out := map[string]string{}
	for _, tg := range tags {
		out[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	return out
}
