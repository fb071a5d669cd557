package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox/awsfront"
	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox/sandboxtest"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/grant"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

func awsAccount(t *testing.T) string { return sandboxtest.Get(t).AccountID }

func mustUnbind(t *testing.T, args ...string) result {
	t.Helper()
	r := kubectl(t, append([]string{"sdc", "unbind"}, args...)...)
	if r.Code != 0 {
		t.Fatalf("kubectl sdc unbind %s: %s", strings.Join(args, " "), r)
	}
	return r
}

// roleExists and policyExists ask IAM, as the test's own client.
func roleExists(t *testing.T, name string) bool {
	t.Helper()
	_, err := awsAdmin(t).IAM.GetRole(context.Background(), &iam.GetRoleInput{RoleName: aws.String(name)})
	return err == nil
}

func policyDocument(t *testing.T, arn string) *iampolicy.Policy {
	t.Helper()
	c := awsAdmin(t).IAM
	p, err := c.GetPolicy(context.Background(), &iam.GetPolicyInput{PolicyArn: aws.String(arn)})
	if err != nil {
		return nil
	}
	v, err := c.GetPolicyVersion(context.Background(), &iam.GetPolicyVersionInput{PolicyArn: aws.String(arn), VersionId: p.Policy.DefaultVersionId})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := iampolicy.Parse([]byte(aws.ToString(v.PolicyVersion.Document)))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// roleAnnotation is the ServiceAccount's eks.amazonaws.com/role-arn ("" when it has none or is gone).
func roleAnnotation(t *testing.T, ns, sa string) string {
	t.Helper()
	obj, err := kube(t).CoreV1().ServiceAccounts(ns).Get(context.Background(), sa, metav1.GetOptions{})
	if err != nil {
		return ""
	}
	return obj.Annotations[vocab.RoleARNAnnotation]
}

// Two ServiceAccounts share a role: unbinding one leaves the role, the other's statement and its
// permissions; unbinding the other removes the role and the policy. Another manager's annotation stays.
func TestUnbindSharedRoleThenTheLast(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	one, two := newBucket(t), newBucket(t)
	role := "sdc-shared-" + ns
	policy := "arn:aws:iam::" + awsAccount(t) + ":policy/" + role
	mustBind(t, "-n", ns, "--service-account", "a", "--bucket", one, "--role-name", role, "--yes")
	mustBind(t, "-n", ns, "--service-account", "b", "--bucket", two, "--role-name", role, "--yes")
	mustRun(t, "kubectl", "annotate", "serviceaccount", "a", "-n", ns, "team=data")

	r := mustUnbind(t, "-n", ns, "--service-account", "a", "--yes")
	for _, want := range []string{"~ update    IAM role", "~ update    IAM policy", "~ update    ServiceAccount " + ns + "/a", "Applied: 3 updated, 0 deleted."} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("unbind of a lacks %q:\n%s", want, r.Stdout)
		}
	}
	if !roleExists(t, role) || admits(t, role, ns, "a") || !admits(t, role, ns, "b") {
		t.Fatalf("after unbinding a: role exists %v, admits a %v, admits b %v", roleExists(t, role), admits(t, role, ns, "a"), admits(t, role, ns, "b"))
	}
	doc := policyDocument(t, policy)
	allows := func(bucket string) bool {
		return iampolicy.Evaluate(iampolicy.Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::" + bucket + "/k"}, doc).Allowed()
	}
	if doc == nil || allows(one) || !allows(two) || len(grant.Bindings(doc)) != 1 {
		t.Errorf("the shared policy after unbinding a: %v", doc)
	}
	if got := attachedTo(t, role); len(got) != 1 || got[0] != policy {
		t.Errorf("attached %v", got)
	}
	sa, err := kube(t).CoreV1().ServiceAccounts(ns).Get(context.Background(), "a", metav1.GetOptions{})
	if err != nil || sa.Annotations[vocab.RoleARNAnnotation] != "" || sa.Annotations[vocab.RegionalSTSAnnotation] != "" || sa.Annotations["team"] != "data" {
		t.Errorf("ServiceAccount a after unbind: %v, %v", sa.Annotations, err)
	}
	doctorPassesForServiceAccount(t, ns, "b", "--probe")

	r = mustUnbind(t, "-n", ns, "--service-account", "b", "--yes")
	for _, want := range []string{"- delete    IAM role", "- delete    IAM role policy attachment", "- delete    IAM policy", "Applied: 1 updated, 3 deleted."} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("unbind of b lacks %q:\n%s", want, r.Stdout)
		}
	}
	if roleExists(t, role) || policyDocument(t, policy) != nil || roleAnnotation(t, ns, "b") != "" {
		t.Errorf("after unbinding the last: role %v, policy %v, annotation %q", roleExists(t, role), policyDocument(t, policy) != nil, roleAnnotation(t, ns, "b"))
	}
}

