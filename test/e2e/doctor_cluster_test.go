package e2e

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox"
	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox/awsfront"
	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox/sandboxtest"
)

// The tests in this file are not parallel. Some break what every test shares (the OIDC provider, its
// audience, the webhook) and restore it; the others count the sandbox's requests, which parallel tests
// would add to. Go runs them before any parallel test starts.

// delta is what the front counted between two snapshots.
func delta(before, after awsfront.CallCounts) awsfront.CallCounts {
	d := awsfront.CallCounts{Total: after.Total - before.Total, Reads: after.Reads - before.Reads,
		Writes: after.Writes - before.Writes, ByAction: map[string]int{}}
	for k, v := range after.ByAction {
		if n := v - before.ByAction[k]; n != 0 {
			d.ByAction[k] = n
		}
	}
	return d
}

// Doctor only reads: no AWS write and, in Kubernetes, exactly the one TokenRequest of the probe; every
// distinct IAM object is read once, and Kubernetes is read with one list per kind.
func TestDoctorOnlyReads(t *testing.T) {
	b := newBound(t)

	kubeBefore, awsBefore := len(kubeRequests(t)), calls(t)
	r := kubectl(t, "sdc", "doctor", "-n", b.ns, "--probe")
	if r.Code != 0 {
		t.Fatalf("doctor --probe: %s", r)
	}
	aws, ev := delta(awsBefore, calls(t)), kubeRequests(t)[kubeBefore:]
	t.Logf("doctor --probe: AWS %v; Kubernetes %d requests", aws.ByAction, len(ev))
	if aws.Writes != 0 {
		t.Errorf("doctor --probe wrote to AWS: %v", aws.ByAction)
	}
	for _, a := range []string{"iam:GetOpenIDConnectProvider", "iam:GetRole", "iam:ListAttachedRolePolicies", "iam:ListRolePolicies",
		"iam:GetPolicy", "iam:GetPolicyVersion", "sts:GetCallerIdentity", "sts:AssumeRoleWithWebIdentity", "s3:HeadBucket", "s3:ListObjectsV2"} {
		if aws.ByAction[a] != 1 {
			t.Errorf("%s: %d calls, want exactly 1 (each distinct object is read once)", a, aws.ByAction[a])
		}
	}
	var mutating []string
	lists := map[string]int{}
	for _, e := range ev {
		if e.Mutating() {
			mutating = append(mutating, describeEvent(e))
		}
		if e.ObjectRef != nil && e.Verb == "list" {
			lists[e.ObjectRef.Resource]++
		}
		if e.ObjectRef != nil && e.Verb == "get" {
			t.Errorf("a per-object GET: %s", describeEvent(e))
		}
	}
	if len(mutating) != 1 || mutating[0] != "create serviceaccounts/token "+b.ns+"/sdc" {
		t.Errorf("Kubernetes writes: %v, want only the probe's TokenRequest", mutating)
	}
	for _, res := range []string{"serviceaccounts", "deployments", "pods", "mutatingwebhookconfigurations"} {
		if lists[res] != 1 {
			t.Errorf("%s listed %d times, want once", res, lists[res])
		}
	}

	kubeBefore, awsBefore = len(kubeRequests(t)), calls(t)
	if r := kubectl(t, "sdc", "doctor", "-n", b.ns, "--probe", "--probe-write"); r.Code != 0 {
		t.Fatalf("doctor --probe-write: %s", r)
	}
	aws, ev = delta(awsBefore, calls(t)), kubeRequests(t)[kubeBefore:]
	if aws.Writes != 1 || aws.ByAction["s3:PutObject"] != 1 || writes(ev) != 1 {
		t.Errorf("doctor --probe-write: AWS writes %d (%v), Kubernetes writes %d; want the marker object and the TokenRequest only", aws.Writes, aws.ByAction, writes(ev))
	}
}

