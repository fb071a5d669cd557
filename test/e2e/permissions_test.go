package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox/awsfront"
	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox/sandboxtest"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// representative is a resource of the kind each IAM/EKS action acts on, in an EKS account, so the
// documented policy (scoped to sdc-* names and EKS issuers) can be evaluated for the calls bind made.
func representative(action string) (resource string, context map[string][]string) {
	const acct = "111122223333"
	role := "arn:aws:iam::" + acct + ":role/sdc-prod-ns1-sdc"
	policy := "arn:aws:iam::" + acct + ":policy/sdc-prod-ns1-sdc"
	cluster := "arn:aws:eks:us-west-2:" + acct + ":cluster/prod"
	switch {
	case action == "eks:DescribeAddon":
		return "arn:aws:eks:us-west-2:" + acct + ":addon/prod/eks-pod-identity-agent/2ac6a7f1-0d43-4c1e-9b1e-1b7a2c1e0f00", nil
	case action == "eks:DescribePodIdentityAssociation" || action == "eks:UpdatePodIdentityAssociation" || action == "eks:DeletePodIdentityAssociation":
		return "arn:aws:eks:us-west-2:" + acct + ":podidentityassociation/prod/a-0123456789abcdefg", nil
	case action == "eks:ListPodIdentityAssociations" || action == "eks:CreatePodIdentityAssociation" || action == "eks-auth:AssumeRoleForPodIdentity":
		return cluster, nil
	case action == "iam:PassRole":
		// EKS asks it of whoever creates or updates an association, with the service it is passed to.
		return role, map[string][]string{"iam:PassedToService": {"pods.eks.amazonaws.com"}}
	case action == "iam:SimulatePrincipalPolicy":
		// The check before writing asks about the caller: a user, or the role of a role session.
		return "arn:aws:iam::" + acct + ":user/operator", nil
	case action == "iam:AttachRolePolicy":
		return role, map[string][]string{"iam:PolicyARN": {policy}}
	case strings.Contains(action, "OpenIDConnectProvider") && action != "iam:ListOpenIDConnectProviders":
		return "arn:aws:iam::" + acct + ":oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/50DCD1E10C8BAD2EC2B3E0E84647098C", nil
	case strings.Contains(action, "Role"):
		return role, nil
	case strings.Contains(action, "Policy"):
		return policy, nil
	case action == "eks:DescribeCluster":
		return cluster, nil
	}
	return "*", nil
}

func readPolicy(t *testing.T, name string) *iampolicy.Policy {
	t.Helper()
	root, err := sandboxtest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "docs", "permissions", name))
	if err != nil {
		t.Fatal(err)
	}
	p, err := iampolicy.Parse(data)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return p
}

// Every AWS action bind really calls — fresh, no-op, a policy change, an attachment — is allowed by
// docs/permissions/bind-policy.json. A new call in bind without a grant there fails here. Not parallel: it
// reads the sandbox's call counts.
func TestBindPolicyCoversEveryCallBindMakes(t *testing.T) {
	ns := newNamespace(t)
	bucket := newBucket(t)
	sb := sandboxtest.Get(t)
	seen := map[string]bool{}
	record := func(c awsfront.CallCounts) {
		for a := range c.ByAction {
			if !strings.HasPrefix(a, "s3:") { // the test's own bucket, not bind's
				seen[a] = true
			}
		}
	}
	for _, args := range [][]string{
		{"-n", ns, "--bucket", bucket, "--deployment", "sdc", "--create-deployment", "--image", sdcImage, "--yes"},
		{"-n", ns, "--bucket", bucket, "--deployment", "sdc", "--yes"},
		{"-n", ns, "--stage", "s3-destination", "--bucket", bucket, "--yes"},
	} {
		sb.Front.ResetCalls()
		mustBind(t, args...)
		record(calls(t))
	}
	doc := readPolicy(t, "bind-policy.json")
	actions := make([]string, 0, len(seen))
	for a := range seen {
		actions = append(actions, a)
	}
	sort.Strings(actions)
	t.Logf("bind called: %v", actions)
	for _, a := range actions {
		res, ctx := representative(a)
		if d := iampolicy.Evaluate(iampolicy.Request{Action: a, Resource: res, Context: ctx}, doc); !d.Allowed() {
			t.Errorf("bind calls %s (on %s) but docs/permissions/bind-policy.json does not allow it: %v", a, res, d)
		}
	}
}

