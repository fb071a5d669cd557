package e2e

import (
	"context"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox"
	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox/sandboxtest"
)

// iamUserEnv makes an IAM user holding exactly the docs/permissions document file, with an access key, and
// returns the environment that makes the plugin call AWS as that user; Kubernetes it reaches as the
// sandbox's admin (a client certificate), so only AWS's decisions are tested.
func iamUserEnv(t *testing.T, file string) []string {
	t.Helper()
	env, _ := iamUserWith(t, strings.TrimSuffix(file, ".json"), permissionsDoc(t, file))
	return env
}

// permissionsDoc is the docs/permissions document file, its OIDC provider statement widened to the
// sandbox's issuer (withSandboxIssuer).
func permissionsDoc(t *testing.T, file string) []byte {
	t.Helper()
	doc, err := os.ReadFile("../../docs/permissions/" + file)
	if err != nil {
		t.Fatal(err)
	}
	return withSandboxIssuer(t, doc)
}

// iamUserWith makes an IAM user (named from prefix) holding exactly doc, with an access key, and returns
// the environment that makes the plugin call AWS as that user, and the key's ID.
func iamUserWith(t *testing.T, prefix string, doc []byte) (env []string, keyID string) {
	t.Helper()
	ctx := context.Background()
	a := awsAdmin(t)
	name := prefix + "-" + strings.TrimPrefix(newBucket(t), "sdc-e2e-")
	if _, err := a.IAM.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(name)}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.IAM.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String(name), PolicyName: aws.String(prefix), PolicyDocument: aws.String(string(doc))}); err != nil {
		t.Fatal(err)
	}
	key, err := a.IAM.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(key.AccessKey.AccessKeyId)
	return []string{"KUBECONFIG=" + sandboxtest.Get(t).Clusters[0].AdminKubeconfigPath, "AWS_ACCESS_KEY_ID=" + id, "AWS_SECRET_ACCESS_KEY=" + aws.ToString(key.AccessKey.SecretAccessKey)}, id
}

// TestBindAsIAMUsers: the sandbox authorizes IAM users' calls, so a user holding exactly bind-policy.json
// binds, users holding doctor-policy.json run doctor and list and one holding unbind-policy.json unbinds
// without a refusal, and one holding only the read-only doctor-policy.json is refused at bind's first IAM write in
// AWS's words, with no role made.
func TestBindAsIAMUsers(t *testing.T) {
	ns := newNamespace(t)
	bucket := newBucket(t)
	if r := run(t, iamUserEnv(t, "bind-policy.json"), "kubectl", "sdc", "bind", "-n", ns, "--bucket", bucket, "--yes"); r.Code != 0 {
		t.Fatalf("bind as a user holding bind-policy.json: %s", r)
	}
	// EKS Pod Identity: the association passes the role to pods.eks.amazonaws.com; the second run re-reads it.
	pods := newNamespace(t)
	bindEnv := iamUserEnv(t, "bind-policy.json")
	for i := range 2 {
		if r := run(t, bindEnv, "kubectl", "sdc", "bind", "-n", pods, "--bucket", bucket, "--mechanism", "pod-identity", "--yes"); r.Code != 0 {
			t.Fatalf("Pod Identity bind #%d as a user holding bind-policy.json: %s", i+1, r)
		}
	}
	for _, tc := range []struct {
		file string
		args []string
	}{
		{"doctor-policy.json", []string{"doctor", "-n", ns}},
		{"doctor-policy.json", []string{"list", "-A"}},
		{"unbind-policy.json", []string{"unbind", "-n", ns, "--yes"}},
	} {
		if r := run(t, iamUserEnv(t, tc.file), "kubectl", append([]string{"sdc"}, tc.args...)...); r.Code != 0 && !(tc.args[0] == "doctor" && r.Code == 2) {
			t.Errorf("kubectl sdc %s as a user holding %s: %s", strings.Join(tc.args, " "), tc.file, r)
		} else if strings.Contains(r.String(), "is not authorized") {
			t.Errorf("kubectl sdc %s as a user holding %s was refused something: %s", strings.Join(tc.args, " "), tc.file, r)
		}
	}
	other := newNamespace(t)
	env, key := iamUserWith(t, "doctor-policy", permissionsDoc(t, "doctor-policy.json"))
	r := run(t, env, "kubectl", "sdc", "bind", "-n", other, "--bucket", bucket, "--yes")
	if r.Code != 1 || !strings.Contains(r.Stderr, "bind refused before writing anything") ||
		!strings.Contains(r.Stderr, "iam:CreateRole on arn:aws:iam::123456789012:role/"+roleName(other, "sdc")+": no policy of arn:aws:iam::123456789012:user/") {
		t.Errorf("bind as a user holding doctor-policy.json: want a refusal before writing naming iam:CreateRole: %s", r)
	}
	noWrites(t, key, other, 0)
}