func describeEvent(e sandbox.AuditEvent) string {
	if e.ObjectRef == nil {
		return e.Verb + " " + e.RequestURI
	}
	res := e.ObjectRef.Resource
	if e.ObjectRef.Subresource != "" {
		res += "/" + e.ObjectRef.Subresource
	}
	return fmt.Sprintf("%s %s %s/%s", e.Verb, res, e.ObjectRef.Namespace, e.ObjectRef.Name)
}

// -A reads Kubernetes with a constant number of list calls, however many namespaces, reads each distinct
// role once, and reports each target with its own health.
func TestDoctorAllNamespaces(t *testing.T) {
	healthy, brokenTrust, staticKeys := newBound(t), newBound(t), newBound(t)
	h := issuerHost(t)
	mustRun(t, "aws", "iam", "update-assume-role-policy", "--role-name", brokenTrust.roleName, "--policy-document",
		webIdentityTrust(providerARN(t), `{"StringEquals":{"`+h+`:sub":"system:serviceaccount:`+brokenTrust.ns+`:web","`+h+`:aud":"sts.amazonaws.com"}}`))
	mustRun(t, "kubectl", "set", "env", "deployment/sdc", "-n", staticKeys.ns, "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE")
	idle := newNamespace(t)
	mustBind(t, "-n", idle, "--bucket", newBucket(t), "--yes") // a bound ServiceAccount no Deployment uses

	runAll := func() (docReport, []sandbox.AuditEvent, awsfront.CallCounts) {
		kubeBefore, awsBefore := len(kubeRequests(t)), calls(t)
		rep, r := doctorJSON(t, "-A")
		if r.Code != 1 {
			t.Errorf("doctor -A with failures: exit %d, want 1", r.Code)
		}
		return rep, kubeRequests(t)[kubeBefore:], delta(awsBefore, calls(t))
	}
	rep, ev, aws := runAll()

	target := func(ns string) docTarget {
		for _, tg := range rep.Targets {
			if tg.Namespace == ns {
				return tg
			}
		}
		t.Fatalf("-A has no target in %s:\n%s", ns, rep)
		return docTarget{}
	}
	status := func(tg docTarget, id string) string {
		for _, c := range tg.Checks {
			if c.ID == id {
				return c.Status
			}
		}
		return "absent"
	}
	for _, c := range target(healthy.ns).Checks {
		if c.Status != "pass" {
			t.Errorf("healthy %s: %s = %s (%s)", healthy.ns, c.ID, c.Status, c.Title)
		}
	}
	if tg := target(brokenTrust.ns); status(tg, "iam.trust") != "fail" || status(tg, "kube.static-credentials") != "pass" {
		t.Errorf("broken trust in %s: iam.trust %s, kube.static-credentials %s", tg.Namespace, status(tg, "iam.trust"), status(tg, "kube.static-credentials"))
	}
	if tg := target(staticKeys.ns); status(tg, "kube.static-credentials") != "fail" || status(tg, "iam.trust") != "pass" {
		t.Errorf("static keys in %s: kube.static-credentials %s, iam.trust %s", tg.Namespace, status(tg, "kube.static-credentials"), status(tg, "iam.trust"))
	}
	if tg := target(idle); tg.Deployment != "" || status(tg, "kube.deployment") != "skip" || status(tg, "iam.permissions") != "pass" {
		t.Errorf("idle ServiceAccount in %s: %+v", idle, tg)
	}

	// Each distinct role is read once, however many targets name it — or, with ten roles or more, the whole
	// account in one batch read and no role on its own.
	roles := map[string]bool{}
	wellFormed := regexp.MustCompile(`^arn:aws:iam::\d{12}:role/[\w+=,.@-]+$`)
	for _, tg := range rep.Targets {
		if wellFormed.MatchString(tg.RoleARN) {
			roles[tg.RoleARN] = true
		}
	}
	perRole, batch := aws.ByAction["iam:GetRole"], aws.ByAction["iam:GetAccountAuthorizationDetails"]
	switch {
	case len(roles) >= 10 && (batch == 0 || perRole != 0):
		t.Errorf("%d distinct roles: want one batch read and no GetRole, got %v", len(roles), aws.ByAction)
	case len(roles) < 10 && (perRole < len(roles) || perRole > len(rep.Targets)):
		t.Errorf("iam:GetRole %d times for %d distinct roles and %d targets", perRole, len(roles), len(rep.Targets))
	}
	if aws.Writes != 0 || writes(ev) != 0 {
		t.Errorf("doctor -A wrote: AWS %v, Kubernetes %d", aws.ByAction, writes(ev))
	}

	// One more namespace: the same Kubernetes requests, not one more.
	extra := newBound(t)
	rep2, ev2, _ := runAll()
	// Look for the new target itself: counting targets would race with other tests' namespaces, which the
	// namespace controller is still deleting.
	if !slices.ContainsFunc(rep2.Targets, func(tg docTarget) bool { return tg.Namespace == extra.ns }) {
		t.Errorf("the new namespace %s is not a target of doctor -A (%d targets)", extra.ns, len(rep2.Targets))
	}
	kinds := func(ev []sandbox.AuditEvent) []string {
		var out []string
		for _, e := range ev {
			out = append(out, describeEvent(e))
		}
		slices.Sort(out)
		return out
	}
	if !slices.Equal(kinds(ev), kinds(ev2)) {
		t.Errorf("Kubernetes requests grew with the namespaces:\n before %v\n after  %v", kinds(ev), kinds(ev2))
	}
	for _, e := range ev2 {
		if e.ObjectRef != nil && e.ObjectRef.Namespace != "" {
			t.Errorf("-A made a namespaced request: %s", describeEvent(e))
		}
	}
}