// bind works as a user who holds only docs/permissions/bind-rbac.yaml's ClusterRole (through kubectl's
// --as, which the plugin honours), and is refused without it.
func TestBindWithOnlyTheDocumentedRBAC(t *testing.T) {
	root, err := sandboxtest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	if r := kubectl(t, "apply", "-f", filepath.Join(root, "docs", "permissions", "bind-rbac.yaml")); r.Code != 0 {
		t.Fatal(r)
	}
	user := "bind-operator-" + strings.ReplaceAll(t.Name(), "/", "-")
	user = strings.ToLower(user)
	if r := kubectl(t, "create", "clusterrolebinding", user, "--clusterrole=kubectl-sdc-bind", "--user="+user); r.Code != 0 {
		t.Fatal(r)
	}
	t.Cleanup(func() { kubectl(t, "delete", "clusterrolebinding", user) })
	ns := newNamespace(t)
	bucket := newBucket(t)
	args := []string{"sdc", "bind", "-n", ns, "--bucket", bucket, "--deployment", "sdc", "--create-deployment", "--image", sdcImage, "--yes"}
	if r := kubectl(t, append(args, "--as", "someone-else")...); r.Code != 1 || !strings.Contains(r.Stderr, "forbidden") {
		t.Errorf("a user without the role: want a forbidden error, got %s", r)
	}
	if r := kubectl(t, append(args, "--as", user)...); r.Code != 0 {
		t.Fatalf("as %s with kubectl-sdc-bind: %s", user, r)
	}
	if r := kubectl(t, append(args, "--as", user)...); r.Code != 0 || !strings.Contains(r.Stdout, "No changes") {
		t.Errorf("second run as %s: %s", user, r)
	}

	// A second ServiceAccount into the same role edits its trust under the role's Lease, which the role
	// allows; a user whose role lacks the Lease verbs still binds, and is told it ran without the lock.
	shared := []string{"sdc", "bind", "-n", ns, "--service-account", "second", "--bucket", bucket, "--role-name", roleName(ns, "sdc"), "--yes"}
	if r := kubectl(t, append(shared, "--as", user)...); r.Code != 0 || strings.Contains(r.Stderr, "without the lock") {
		t.Errorf("a shared role's trust edited as %s: %s", user, r)
	}
	noLease := userWithoutTheLease(t, user+"-no-lease")
	third := append([]string{}, shared...)
	third[5] = "third"
	if r := kubectl(t, append(third, "--as", noLease)...); r.Code != 0 || !strings.Contains(r.Stderr, "warning: running without the lock") ||
		!admits(t, roleName(ns, "sdc"), ns, "third") {
		t.Errorf("a shared role's trust edited without the Lease verbs: %s", r)
	}
}

// userWithoutTheLease is a Kubernetes user (for kubectl's --as) holding docs/permissions/bind-rbac.yaml's
// ClusterRole but for its Lease verbs: kubectl-sdc binds as it without the lock. The ClusterRole
// kubectl-sdc-bind must exist (kubectl apply -f docs/permissions/bind-rbac.yaml).
func userWithoutTheLease(t *testing.T, name string) string {
	t.Helper()
	role, err := kube(t).RbacV1().ClusterRoles().Get(context.Background(), "kubectl-sdc-bind", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	noLease := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}}
	for _, rule := range role.Rules {
		if !slices.Contains(rule.Resources, "leases") {
			noLease.Rules = append(noLease.Rules, rule)
		}
	}
	if len(noLease.Rules) == len(role.Rules) {
		t.Fatalf("ClusterRole kubectl-sdc-bind has no rule for leases: %+v", role.Rules)
	}
	if _, err := kube(t).RbacV1().ClusterRoles().Create(context.Background(), noLease, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kubectl(t, "delete", "clusterrole", name) })
	if r := kubectl(t, "create", "clusterrolebinding", name, "--clusterrole="+name, "--user="+name); r.Code != 0 {
		t.Fatal(r)
	}
	t.Cleanup(func() { kubectl(t, "delete", "clusterrolebinding", name) })
	return name
}

