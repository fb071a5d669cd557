package e2e

import (
	"slices"
	"strings"
	"testing"

	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox"
	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox/sandboxtest"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
)

// associated reports whether the aws CLI lists an association for ns/sa.
func associated(t *testing.T, ns, sa string) bool {
	t.Helper()
	return slices.ContainsFunc(associationsOf(t, ns), func(a cliAssociation) bool { return a.ServiceAccount == sa })
}

// hasPodIdentityStatement reports whether the role's trust has the EKS user guide's statement.
func hasPodIdentityStatement(t *testing.T, role string) bool {
	t.Helper()
	return slices.ContainsFunc(trustOf(t, role).Statements, func(s iampolicy.Statement) bool { return s.Equivalent(iampolicy.PodIdentityStatement()) })
}

// Three ServiceAccounts bound three ways — EKS Pod Identity alone, IRSA alone, both (migrate without
// --remove-irsa) — are listed with their mechanism and role; unbind removes each mechanism the
// ServiceAccount has, the association (which the aws CLI no longer lists) and the role and policy bind made;
// a second unbind writes nothing. Not parallel: it counts the sandbox's writes.
func TestListAndUnbindBothMechanisms(t *testing.T) {
	sb := sandboxtest.Get(t)
	ns := newNamespace(t)
	bucket := newBucket(t)
	mustBind(t, "-n", ns, "--service-account", "pi", "--bucket", bucket, "--mechanism", "pod-identity", "--yes")
	mustBind(t, "-n", ns, "--service-account", "irsa", "--bucket", bucket, "--yes")
	mustBind(t, "-n", ns, "--service-account", "both", "--bucket", bucket, "--yes")
	if r := kubectl(t, "sdc", "migrate", "-n", ns, "--service-account", "both", "--yes"); r.Code != 0 {
		t.Fatalf("migrate: %s", r)
	}

	got := listJSON(t, ns, "-A")
	for sa, mechanism := range map[string]string{"pi": "pod-identity", "irsa": "irsa", "both": "irsa+pod-identity"} {
		if it := got[sa]; it.Mechanism != mechanism || it.RoleARN != roleARN(t, ns, sa) || !slices.Equal(it.Stages, []string{"s3"}) {
			t.Errorf("list -A -o json, %s: %+v; want mechanism %s, role %s", sa, it, mechanism, roleARN(t, ns, sa))
		}
	}
	if len(got) != 3 {
		t.Errorf("list -A -o json: %d bindings of %s, want 3: %+v", len(got), ns, got)
	}
	header, rows := tableRows(t, ns, "-A")
	if len(header) < 3 || header[2] != "MECHANISM" || rows["pi"][2] != "pod-identity" || rows["both"][2] != "irsa+pod-identity" || rows["pi"][3] != roleName(ns, "pi") {
		t.Errorf("list -A: header %v, rows %v", header, rows)
	}

	// EKS Pod Identity alone: the association, then the role (trusting nobody) and its policy.
	r := mustUnbind(t, "-n", ns, "--service-account", "pi", "--yes")
	for _, want := range []string{"- delete    EKS Pod Identity association " + sandbox.ClusterName + "/" + ns + "/pi",
		"- delete    IAM role " + roleARN(t, ns, "pi"), "- delete    IAM policy " + policyARN(t, ns, "pi"), "by EKS Pod Identity"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("unbind of pi: no %q in\n%s", want, r.Stdout)
		}
	}
	if associated(t, ns, "pi") || roleExists(t, roleName(ns, "pi")) || policyDocument(t, policyARN(t, ns, "pi")) != nil {
		t.Error("after unbind of pi: its association, role or policy is still there")
	}

	// Both: one plan removes the association, the annotation, the subject and the statement, then the role.
	r = mustUnbind(t, "-n", ns, "--service-account", "both", "--yes")
	if !strings.Contains(r.Stdout, "by IRSA and EKS Pod Identity") || !strings.Contains(r.Stdout, "- delete    EKS Pod Identity association") {
		t.Errorf("unbind of both:\n%s", r.Stdout)
	}
	if associated(t, ns, "both") || roleAnnotation(t, ns, "both") != "" || roleExists(t, roleName(ns, "both")) {
		t.Error("after unbind of both: its association, annotation or role is still there")
	}

	for _, sa := range []string{"pi", "both"} {
		sb.Front.ResetCalls()
		r := mustUnbind(t, "-n", ns, "--service-account", sa, "--yes")
		if c := calls(t); c.Writes != 0 || !strings.Contains(r.Stdout, "Nothing to do") {
			t.Errorf("second unbind of %s: %d writes (%v)\n%s", sa, c.Writes, c.ByAction, r.Stdout)
		}
	}
	if got := listJSON(t, ns, "-A"); len(got) != 1 || got["irsa"].Mechanism != "irsa" {
		t.Errorf("list after the unbinds: %+v", got)
	}
}

