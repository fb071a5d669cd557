package e2e

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox"
	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox/awsfront"
	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox/sandboxtest"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
)

// The EKS Pod Identity facts the tests check against, written out as EKS documents them.
const (
	podIdentityURI   = "http://169.254.170.23/v1/credentials"
	podIdentityToken = "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token"
	installAgent     = "aws eks create-addon --cluster-name sandbox --addon-name eks-pod-identity-agent --region us-west-2"
)

// podBound is a setup made by bind --mechanism pod-identity: namespace, bucket, role, association and
// Deployment sdc with a pod the webhook gave Pod Identity's environment.
type podBound struct {
	ns, bucket, role, roleName string
}

func newPodBound(t *testing.T) podBound {
	t.Helper()
	ns := newNamespace(t)
	b := podBound{ns: ns, bucket: newBucket(t), role: roleARN(t, ns, "sdc"), roleName: roleName(ns, "sdc")}
	mustBind(t, b.bindArgs(sdcImage)...)
	waitPods(t, ns, "sdc", hasPodIdentityEnv)
	return b
}

func (b podBound) bindArgs(image string) []string {
	return []string{"-n", b.ns, "--bucket", b.bucket, "--mechanism", "pod-identity", "--deployment", "sdc", "--create-deployment", "--image", image, "--yes"}
}

// hasPodIdentityEnv is what the webhook gives a pod whose ServiceAccount has an association.
func hasPodIdentityEnv(p corev1.Pod) bool {
	env := p.Spec.Containers[0].Env
	volume := slices.ContainsFunc(p.Spec.Volumes, func(v corev1.Volume) bool {
		return v.Projected != nil && slices.ContainsFunc(v.Projected.Sources, func(s corev1.VolumeProjection) bool {
			return s.ServiceAccountToken != nil && s.ServiceAccountToken.Audience == "pods.eks.amazonaws.com"
		})
	})
	return volume && slices.ContainsFunc(env, func(e corev1.EnvVar) bool {
		return e.Name == "AWS_CONTAINER_CREDENTIALS_FULL_URI" && e.Value == podIdentityURI
	}) &&
		slices.ContainsFunc(env, func(e corev1.EnvVar) bool {
			return e.Name == "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE" && e.Value == podIdentityToken
		})
}

// cliAssociation is what the aws CLI says about the namespace's associations.
type cliAssociation struct {
	Namespace      string `json:"namespace"`
	ServiceAccount string `json:"serviceAccount"`
	AssociationID  string `json:"associationId"`
	RoleARN        string `json:"roleArn"`
}