// Every AWS action doctor calls (with --probe) is a read allowed by docs/permissions/doctor-policy.json, and
// doctor runs as a user holding only the documented doctor ClusterRoles. Not parallel: it reads the
// sandbox's call counts.
func TestDoctorWithOnlyTheDocumentedPermissions(t *testing.T) {
	root, err := sandboxtest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	ns := newNamespace(t)
	bucket := newBucket(t)
	mustBind(t, "-n", ns, "--bucket", bucket, "--deployment", "sdc", "--create-deployment", "--image", sdcImage, "--yes")
	if r := kubectl(t, "apply", "-f", filepath.Join(root, "docs", "permissions", "doctor-rbac.yaml")); r.Code != 0 {
		t.Fatal(r)
	}
	user := "doctor-" + ns
	for _, role := range []string{"kubectl-sdc-doctor", "kubectl-sdc-doctor-probe"} {
		name := role + "-" + ns
		if r := kubectl(t, "create", "clusterrolebinding", name, "--clusterrole="+role, "--user="+user); r.Code != 0 {
			t.Fatal(r)
		}
		t.Cleanup(func() { kubectl(t, "delete", "clusterrolebinding", name) })
	}
	sb := sandboxtest.Get(t)
	sb.Front.ResetCalls()
	r := kubectl(t, "sdc", "doctor", "-n", ns, "--deployment", "sdc", "--probe", "--as", user)
	if r.Code != 0 {
		t.Fatalf("doctor as %s: %s", user, r)
	}
	c := calls(t)
	if c.Writes != 0 {
		t.Errorf("doctor wrote to AWS: %v", c.ByAction)
	}
	doc := readPolicy(t, "doctor-policy.json")
	for a := range c.ByAction {
		// The probe's calls are made with the workload role's credentials, not the operator's.
		if a == "sts:AssumeRoleWithWebIdentity" || strings.HasPrefix(a, "s3:") {
			continue
		}
		res, ctx := representative(a)
		if d := iampolicy.Evaluate(iampolicy.Request{Action: a, Resource: res, Context: ctx}, doc); !d.Allowed() {
			t.Errorf("doctor calls %s (on %s) but docs/permissions/doctor-policy.json does not allow it: %v", a, res, d)
		}
	}

	// manifest's one read, of the ServiceAccount, is within the doctor ClusterRole: it has nothing to say.
	if r := kubectl(t, "sdc", "manifest", "-n", ns, "--fragment", "--as", user); r.Code != 0 || r.Stderr != "" {
		t.Errorf("manifest as %s: %s", user, r)
	}
	if r := kubectl(t, "sdc", "manifest", "-n", ns, "--fragment", "--as", "someone-else"); r.Code != 0 || !strings.Contains(r.Stderr, "forbidden") {
		t.Errorf("manifest as a user without the role: want the manifest and a note that the ServiceAccount could not be read, got %s", r)
	}
}