// --mechanism removes one: irsa keeps EKS Pod Identity (association, statement, the binding's statements in
// the policy), then pod-identity removes the rest with the role; an unknown value is a one-line error naming
// the flag.
func TestUnbindOneMechanism(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	mustBind(t, "-n", ns, "--bucket", newBucket(t), "--yes")
	if r := kubectl(t, "sdc", "migrate", "-n", ns, "--yes"); r.Code != 0 {
		t.Fatalf("migrate: %s", r)
	}
	if r := kubectl(t, "sdc", "unbind", "-n", ns, "--mechanism", "both", "--yes"); r.Code != 1 || !strings.Contains(r.Stderr, "--mechanism") ||
		strings.Count(strings.TrimSpace(r.Stderr), "\n") != 0 {
		t.Errorf("--mechanism both: %s", r)
	}
	mustUnbind(t, "-n", ns, "--mechanism", "irsa", "--yes")
	name := roleName(ns, "sdc")
	if !associated(t, ns, "sdc") || !hasPodIdentityStatement(t, name) || roleAnnotation(t, ns, "sdc") != "" ||
		len(iampolicy.WebIdentitySubjects(trustOf(t, name), providerARN(t), issuerHost(t))) != 0 {
		t.Errorf("after --mechanism irsa: association %v, trust %s, annotation %q", associated(t, ns, "sdc"), trustOf(t, name).Canonical(), roleAnnotation(t, ns, "sdc"))
	}
	if it := listJSON(t, ns, "-n", ns)["sdc"]; it.Mechanism != "pod-identity" || !slices.Equal(it.Stages, []string{"s3"}) {
		t.Errorf("EKS Pod Identity's binding stays, with its stages: %+v", it)
	}
	if doc := policyDocument(t, policyARN(t, ns, "sdc")); doc == nil || len(doc.Statements) == 0 {
		t.Errorf("the binding's policy lost its statements while EKS Pod Identity still serves it: %v", doc)
	}
	if r := mustUnbind(t, "-n", ns, "--mechanism", "irsa", "--dry-run"); !strings.Contains(r.Stdout, "Nothing to do") {
		t.Errorf("again: %s", r)
	}
	mustUnbind(t, "-n", ns, "--mechanism", "pod-identity", "--yes")
	if associated(t, ns, "sdc") || roleExists(t, name) || policyDocument(t, policyARN(t, ns, "sdc")) != nil {
		t.Error("after --mechanism pod-identity: the association, the role or the policy is still there")
	}
}

