package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox/sandboxtest"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/plan"
)

// savePlan runs bind (or another command) with --dry-run --out and returns the file.
func savePlan(t *testing.T, command string, args ...string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "plan.json")
	r := kubectl(t, append([]string{"sdc", command, "--dry-run", "--out", file}, args...)...)
	if r.Code != 0 {
		t.Fatalf("kubectl sdc %s --dry-run --out: %s", command, r)
	}
	if !strings.Contains(r.Stderr, "kubectl sdc apply "+file) {
		t.Errorf("the saving run does not say how to apply the plan:\n%s", r)
	}
	return file
}

// applyRefused applies a saved plan that must be refused, and checks that it wrote nothing in AWS or
// Kubernetes and said each of want. Not parallel: it counts the sandbox's calls.
func applyRefused(t *testing.T, file string, want ...string) {
	t.Helper()
	before := len(kubeRequests(t))
	sandboxtest.Get(t).Front.ResetCalls()
	r := kubectl(t, "sdc", "apply", file)
	if r.Code != 1 {
		t.Fatalf("apply of a plan that no longer holds: want exit 1, got %s", r)
	}
	t.Logf("refused:\n%s", r.Stderr)
	for _, w := range want {
		if !strings.Contains(r.Stderr, w) {
			t.Errorf("the refusal lacks %q:\n%s", w, r.Stderr)
		}
	}
	if c := calls(t); c.Writes != 0 {
		t.Errorf("a refused plan made %d AWS writes: %v", c.Writes, c.ByAction)
	}
	if w := writes(kubeRequests(t)[before:]); w != 0 {
		t.Errorf("a refused plan made %d Kubernetes writes", w)
	}
}