// EKS Pod Identity within the documented permissions: every AWS action bind --mechanism pod-identity and
// migrate (with --remove-irsa) call, and the iam:PassRole EKS asks of the association's writer (which the
// sandbox does not check), is allowed by bind-policy.json; doctor --probe, run as a user holding only the
// documented doctor ClusterRoles, calls only reads of doctor-policy.json and eks-auth:AssumeRoleForPodIdentity
// of doctor-probe-policy.json, and nothing of the latter's is in the former. Not parallel: it reads the
// sandbox's call counts.
func TestPodIdentityWithOnlyTheDocumentedPermissions(t *testing.T) {
	root, err := sandboxtest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	sb := sandboxtest.Get(t)
	seen := map[string]bool{}
	record := func() {
		for a := range calls(t).ByAction {
			if !strings.HasPrefix(a, "s3:") {
				seen[a] = true
			}
		}
	}
	ns := newNamespace(t)
	pod := podBound{ns: ns, bucket: newBucket(t), role: roleARN(t, ns, "sdc"), roleName: roleName(ns, "sdc")}
	sb.Front.ResetCalls()
	mustBind(t, pod.bindArgs(sdcImage)...)
	mustBind(t, pod.bindArgs(sdcImage)...)
	record()
	irsa := newBound(t)
	sb.Front.ResetCalls()
	for _, args := range [][]string{{"-n", irsa.ns, "--yes"}, {"-n", irsa.ns, "--remove-irsa", "--yes"}} {
		if r := kubectl(t, append([]string{"sdc", "migrate"}, args...)...); r.Code != 0 {
			t.Fatalf("migrate %v: %s", args, r)
		}
	}
	record()
	if !seen["eks:CreatePodIdentityAssociation"] || !seen["eks:DescribeAddon"] {
		t.Fatalf("bind and migrate did not make the Pod Identity calls: %v", seen)
	}
	seen["iam:PassRole"] = true
	bindPolicy := readPolicy(t, "bind-policy.json")
	for a := range seen {
		res, ctx := representative(a)
		if d := iampolicy.Evaluate(iampolicy.Request{Action: a, Resource: res, Context: ctx}, bindPolicy); !d.Allowed() {
			t.Errorf("bind or migrate calls %s (on %s) but docs/permissions/bind-policy.json does not allow it: %v", a, res, d)
		}
	}

	if r := kubectl(t, "apply", "-f", filepath.Join(root, "docs", "permissions", "doctor-rbac.yaml")); r.Code != 0 {
		t.Fatal(r)
	}
	user := "doctor-" + ns
	for _, role := range []string{"kubectl-sdc-doctor", "kubectl-sdc-doctor-probe"} {
		name := role + "-" + ns
		if r := kubectl(t, "create", "clusterrolebinding", name, "--clusterrole="+role, "--user="+user); r.Code != 0 {
			t.Fatal(r)
		}
		t.Cleanup(func() { kubectl(t, "delete", "clusterrolebinding", name) })
	}
	waitPods(t, ns, "sdc", hasPodIdentityEnv)
	sb.Front.ResetCalls()
	r := kubectl(t, "sdc", "doctor", "-n", ns, "--probe", "--as", user, "-o", "json")
	var rep docReport
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil || r.Code != 0 || rep.check(t, "probe.assume-role").Status != "pass" {
		t.Fatalf("doctor --probe as %s: %v\n%s", user, err, r)
	}
	c := calls(t)
	if c.Writes != 0 {
		t.Errorf("doctor wrote to AWS: %v", c.ByAction)
	}
	doctorPolicy, probePolicy := readPolicy(t, "doctor-policy.json"), readPolicy(t, "doctor-probe-policy.json")
	for a := range c.ByAction {
		if strings.HasPrefix(a, "s3:") { // the workload role's credentials, not the operator's
			continue
		}
		res, ctx := representative(a)
		req := iampolicy.Request{Action: a, Resource: res, Context: ctx}
		inDoctor, inProbe := iampolicy.Evaluate(req, doctorPolicy).Allowed(), iampolicy.Evaluate(req, probePolicy).Allowed()
		switch {
		case a == "eks-auth:AssumeRoleForPodIdentity" && (inDoctor || !inProbe):
			t.Errorf("%s: in doctor-policy.json %v, in doctor-probe-policy.json %v; want only the latter", a, inDoctor, inProbe)
		case a != "eks-auth:AssumeRoleForPodIdentity" && !inDoctor:
			t.Errorf("doctor calls %s (on %s) but docs/permissions/doctor-policy.json does not allow it", a, res)
		}
	}
	if c.ByAction["eks-auth:AssumeRoleForPodIdentity"] != 1 || c.ByAction["eks:ListPodIdentityAssociations"] != 1 || c.ByAction["eks:DescribePodIdentityAssociation"] != 1 {
		t.Errorf("doctor's Pod Identity calls: %v", c.ByAction)
	}
	if r := kubectl(t, "sdc", "manifest", "-n", ns, "--fragment", "--as", user); r.Code != 0 || r.Stderr != "" {
		t.Errorf("manifest of a Pod Identity ServiceAccount as %s: %s", user, r)
	}
}

// Every AWS action unbind really calls — a shared role's update, the delete of a role and of a policy with
// two versions, the reads of --prune-provider — is allowed by docs/permissions/unbind-policy.json for
// resources kubectl-sdc made (tagged app.kubernetes.io/managed-by=kubectl-sdc, which the test of the policy
// itself shows to be required for every delete). Not parallel: it reads the sandbox's call counts.
func TestUnbindPolicyCoversEveryCallUnbindMakes(t *testing.T) {
	ns := newNamespace(t)
	role := "sdc-shared-" + ns
	sb := sandboxtest.Get(t)
	mustBind(t, "-n", ns, "--bucket", newBucket(t), "--role-name", role, "--yes")
	mustBind(t, "-n", ns, "--bucket", newBucket(t), "--role-name", role, "--yes") // a second version
	mustBind(t, "-n", ns, "--service-account", "other", "--bucket", newBucket(t), "--role-name", role, "--yes")
	// EKS Pod Identity beside IRSA (migrate), and alone: the association goes, and the cluster's other
	// associations are read before the role's Pod Identity statement goes.
	mustBind(t, "-n", ns, "--service-account", "both", "--bucket", newBucket(t), "--yes")
	if r := kubectl(t, "sdc", "migrate", "-n", ns, "--service-account", "both", "--yes"); r.Code != 0 {
		t.Fatalf("migrate: %s", r)
	}
	mustBind(t, "-n", ns, "--service-account", "pi", "--bucket", newBucket(t), "--mechanism", "pod-identity", "--yes")
	seen := map[string]bool{}
	for _, args := range [][]string{
		{"-n", ns, "--prune-provider", "--dry-run"},
		{"-n", ns, "--yes"},
		{"-n", ns, "--service-account", "other", "--yes"},
		{"-n", ns, "--service-account", "both", "--yes"},
		{"-n", ns, "--service-account", "pi", "--yes"},
	} {
		sb.Front.ResetCalls()
		mustUnbind(t, args...)
		for a := range calls(t).ByAction {
			seen[a] = true
		}
	}
	for _, want := range []string{"iam:UpdateAssumeRolePolicy", "iam:CreatePolicyVersion", "iam:DetachRolePolicy", "iam:DeleteRole",
		"iam:DeletePolicyVersion", "iam:DeletePolicy", "iam:ListRoles",
		"eks:ListPodIdentityAssociations", "eks:DescribePodIdentityAssociation", "eks:DeletePodIdentityAssociation"} {
		if !seen[want] {
			t.Errorf("the scenarios did not make unbind call %s; the test no longer covers it", want)
		}
	}
	doc := readPolicy(t, "unbind-policy.json")
	tagged := map[string][]string{"aws:ResourceTag/app.kubernetes.io/managed-by": {"kubectl-sdc"}}
	for a := range seen {
		res, ctx := representative(a)
		c := map[string][]string{"iam:PolicyARN": {"arn:aws:iam::111122223333:policy/sdc-prod-ns1-sdc"}}
		for k, v := range tagged {
			c[k] = v
		}
		for k, v := range ctx {
			c[k] = v
		}
		if d := iampolicy.Evaluate(iampolicy.Request{Action: a, Resource: res, Context: c}, doc); !d.Allowed() {
			t.Errorf("unbind calls %s (on %s) but docs/permissions/unbind-policy.json does not allow it: %v", a, res, d)
		}
	}
}