// A role made by hand (as the original guide makes it) and bound with --role-name is never deleted: its
// trust stays, the warning says why, and the policy kubectl-sdc made for it goes.
func TestUnbindNeverDeletesARoleItDidNotMake(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	bucket := newBucket(t)
	role := "hand-made-" + ns
	trust := webIdentityTrust(providerARN(t), `{"StringEquals":{"`+issuerHost(t)+`:sub":"system:serviceaccount:`+ns+`:sdc","`+issuerHost(t)+`:aud":"sts.amazonaws.com"}}`)
	mustBind(t, "-n", ns, "--service-account", "warmup", "--bucket", bucket, "--yes") // the provider exists from here on
	mustRun(t, "aws", "iam", "create-role", "--role-name", role, "--assume-role-policy-document", trust)
	mustBind(t, "-n", ns, "--bucket", bucket, "--role-name", role, "--yes")
	before := trustOf(t, role)

	r := mustUnbind(t, "-n", ns, "--yes")
	if !strings.Contains(r.Stdout, "was not made by kubectl-sdc") || !strings.Contains(r.Stdout, "= unchanged IAM role") {
		t.Errorf("unbind did not say why the role stays:\n%s", r.Stdout)
	}
	if !roleExists(t, role) || !trustOf(t, role).Equal(before) {
		t.Fatalf("the hand-made role was deleted or changed")
	}
	if got := attachedTo(t, role); len(got) != 0 || policyDocument(t, "arn:aws:iam::"+awsAccount(t)+":policy/"+role) != nil {
		t.Errorf("kubectl-sdc's policy for it: attached %v", got)
	}
	if roleAnnotation(t, ns, "sdc") != "" {
		t.Error("the annotation stays")
	}
	if r := mustUnbind(t, "-n", ns, "--role-name", role, "--yes"); !roleExists(t, role) || !strings.Contains(r.Stdout, "Nothing to do") {
		t.Errorf("a second unbind, naming the role: %s", r)
	}
}

// --dry-run --exit-code exits 2 while something is bound and writes nothing; after unbind it exits 0, and a
// second unbind prints "Nothing to do", exits 0 and writes nothing to AWS or Kubernetes. Not parallel: it
// counts the sandbox's calls.
func TestUnbindDryRunThenNothingToDo(t *testing.T) {
	ns := newNamespace(t)
	bucket := newBucket(t)
	sb := sandboxtest.Get(t)
	mustBind(t, "-n", ns, "--bucket", bucket, "--deployment", "sdc", "--create-deployment", "--image", sdcImage, "--yes")
	waitMutatedPod(t, ns, "sdc", roleARN(t, ns, "sdc"))

	writesOf := func(args ...string) (result, int, int) {
		before := len(kubeRequests(t))
		sb.Front.ResetCalls()
		r := kubectl(t, append([]string{"sdc", "unbind"}, args...)...)
		return r, calls(t).Writes, writes(kubeRequests(t)[before:])
	}
	r, aw, kw := writesOf("-n", ns, "--dry-run", "--exit-code")
	if r.Code != 2 || aw+kw != 0 || !strings.Contains(r.Stdout, "- delete    IAM role") || !strings.Contains(r.Stdout, "Deployment(s) sdc run under ServiceAccount") {
		t.Fatalf("dry run while bound: exit %d, %d AWS and %d Kubernetes writes:\n%s", r.Code, aw, kw, r)
	}
	r, _, _ = writesOf("-n", ns, "--dry-run", "-o", "json")
	var out struct {
		RoleARN string `json:"roleArn"`
		DryRun  bool   `json:"dryRun"`
		Changes []struct{ Kind, Name, Action string }
	}
	if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil || !out.DryRun || out.RoleARN != roleARN(t, ns, "sdc") {
		t.Fatalf("-o json: %v\n%s", err, r)
	}
	actions := map[string]string{}
	for _, c := range out.Changes {
		actions[c.Kind] = c.Action
	}
	if actions["IAM role"] != "delete" || actions["IAM policy"] != "delete" || actions["ServiceAccount"] != "update" {
		t.Errorf("-o json actions %v", actions)
	}

	mustUnbind(t, "-n", ns, "--yes")
	if r, aw, kw = writesOf("-n", ns, "--dry-run", "--exit-code"); r.Code != 0 || aw+kw != 0 {
		t.Errorf("dry run after unbind: exit %d, %d + %d writes: %s", r.Code, aw, kw, r)
	}
	r, aw, kw = writesOf("-n", ns, "--yes")
	if r.Code != 0 || !strings.Contains(r.Stdout, "Nothing to do") || aw != 0 || kw != 0 {
		t.Errorf("second unbind: exit %d, %d AWS writes, %d Kubernetes writes:\n%s", r.Code, aw, kw, r)
	}
	// Deployments were left untouched (no --restart): their pods keep what they had.
	d, err := kube(t).AppsV1().Deployments(ns).Get(context.Background(), "sdc", metav1.GetOptions{})
	if err != nil || d.Spec.Template.Annotations[vocab.RestartedAtAnnotation] != "" {
		t.Errorf("the Deployment was restarted without --restart: %v", err)
	}
}

