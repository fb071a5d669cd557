package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"

	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox/awsfront"
	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox/sandboxtest"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/bind"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
	"github.com/kubectl-sdc/kubectl-sdc/test/harness"
)

// namespaceNamed creates the namespace name for one test and deletes it afterwards.
func namespaceNamed(t *testing.T, name string) string {
	t.Helper()
	client := kube(t)
	if _, err := client.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating namespace %s: %v", name, err)
	}
	t.Cleanup(func() { _ = client.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{}) })
	return name
}

// admits reports whether role's trust admits the ServiceAccount's tokens through the sandbox's provider.
func admits(t *testing.T, role, ns, sa string) bool {
	t.Helper()
	trust := trustOf(t, role)
	return iampolicy.Evaluate(iampolicy.WebIdentityRequest(providerARN(t), sandboxtest.Get(t).Issuer, vocab.Subject(ns, sa), vocab.DefaultAudience), trust).Allowed()
}

// doctorPassesForServiceAccount runs doctor for the ServiceAccount (which no Deployment runs under) and fails the
// test unless every check passes but that one warning.
func doctorPassesForServiceAccount(t *testing.T, ns, sa string, probe ...string) {
	t.Helper()
	rep, r := doctorJSON(t, append([]string{"-n", ns, "--service-account", sa}, probe...)...)
	bad := 0
	for _, c := range rep.all() {
		if c.Status == "fail" || (c.Status == "warn" && c.ID != "kube.deployment") {
			bad++
		}
	}
	if r.Code != 0 || bad > 0 {
		t.Errorf("doctor %s/%s %v: exit %d\n%s", ns, sa, probe, r.Code, rep)
	}
}

// a-b/c and a/b-c were one role under the old default name; now each has its own, each trusted by its
// ServiceAccount alone, each with its own bucket.
func TestDefaultNamesAreOneToOne(t *testing.T) {
	t.Parallel()
	a := newNamespace(t)
	ab := namespaceNamed(t, a+"-b")
	one, two := newBucket(t), newBucket(t)
	mustBind(t, "-n", ab, "--service-account", "c", "--bucket", one, "--yes")
	mustBind(t, "-n", a, "--service-account", "b-c", "--bucket", two, "--yes")
	if roleName(ab, "c") == roleName(a, "b-c") {
		t.Fatal("the test's names collide")
	}
	for _, b := range []struct{ ns, sa, other string }{{ab, "c", "b-c"}, {a, "b-c", "c"}} {
		if !admits(t, roleName(b.ns, b.sa), b.ns, b.sa) {
			t.Errorf("role %s does not admit %s/%s", roleName(b.ns, b.sa), b.ns, b.sa)
		}
		if subjects := iampolicy.WebIdentitySubjects(trustOf(t, roleName(b.ns, b.sa)), providerARN(t), sandboxtest.Get(t).Issuer); len(subjects) != 1 {
			t.Errorf("role %s admits %v, want only %s/%s", roleName(b.ns, b.sa), subjects, b.ns, b.sa)
		}
		doctorPassesForServiceAccount(t, b.ns, b.sa, "--probe")
	}
}