// unbind works as a user who holds only docs/permissions/unbind-rbac.yaml's ClusterRole (--restart and
// --delete-service-account included), and is refused without it; list works as a user who holds only
// doctor's ClusterRole.
func TestUnbindAndListWithOnlyTheDocumentedRBAC(t *testing.T) {
	root, err := sandboxtest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	ns := newNamespace(t)
	for file, role := range map[string]string{"unbind-rbac.yaml": "kubectl-sdc-unbind", "doctor-rbac.yaml": "kubectl-sdc-doctor"} {
		if r := kubectl(t, "apply", "-f", filepath.Join(root, "docs", "permissions", file)); r.Code != 0 {
			t.Fatal(r)
		}
		name := role + "-" + ns
		if r := kubectl(t, "create", "clusterrolebinding", name, "--clusterrole="+role, "--user="+name); r.Code != 0 {
			t.Fatal(r)
		}
		t.Cleanup(func() { kubectl(t, "delete", "clusterrolebinding", name) })
	}
	mustBind(t, "-n", ns, "--bucket", newBucket(t), "--deployment", "sdc", "--create-deployment", "--image", sdcImage, "--yes")
	waitMutatedPod(t, ns, "sdc", roleARN(t, ns, "sdc"))

	if r := kubectl(t, "sdc", "list", "-A", "--as", "kubectl-sdc-doctor-"+ns); r.Code != 0 || !strings.Contains(r.Stdout, roleName(ns, "sdc")) {
		t.Errorf("list -A as the doctor user: %s", r)
	}
	args := []string{"sdc", "unbind", "-n", ns, "--restart", "--delete-service-account", "--yes"}
	if r := kubectl(t, append(args, "--as", "someone-else")...); r.Code != 1 || !strings.Contains(r.Stderr, "forbidden") {
		t.Errorf("a user without the role: want a forbidden error, got %s", r)
	}
	user := "kubectl-sdc-unbind-" + ns
	if r := kubectl(t, append(args, "--as", user)...); r.Code != 0 || !strings.Contains(r.Stdout, "~ update    Deployment restart") || !strings.Contains(r.Stdout, "- delete    ServiceAccount") {
		t.Fatalf("as %s with kubectl-sdc-unbind: %s", user, r)
	}
	if r := kubectl(t, append(args, "--as", user)...); r.Code != 0 || !strings.Contains(r.Stdout, "Nothing to do") {
		t.Errorf("second run as %s: %s", user, r)
	}
	if _, err := kube(t).CoreV1().ServiceAccounts(ns).Get(context.Background(), "sdc", metav1.GetOptions{}); err == nil {
		t.Error("--delete-service-account left the ServiceAccount bind created")
	}
	d, err := kube(t).AppsV1().Deployments(ns).Get(context.Background(), "sdc", metav1.GetOptions{})
	if err != nil || d.Spec.Template.Annotations[vocab.RestartedAtAnnotation] == "" {
		t.Errorf("--restart did not restart the Deployment: %v", err)
	}
}