// noWrites fails the test when the access key made an AWS write call (refused or not), or kubectl-sdc a
// Kubernetes write in the namespace after the first kubeBefore of its writes there (kubeWrites).
func noWrites(t *testing.T, key, ns string, kubeBefore int) {
	t.Helper()
	if w := sandboxtest.Get(t).Front.Calls().WritesByKey[key]; len(w) > 0 {
		t.Errorf("AWS write calls with access key %s: %v; want none", key, w)
	}
	for _, e := range kubeWrites(t, ns)[kubeBefore:] {
		t.Errorf("kubectl-sdc wrote in namespace %s: %s %s", ns, e.Verb, e.RequestURI)
	}
}

// kubeWrites are kubectl-sdc's Kubernetes writes in namespace ns (and of ns itself), in the order made.
func kubeWrites(t *testing.T, ns string) []sandbox.AuditEvent {
	t.Helper()
	events, err := sandboxtest.Get(t).AuditEvents("kubectl-sdc/")
	if err != nil {
		t.Fatal(err)
	}
	var out []sandbox.AuditEvent
	for _, e := range events {
		if o := e.ObjectRef; e.Mutating() && o != nil && (o.Namespace == ns || o.Resource == "namespaces" && o.Name == ns) {
			out = append(out, e)
		}
	}
	return out
}

