package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox/sandboxtest"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
)

// podAWS runs the real aws CLI as a pod of Deployment app in ns would, through EKS Pod Identity: a token
// of its ServiceAccount bound to the pod (kubectl create token, as the kubelet projects it), the sandbox's
// Pod Identity agent as AWS_CONTAINER_CREDENTIALS_FULL_URI, and no other credentials.
func podAWS(t *testing.T, ns, app string, args ...string) result {
	t.Helper()
	sb := sandboxtest.Get(t)
	pods, err := kube(t).CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + app})
	if err != nil || len(pods.Items) == 0 {
		t.Fatalf("pods of %s/%s: %v %v", ns, app, err, pods)
	}
	p := pods.Items[0]
	tok := kubectl(t, "create", "token", p.Spec.ServiceAccountName, "-n", ns, "--audience", "pods.eks.amazonaws.com",
		"--bound-object-kind", "Pod", "--bound-object-name", p.Name, "--bound-object-uid", string(p.UID))
	if tok.Code != 0 {
		t.Fatalf("kubectl create token: %s", tok)
	}
	file := filepath.Join(t.TempDir(), "eks-pod-identity-token")
	if err := os.WriteFile(file, []byte(strings.TrimSpace(tok.Stdout)), 0o600); err != nil {
		t.Fatal(err)
	}
	return run(t, []string{"AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY=", "AWS_SESSION_TOKEN=",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI=" + sb.PodIdentityAgentURL, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=" + file}, "aws", args...)
}