// Two associations share a role made with --role-name: unbinding one keeps the role's Pod Identity
// statement (the other's association names the role, and its tags name the other binding), the last one
// removes it with the role; so does an association made by hand that names a role bind made. An
// association deleted with the aws CLI leaves an orphan, which list --orphans
// finds and its command removes.
func TestUnbindPodIdentitySharedRoleAndOrphans(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	shared := "sdc-shared-" + ns
	for _, sa := range []string{"a", "b"} {
		mustBind(t, "-n", ns, "--service-account", sa, "--bucket", newBucket(t), "--mechanism", "pod-identity", "--role-name", shared, "--yes")
	}
	r := mustUnbind(t, "-n", ns, "--service-account", "a", "--role-name", shared, "--yes")
	if !strings.Contains(r.Stdout, "its EKS Pod Identity statement stays") {
		t.Errorf("unbind of a: the plan does not say why the statement stays:\n%s", r.Stdout)
	}
	if associated(t, ns, "a") || !associated(t, ns, "b") || !hasPodIdentityStatement(t, shared) {
		t.Fatalf("after unbind of a: association a %v, b %v, statement %v", associated(t, ns, "a"), associated(t, ns, "b"), hasPodIdentityStatement(t, shared))
	}
	mustUnbind(t, "-n", ns, "--service-account", "b", "--role-name", shared, "--yes")
	if associated(t, ns, "b") || roleExists(t, shared) {
		t.Error("after unbind of b: its association or the shared role is still there")
	}

	// An association made by hand (the aws CLI) for another ServiceAccount names a role bind made: the
	// statement serves it too, so the role stays until that association is gone.
	mustBind(t, "-n", ns, "--service-account", "solo", "--bucket", newBucket(t), "--mechanism", "pod-identity", "--yes")
	solo := roleName(ns, "solo")
	if r := run(t, nil, "aws", "eks", "create-pod-identity-association", "--cluster-name", sandbox.ClusterName, "--namespace", ns,
		"--service-account", "hand", "--role-arn", roleARN(t, ns, "solo")); r.Code != 0 {
		t.Fatal(r)
	}
	r = mustUnbind(t, "-n", ns, "--service-account", "solo", "--yes")
	if !strings.Contains(r.Stdout, "association(s) "+ns+"/hand of cluster "+sandbox.ClusterName+" name the role too") || !hasPodIdentityStatement(t, solo) || associated(t, ns, "solo") {
		t.Errorf("unbind of solo beside a hand-made association: statement %v\n%s", hasPodIdentityStatement(t, solo), r.Stdout)
	}
	for _, a := range associationsOf(t, ns) {
		if r := run(t, nil, "aws", "eks", "delete-pod-identity-association", "--cluster-name", sandbox.ClusterName, "--association-id", a.AssociationID); r.Code != 0 {
			t.Fatal(r)
		}
	}
	mustUnbind(t, "-n", ns, "--service-account", "solo", "--yes") // the default name finds the role
	if roleExists(t, solo) {
		t.Error("once the hand-made association is gone, unbind still leaves the role")
	}

	mustBind(t, "-n", ns, "--service-account", "gone", "--bucket", newBucket(t), "--mechanism", "pod-identity", "--yes")
	orphan := roleName(ns, "gone")
	orphansOf := func() []string {
		var out []string
		for _, o := range listOrphans(t) {
			if o["namespace"] == ns {
				out = append(out, o["roleName"]+" "+o["command"])
			}
		}
		return out
	}
	if got := orphansOf(); len(got) != 0 {
		t.Fatalf("orphans while the association names the role: %v", got)
	}
	for _, a := range associationsOf(t, ns) {
		if r := run(t, nil, "aws", "eks", "delete-pod-identity-association", "--cluster-name", sandbox.ClusterName, "--association-id", a.AssociationID); r.Code != 0 {
			t.Fatal(r)
		}
	}
	cmd := "kubectl sdc unbind -n " + ns + " --service-account gone --role-name " + orphan
	if got := orphansOf(); !slices.Equal(got, []string{orphan + " " + cmd}) {
		t.Fatalf("orphans after the association was deleted: %v", got)
	}
	if r := run(t, nil, "sh", "-c", cmd+" --yes"); r.Code != 0 {
		t.Fatalf("%s: %s", cmd, r)
	}
	if roleExists(t, orphan) || len(orphansOf()) != 0 {
		t.Error("the orphan's command left the role")
	}
}