// withoutAction is an IAM policy document without action in any statement (a statement left with none goes).
func withoutAction(t *testing.T, doc []byte, action string) []byte {
	t.Helper()
	var p struct {
		Version   string
		Statement []map[string]any
	}
	if err := json.Unmarshal(doc, &p); err != nil {
		t.Fatal(err)
	}
	var kept []map[string]any
	found := false
	for _, s := range p.Statement {
		var actions []string
		switch a := s["Action"].(type) {
		case string:
			actions = []string{a}
		case []any:
			for _, x := range a {
				actions = append(actions, x.(string))
			}
		}
		var left []string
		for _, a := range actions {
			if a == action {
				found = true
				continue
			}
			left = append(left, a)
		}
		if len(left) == 0 {
			continue
		}
		s["Action"] = left
		kept = append(kept, s)
	}
	if !found {
		t.Fatalf("the document does not name %s", action)
	}
	p.Statement = kept
	out, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// A user who holds a document but for one action it needs is refused before anything is written, told
// the action, the resource and the document that grants it; AWS and Kubernetes alike.
func TestMissingPermissionsAreRefusedBeforeWriting(t *testing.T) {
	bucket := newBucket(t)
	refused := func(t *testing.T, r result, verb string, want ...string) {
		t.Helper()
		if r.Code != 1 || !strings.Contains(r.Stderr, verb+" refused before writing anything") {
			t.Errorf("want %s refused before writing: %s", verb, r)
		}
		for _, w := range want {
			if !strings.Contains(r.String(), w) {
				t.Errorf("the refusal does not say %q: %s", w, r)
			}
		}
	}
	t.Run("bind without iam:AttachRolePolicy", func(t *testing.T) {
		ns := newNamespace(t)
		env, key := iamUserWith(t, "bind-no-attach", withoutAction(t, permissionsDoc(t, "bind-policy.json"), "iam:AttachRolePolicy"))
		r := run(t, env, "kubectl", "sdc", "bind", "-n", ns, "--bucket", bucket, "--yes")
		refused(t, r, "bind", "iam:AttachRolePolicy on arn:aws:iam::123456789012:role/"+roleName(ns, "sdc"),
			"docs/permissions/bind-policy.json or docs/permissions/bind-policy-boundary.json grants it", "! not allowed: iam:AttachRolePolicy")
		noWrites(t, key, ns, 0)
		// With -o json the refusal's findings are in the result object.
		r = run(t, env, "kubectl", "sdc", "bind", "-n", ns, "--bucket", bucket, "--yes", "-o", "json")
		var out struct {
			Changes []struct {
				Kind   string
				Denied []string
			}
		}
		if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil {
			t.Fatalf("-o json: %v\n%s", err, r)
		}
		denied := 0
		for _, c := range out.Changes {
			denied += len(c.Denied)
		}
		if denied != 1 {
			t.Errorf("-o json: want one denied permission, got %d: %s", denied, r.Stdout)
		}
		noWrites(t, key, ns, 0)
		// --dry-run shows the mark and exits as a dry run does.
		r = run(t, env, "kubectl", "sdc", "bind", "-n", ns, "--bucket", bucket, "--dry-run")
		if r.Code != 0 || !strings.Contains(r.Stdout, "! not allowed: iam:AttachRolePolicy") {
			t.Errorf("--dry-run: %s", r)
		}
	})
	t.Run("bind without patch on serviceaccounts", func(t *testing.T) {
		root, err := sandboxtest.ModuleRoot()
		if err != nil {
			t.Fatal(err)
		}
		if r := kubectl(t, "apply", "-f", filepath.Join(root, "docs", "permissions", "bind-rbac.yaml")); r.Code != 0 {
			t.Fatal(r)
		}
		full, err := kube(t).RbacV1().ClusterRoles().Get(context.Background(), "kubectl-sdc-bind", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		user := "bind-no-sa-patch"
		role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: user}}
		for _, rule := range full.Rules {
			if slices.Contains(rule.Resources, "serviceaccounts") {
				rule.Verbs = slices.DeleteFunc(slices.Clone(rule.Verbs), func(v string) bool { return v == "patch" })
			}
			role.Rules = append(role.Rules, rule)
		}
		if _, err := kube(t).RbacV1().ClusterRoles().Create(context.Background(), role, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { kubectl(t, "delete", "clusterrole", user) })
		if r := kubectl(t, "create", "clusterrolebinding", user, "--clusterrole="+user, "--user="+user); r.Code != 0 {
			t.Fatal(r)
		}
		t.Cleanup(func() { kubectl(t, "delete", "clusterrolebinding", user) })
		ns := newNamespace(t)
		env, key := iamUserWith(t, "bind-full", permissionsDoc(t, "bind-policy.json"))
		r := run(t, env, "kubectl", "sdc", "bind", "-n", ns, "--bucket", bucket, "--yes", "--as", user)
		refused(t, r, "bind", "patch serviceaccounts sdc in namespace "+ns+": Kubernetes does not allow you", "; docs/permissions/bind-rbac.yaml")
		noWrites(t, key, ns, 0)
	})
	t.Run("bind-policy-boundary.json without --permissions-boundary", func(t *testing.T) {
		ns := newNamespace(t)
		env, key := iamUserWith(t, "bind-boundary", permissionsDoc(t, "bind-policy-boundary.json"))
		r := run(t, env, "kubectl", "sdc", "bind", "-n", ns, "--bucket", bucket, "--yes")
		refused(t, r, "bind", "iam:CreateRole on arn:aws:iam::123456789012:role/"+roleName(ns, "sdc"), "only with --permissions-boundary")
		noWrites(t, key, ns, 0)
	})
	t.Run("migrate without eks:CreatePodIdentityAssociation", func(t *testing.T) {
		ns := newNamespace(t)
		if r := kubectl(t, "sdc", "bind", "-n", ns, "--bucket", bucket, "--yes"); r.Code != 0 {
			t.Fatal(r)
		}
		env, key := iamUserWith(t, "migrate-no-association", withoutAction(t, permissionsDoc(t, "bind-policy.json"), "eks:CreatePodIdentityAssociation"))
		before := len(kubeWrites(t, ns))
		r := run(t, env, "kubectl", "sdc", "migrate", "-n", ns, "--yes")
		refused(t, r, "migrate", "eks:CreatePodIdentityAssociation on arn:aws:eks:", "docs/permissions/bind-policy.json")
		noWrites(t, key, ns, before)
	})
	t.Run("unbind without iam:DeleteRole", func(t *testing.T) {
		ns := newNamespace(t)
		if r := kubectl(t, "sdc", "bind", "-n", ns, "--bucket", bucket, "--yes"); r.Code != 0 {
			t.Fatal(r)
		}
		env, key := iamUserWith(t, "unbind-no-delete", withoutAction(t, permissionsDoc(t, "unbind-policy.json"), "iam:DeleteRole"))
		before := len(kubeWrites(t, ns))
		r := run(t, env, "kubectl", "sdc", "unbind", "-n", ns, "--yes")
		refused(t, r, "unbind", "iam:DeleteRole on arn:aws:iam::123456789012:role/"+roleName(ns, "sdc"), "docs/permissions/unbind-policy.json grants it")
		noWrites(t, key, ns, before)
		if _, err := awsAdmin(t).IAM.GetRole(context.Background(), &iam.GetRoleInput{RoleName: aws.String(roleName(ns, "sdc"))}); err != nil {
			t.Errorf("the refused unbind left no role: %v", err)
		}
	})
}

