package e2e

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox/sandboxtest"
)

// iamUserEnv makes an IAM user holding exactly the docs/permissions document file, with an access key, and
// returns the environment that makes the plugin call AWS as that user; Kubernetes it reaches as the
// sandbox's admin (a client certificate), so only AWS's decisions are tested.
func iamUserEnv(t *testing.T, file string) []string {
	t.Helper()
	ctx := context.Background()
	doc, err := os.ReadFile("../../docs/permissions/" + file)
	if err != nil {
		t.Fatal(err)
	}
	doc = withSandboxIssuer(t, doc)
	a := awsAdmin(t)
	name := strings.TrimSuffix(file, ".json") + "-" + strings.TrimPrefix(newBucket(t), "sdc-e2e-")
	if _, err := a.IAM.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(name)}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.IAM.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String(name), PolicyName: aws.String(file), PolicyDocument: aws.String(string(doc))}); err != nil {
		t.Fatal(err)
	}
	key, err := a.IAM.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	return []string{"KUBECONFIG=" + sandboxtest.Get(t).Clusters[0].AdminKubeconfigPath, "AWS_ACCESS_KEY_ID=" + aws.ToString(key.AccessKey.AccessKeyId), "AWS_SECRET_ACCESS_KEY=" + aws.ToString(key.AccessKey.SecretAccessKey)}
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
	r := run(t, iamUserEnv(t, "doctor-policy.json"), "kubectl", "sdc", "bind", "-n", other, "--bucket", bucket, "--yes")
	if r.Code == 0 || !strings.Contains(r.String(), "is not authorized to perform: iam:") {
		t.Errorf("bind as a user holding doctor-policy.json: exit %d; want a refusal naming the IAM action: %s", r.Code, r)
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