// targetTrust is the trust policy of a role of the second account.
func targetTrust(t *testing.T, name string) *iampolicy.Policy {
	t.Helper()
	out, err := targetAdmin(t).IAM.GetRole(context.Background(), &iam.GetRoleInput{RoleName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	p, err := iampolicy.Parse([]byte(aws.ToString(out.Role.AssumeRolePolicyDocument)))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// EKS Pod Identity's own chain into the second account: bind --target-role-arn --target-profile makes the
// binding's role (which may only assume the target), the target's trust as the EKS guide gives it and the
// stages' policy there, and the association's target; a pod's token reaches the other account's bucket
// through the agent; the rerun writes nothing; doctor --probe passes, and fails iam.assume-role-target
// with a fix that repairs it once the trust is broken by hand; with session tags disabled the trust is
// conditioned on the association's external ID, and a session policy narrows what the pod may do. Not
// parallel: it counts the sandbox's calls.
func TestPodIdentityTargetRole(t *testing.T) {
	sb := sandboxtest.Get(t)
	ns := newNamespace(t)
	bucket := newTargetBucket(t)
	targetName := "sdc-e2e-pit-" + ns
	target := "arn:aws:iam::" + sb.Target.AccountID + ":role/" + targetName
	first := roleARN(t, ns, "sdc")
	args := []string{"-n", ns, "--bucket", bucket, "--mechanism", "pod-identity", "--deployment", "sdc", "--create-deployment", "--image", sdcImage,
		"--target-role-arn", target, "--target-profile", sb.Target.Profile, "--yes"}
	object := filepath.Join(t.TempDir(), "object")
	if err := os.WriteFile(object, []byte("data"), 0o600); err != nil {
		t.Fatal(err)
	}

	r := mustBind(t, args...)
	for _, want := range []string{
		"+ create    IAM role " + target + "\n    in account " + sb.Target.AccountID + " (the target account, --target-profile " + sb.Target.Profile + ")",
		"trusts role " + first + " (sts:AssumeRole, sts:TagSession, if the session tags name cluster arn:aws:eks:us-west-2:" + sb.AccountID + ":cluster/sandbox and ServiceAccount " + ns + "/sdc)",
		"targetRoleArn: " + target,
	} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("the plan lacks %q:\n%s", want, r.Stdout)
		}
	}
	// The binding's role may only assume the target, with EKS's session tags.
	own := policyDoc(t, awsAdmin(t).IAM, policyARN(t, ns, "sdc"))
	for _, q := range []struct {
		action, resource string
		context          map[string][]string
		allowed          bool
	}{
		{"sts:AssumeRole", target, nil, true},
		{"sts:TagSession", target, map[string][]string{"aws:TagKeys": {"kubernetes-namespace", "eks-cluster-arn"}}, true},
		{"sts:TagSession", target, map[string][]string{"aws:TagKeys": {"team"}}, false},
		{"sts:AssumeRole", sb.Target.RoleARN, nil, false},
		{"s3:PutObject", "arn:aws:s3:::" + bucket + "/k", nil, false},
	} {
		if d := iampolicy.Evaluate(iampolicy.Request{Action: q.action, Resource: q.resource, Context: q.context}, own); d.Allowed() != q.allowed {
			t.Errorf("the binding's role: %s on %s allowed=%v, want %v\n%s", q.action, q.resource, d.Allowed(), q.allowed, own.Canonical())
		}
	}
	waitPods(t, ns, "sdc", hasPodIdentityEnv)

	// A pod's credentials are the target's and reach its bucket in the other account.
	if who := podAWS(t, ns, "sdc", "sts", "get-caller-identity", "--query", "Arn", "--output", "text"); who.Code != 0 ||
		!strings.HasPrefix(strings.TrimSpace(who.Stdout), "arn:aws:sts::"+sb.Target.AccountID+":assumed-role/"+targetName+"/eks-sandbox-") {
		t.Fatalf("the pod's identity: %s", who)
	}
	if put := podAWS(t, ns, "sdc", "s3api", "put-object", "--bucket", bucket, "--key", "in/k", "--body", object); put.Code != 0 {
		t.Fatalf("the pod's put into the other account's bucket: %s", put)
	}

	rep, dr := doctorJSON(t, "-n", ns, "--probe", "--target-profile", sb.Target.Profile)
	if dr.Code != 0 {
		t.Errorf("doctor --probe: exit %d\n%s", dr.Code, dr)
	}
	passes(t, rep, "eks.pod-identity-association", "iam.trust", "iam.permissions", "iam.assume-role-target", "probe.assume-role", "probe.assume-role-target", "probe.access")

	if l := kubectl(t, "sdc", "list", "-n", ns); l.Code != 0 || !strings.Contains(l.Stdout, roleName(ns, "sdc")+" -> "+targetName) {
		t.Errorf("list does not show the target role: %s", l)
	}

	sb.Front.ResetCalls()
	if again := mustBind(t, args...); !strings.Contains(again.Stdout, "No changes") {
		t.Errorf("second run:\n%s", again.Stdout)
	}
	if c := calls(t); c.Writes != 0 {
		t.Errorf("the second run wrote to AWS: %v", c.ByAction)
	}

	// The target's trust broken by hand: doctor names the check and the fix, and the fix repairs it.
	mustRun(t, "aws", "--profile", sb.Target.Profile, "iam", "update-assume-role-policy", "--role-name", targetName, "--policy-document",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"`+first+`"},"Action":"sts:AssumeRole"}]}`)
	rep, dr = doctorJSON(t, "-n", ns, "--probe", "--target-profile", sb.Target.Profile)
	c := rep.check(t, "iam.assume-role-target")
	if dr.Code != 1 || c.Status != "fail" || !strings.Contains(c.Title, "does not let EKS Pod Identity assume it") || !strings.Contains(c.Fix, "--target-role-arn "+target) {
		t.Fatalf("doctor with a broken target trust: exit %d, iam.assume-role-target = %s: %s | %s", dr.Code, c.Status, c.Title, c.Fix)
	}
	if p := rep.check(t, "probe.assume-role"); p.Status != "fail" || !strings.Contains(p.Detail, "see iam.assume-role-target") {
		t.Errorf("probe.assume-role = %s: %s", p.Status, p.Detail)
	}
	fix := strings.Fields(strings.TrimPrefix(c.Fix, "kubectl "))
	if r := kubectl(t, append(fix, "--yes")...); r.Code != 0 {
		t.Fatalf("the fix: %s", r)
	}
	rep, dr = doctorJSON(t, "-n", ns, "--probe", "--target-profile", sb.Target.Profile)
	passes(t, rep, "iam.assume-role-target", "probe.access")

	// Session tags disabled, and a session policy that lets the pod read only: the trust is conditioned on
	// the external ID EKS made for the association; a put is refused, a get is not. The owners first took
	// out the statement they had broken, which admits an untagged hop.
	tagged := iampolicy.NewPolicy(iampolicy.PodIdentityTargetStatement(first, iampolicy.PodIdentitySession{
		ClusterARN: "arn:aws:eks:us-west-2:" + sb.AccountID + ":cluster/sandbox", Namespace: ns, ServiceAccount: "sdc"}, ""))
	mustRun(t, "aws", "--profile", sb.Target.Profile, "iam", "update-assume-role-policy", "--role-name", targetName, "--policy-document", string(tagged.Compact()))
	readOnly := filepath.Join(t.TempDir(), "read-only.json")
	if err := os.WriteFile(readOnly, []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::`+bucket+`","arn:aws:s3:::`+bucket+`/*"]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	narrowed := append(args[:len(args)-1:len(args)-1], "--disable-session-tags", "--session-policy", readOnly, "--yes")
	r = mustBind(t, narrowed...)
	if !strings.Contains(r.Stdout, "if sts:ExternalId is us-west-2/"+sb.AccountID+"/sandbox/"+ns+"/sdc") {
		t.Errorf("the plan with session tags disabled:\n%s", r.Stdout)
	}
	ext := iampolicy.PodIdentityTargetStatement(first, iampolicy.PodIdentitySession{DisableSessionTags: true}, "us-west-2/"+sb.AccountID+"/sandbox/"+ns+"/sdc")
	if trust := targetTrust(t, targetName); !strings.Contains(string(trust.Canonical()), `"sts:ExternalId": "us-west-2/`+sb.AccountID+`/sandbox/`+ns+`/sdc"`) {
		t.Errorf("the target's trust lacks %s:\n%s", ext.Canonical(), trust.Canonical())
	}
	if get := podAWS(t, ns, "sdc", "s3api", "get-object", "--bucket", bucket, "--key", "in/k", filepath.Join(t.TempDir(), "got")); get.Code != 0 {
		t.Errorf("a get the session policy allows: %s", get)
	}
	if put := podAWS(t, ns, "sdc", "s3api", "put-object", "--bucket", bucket, "--key", "in/k2", "--body", object); put.Code == 0 ||
		!strings.Contains(put.Stderr, "AccessDenied") || !strings.Contains(put.Stderr, "because no session policy allows the s3:PutObject action") {
		t.Errorf("a put outside the session policy: %s", put)
	}
	if again := mustBind(t, narrowed...); !strings.Contains(again.Stdout, "No changes") {
		t.Errorf("second run with session tags disabled:\n%s", again.Stdout)
	}
	// doctor: the hops pass (the probe reads), and the session policy is named for the write it refuses.
	rep, _ = doctorJSON(t, "-n", ns, "--probe", "--target-profile", sb.Target.Profile)
	for _, id := range []string{"iam.trust", "iam.permissions", "probe.assume-role", "probe.assume-role-target", "probe.access"} {
		if c := rep.check(t, id); c.Status != "pass" {
			t.Errorf("%s = %s: %s | %s", id, c.Status, c.Title, c.Detail)
		}
	}
	if c := rep.check(t, "iam.assume-role-target"); c.Status != "fail" || !strings.Contains(c.Title, "refuses 1 of the 3 calls the stages make") || !strings.Contains(c.Detail, "s3:PutObject") {
		t.Errorf("iam.assume-role-target with a read-only session policy = %s: %s | %s", c.Status, c.Title, c.Detail)
	}

	// unbind --target-profile takes away what bind made on both sides: the association, the binding's role
	// and policy, and in the target's account the role and the policy bind made there.
	u := kubectl(t, "sdc", "unbind", "-n", ns, "--target-profile", sb.Target.Profile, "--yes")
	if u.Code != 0 {
		t.Fatalf("unbind: %s", u)
	}
	for _, want := range []string{"- delete    IAM role " + target, "- delete    IAM policy arn:aws:iam::" + sb.Target.AccountID + ":policy/" + targetName} {
		if !strings.Contains(u.Stdout, want) {
			t.Errorf("the unbind plan lacks %q:\n%s", want, u.Stdout)
		}
	}
	if got := associationsOf(t, ns); len(got) != 0 {
		t.Errorf("associations after unbind: %+v", got)
	}
	for _, gone := range [][]string{
		{"iam", "get-role", "--role-name", roleName(ns, "sdc")},
		{"iam", "get-policy", "--policy-arn", policyARN(t, ns, "sdc")},
		{"--profile", sb.Target.Profile, "iam", "get-role", "--role-name", targetName},
		{"--profile", sb.Target.Profile, "iam", "get-policy", "--policy-arn", "arn:aws:iam::" + sb.Target.AccountID + ":policy/" + targetName},
	} {
		if r := run(t, nil, "aws", gone...); r.Code == 0 {
			t.Errorf("aws %v still finds it after unbind", gone)
		}
	}
	if again := kubectl(t, "sdc", "unbind", "-n", ns, "--target-profile", sb.Target.Profile, "--yes"); again.Code != 0 || !strings.Contains(again.Stdout, "Nothing to do") {
		t.Errorf("a second unbind: %s", again)
	}
}

// Bad input for the chain is refused before anything is read or written.
func TestPodIdentityTargetRoleBadInput(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	policy := filepath.Join(t.TempDir(), "p.json")
	if err := os.WriteFile(policy, []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	long := filepath.Join(t.TempDir(), "long.json")
	if err := os.WriteFile(long, []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":["arn:aws:s3:::`+strings.Repeat("b", 2100)+`/*"]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	target := "arn:aws:iam::210987654321:role/x"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--bucket", "sdc-bucket", "--target-role-arn", target}, "--target-role-arn"},
		{[]string{"--bucket", "sdc-bucket", "--mechanism", "pod-identity", "--target-role-arn", "arn:aws:iam::210987654321:user/x"}, "--target-role-arn"},
		{[]string{"--bucket", "sdc-bucket", "--mechanism", "pod-identity", "--target-role-arn", target, "--assume-role-arn", target}, "pick one"},
		{[]string{"--bucket", "sdc-bucket", "--mechanism", "pod-identity", "--session-policy", policy}, "needs --disable-session-tags"},
		{[]string{"--bucket", "sdc-bucket", "--mechanism", "pod-identity", "--disable-session-tags", "--session-policy", long}, "may be at most 2048"},
		{[]string{"--bucket", "sdc-bucket", "--disable-session-tags"}, "needs --mechanism pod-identity"},
		// The SDK rule holds on the chain: the target's credentials come through Pod Identity too.
		{[]string{"--bucket", "sdc-bucket", "--mechanism", "pod-identity", "--target-role-arn", target, "--deployment", "sdc", "--create-deployment",
			"--image", "streamsets/datacollector:3.19.0"}, "refusing EKS Pod Identity, nothing was changed"},
	} {
		r := kubectl(t, append([]string{"sdc", "bind", "-n", ns, "--yes"}, tc.args...)...)
		if r.Code != 1 || !strings.Contains(r.Stderr, tc.want) {
			t.Errorf("bind %v: exit %d, stderr %q; want a refusal naming %q", tc.args, r.Code, r.Stderr, tc.want)
		}
	}
	if got := associationsOf(t, ns); len(got) != 0 {
		t.Errorf("refused binds made associations: %+v", got)
	}
}