// A refusal the simulator cannot see (here a session policy of the operator's role session; on AWS also a
// service control policy) comes during apply: the report says what failed, what was done and the command
// that finishes the job, and that command converges once the refusal is gone.
func TestAccessDeniedDuringApply(t *testing.T) {
	ctx := context.Background()
	a := awsAdmin(t)
	me, err := a.STS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	ns := newNamespace(t)
	bucket := newBucket(t)
	operator := "operator-" + ns
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + aws.ToString(me.Arn) + `"},"Action":"sts:AssumeRole"}]}`
	if _, err := a.IAM.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(operator), AssumeRolePolicyDocument: aws.String(trust)}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.IAM.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(operator), PolicyName: aws.String("bind"), PolicyDocument: aws.String(string(permissionsDoc(t, "bind-policy.json")))}); err != nil {
		t.Fatal(err)
	}
	session := func(policy string) []string {
		t.Helper()
		in := &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::123456789012:role/" + operator), RoleSessionName: aws.String("operator")}
		if policy != "" {
			in.Policy = aws.String(policy)
		}
		var out *sts.AssumeRoleOutput
		deadline := time.Now().Add(30 * time.Second)
		for out == nil {
			o, err := a.STS.AssumeRole(ctx, in)
			if err == nil {
				out = o
				break
			}
			if time.Now().After(deadline) {
				t.Fatal(err)
			}
			time.Sleep(200 * time.Millisecond) // a role just made: IAM may not show it to STS yet
		}
		c := out.Credentials
		return []string{"KUBECONFIG=" + sandboxtest.Get(t).Clusters[0].AdminKubeconfigPath, "AWS_ACCESS_KEY_ID=" + aws.ToString(c.AccessKeyId),
			"AWS_SECRET_ACCESS_KEY=" + aws.ToString(c.SecretAccessKey), "AWS_SESSION_TOKEN=" + aws.ToString(c.SessionToken)}
	}
	noAttach := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"iam:AttachRolePolicy","Resource":"*"}]}`
	args := []string{"sdc", "bind", "-n", ns, "--bucket", bucket, "--yes"}
	r := run(t, session(noAttach), "kubectl", args...)
	role := roleName(ns, "sdc")
	for _, want := range []string{
		"bind stopped part way: 1 change(s) failed",
		"failed:  IAM role policy attachment " + role,
		"is not authorized to perform: iam:AttachRolePolicy",
		"docs/permissions/bind-policy.json or docs/permissions/bind-policy-boundary.json grants it",
		"done:    IAM policy arn:aws:iam::123456789012:policy/" + role,
		"kubectl sdc bind -n " + ns + " --bucket " + bucket + " --yes",
	} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("the report of a refusal during apply does not say %q: %s", want, r)
		}
	}
	if r.Code != 1 {
		t.Errorf("exit %d, want 1", r.Code)
	}
	// The refusal gone, the same command finishes the job.
	r = run(t, session(""), "kubectl", args...)
	if r.Code != 0 {
		t.Fatalf("the rerun: %s", r)
	}
	attached, err := a.IAM.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String(role)})
	if err != nil || len(attached.AttachedPolicies) != 1 {
		t.Errorf("after the rerun the role's policies: %+v %v", attached, err)
	}
	if r := run(t, session(""), "kubectl", args...); r.Code != 0 || !strings.Contains(r.Stdout, "No changes") {
		t.Errorf("a third run: %s", r)
	}
}

// withSandboxIssuer lets the document's OIDC provider statement cover the sandbox's issuer too: the
// documents name EKS's issuers (oidc.eks.<region>.amazonaws.com/id/<ID>), and the sandbox's apiserver is its
// own issuer, https://127.0.0.1:<port>. Nothing else of the document changes.
func withSandboxIssuer(t *testing.T, doc []byte) []byte {
	t.Helper()
	var p struct {
		Version   string
		Statement []map[string]any
	}
	if err := json.Unmarshal(doc, &p); err != nil {
		t.Fatal(err)
	}
	for _, s := range p.Statement {
		if res, ok := s["Resource"].(string); ok && strings.Contains(res, ":oidc-provider/oidc.eks.") {
			s["Resource"] = []string{res, "arn:aws:iam::*:oidc-provider/127.0.0.1:*"}
		}
	}
	out, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The check before writing asks about every write the command then makes: for each AWS write action the
// user's key made, -v said it was checked (same action; the resources are checked by the refusal tests).
func TestThePreflightAsksAboutEveryWrite(t *testing.T) {
	bucket := newBucket(t)
	checked := func(r result) map[string]bool {
		out := map[string]bool{}
		for _, line := range strings.Split(r.Stderr, "\n") {
			if rest, ok := strings.CutPrefix(line, "checked before writing: "); ok {
				action, _, _ := strings.Cut(rest, " ")
				out[action] = true
			}
		}
		return out
	}
	for _, tc := range []struct {
		name, file string
		args       func(ns string) [][]string // runs in order; the last is the user's
	}{
		{"bind", "bind-policy.json", func(ns string) [][]string {
			return [][]string{{"sdc", "bind", "-n", ns, "--bucket", bucket, "--deployment", "sdc", "--create-deployment", "--image", sdcImage, "--yes", "-v"}}
		}},
		{"bind pod-identity", "bind-policy.json", func(ns string) [][]string {
			return [][]string{{"sdc", "bind", "-n", ns, "--bucket", bucket, "--mechanism", "pod-identity", "--yes", "-v"}}
		}},
		{"bind into a shared role", "bind-policy.json", func(ns string) [][]string {
			role := "sdc-preflight-" + ns
			return [][]string{
				{"sdc", "bind", "-n", ns, "--service-account", "first", "--bucket", bucket, "--role-name", role, "--yes"},
				{"sdc", "bind", "-n", ns, "--service-account", "second", "--bucket", newBucket(t), "--role-name", role, "--yes", "-v"},
			}
		}},
		{"unbind", "unbind-policy.json", func(ns string) [][]string {
			return [][]string{
				{"sdc", "bind", "-n", ns, "--bucket", bucket, "--yes"},
				{"sdc", "unbind", "-n", ns, "--yes", "-v"},
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := newNamespace(t)
			runs := tc.args(ns)
			for _, args := range runs[:len(runs)-1] {
				if r := kubectl(t, args...); r.Code != 0 {
					t.Fatal(r)
				}
			}
			env, key := iamUserWith(t, strings.TrimSuffix(tc.file, ".json"), permissionsDoc(t, tc.file))
			r := run(t, env, "kubectl", runs[len(runs)-1]...)
			if r.Code != 0 {
				t.Fatal(r)
			}
			asked := checked(r)
			wrote := sandboxtest.Get(t).Front.Calls().WritesByKey[key]
			if len(wrote) == 0 {
				t.Fatalf("no AWS write by the user's key: %s", r)
			}
			for action := range wrote {
				if !asked[action] {
					t.Errorf("%s wrote %s without checking it first (checked: %v)", tc.name, action, slices.Sorted(maps.Keys(asked)))
				}
			}
		})
	}
}

// doctor's aws.operator says who may bind and unbind here, with which documented policy's rights: a user
// holding bind-policy.json and unbind-policy.json binds without a boundary (admin-equivalent, said so), one
// holding bind-policy-boundary.json only with the boundary, one holding doctor-policy.json neither.
func TestDoctorSaysWhoMayBind(t *testing.T) {
	ns := newNamespace(t)
	both := func(files ...string) []byte {
		t.Helper()
		var all struct {
			Version   string
			Statement []any
		}
		all.Version = "2012-10-17"
		for _, f := range files {
			var p struct{ Statement []map[string]any }
			if err := json.Unmarshal(permissionsDoc(t, f), &p); err != nil {
				t.Fatal(err)
			}
			for _, st := range p.Statement {
				delete(st, "Sid") // the documents share some Sids, which one policy may not
				all.Statement = append(all.Statement, st)
			}
		}
		out, err := json.Marshal(all)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		doc    []byte
		status string
		says   string
	}{
		{"bind-policy", both("bind-policy.json", "unbind-policy.json"), "pass", "bind-policy.json's rights"},
		{"bind-policy-boundary", both("bind-policy-boundary.json", "unbind-policy.json"), "pass", "--permissions-boundary arn:aws:iam::123456789012:policy/SDCWorkloadBoundary only"},
		{"doctor-policy", both("doctor-policy.json"), "warn", "may neither bind nor unbind"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, _ := iamUserWith(t, tc.name, tc.doc)
			r := run(t, env, "kubectl", "sdc", "doctor", "-n", ns, "-o", "json")
			var rep docReport
			if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
				t.Fatalf("%v\n%s", err, r)
			}
			c := rep.check(t, "aws.operator")
			if c.Status != tc.status || !strings.Contains(c.Title+" "+c.Detail, tc.says) {
				t.Errorf("aws.operator as a user holding %s: %+v", tc.name, c)
			}
		})
	}
}