// Cut after every k-th AWS write (the front's fail_after_writes), unbind says what it did and a rerun
// converges: for a role that goes (with two policy versions) and for a shared role that stays. Then, under
// throttling and IAM's consistency window, bind and unbind still end right. Not parallel: faults are
// account-wide.
func TestUnbindConvergesAfterACutAndUnderFaults(t *testing.T) {
	sb := sandboxtest.Get(t)
	t.Cleanup(func() { sb.Front.SetFaults(awsfront.Faults{}) })
	cases := []struct {
		name   string
		writes int // AWS writes of a whole unbind
		setup  func(t *testing.T, ns string) (role string)
		check  func(t *testing.T, ns, role string)
	}{
		{"the only binding, its policy in two versions", 4,
			func(t *testing.T, ns string) string {
				mustBind(t, "-n", ns, "--bucket", newBucket(t), "--yes")
				mustBind(t, "-n", ns, "--bucket", newBucket(t), "--yes") // a second version
				return roleName(ns, "sdc")
			},
			func(t *testing.T, ns, role string) {
				if roleExists(t, role) || policyDocument(t, policyARN(t, ns, "sdc")) != nil {
					t.Errorf("role or policy left")
				}
			}},
		{"a shared role that stays", 3,
			func(t *testing.T, ns string) string {
				role := "sdc-shared-" + ns
				mustBind(t, "-n", ns, "--bucket", newBucket(t), "--role-name", role, "--yes")
				mustBind(t, "-n", ns, "--service-account", "other", "--bucket", newBucket(t), "--role-name", role, "--yes")
				return role
			},
			func(t *testing.T, ns, role string) {
				doc := policyDocument(t, "arn:aws:iam::"+awsAccount(t)+":policy/"+role)
				if !roleExists(t, role) || admits(t, role, ns, "sdc") || !admits(t, role, ns, "other") || doc == nil ||
					len(grant.Bindings(doc)) != 1 {
					t.Errorf("the shared role after the unbind of sdc: policy %v", doc)
				}
			}},
	}
	for _, c := range cases {
		for k := 1; k <= c.writes; k++ {
			t.Run(fmt.Sprintf("%s, cut after %d write(s)", c.name, k), func(t *testing.T) {
				ns := newNamespace(t)
				role := c.setup(t, ns)
				sb.Front.SetFaults(awsfront.Faults{FailAfterWrites: k})
				r := kubectl(t, "sdc", "unbind", "-n", ns, "--yes")
				sb.Front.SetFaults(awsfront.Faults{})
				if k < c.writes && (r.Code != 1 || !strings.Contains(r.Stderr, "unbind stopped part way") || !strings.Contains(r.Stderr, "run the same command again")) {
					t.Fatalf("want a partial failure that says how to finish: %s", r)
				}
				mustUnbind(t, "-n", ns, "--yes")
				c.check(t, ns, role)
				if roleAnnotation(t, ns, "sdc") != "" {
					t.Error("the annotation stays")
				}
				if r := mustUnbind(t, "-n", ns, "--yes"); !strings.Contains(r.Stdout, "Nothing to do") {
					t.Errorf("not converged:\n%s", r.Stdout)
				}
			})
		}
	}
	t.Run("throttling and a consistency window", func(t *testing.T) {
		ns := newNamespace(t)
		bucket := newBucket(t) // made before the faults: the test's own calls are not the ones under test
		sb.Front.SetFaults(awsfront.Faults{ThrottleRate: 0.3, ConsistencyDelayMS: 1500})
		mustBind(t, "-n", ns, "--bucket", bucket, "--yes")
		mustUnbind(t, "-n", ns, "--yes")
		sb.Front.SetFaults(awsfront.Faults{})
		if roleExists(t, roleName(ns, "sdc")) || policyDocument(t, policyARN(t, ns, "sdc")) != nil || roleAnnotation(t, ns, "sdc") != "" {
			t.Error("role, policy or annotation left")
		}
		if r := mustUnbind(t, "-n", ns, "--yes"); !strings.Contains(r.Stdout, "Nothing to do") {
			t.Errorf("not converged:\n%s", r.Stdout)
		}
	})
	t.Run("throttling while a shared role's trust and policy are edited", func(t *testing.T) {
		ns := newNamespace(t)
		role := "sdc-shared-" + ns
		mustBind(t, "-n", ns, "--bucket", newBucket(t), "--role-name", role, "--yes")
		mustBind(t, "-n", ns, "--service-account", "other", "--bucket", newBucket(t), "--role-name", role, "--yes")
		sb.Front.SetFaults(awsfront.Faults{ThrottleRate: 0.3})
		mustUnbind(t, "-n", ns, "--yes")
		sb.Front.SetFaults(awsfront.Faults{})
		if !roleExists(t, role) || admits(t, role, ns, "sdc") || !admits(t, role, ns, "other") {
			t.Error("the shared role after the unbind of sdc under throttling")
		}
		if r := mustUnbind(t, "-n", ns, "--yes"); !strings.Contains(r.Stdout, "Nothing to do") {
			t.Errorf("not converged:\n%s", r.Stdout)
		}
	})
}