// A role whose kubectl-sdc tags name another binding is refused before anything is written, with its
// owner named; --role-name shares it on purpose.
func TestARoleOfAnotherBindingIsRefused(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	bucket := newBucket(t)
	role := roleName(ns, "sdc")
	_, err := awsAdmin(t).IAM.CreateRole(context.Background(), &iam.CreateRoleInput{RoleName: aws.String(role),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`),
		Tags: []iamtypes.Tag{{Key: aws.String(vocab.ManagedByKey), Value: aws.String(vocab.ManagedByValue)}, {Key: aws.String(vocab.TagCluster), Value: aws.String("sandbox")},
			{Key: aws.String(vocab.TagNamespace), Value: aws.String("payments")}, {Key: aws.String(vocab.TagServiceAccount), Value: aws.String("etl")}}})
	if err != nil {
		t.Fatal(err)
	}
	r := kubectl(t, "sdc", "bind", "-n", ns, "--bucket", bucket, "--yes")
	if r.Code != 1 || !strings.Contains(r.Stderr, "ServiceAccount payments/etl") || !strings.Contains(r.Stderr, "--role-name "+role) {
		t.Fatalf("want a refusal naming the owner: %s", r)
	}
	if trust := trustOf(t, role); len(trust.Statements) != 1 || admits(t, role, ns, "sdc") {
		t.Errorf("the refused bind changed the trust: %s", trust.Compact())
	}
	if _, err := kube(t).CoreV1().ServiceAccounts(ns).Get(context.Background(), "sdc", metav1.GetOptions{}); err == nil {
		t.Error("the refused bind made the ServiceAccount")
	}
	if _, err := awsAdmin(t).IAM.GetPolicy(context.Background(), &iam.GetPolicyInput{PolicyArn: aws.String(policyARN(t, ns, "sdc"))}); err == nil {
		t.Error("the refused bind made the policy")
	}
	mustBind(t, "-n", ns, "--bucket", bucket, "--role-name", role, "--yes")
	if !admits(t, role, ns, "sdc") {
		t.Error("shared on purpose, the role does not admit the ServiceAccount")
	}
}

// Two bindings share a role on purpose with different buckets: both keep their permissions, and a rerun
// of either changes nothing.
func TestSharedRoleKeepsEveryBindingsPermissions(t *testing.T) {
	t.Parallel()
	ns1, ns2 := newNamespace(t), newNamespace(t)
	one, two := newBucket(t), newBucket(t)
	role := "sdc-shared-" + ns1
	bind1 := []string{"-n", ns1, "--bucket", one, "--role-name", role, "--yes"}
	bind2 := []string{"-n", ns2, "--bucket", two, "--role-name", role, "--yes"}
	mustBind(t, bind1...)
	mustBind(t, bind2...)
	doctorPassesForServiceAccount(t, ns1, "sdc", "--probe")
	doctorPassesForServiceAccount(t, ns2, "sdc", "--probe")
	for _, args := range [][]string{bind1, bind2} {
		r := kubectl(t, append([]string{"sdc", "bind", "--dry-run", "--exit-code"}, args[:len(args)-1]...)...)
		if r.Code != 0 {
			t.Errorf("a rerun of bind %v would change something: %s", args, r)
		}
	}
	if got := attachedTo(t, role); len(got) != 1 {
		t.Errorf("the shared role has %d policies attached, want its one: %v", len(got), got)
	}
}

// Forty ServiceAccounts bound one after the other to one role fit in its trust, and all pass doctor.
// The names are as short as the arithmetic assumes (about 35 characters per ServiceAccount).
func TestFortyServiceAccountsShareOneRole(t *testing.T) {
	t.Parallel()
	ns := namespaceNamed(t, fmt.Sprintf("f%05d", time.Now().UnixNano()%100000))
	bucket := newBucket(t)
	role := "sdc-forty-" + ns
	for i := range 40 {
		mustBind(t, "-n", ns, "--service-account", fmt.Sprintf("s%02d", i), "--bucket", bucket, "--role-name", role, "--yes")
	}
	trust := trustOf(t, role)
	subjects := iampolicy.WebIdentitySubjects(trust, providerARN(t), sandboxtest.Get(t).Issuer)
	t.Logf("40 ServiceAccounts: trust of %d characters in %d statement(s)", trust.Size(), len(trust.Statements))
	if len(subjects) != 40 || len(trust.Statements) != 1 || trust.Size() > vocab.MaxTrustPolicy {
		t.Fatalf("trust: %d subjects, %d statements, %d characters", len(subjects), len(trust.Statements), trust.Size())
	}
	for i := range 40 {
		doctorPassesForServiceAccount(t, ns, fmt.Sprintf("s%02d", i))
	}
}

// Twenty binds of different ServiceAccounts into one role at the same time, as separate processes: every
// bind that exits 0 is admitted at the end, and every ServiceAccount after at most one rerun of those
// that failed; the same again inside IAM's consistency window. Not parallel: faults are account-wide.
func TestConcurrentBindsIntoOneRole(t *testing.T) {
	sb := sandboxtest.Get(t)
	t.Cleanup(func() { sb.Front.SetFaults(awsfront.Faults{}) })
	for _, window := range []int{0, 1500} {
		t.Run(fmt.Sprintf("consistency window %d ms", window), func(t *testing.T) {
			sb.Front.SetFaults(awsfront.Faults{ConsistencyDelayMS: window})
			ns := newNamespace(t)
			bucket := newBucket(t)
			role := "sdc-race-" + ns
			bindArgs := func(i int) []string {
				return []string{"sdc", "bind", "-n", ns, "--service-account", fmt.Sprintf("sa-%02d", i), "--bucket", bucket, "--role-name", role, "--yes"}
			}
			codes := make([]int, 20)
			var wg sync.WaitGroup
			for i := range codes {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := kubectl(t, bindArgs(i)...)
					codes[i] = r.Code
					if r.Code != 0 {
						t.Logf("bind sa-%02d: %s", i, r)
					}
				}()
			}
			wg.Wait()
			sb.Front.SetFaults(awsfront.Faults{}) // the checks read at once
			failed := 0
			for i, code := range codes {
				sa := fmt.Sprintf("sa-%02d", i)
				switch {
				case code == 0 && !admits(t, role, ns, sa):
					t.Errorf("bind of %s exited 0, but the trust does not admit it", sa)
				case code != 0:
					failed++
					if r := kubectl(t, bindArgs(i)...); r.Code != 0 {
						t.Errorf("the rerun of %s failed: %s", sa, r)
					}
				}
			}
			for i := range codes {
				if sa := fmt.Sprintf("sa-%02d", i); !admits(t, role, ns, sa) {
					t.Errorf("%s is not admitted after the reruns", sa)
				}
			}
			// The writers agreed through the role's trust Lease: free now, recording the trust the last one
			// wrote, which is the trust IAM holds.
			lease, err := kube(t).CoordinationV1().Leases(bind.DefaultLockNamespace).Get(context.Background(), bind.LeaseName(bind.TrustDocKey(role)), metav1.GetOptions{})
			if err != nil {
				t.Fatalf("the Lease of %s: %v", bind.TrustDocKey(role), err)
			}
			if h := lease.Spec.HolderIdentity; h == nil || *h != "" {
				t.Errorf("the Lease is still held by %v", h)
			}
			if last := lease.Annotations["kubectl-sdc/last-written"]; last == "" || !trustDocument(t, last).Equal(trustOf(t, role)) {
				t.Errorf("the Lease records %q as last written; IAM holds %s", last, trustOf(t, role).Compact())
			}
			t.Logf("window %d ms: %d of 20 binds failed and were rerun; trust of %d characters", window, failed, trustOf(t, role).Size())
		})
	}
}

// A bind that edits a shared trust waits while another writer of the cluster holds the trust's Lease, and
// writes only once it is released; a Lease whose holder is gone (its time ran out) is taken over.
func TestBindWaitsForTheTrustLease(t *testing.T) {
	t.Parallel()
	sb := sandboxtest.Get(t)
	ns, role, bindSA, leases, name := sharedRoleWithLease(t, "sdc-lease-")
	ctx := context.Background()
	held := func(holder string, renewed time.Time) {
		t.Helper()
		seconds := int32(60)
		l := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: &seconds, RenewTime: &metav1.MicroTime{Time: renewed}}}
		if cur, err := leases.Get(ctx, name, metav1.GetOptions{}); err == nil {
			l.ResourceVersion, l.Annotations = cur.ResourceVersion, cur.Annotations
			_, err = leases.Update(ctx, l, metav1.UpdateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			return
		}
		if _, err := leases.Create(ctx, l, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	// Held by another writer: the bind waits, polling the Lease, and has not touched the trust.
	held("another-writer", time.Now())
	done := make(chan result, 1)
	go func() { done <- kubectl(t, bindSA("second")...) }()
	deadline := time.Now().Add(60 * time.Second)
	for polls := 0; polls < 2; {
		polls = 0
		ev, err := sb.AuditEvents("kubectl-sdc/")
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ev {
			if e.ObjectRef != nil && e.ObjectRef.Resource == "leases" && e.ObjectRef.Name == name && e.Verb == "get" {
				polls++
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("bind did not ask for the Lease %s twice within 60s", name)
		}
		time.Sleep(100 * time.Millisecond) // polling the audit log, which the apiserver writes on its own time
	}
	if admits(t, role, ns, "second") {
		t.Fatal("the trust admits the second ServiceAccount while another writer holds its Lease")
	}
	held("", time.Now()) // released
	if r := <-done; r.Code != 0 {
		t.Fatalf("the bind that waited: %s", r)
	}
	if !admits(t, role, ns, "second") || !admits(t, role, ns, "first") {
		t.Errorf("after the wait the trust should admit both ServiceAccounts:\n%s", trustOf(t, role).Canonical())
	}

	// A holder that is gone: its Lease ran out ten minutes ago, so the next bind takes it over at once.
	held("gone-writer", time.Now().Add(-10*time.Minute))
	if r := kubectl(t, bindSA("third")...); r.Code != 0 || !admits(t, role, ns, "third") {
		t.Fatalf("a bind over a Lease whose holder is gone: %s", r)
	}
	l, err := leases.Get(ctx, name, metav1.GetOptions{})
	if err != nil || l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity != "" || !trustDocument(t, l.Annotations["kubectl-sdc/last-written"]).Equal(trustOf(t, role)) {
		t.Errorf("the Lease after the takeover: %+v %v", l, err)
	}
}

// raceIntoOneRole binds the ServiceAccounts add into role while it unbinds those in remove, all at once,
// with IAM's reads lagging its updates by windowMS; it returns the ServiceAccounts whose command exited 0 but does not hold afterwards (a bind not
// admitted, an unbind still admitted), and how many commands failed.
func raceIntoOneRole(t *testing.T, ns, bucket, role string, add, remove []string, windowMS int) (lost []string, failed int) {
	t.Helper()
	sb := sandboxtest.Get(t)
	bindArgs := func(sa string) []string {
		return []string{"sdc", "bind", "-n", ns, "--service-account", sa, "--bucket", bucket, "--role-name", role, "--yes"}
	}
	unbindArgs := func(sa string) []string {
		return []string{"sdc", "unbind", "-n", ns, "--service-account", sa, "--yes"}
	}
	sb.Front.SetFaults(awsfront.Faults{ConsistencyDelayMS: windowMS})
	type outcome struct {
		sa   string
		bind bool
		code int
	}
	all := make(chan outcome, len(add)+len(remove))
	var wg sync.WaitGroup
	for _, sa := range add {
		wg.Add(1)
		go func() { defer wg.Done(); all <- outcome{sa, true, kubectl(t, bindArgs(sa)...).Code} }()
	}
	for _, sa := range remove {
		wg.Add(1)
		go func() { defer wg.Done(); all <- outcome{sa, false, kubectl(t, unbindArgs(sa)...).Code} }()
	}
	wg.Wait()
	close(all)
	sb.Front.SetFaults(awsfront.Faults{}) // the checks read at once
	for o := range all {
		switch holds := admits(t, role, ns, o.sa) == o.bind; {
		case o.code == 0 && !holds:
			lost = append(lost, o.sa)
		case o.code != 0:
			failed++
			// Reported and converging: the rerun makes it hold.
			args := unbindArgs(o.sa)
			if o.bind {
				args = bindArgs(o.sa)
			}
			if r := kubectl(t, args...); r.Code != 0 || admits(t, role, ns, o.sa) != o.bind {
				t.Errorf("the rerun for %s: %s", o.sa, r)
			}
		}
	}
	sort.Strings(lost)
	return lost, failed
}

// Binds and unbinds racing into one role, with IAM's reads lagging its updates by 3 s (stale reads after
// updates): with the Lease every command that exits 0 holds afterwards, and a failure converges on rerun.
// Not parallel: it sets the sandbox's faults.
func TestBindsAndUnbindsRaceUnderStaleReads(t *testing.T) {
	ns := newNamespace(t)
	bucket := newBucket(t)
	names := func(prefix string, n int) []string {
		var out []string
		for i := range n {
			out = append(out, fmt.Sprintf("%s-%02d", prefix, i))
		}
		return out
	}
	prepare := func(role string, sas []string) {
		t.Helper()
		for _, sa := range sas {
			if r := kubectl(t, "sdc", "bind", "-n", ns, "--service-account", sa, "--bucket", bucket, "--role-name", role, "--yes"); r.Code != 0 {
				t.Fatal(r)
			}
		}
	}

	locked := "sdc-stale-" + ns
	prepare(locked, names("old", 10))
	lost, failed := raceIntoOneRole(t, ns, bucket, locked, names("new", 10), names("old", 10), 3000)
	if len(lost) > 0 {
		t.Errorf("with the lock, commands exited 0 whose change does not hold: %v", lost)
	}
	t.Logf("with the lock: 20 commands, %d failed and converged on rerun, none lost", failed)

}

// A bind killed while it holds a trust's Lease: the next bind waits for the Lease to run out (60 s after the
// dead holder's last renewal), not less, then takes it over and finishes.
func TestBindAfterAHolderWasKilled(t *testing.T) {
	sb := sandboxtest.Get(t)
	ns, role, bindSA, leases, name := sharedRoleWithLease(t, "sdc-killed-")
	ctx := context.Background()

	// Every AWS call slow, so that the bind spends seconds inside the Lease; killed as soon as it holds it.
	sb.Front.SetFaults(awsfront.Faults{LatencyMS: 1500})
	t.Cleanup(func() { sb.Front.SetFaults(awsfront.Faults{}) })
	cmd := exec.Command("kubectl", bindSA("killed")...)
	cmd.Env = harness.Env(sb)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var dead *coordinationv1.Lease
	deadline := time.Now().Add(90 * time.Second)
	for dead == nil {
		if l, err := leases.Get(ctx, name, metav1.GetOptions{}); err == nil && l.Spec.HolderIdentity != nil && strings.HasPrefix(*l.Spec.HolderIdentity, "kubectl-sdc@") {
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			_ = cmd.Wait()
			dead = l
			break
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("the bind did not take the Lease %s within 90s", name)
		}
		time.Sleep(20 * time.Millisecond) // polling the Lease the bind takes on its own time
	}
	sb.Front.SetFaults(awsfront.Faults{})
	expiry := dead.Spec.RenewTime.Add(time.Duration(*dead.Spec.LeaseDurationSeconds) * time.Second)

	r := kubectl(t, bindSA("after")...)
	if r.Code != 0 || !admits(t, role, ns, "after") || !admits(t, role, ns, "first") {
		t.Fatalf("the bind after the killed one: %s\n%s", r, trustOf(t, role).Canonical())
	}
	l, err := leases.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The apiserver keeps MicroTime to the microsecond; the takeover may not come before the expiry.
	if l.Spec.AcquireTime == nil || l.Spec.AcquireTime.Time.Before(expiry.Add(-time.Millisecond)) {
		t.Errorf("the Lease was taken over at %v, before the dead holder's expiry %v", l.Spec.AcquireTime, expiry)
	}
	if h := l.Spec.HolderIdentity; h == nil || *h != "" {
		t.Errorf("the Lease is still held after the second bind: %v", h)
	}
	t.Logf("killed holder's Lease expired at %s; taken over at %s", expiry.Format(time.RFC3339Nano), l.Spec.AcquireTime.Format(time.RFC3339Nano))
}

// sharedRoleWithLease makes a role shared on purpose (named prefix+namespace) with ServiceAccount "first"
// bound into it, and returns what binds another ServiceAccount into it, the Leases of the lock namespace and
// the name of the role's trust Lease.
func sharedRoleWithLease(t *testing.T, prefix string) (ns, role string, bindSA func(string) []string, leases coordinationv1client.LeaseInterface, name string) {
	t.Helper()
	ns = newNamespace(t)
	bucket := newBucket(t)
	role = prefix + ns
	bindSA = func(sa string) []string {
		return []string{"sdc", "bind", "-n", ns, "--service-account", sa, "--bucket", bucket, "--role-name", role, "--yes"}
	}
	if r := kubectl(t, bindSA("first")...); r.Code != 0 {
		t.Fatal(r)
	}
	return ns, role, bindSA, kube(t).CoordinationV1().Leases(bind.DefaultLockNamespace), bind.LeaseName(bind.TrustDocKey(role))
}

// Why the lock: IAM's reads may lag its updates (stale reads after updates, 5 s here), so without the
// lock a bind can read a shared trust as it was before another bind's write, write its own edit over it,
// read its write back and exit 0, after the other bind had exited 0 too: that one's ServiceAccount is no
// longer admitted. Pairs of binds into roles shared on purpose (A, and as soon as A exits, B), as a user
// without the Lease verbs, lose such an edit within a few pairs; the same pairs as a user with them lose
// none, because B waits until IAM shows what A wrote. Not parallel: it sets the sandbox's faults.
func TestStaleReadsLoseEditsOnlyWithoutTheLock(t *testing.T) {
	sb := sandboxtest.Get(t)
	root, err := sandboxtest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	if r := kubectl(t, "apply", "-f", filepath.Join(root, "docs", "permissions", "bind-rbac.yaml")); r.Code != 0 {
		t.Fatal(r)
	}
	locked := "stale-locked"
	if r := kubectl(t, "create", "clusterrolebinding", locked, "--clusterrole=kubectl-sdc-bind", "--user="+locked); r.Code != 0 {
		t.Fatal(r)
	}
	t.Cleanup(func() { kubectl(t, "delete", "clusterrolebinding", locked) })
	unlocked := userWithoutTheLease(t, "stale-unlocked")
	ns := newNamespace(t)
	bucket := newBucket(t)
	bindArgs := func(role, sa, user string) []string {
		args := []string{"sdc", "bind", "-n", ns, "--service-account", sa, "--bucket", bucket, "--role-name", role, "--yes"}
		if user != "" {
			args = append(args, "--as", user)
		}
		return args
	}
	next := 0
	// batch prepares n roles, each with a first binding, with IAM consistent; then, with stale reads on,
	// runs one pair per role, four at a time, and returns how many pairs lost A's edit after both exited 0.
	batch := func(n int, user string) (lost int) {
		t.Helper()
		roles := make([]string, n)
		for i := range roles {
			roles[i] = fmt.Sprintf("sdc-pair-%02d-%s", next, ns)
			next++
		}
		each := func(f func(role string)) {
			var wg sync.WaitGroup
			sem := make(chan struct{}, 4)
			for _, role := range roles {
				wg.Add(1)
				sem <- struct{}{}
				go func() { defer wg.Done(); defer func() { <-sem }(); f(role) }()
			}
			wg.Wait()
		}
		each(func(role string) {
			if r := kubectl(t, bindArgs(role, "first", "")...); r.Code != 0 {
				t.Error(r)
			}
		})
		sb.Front.SetFaults(awsfront.Faults{ConsistencyDelayMS: 5000})
		t.Cleanup(func() { sb.Front.SetFaults(awsfront.Faults{}) })
		both := make(chan string, n)
		each(func(role string) {
			a := kubectl(t, bindArgs(role, "a", user)...)
			b := kubectl(t, bindArgs(role, "b", user)...)
			if warned := strings.Contains(b.Stderr, "running without the lock"); warned != (user == unlocked) {
				t.Errorf("bind as %s warned of running without the lock: %v\n%s", user, warned, b)
			}
			if a.Code == 0 && b.Code == 0 {
				both <- role
			}
		})
		close(both)
		sb.Front.SetFaults(awsfront.Faults{}) // the checks read at once
		for role := range both {
			if !admits(t, role, ns, "b") {
				t.Errorf("B exited 0 but %s does not admit it:\n%s", role, trustOf(t, role).Canonical())
			}
			if !admits(t, role, ns, "a") {
				lost++
			}
		}
		return lost
	}

	lost, pairs := 0, 0
	for lost == 0 && pairs < 40 {
		lost += batch(8, unlocked)
		pairs += 8
	}
	if lost == 0 {
		t.Errorf("without the lock, %d pairs of binds under stale reads lost nothing: the sandbox no longer shows the loss the lock prevents", pairs)
	}
	t.Logf("without the lock: %d of %d pairs lost A's edit after both binds exited 0", lost, pairs)
	if lost := batch(16, locked); lost > 0 {
		t.Errorf("with the lock, %d of 16 pairs lost A's edit after both binds exited 0", lost)
	}
}
