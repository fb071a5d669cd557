package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox/sandboxtest"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
)

// stsAccepts reports whether STS lets a token of ns/sa (kubectl create token, audience sts.amazonaws.com)
// assume role, through the real aws CLI.
func stsAccepts(t *testing.T, role, ns, sa string) bool {
	t.Helper()
	tok := kubectl(t, "create", "token", sa, "-n", ns, "--audience", "sts.amazonaws.com")
	if tok.Code != 0 {
		t.Fatalf("kubectl create token %s -n %s: %s", sa, ns, tok)
	}
	r := run(t, nil, "aws", "sts", "assume-role-with-web-identity", "--role-arn", role, "--role-session-name", "e2e",
		"--web-identity-token", strings.TrimSpace(tok.Stdout))
	if r.Code != 0 && !strings.Contains(r.Stderr, "AccessDenied") {
		t.Fatalf("aws sts assume-role-with-web-identity: %s", r)
	}
	return r.Code == 0
}

// A role for many ServiceAccounts: bind --role-name --subject-pattern writes the pattern's StringLike
// statement and annotates the ServiceAccount named; the plan lists the ServiceAccounts the pattern admits
// today; STS admits every matching ServiceAccount and no other; a later bind of another matching one
// changes no trust; doctor's iam.trust-scope lists exactly the matching ServiceAccounts not bound on
// purpose; list shows them bound through the pattern; unbind of one explains that the pattern still admits
// it. Bad patterns are refused before anything is read or written.
func TestSubjectPattern(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	stamp := fmt.Sprintf("%d", time.Now().UnixNano()%1_000_000)
	prefix := "pat" + stamp + "-"
	role := "sdc-e2e-pattern-" + stamp
	roleARN := "arn:aws:iam::" + sandboxtest.Get(t).AccountID + ":role/" + role
	pattern := "system:serviceaccount:" + prefix + "*:sdc"
	var namespaces []string
	for _, suffix := range []string{"a", "b", "c"} {
		ns := prefix + suffix
		if _, err := kube(t).CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = kube(t).CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
		for _, sa := range []string{"sdc", "other"} {
			if _, err := kube(t).CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		namespaces = append(namespaces, ns)
	}
	elsewhere := newNamespace(t) // "e2e-...": the pattern does not match it
	if _, err := kube(t).CoreV1().ServiceAccounts(elsewhere).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "sdc"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	bucket := newBucket(t)

	// Bad patterns: refused before any write.
	for _, bad := range []struct{ pattern, want string }{
		{"system:serviceaccount:" + prefix + "a:sdc", "has no wildcard"},
		{"system:serviceaccount:*:*", "admits every ServiceAccount of the cluster"},
		{"sdc-*:sdc", "must be system:serviceaccount:"},
		{"system:serviceaccount:" + prefix + "*:sdc:x", "exactly two parts"},
		{"system:serviceaccount:" + prefix + "*:SDC", "may hold only lower-case"},
		{"system:serviceaccount:other-*:sdc", "does not admit the ServiceAccount being bound"},
	} {
		r := kubectl(t, "sdc", "bind", "-n", namespaces[0], "--bucket", bucket, "--role-name", role, "--subject-pattern", bad.pattern, "--yes")
		if r.Code != 1 || !strings.Contains(r.Stderr, bad.want) {
			t.Errorf("--subject-pattern %q: exit %d, stderr %q; want a refusal saying %q", bad.pattern, r.Code, r.Stderr, bad.want)
		}
	}
	if r := kubectl(t, "sdc", "bind", "-n", namespaces[0], "--bucket", bucket, "--subject-pattern", pattern, "--yes"); r.Code != 1 || !strings.Contains(r.Stderr, "--role-name") {
		t.Errorf("--subject-pattern without --role-name: %s", r)
	}
	if r := run(t, nil, "aws", "iam", "get-role", "--role-name", role); r.Code == 0 {
		t.Fatalf("a refused bind made role %s", role)
	}

	// The pattern binding.
	r := mustBind(t, "-n", namespaces[0], "--bucket", bucket, "--role-name", role, "--subject-pattern", pattern, "--yes")
	want := fmt.Sprintf("the pattern admits 3 existing ServiceAccount(s) today: %s/sdc, %s/sdc, %s/sdc", namespaces[0], namespaces[1], namespaces[2])
	if !strings.Contains(r.Stdout, want) {
		t.Errorf("the plan lacks %q:\n%s", want, r.Stdout)
	}
	trust := trustOf(t, role)
	if pats := iampolicy.SubjectPatterns(trust, providerARNOf(t, trust), issuerOf(t)); !slices.Equal(pats, []string{pattern}) {
		t.Errorf("trust patterns %v:\n%s", pats, trust.Canonical())
	}
	for _, ns := range namespaces {
		for _, sa := range []string{"sdc", "other"} {
			if got, want := stsAccepts(t, roleARN, ns, sa), sa == "sdc"; got != want {
				t.Errorf("STS admits %s/%s: %v, want %v", ns, sa, got, want)
			}
		}
	}
	if stsAccepts(t, roleARN, elsewhere, "sdc") {
		t.Errorf("STS admits %s/sdc, which the pattern does not match", elsewhere)
	}

	// doctor: the two matching ServiceAccounts nobody bound on purpose.
	rep, _ := doctorJSON(t, "-n", namespaces[0])
	scope := rep.check(t, "iam.trust-scope")
	wantList := fmt.Sprintf("2 of the cluster's are not bound to role %s on purpose (no role annotation naming it): %s/sdc, %s/sdc", role, namespaces[1], namespaces[2])
	if scope.Status != "warn" || !strings.Contains(scope.Detail, wantList) {
		t.Errorf("iam.trust-scope = %s: %s; want a warning listing %q", scope.Status, scope.Detail, wantList)
	}
	if c := rep.check(t, "iam.trust"); c.Status != "pass" {
		t.Errorf("iam.trust = %s: %s", c.Status, c.Detail)
	}

	// A later bind of another matching ServiceAccount: no trust write.
	// It runs as a user of its own, so that its writes are counted apart from the parallel tests'.
	before := trustOf(t, role)
	env, key := iamUserWith(t, "pattern-binder", []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`))
	r = run(t, env, "kubectl", "sdc", "bind", "-n", namespaces[1], "--bucket", bucket, "--role-name", role, "--yes")
	if r.Code != 0 || !strings.Contains(r.Stdout, "admits system:serviceaccount:"+namespaces[1]+":sdc through the pattern "+pattern) {
		t.Errorf("the second bind: %s", r)
	}
	if w := sandboxtest.Get(t).Front.Calls().WritesByKey[key]; w["iam:UpdateAssumeRolePolicy"] != 0 {
		t.Errorf("the second bind wrote the trust: %v", w)
	}
	if after := trustOf(t, role); !after.Equal(before) {
		t.Errorf("the trust changed:\n%s", after.Canonical())
	}
	rep, _ = doctorJSON(t, "-n", namespaces[0])
	if scope := rep.check(t, "iam.trust-scope"); !strings.Contains(scope.Detail, "1 of the cluster's are not bound to role "+role+" on purpose (no role annotation naming it): "+namespaces[2]+"/sdc") {
		t.Errorf("iam.trust-scope after the second bind: %s", scope.Detail)
	}
	l := kubectl(t, "sdc", "list", "-n", namespaces[1], "-o", "json")
	if l.Code != 0 || !strings.Contains(l.Stdout, `"subjectPattern": "`+pattern+`"`) {
		t.Errorf("list does not show the binding through the pattern: %s", l)
	}

	// unbind of one: the pattern still admits it, and unbind says so and what to do.
	u := kubectl(t, "sdc", "unbind", "-n", namespaces[1], "--yes")
	if u.Code != 0 || !strings.Contains(u.Stderr+u.Stdout, "admits every ServiceAccount matching "+pattern+" (bind --subject-pattern), and so still ServiceAccount "+namespaces[1]+"/sdc") ||
		!strings.Contains(u.Stderr+u.Stdout, "narrow the pattern") {
		t.Errorf("unbind of a ServiceAccount the pattern admits: %s", u)
	}
	t.Cleanup(func() {
		kubectl(t, "sdc", "unbind", "-n", namespaces[0], "--yes")
		run(t, nil, "aws", "iam", "detach-role-policy", "--role-name", role, "--policy-arn", "arn:aws:iam::"+sandboxtest.Get(t).AccountID+":policy/"+role)
		run(t, nil, "aws", "iam", "delete-role", "--role-name", role)
	})
}

// providerARNOf is the Federated principal of the trust's first statement.
func providerARNOf(t *testing.T, p *iampolicy.Policy) string {
	t.Helper()
	for _, s := range p.Statements {
		if s.Principal != nil && len(s.Principal.Values["Federated"]) > 0 {
			return s.Principal.Values["Federated"][0]
		}
	}
	t.Fatalf("no Federated principal in %s", p.Canonical())
	return ""
}

// issuerOf is the sandbox cluster's issuer.
func issuerOf(t *testing.T) string { return sandboxtest.Get(t).Issuer }