// The original guide's binding, saved by one run and applied by another: the file is readable JSON with a
// version, applying it reaches the planned end state (a bind afterwards has nothing to change), and the
// same file applied again is refused, since what it was planned from no longer holds.
func TestSavedPlanAppliesTheGuidesBinding(t *testing.T) {
	ns := newNamespace(t)
	bucket := newBucket(t)
	args := []string{"-n", ns, "--bucket", bucket, "--deployment", "sdc", "--create-deployment", "--image", sdcImage}
	file := savePlan(t, "bind", args...)

	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Format  string `json:"format"`
		Version int    `json:"version"`
		Command string `json:"command"`
		Where   struct {
			Cluster, Account string
		} `json:"where"`
		Facts []struct {
			ID    string          `json:"id"`
			State json.RawMessage `json:"state"`
		} `json:"facts"`
		Changes []struct {
			Kind, Action string
			Op           json.RawMessage
		} `json:"changes"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("the plan file is not JSON: %v", err)
	}
	if doc.Format != "kubectl-sdc/plan" || doc.Version != 1 || doc.Command != "bind" || doc.Where.Account == "" || len(doc.Facts) == 0 {
		t.Errorf("plan file header: %+v", doc)
	}
	creates := map[string]bool{}
	for _, c := range doc.Changes {
		if c.Action == "create" {
			creates[c.Kind] = true
			if len(c.Op) == 0 {
				t.Errorf("change %s %s has no operation in the file", c.Action, c.Kind)
			}
		}
	}
	for _, k := range []string{"IAM policy", "IAM role", "IAM role policy attachment", "ServiceAccount", "Deployment"} {
		if !creates[k] {
			t.Errorf("the saved plan does not create the guide's %s: %s", k, data)
		}
	}
	if _, err := awsAdmin(t).IAM.GetRole(context.Background(), &iam.GetRoleInput{RoleName: aws.String(roleName(ns, "sdc"))}); err == nil {
		t.Fatal("bind --dry-run --out made the role")
	}

	sandboxtest.Get(t).Front.ResetCalls()
	r := kubectl(t, "sdc", "apply", file, "-o", "json")
	if r.Code != 0 {
		t.Fatalf("apply: %s", r)
	}
	applied := calls(t)
	t.Logf("apply of the saved plan: %d AWS calls (%d writes) %v", applied.Total, applied.Writes, applied.ByAction)
	want := []string{"iam:CreateRole", "iam:CreatePolicy", "iam:AttachRolePolicy"}
	if creates["IAM OIDC provider"] { // unless an earlier test of the sandbox made it
		want = append(want, "iam:CreateOpenIDConnectProvider")
	}
	for _, a := range want {
		if applied.ByAction[a] != 1 {
			t.Errorf("apply called %s %d times, want once", a, applied.ByAction[a])
		}
	}
	var out struct {
		DryRun  bool `json:"dryRun"`
		RoleARN string
		Changes []struct{ Action, Error string }
	}
	if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil {
		t.Fatalf("apply -o json: %v\n%s", err, r.Stdout)
	}
	if out.DryRun || len(out.Changes) != len(doc.Changes) {
		t.Errorf("apply -o json: dryRun %v, %d changes, want false and %d", out.DryRun, len(out.Changes), len(doc.Changes))
	}
	if trust := trustOf(t, roleName(ns, "sdc")); trust == nil {
		t.Fatal("apply made no role")
	}
	if again := kubectl(t, append([]string{"sdc", "bind", "--dry-run", "--exit-code"}, args...)...); again.Code != 0 {
		t.Errorf("after apply, bind still has changes (want exit 0): %s", again)
	}
	sa, err := kube(t).CoreV1().ServiceAccounts(ns).Get(context.Background(), "sdc", metav1.GetOptions{})
	if err != nil || sa.Annotations["eks.amazonaws.com/role-arn"] != roleARN(t, ns, "sdc") {
		t.Errorf("ServiceAccount after apply: %v %v", sa, err)
	}

	applyRefused(t, file, "saved plan is stale", "IAM role "+roleName(ns, "sdc")+": exists now")
}

// A plan saved for a binding that exists (a new bucket: the policy gets a new version) is refused when
// something it was planned from is changed by hand in between, with what moved, and nothing is written.
func TestSavedPlanRefusedWhenTheWorldMoved(t *testing.T) {
	ns := newNamespace(t)
	mustBind(t, "-n", ns, "--bucket", newBucket(t), "--yes")
	role := roleName(ns, "sdc")
	policy := policyARN(t, ns, "sdc")
	changed := []string{"-n", ns, "--bucket", newBucket(t)}
	ctx := context.Background()
	a := awsAdmin(t)

	cases := []struct {
		name  string
		hand  func(t *testing.T)
		moved string
	}{
		{"trust edited", func(t *testing.T) {
			trust := trustOf(t, role)
			extra, err := iampolicy.Parse([]byte(`{"Version":"2012-10-17","Statement":[{"Sid":"ByHand","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + sandboxtest.Get(t).AccountID + `:root"},"Action":"sts:AssumeRole"}]}`))
			if err != nil {
				t.Fatal(err)
			}
			trust.Statements = append(trust.Statements, extra.Statements...)
			if _, err := a.IAM.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String(role), PolicyDocument: aws.String(string(trust.Compact()))}); err != nil {
				t.Fatal(err)
			}
		}, "IAM role " + role + ": Trust changed"},
		{"policy version added", func(t *testing.T) {
			v, err := a.IAM.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(policy)})
			if err != nil {
				t.Fatal(err)
			}
			doc, err := a.IAM.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: aws.String(policy), VersionId: v.Policy.DefaultVersionId})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := a.IAM.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: aws.String(policy), PolicyDocument: doc.PolicyVersion.Document, SetAsDefault: true}); err != nil {
				t.Fatal(err)
			}
		}, "IAM policy " + policy + ": DefaultVersion changed"},
		{"ServiceAccount annotated", func(t *testing.T) {
			if _, err := kube(t).CoreV1().ServiceAccounts(ns).Patch(ctx, "sdc", types.MergePatchType, []byte(`{"metadata":{"annotations":{"team":"data"}}}`), metav1.PatchOptions{}); err != nil {
				t.Fatal(err)
			}
		}, "ServiceAccount " + ns + "/sdc: annotations changed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			file := savePlan(t, "bind", changed...)
			c.hand(t)
			applyRefused(t, file, "saved plan is stale", "what moved since it was planned", c.moved, "nothing was written")
		})
	}
}

// A plan file that was edited, or is not a plan, is refused before anything is read: no AWS call and no
// Kubernetes request.
func TestSavedPlanTamperedRefusedBeforeAnyRead(t *testing.T) {
	ns := newNamespace(t)
	bucket := newBucket(t)
	file := savePlan(t, "bind", "-n", ns, "--bucket", bucket)
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct{ name, file, want string }{
		{"a bucket changed", write("edited.json", strings.ReplaceAll(string(data), bucket, bucket+"-other")), "does not match its content"},
		{"an unknown field", write("unknown.json", strings.Replace(string(data), `"format"`, `"extra": 1, "format"`, 1)), "unknown field"},
		{"another version", write("version.json", strings.Replace(string(data), `"version": 1`, `"version": 7`, 1)), "format version 7"},
		{"not JSON", write("garbage.json", "plan: yes\n"), "not a kubectl-sdc plan"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := len(kubeRequests(t))
			sandboxtest.Get(t).Front.ResetCalls()
			r := kubectl(t, "sdc", "apply", c.file)
			if r.Code != 1 || !strings.Contains(r.Stderr, c.want) {
				t.Errorf("apply %s: want exit 1 and %q, got %s", c.name, c.want, r)
			}
			if n := calls(t).Total; n != 0 {
				t.Errorf("a bad plan file led to %d AWS calls", n)
			}
			if n := len(kubeRequests(t)[before:]); n != 0 {
				t.Errorf("a bad plan file led to %d Kubernetes requests", n)
			}
		})
	}
}

// unbind's and migrate's plans are saved and applied as bind's: refused when something they were planned
// from moved, applied to exactly their end state otherwise.
func TestSavedPlanOfUnbindAndMigrate(t *testing.T) {
	ctx := context.Background()
	annotate := func(t *testing.T, ns, key string) {
		t.Helper()
		patch := `{"metadata":{"annotations":{"` + key + `":"by-hand"}}}`
		if _, err := kube(t).CoreV1().ServiceAccounts(ns).Patch(ctx, "sdc", types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("migrate", func(t *testing.T) {
		ns := newNamespace(t)
		mustBind(t, "-n", ns, "--bucket", newBucket(t), "--yes")
		stale := savePlan(t, "migrate", "-n", ns)
		annotate(t, ns, "team")
		applyRefused(t, stale, "ServiceAccount "+ns+"/sdc: annotations changed")
		if a := associationsOf(t, ns); len(a) != 0 {
			t.Fatalf("a refused migrate plan made associations: %+v", a)
		}
		file := savePlan(t, "migrate", "-n", ns)
		if r := kubectl(t, "sdc", "apply", file); r.Code != 0 || !strings.Contains(r.Stdout, "Applied:") {
			t.Fatalf("apply of the migrate plan: %s", r)
		}
		if a := associationsOf(t, ns); len(a) != 1 || a[0].RoleARN != roleARN(t, ns, "sdc") {
			t.Errorf("associations after the saved migrate plan: %+v", a)
		}
		if r := kubectl(t, "sdc", "migrate", "-n", ns, "--dry-run", "--exit-code"); r.Code != 0 {
			t.Errorf("migrate after its saved plan still has changes: %s", r)
		}
	})
	t.Run("unbind", func(t *testing.T) {
		ns := newNamespace(t)
		mustBind(t, "-n", ns, "--bucket", newBucket(t), "--yes")
		stale := savePlan(t, "unbind", "-n", ns)
		annotate(t, ns, "owner")
		applyRefused(t, stale, "ServiceAccount "+ns+"/sdc: annotations changed")
		if trustOf(t, roleName(ns, "sdc")) == nil {
			t.Fatal("a refused unbind plan deleted the role")
		}
		file := savePlan(t, "unbind", "-n", ns)
		if r := kubectl(t, "sdc", "apply", file, "-o", "yaml"); r.Code != 0 || !strings.Contains(r.Stdout, "dryRun: false") {
			t.Fatalf("apply of the unbind plan: %s", r)
		}
		if _, err := awsAdmin(t).IAM.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(roleName(ns, "sdc"))}); err == nil {
			t.Error("the role is still there after the saved unbind plan")
		}
	})
}

// The flags of saved plans and GitOps output are checked before anything is read: one line each, exit 1,
// no AWS call.
func TestSavedPlanAndGitOpsFlagsRefused(t *testing.T) {
	sandboxtest.Get(t).Front.ResetCalls()
	file := filepath.Join(t.TempDir(), "plan.json")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"bind", "--bucket", "b", "--out", file}, "--out saves a plan for review and needs --dry-run"},
		{[]string{"bind", "--bucket", "b", "--dry-run", "--out", file, "--print-manifest", "--image", sdcImage}, "--out cannot save a plan with --print-manifest"},
		{[]string{"unbind", "--out", file}, "--out saves a plan for review and needs --dry-run"},
		{[]string{"migrate", "--out", file}, "--out saves a plan for review and needs --dry-run"},
		{[]string{"bind", "--bucket", "b", "-o", "ack", "--yes"}, "-o ack writes nothing (it implies --dry-run): leave out --yes"},
		{[]string{"bind", "--bucket", "b", "-o", "cloudformation", "--print-manifest", "--image", sdcImage}, "-o cloudformation prints the Kubernetes objects with the AWS resources"},
		{[]string{"bind", "--bucket", "b", "-o", "terraform"}, `--output "terraform" is not supported`},
		{[]string{"apply"}, "accepts 1 arg(s), received 0"},
		{[]string{"apply", filepath.Join(t.TempDir(), "missing.json")}, "plan file: open"},
		{[]string{"apply", file, "-o", "ack"}, `--output "ack" is not supported`},
	} {
		r := kubectl(t, append([]string{"sdc"}, c.args...)...)
		if msg := strings.TrimSpace(r.Stderr); r.Code != 1 || strings.Contains(msg, "\n") || !strings.Contains(msg, c.want) {
			t.Errorf("%v: want one line with %q, got %s", c.args, c.want, r)
		}
	}
	if n := calls(t).Total; n != 0 {
		t.Errorf("refused flags led to %d AWS calls", n)
	}
	if _, err := os.Stat(file); err == nil {
		t.Error("a refused --out wrote the file")
	}
}

// A plan whose request was changed on purpose, with its digest made again, passes the file checks, but the
// plan made from it is not the saved one: refused with the changes that differ, and nothing written.
func TestSavedPlanWithAForgedDigestIsReplannedAndRefused(t *testing.T) {
	ns := newNamespace(t)
	bucket := newBucket(t)
	file := savePlan(t, "bind", "-n", ns, "--bucket", bucket)
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	s, err := plan.ReadSaved("plan.json", data)
	if err != nil {
		t.Fatal(err)
	}
	s.Request = json.RawMessage(strings.ReplaceAll(string(s.Request), bucket, "someone-elses-bucket"))
	forged, err := s.Seal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, forged, 0o644); err != nil {
		t.Fatal(err)
	}
	applyRefused(t, file, "saved plan is stale", "the plan made now differs from the saved one",
		"create IAM policy "+policyARN(t, ns, "sdc")+": document, operation differs")
	if _, err := awsAdmin(t).IAM.GetRole(context.Background(), &iam.GetRoleInput{RoleName: aws.String(roleName(ns, "sdc"))}); err == nil {
		t.Error("a forged plan made the role")
	}
}