// A binding made inside guardrails (--role-path, --permissions-boundary, --tag) is unbound where bind made
// it: the role and the policy at /sdc/ go. A role found at another path than the annotation says (here, no
// annotation left: unbind's default is "/") is used where it is, its policy found among the role's own.
func TestUnbindRoleAtARolePath(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	boundary := newBoundary(t, "sdc-unbind-boundary-"+ns, allowEverything)
	for _, sa := range []string{"a", "b"} {
		mustBind(t, "-n", ns, "--service-account", sa, "--bucket", newBucket(t), "--role-path", "/sdc/",
			"--permissions-boundary", boundary, "--tag", "team=data", "--yes")
	}
	acct := awsAccount(t)
	at := func(kind, sa string) string { return "arn:aws:iam::" + acct + ":" + kind + "/sdc/" + roleName(ns, sa) }
	if got := getRole(t, roleName(ns, "a")); got.Role.Arn != at("role", "a") || got.Role.Path != "/sdc/" {
		t.Fatalf("bind --role-path made %+v", got.Role)
	}

	r := mustUnbind(t, "-n", ns, "--service-account", "a", "--yes")
	for _, want := range []string{"- delete    IAM role " + at("role", "a"), "- delete    IAM policy " + at("policy", "a"), "Applied: 1 updated, 3 deleted."} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("unbind of a role at /sdc/ lacks %q:\n%s", want, r.Stdout)
		}
	}
	if roleExists(t, roleName(ns, "a")) || policyDocument(t, at("policy", "a")) != nil || roleAnnotation(t, ns, "a") != "" {
		t.Errorf("after unbind: role %v, policy %v, annotation %q", roleExists(t, roleName(ns, "a")), policyDocument(t, at("policy", "a")) != nil, roleAnnotation(t, ns, "a"))
	}
	if lp := run(t, nil, "aws", "iam", "list-policies", "--scope", "Local", "--path-prefix", "/sdc/", "--output", "json"); strings.Contains(lp.Stdout, roleName(ns, "a")) {
		t.Errorf("the policy at /sdc/ is still listed: %s", lp.Stdout)
	}

	mustRun(t, "kubectl", "annotate", "serviceaccount", "b", "-n", ns, vocab.RoleARNAnnotation+"-")
	r = mustUnbind(t, "-n", ns, "--service-account", "b", "--dry-run", "-o", "json")
	var out struct {
		RoleARN, PolicyARN string
		Changes            []struct{ Kind, Name, Action string }
	}
	if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil {
		t.Fatalf("unbind -o json: %v\n%s", err, r.Stdout)
	}
	if out.RoleARN != at("role", "b") || out.PolicyARN != at("policy", "b") {
		t.Errorf("without the annotation unbind found role %s and policy %s, want them at /sdc/", out.RoleARN, out.PolicyARN)
	}
	for _, c := range out.Changes {
		if strings.Contains(c.Name, ":policy/"+roleName(ns, "b")) {
			t.Errorf("unbind planned on a policy at / that does not exist: %+v", c)
		}
	}
	mustUnbind(t, "-n", ns, "--service-account", "b", "--yes")
	if roleExists(t, roleName(ns, "b")) || policyDocument(t, at("policy", "b")) != nil {
		t.Errorf("after unbind of b: role %v, policy %v", roleExists(t, roleName(ns, "b")), policyDocument(t, at("policy", "b")) != nil)
	}
	if r := mustUnbind(t, "-n", ns, "--service-account", "b", "--yes"); !strings.Contains(r.Stdout, "Nothing to do") {
		t.Errorf("a second unbind of b:\n%s", r.Stdout)
	}
}