// The OIDC provider deleted: provider check fails with the bind fix, STS refuses with its own words, and
// the fix makes everything pass again.
func TestDoctorProviderMissing(t *testing.T) {
	b := newBound(t)
	t.Cleanup(func() { kubectl(t, append([]string{"sdc", "bind"}, b.bindArgs()...)...) })
	mustRun(t, "aws", "iam", "delete-open-id-connect-provider", "--open-id-connect-provider-arn", providerARN(t))

	rep, r := doctorJSON(t, "-n", b.ns, "--probe")
	if r.Code != 1 {
		t.Errorf("exit %d, want 1", r.Code)
	}
	p := rep.check(t, "iam.oidc-provider")
	if p.Status != "fail" || !strings.Contains(p.Detail, "has no "+providerARN(t)) || p.Fix != b.fix() {
		t.Errorf("iam.oidc-provider: %+v", p)
	}
	if a := rep.check(t, "probe.assume-role"); a.Status != "fail" ||
		!strings.Contains(a.Detail, "InvalidIdentityToken: No OpenIDConnect provider found in your account for "+sandboxtest.Get(t).Issuer) {
		t.Errorf("probe.assume-role: %+v", a)
	}
	for id, want := range map[string]string{"iam.oidc-audience": "skip", "iam.trust": "pass", "kube.pod-env": "pass"} {
		if c := rep.check(t, id); c.Status != want {
			t.Errorf("%s = %s, want %s", id, c.Status, want)
		}
	}
	applyFix(t, p.Fix)
	if rep, r := doctorJSON(t, "-n", b.ns, "--probe"); r.Code != 0 {
		t.Errorf("after the fix: exit %d\n%s", r.Code, rep)
	}
}

// The audience removed from the provider: audience check fails with the exact aws command.
func TestDoctorAudienceMissing(t *testing.T) {
	b := newBound(t)
	t.Cleanup(func() { kubectl(t, append([]string{"sdc", "bind"}, b.bindArgs()...)...) })
	mustRun(t, "aws", "iam", "remove-client-id-from-open-id-connect-provider", "--open-id-connect-provider-arn", providerARN(t), "--client-id", "sts.amazonaws.com")

	rep, r := doctorJSON(t, "-n", b.ns, "--probe")
	if r.Code != 1 {
		t.Errorf("exit %d, want 1", r.Code)
	}
	a := rep.check(t, "iam.oidc-audience")
	want := "aws iam add-client-id-to-open-id-connect-provider --open-id-connect-provider-arn " + providerARN(t) + " --client-id sts.amazonaws.com"
	if a.Status != "fail" || !strings.Contains(a.Detail, "missing: sts.amazonaws.com (used by "+b.ns+"/sdc)") || a.Fix != want {
		t.Errorf("iam.oidc-audience: %+v", a)
	}
	if p := rep.check(t, "probe.assume-role"); p.Status != "fail" || !strings.Contains(p.Detail, "InvalidIdentityToken: Incorrect token audience") {
		t.Errorf("probe.assume-role: %+v", p)
	}
	applyFix(t, a.Fix)
	if rep, r := doctorJSON(t, "-n", b.ns, "--probe"); r.Code != 0 {
		t.Errorf("after the fix: exit %d\n%s", r.Code, rep)
	}
}