// associationsOf lists the namespace's associations with the real aws CLI, and describes each.
func associationsOf(t *testing.T, ns string) []cliAssociation {
	t.Helper()
	r := run(t, nil, "aws", "eks", "list-pod-identity-associations", "--cluster-name", sandbox.ClusterName, "--namespace", ns, "--output", "json")
	if r.Code != 0 {
		t.Fatalf("aws eks list-pod-identity-associations: %s", r)
	}
	var list struct {
		Associations []cliAssociation `json:"associations"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &list); err != nil {
		t.Fatalf("%v: %s", err, r.Stdout)
	}
	for i, a := range list.Associations {
		r := run(t, nil, "aws", "eks", "describe-pod-identity-association", "--cluster-name", sandbox.ClusterName, "--association-id", a.AssociationID, "--output", "json")
		var d struct {
			Association cliAssociation `json:"association"`
		}
		if r.Code != 0 || json.Unmarshal([]byte(r.Stdout), &d) != nil {
			t.Fatalf("aws eks describe-pod-identity-association: %s", r)
		}
		list.Associations[i] = d.Association
	}
	return list.Associations
}

// pass asserts that the report has no failure and that the checks named pass.
func passes(t *testing.T, rep docReport, ids ...string) {
	t.Helper()
	for _, c := range rep.all() {
		if c.Status == "fail" {
			t.Errorf("%s failed: %s | %s | fix %s", c.ID, c.Title, c.Detail, c.Fix)
		}
	}
	for _, id := range ids {
		if c := rep.check(t, id); c.Status != "pass" {
			t.Errorf("%s = %s: %s | %s", id, c.Status, c.Title, c.Detail)
		}
	}
}

// bind --mechanism pod-identity: no OIDC provider and no annotation; the aws CLI sees the association,
// the pods get Pod Identity's environment, doctor --probe passes through EKS Auth; a second run writes
// nothing. Not parallel: it counts the sandbox's calls.
func TestPodIdentityBind(t *testing.T) {
	ns := newNamespace(t)
	b := podBound{ns: ns, bucket: newBucket(t), role: roleARN(t, ns, "sdc"), roleName: roleName(ns, "sdc")}
	sb := sandboxtest.Get(t)
	sb.Front.ResetCalls()
	r := mustBind(t, b.bindArgs(sdcImage)...)
	for _, want := range []string{"Agent    add-on eks-pod-identity-agent v1.3.10-eksbuild.2 is ACTIVE", "+ create    EKS Pod Identity association sandbox/" + ns + "/sdc",
		"trusts pods.eks.amazonaws.com (sts:AssumeRole, sts:TagSession)", "by EKS Pod Identity"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("the plan lacks %q:\n%s", want, r.Stdout)
		}
	}
	if strings.Contains(r.Stdout, "IAM OIDC provider") || strings.Contains(r.Stdout, "role-arn") {
		t.Errorf("a provider or an annotation in a Pod Identity plan:\n%s", r.Stdout)
	}
	if !strings.Contains(r.Stdout, "which AWS SDK for Java SDC 5.11.0's aws-lib bundles is not documented") {
		t.Errorf("no warning about SDC 5.11.0's SDK:\n%s", r.Stdout)
	}
	c := calls(t)
	if c.ByAction["eks:CreatePodIdentityAssociation"] != 1 || c.ByAction["iam:CreateOpenIDConnectProvider"] != 0 || c.ByAction["iam:GetOpenIDConnectProvider"] != 0 {
		t.Errorf("calls %v", c.ByAction)
	}

	assocs := associationsOf(t, ns)
	if len(assocs) != 1 || assocs[0].ServiceAccount != "sdc" || assocs[0].RoleARN != b.role {
		t.Fatalf("the aws CLI sees %+v, want one association of sdc naming %s", assocs, b.role)
	}
	trust := trustOf(t, b.roleName)
	if len(trust.Statements) != 1 || !trust.Statements[0].Equivalent(iampolicy.PodIdentityStatement()) {
		t.Errorf("trust %s", trust.Canonical())
	}
	sa, err := kube(t).CoreV1().ServiceAccounts(ns).Get(context.Background(), "sdc", metav1.GetOptions{})
	if err != nil || len(sa.Annotations) != 0 {
		t.Errorf("ServiceAccount %v annotations %v", err, sa.Annotations)
	}
	waitPods(t, ns, "sdc", hasPodIdentityEnv)

	rep, dr := doctorJSON(t, "-n", ns, "--probe")
	if dr.Code != 0 {
		t.Errorf("doctor --probe: exit %d\n%s", dr.Code, rep)
	}
	passes(t, rep, "eks.pod-identity-agent", "eks.pod-identity-association", "iam.trust", "kube.pod-env", "probe.assume-role", "probe.access")
	if p := rep.check(t, "probe.assume-role"); !strings.Contains(p.Title, "EKS Auth accepted ServiceAccount "+ns+"/sdc") {
		t.Errorf("probe.assume-role: %s", p.Title)
	}
	if v := rep.check(t, "sdc.version"); v.Status != "warn" || !strings.Contains(v.Detail, "must be at least 1.12.746") {
		t.Errorf("sdc.version = %s: %s", v.Status, v.Detail)
	}
	for _, c := range rep.all() {
		if c.ID == "kube.role-annotation" || c.ID == "iam.oidc-provider" || c.ID == "iam.trust-scope" {
			t.Errorf("%s ran for a ServiceAccount served by EKS Pod Identity alone", c.ID)
		}
	}
	if tg := rep.Targets[0]; tg.RoleARN != b.role || !strings.Contains(tg.PodIdentityAssociation, ":podidentityassociation/sandbox/") {
		t.Errorf("target %+v", tg)
	}

	before := len(kubeRequests(t))
	sb.Front.ResetCalls()
	again := mustBind(t, b.bindArgs(sdcImage)...)
	if !strings.Contains(again.Stdout, "No changes") {
		t.Errorf("second run:\n%s", again.Stdout)
	}
	if c := calls(t); c.Writes != 0 {
		t.Errorf("the second run wrote to AWS: %v", c.ByAction)
	}
	if w := writes(kubeRequests(t)[before:]); w != 0 {
		t.Errorf("the second run wrote to Kubernetes %d times", w)
	}
}

// Without the agent: bind refuses with the command that installs it and writes nothing, doctor fails
// eks.pod-identity-agent with that command; EKS Auto Mode serves instead; the command repairs it. Not
// parallel: it takes the agent away from every test.
func TestPodIdentityWithoutTheAgent(t *testing.T) {
	b := newPodBound(t)
	mustRun(t, "aws", "eks", "delete-addon", "--cluster-name", sandbox.ClusterName, "--addon-name", "eks-pod-identity-agent")
	t.Cleanup(func() {
		if r := run(t, nil, "aws", "eks", "describe-addon", "--cluster-name", sandbox.ClusterName, "--addon-name", "eks-pod-identity-agent"); r.Code != 0 {
			mustRun(t, "aws", "eks", "create-addon", "--cluster-name", sandbox.ClusterName, "--addon-name", "eks-pod-identity-agent")
		}
	})

	fresh := newNamespace(t)
	sb := sandboxtest.Get(t)
	before := len(kubeRequests(t))
	sb.Front.ResetCalls()
	r := kubectl(t, "sdc", "bind", "-n", fresh, "--bucket", b.bucket, "--mechanism", "pod-identity", "--yes")
	if r.Code != 1 || !strings.Contains(r.Stderr, "cluster sandbox cannot serve EKS Pod Identity: add-on eks-pod-identity-agent is not installed and the cluster is not in EKS Auto Mode") ||
		!strings.Contains(r.Stderr, installAgent) || !strings.Contains(r.Stderr, "Nothing was changed") {
		t.Errorf("bind without the agent: %s", r)
	}
	if c := calls(t); c.Writes != 0 {
		t.Errorf("bind wrote to AWS: %v", c.ByAction)
	}
	if w := writes(kubeRequests(t)[before:]); w != 0 {
		t.Errorf("bind wrote to Kubernetes %d times", w)
	}

	rep, dr := doctorJSON(t, "-n", b.ns)
	agent := rep.check(t, "eks.pod-identity-agent")
	if dr.Code != 1 || agent.Status != "fail" || !strings.HasPrefix(agent.Fix, installAgent) {
		t.Errorf("doctor without the agent: exit %d, %s: %s | fix %s", dr.Code, agent.Status, agent.Title, agent.Fix)
	}

	// EKS Auto Mode runs the agent itself.
	if err := sb.Front.SetAutoMode(context.Background(), awsfront.EKSAutoMode{Cluster: sandbox.ClusterName, Enabled: true}); err != nil {
		t.Fatal(err)
	}
	rep, _ = doctorJSON(t, "-n", b.ns)
	_ = sb.Front.SetAutoMode(context.Background(), awsfront.EKSAutoMode{Cluster: sandbox.ClusterName, Enabled: false})
	if a := rep.check(t, "eks.pod-identity-agent"); a.Status != "pass" || !strings.Contains(a.Detail, "EKS Auto Mode") {
		t.Errorf("Auto Mode: %s %s", a.Status, a.Detail)
	}

	// The fix, as a person pastes it.
	if r := run(t, nil, "sh", "-c", strings.ReplaceAll(agent.Fix, "aws eks ", "aws --endpoint-url "+sb.AWSEndpoint+" eks ")); r.Code != 0 {
		t.Fatalf("the fix failed: %s", r)
	}
	rep, dr = doctorJSON(t, "-n", b.ns)
	if a := rep.check(t, "eks.pod-identity-agent"); dr.Code != 0 || a.Status != "pass" {
		t.Errorf("after the fix: exit %d, %s %s", dr.Code, a.Status, a.Detail)
	}
}

// A trust without sts:TagSession: iam.trust fails and says so, EKS Auth refuses the probe, and the bind
// doctor gives puts the statement back.
func TestPodIdentityTrustWithoutTagSession(t *testing.T) {
	t.Parallel()
	b := newPodBound(t)
	mustRun(t, "aws", "iam", "update-assume-role-policy", "--role-name", b.roleName, "--policy-document",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)
	rep, dr := doctorJSON(t, "-n", b.ns, "--probe")
	tr := rep.check(t, "iam.trust")
	if dr.Code != 1 || tr.Status != "fail" || !strings.Contains(tr.Title, "it does not allow sts:TagSession") || !strings.Contains(tr.Fix, "--mechanism pod-identity") {
		t.Errorf("iam.trust = %s: %s | %s | fix %s", tr.Status, tr.Title, tr.Detail, tr.Fix)
	}
	if p := rep.check(t, "probe.assume-role"); p.Status != "fail" || !strings.Contains(p.Detail, "AccessDeniedException: Unauthorized Exception! EKS does not have permissions to assume the associated role") {
		t.Errorf("probe.assume-role = %s: %s", p.Status, p.Detail)
	}
	applyFix(t, tr.Fix)
	rep, dr = doctorJSON(t, "-n", b.ns, "--probe")
	if dr.Code != 0 {
		t.Errorf("after the fix: exit %d\n%s", dr.Code, rep)
	}
	passes(t, rep, "iam.trust", "probe.assume-role")
}

// An SDC that cannot read Pod Identity credentials: bind refuses it with the SDK's reason and the ways out,
// writing nothing; with --force it binds, and doctor fails sdc.version with the reason.
func TestPodIdentityRefusesAnOldSDC(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	b := podBound{ns: ns, bucket: newBucket(t), role: roleARN(t, ns, "sdc"), roleName: roleName(ns, "sdc")}
	const old = "streamsets/datacollector:3.19.0"
	r := kubectl(t, append([]string{"sdc", "bind"}, b.bindArgs(old)...)...)
	msg := strings.TrimSpace(r.Stderr)
	if r.Code != 1 || strings.Contains(msg, "\n") || !strings.Contains(msg, "Deployment "+ns+"/sdc to create runs "+old+": SDC 3.19.0's aws-lib bundles AWS SDK for Java 1.11.872, which reads EKS Pod Identity credentials only from 1.12.746") ||
		!strings.Contains(msg, "--mechanism irsa") || !strings.Contains(msg, "--force") {
		t.Errorf("bind of SDC 3.19.0: %s", r)
	}
	if r := run(t, nil, "aws", "iam", "get-role", "--role-name", b.roleName); r.Code == 0 {
		t.Error("the refused bind made the role")
	}
	if len(associationsOf(t, ns)) != 0 {
		t.Error("the refused bind made an association")
	}

	forced := mustBind(t, append(b.bindArgs(old), "--force")...)
	if !strings.Contains(forced.Stdout, "--force: Deployment "+ns+"/sdc to create runs "+old) {
		t.Errorf("--force without a warning:\n%s", forced.Stdout)
	}
	rep, dr := doctorJSON(t, "-n", ns)
	v := rep.check(t, "sdc.version")
	if dr.Code != 1 || v.Status != "fail" || !strings.Contains(v.Title, "SDC 3.19.0 cannot use EKS Pod Identity: its aws-lib bundles AWS SDK for Java 1.11.872") ||
		!strings.Contains(v.Detail, "fall through the credential chain to the node's role") || !strings.Contains(v.Fix, "--mechanism irsa") {
		t.Errorf("sdc.version = %s: %s | %s | fix %s", v.Status, v.Title, v.Detail, v.Fix)
	}
}

// migrate moves an IRSA binding to EKS Pod Identity and keeps IRSA: doctor passes for both mechanisms;
// --remove-irsa then takes the annotation and the web identity trust away, restarts the pods, and doctor
// passes on Pod Identity alone. Both reruns change nothing.
func TestMigrateIRSAToPodIdentity(t *testing.T) {
	t.Parallel()
	b := newBound(t)
	r := kubectl(t, "sdc", "migrate", "-n", b.ns, "--yes")
	if r.Code != 0 || !strings.Contains(r.Stdout, "+ create    EKS Pod Identity association sandbox/"+b.ns+"/sdc") ||
		!strings.Contains(r.Stdout, "keeps its IRSA annotation") {
		t.Fatalf("migrate: %s", r)
	}
	if a := associationsOf(t, b.ns); len(a) != 1 || a[0].RoleARN != b.role {
		t.Errorf("associations %+v, want one naming the IRSA role %s", a, b.role)
	}
	trust := trustOf(t, b.roleName)
	if !slices.ContainsFunc(trust.Statements, func(s iampolicy.Statement) bool { return s.Equivalent(iampolicy.PodIdentityStatement()) }) ||
		len(iampolicy.WebIdentitySubjects(trust, providerARN(t), issuerHost(t))) != 1 {
		t.Errorf("trust after migrate: %s", trust.Canonical())
	}
	if r := kubectl(t, "sdc", "migrate", "-n", b.ns, "--yes"); r.Code != 0 || !strings.Contains(r.Stdout, "No changes") {
		t.Errorf("second migrate: %s", r)
	}
	rep, dr := doctorJSON(t, "-n", b.ns, "--probe")
	if dr.Code != 0 {
		t.Errorf("doctor after migrate: exit %d\n%s", dr.Code, rep)
	}
	passes(t, rep, "kube.role-annotation", "eks.pod-identity-association", "iam.trust", "probe.assume-role", "probe.access")
	if p := rep.check(t, "probe.assume-role"); !strings.Contains(p.Title, "(IRSA and EKS Pod Identity)") {
		t.Errorf("probe.assume-role: %s", p.Title)
	}
	if tr := rep.check(t, "iam.trust"); !strings.Contains(tr.Title, "through IRSA and EKS Pod Identity") {
		t.Errorf("iam.trust: %s", tr.Title)
	}

	r = kubectl(t, "sdc", "migrate", "-n", b.ns, "--remove-irsa", "--yes")
	if r.Code != 0 || !strings.Contains(r.Stdout, "~ update    ServiceAccount "+b.ns+"/sdc") || !strings.Contains(r.Stdout, "~ update    Deployment restart "+b.ns+"/sdc") {
		t.Fatalf("migrate --remove-irsa: %s", r)
	}
	sa, err := kube(t).CoreV1().ServiceAccounts(b.ns).Get(context.Background(), "sdc", metav1.GetOptions{})
	if err != nil || sa.Annotations["eks.amazonaws.com/role-arn"] != "" || sa.Annotations["eks.amazonaws.com/sts-regional-endpoints"] != "" {
		t.Errorf("annotations after --remove-irsa: %v %v", sa.Annotations, err)
	}
	trust = trustOf(t, b.roleName)
	if len(iampolicy.WebIdentitySubjects(trust, providerARN(t), issuerHost(t))) != 0 ||
		!slices.ContainsFunc(trust.Statements, func(s iampolicy.Statement) bool { return s.Equivalent(iampolicy.PodIdentityStatement()) }) {
		t.Errorf("trust after --remove-irsa: %s", trust.Canonical())
	}
	if _, err := assumeWithToken(t, b.role, serviceAccountToken(t, b.ns, "sdc", "sts.amazonaws.com")); err == nil || !strings.Contains(err.Error(), "AccessDenied") {
		t.Errorf("STS still accepts the ServiceAccount's web identity token: %v", err)
	}
	// The rollout finishes as on a cluster with nodes: the new pod becomes ready and the old one goes.
	finishRollout(t, b.ns)
	rep, dr = doctorJSON(t, "-n", b.ns, "--probe")
	if dr.Code != 0 {
		t.Errorf("doctor after --remove-irsa: exit %d\n%s", dr.Code, rep)
	}
	passes(t, rep, "kube.pod-env", "kube.static-credentials", "probe.assume-role")
	if r := kubectl(t, "sdc", "migrate", "-n", b.ns, "--remove-irsa", "--yes"); r.Code != 0 || !strings.Contains(r.Stdout, "No changes") {
		t.Errorf("second migrate --remove-irsa: %s", r)
	}
}

// finishRollout marks the Deployment's pods ready until no pod carries IRSA's environment any more.
func finishRollout(t *testing.T, ns string) {
	t.Helper()
	waitPods(t, ns, "sdc", func(p corev1.Pod) bool {
		pods, err := kube(t).CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=sdc"})
		if err != nil {
			t.Fatal(err)
		}
		irsa := false
		for i := range pods.Items {
			markReady(t, &pods.Items[i])
			if pods.Items[i].DeletionTimestamp == nil && slices.ContainsFunc(pods.Items[i].Spec.Containers[0].Env, func(e corev1.EnvVar) bool { return e.Name == "AWS_ROLE_ARN" }) {
				irsa = true
			}
		}
		return !irsa && hasPodIdentityEnv(p)
	})
}

// migrate's refusals and input errors: one line naming the flag, nothing read; a ServiceAccount without
// IRSA has nothing to migrate; an old SDC is refused with the reason.
func TestMigrateRefuses(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-A", "--service-account", "sdc"}, "--service-account names one ServiceAccount and -A/--all-namespaces takes every IRSA-bound one"},
		{[]string{"--exit-code"}, "--exit-code needs --dry-run"},
		{[]string{"-n", "Bad_NS"}, `--namespace "Bad_NS": not a valid namespace name`},
		{[]string{"--trust-policy-limit", "9000"}, `--trust-policy-limit "9000"`},
	} {
		r := kubectl(t, append([]string{"sdc", "migrate"}, c.args...)...)
		if msg := strings.TrimSpace(r.Stderr); r.Code != 1 || strings.Contains(msg, "\n") || !strings.Contains(msg, c.want) {
			t.Errorf("migrate %v: want one line with %q, got %s", c.args, c.want, r)
		}
	}
	bare := newNamespace(t)
	if _, err := kube(t).CoreV1().ServiceAccounts(bare).Create(context.Background(), &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "sdc"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if r := kubectl(t, "sdc", "migrate", "-n", bare, "--yes"); r.Code != 1 || !strings.Contains(r.Stderr, "has no eks.amazonaws.com/role-arn annotation, so it is not bound by IRSA and there is nothing to migrate") {
		t.Errorf("migrate without IRSA: %s", r)
	}

	b := newBound(t)
	mustRun(t, "kubectl", "set", "image", "deployment/sdc", "-n", b.ns, "sdc=streamsets/datacollector:3.19.0")
	r := kubectl(t, "sdc", "migrate", "-n", b.ns, "--yes")
	if r.Code != 1 || !strings.Contains(r.Stderr, "refusing EKS Pod Identity, nothing was changed: Deployment "+b.ns+"/sdc (container sdc) runs streamsets/datacollector:3.19.0: SDC 3.19.0's aws-lib bundles AWS SDK for Java 1.11.872") {
		t.Errorf("migrate of SDC 3.19.0: %s", r)
	}
	if len(associationsOf(t, b.ns)) != 0 {
		t.Error("the refused migrate made an association")
	}
}

// manifest reads the mechanism: for a ServiceAccount served by EKS Pod Identity it says nothing is
// missing, and warns of an SDC that cannot use it; the manifest itself is the same as IRSA's.
func TestManifestOfAPodIdentityServiceAccount(t *testing.T) {
	t.Parallel()
	b := newPodBound(t)
	irsa := newBound(t)
	pod := kubectl(t, "sdc", "manifest", "-n", b.ns, "--image", sdcImage)
	web := kubectl(t, "sdc", "manifest", "-n", irsa.ns, "--image", sdcImage)
	if pod.Code != 0 || pod.Stdout != web.Stdout {
		t.Errorf("the manifests differ:\n%s\n%s", pod, web)
	}
	if strings.Contains(pod.Stderr, "no AWS identity") || !strings.Contains(pod.Stderr, "ServiceAccount sdc uses EKS Pod Identity: which AWS SDK for Java SDC 5.11.0's aws-lib bundles is not documented") {
		t.Errorf("manifest notes: %s", pod.Stderr)
	}
	old := kubectl(t, "sdc", "manifest", "-n", b.ns, "--image", "streamsets/datacollector:3.19.0")
	if old.Code != 0 || !strings.Contains(old.Stderr, "image streamsets/datacollector:3.19.0 cannot: SDC 3.19.0's aws-lib bundles AWS SDK for Java 1.11.872") {
		t.Errorf("manifest of SDC 3.19.0: %s", old)
	}
	if frag := kubectl(t, "sdc", "manifest", "-n", b.ns, "--fragment"); frag.Code != 0 || frag.Stderr != "" {
		t.Errorf("the fragment of a Pod Identity ServiceAccount: %s", frag)
	}
	bare := newNamespace(t)
	if _, err := kube(t).CoreV1().ServiceAccounts(bare).Create(context.Background(), &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "sdc"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if r := kubectl(t, "sdc", "manifest", "-n", bare, "--fragment"); !strings.Contains(r.Stderr, "has no eks.amazonaws.com/role-arn annotation and no EKS Pod Identity association") {
		t.Errorf("manifest of a ServiceAccount with neither: %s", r)
	}
}