// The webhook configuration deleted: the webhook check fails, and pods created since carry no identity.
func TestDoctorWebhookMissing(t *testing.T) {
	b := newBound(t)
	ctx := context.Background()
	hooks := kube(t).AdmissionregistrationV1().MutatingWebhookConfigurations()
	saved, err := hooks.Get(ctx, sandbox.WebhookConfigName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	restore := func() {
		c := saved.DeepCopy()
		c.ResourceVersion, c.UID, c.CreationTimestamp, c.ManagedFields, c.Generation = "", "", metav1.Time{}, nil, 0
		if _, err := hooks.Create(ctx, c, metav1.CreateOptions{}); err != nil && !strings.Contains(err.Error(), "already exists") {
			t.Errorf("restoring the webhook configuration: %v", err)
		}
		waitWebhook(t, b.ns, true)
	}
	t.Cleanup(restore)
	mustRun(t, "kubectl", "delete", "mutatingwebhookconfiguration", sandbox.WebhookConfigName)
	waitWebhook(t, b.ns, false)
	mustRun(t, "kubectl", "rollout", "restart", "deployment/sdc", "-n", b.ns)
	waitPods(t, b.ns, "sdc", func(p corev1.Pod) bool { return !hasEnv(p, "AWS_ROLE_ARN") })

	rep, r := doctorJSON(t, "-n", b.ns)
	if r.Code != 1 {
		t.Errorf("exit %d, want 1", r.Code)
	}
	if w := rep.check(t, "kube.webhook"); w.Status != "fail" || !strings.Contains(w.Title, "no pod identity webhook is registered") || w.Fix == "" {
		t.Errorf("kube.webhook: %+v", w)
	}
	if p := rep.check(t, "kube.pod-env"); p.Status != "fail" || !strings.Contains(p.Detail, "the webhook skipped them") ||
		p.Fix != "kubectl rollout restart deployment/sdc -n "+b.ns {
		t.Errorf("kube.pod-env: %+v", p)
	}
	restore()
	if w := func() docCheck { rep, _ := doctorJSON(t, "-n", b.ns); return rep.check(t, "kube.webhook") }(); w.Status != "pass" {
		t.Errorf("after restoring the webhook: %+v", w)
	}
}

func hasEnv(p corev1.Pod, name string) bool {
	for _, c := range p.Spec.Containers {
		for _, e := range c.Env {
			if e.Name == name {
				return true
			}
		}
	}
	return false
}

// waitWebhook waits until the apiserver does (or no longer does) call the webhook for new pods: it caches
// webhook configurations, so a deleted or re-created one takes a moment to count. A server-side dry run
// of a pod under the bound ServiceAccount shows what admission would do, and creates nothing.
func waitWebhook(t *testing.T, ns string, active bool) {
	t.Helper()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{GenerateName: "webhook-probe-", Namespace: ns},
		Spec: corev1.PodSpec{ServiceAccountName: "sdc", Containers: []corev1.Container{{Name: "c", Image: sdcImage}}}}
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := kube(t).CoreV1().Pods(ns).Create(context.Background(), pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err != nil {
			t.Fatalf("dry-run pod: %v", err)
		}
		if hasEnv(*out, "AWS_ROLE_ARN") == active {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the webhook is still %v after 30s", map[bool]string{true: "inactive", false: "active"}[active])
		}
		time.Sleep(100 * time.Millisecond)
	}
}
