package sandbox_test

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox"
	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox/sandboxtest"
)

// The package's sandbox is a fleet of two: "sandbox" in us-west-2 and "sandbox-2" in eu-west-1. The tests
// above see the first cluster through the Sandbox's own fields, as single-cluster users do.

// clientEnv is an environment for kubectl and the aws CLI: the caller's PATH, a HOME of the test's own, the
// sandbox's kubeconfig and AWS files, and no AWS keys or region, so each profile's own are used; extra is
// added (a later duplicate wins).
func clientEnv(t *testing.T, sb *sandbox.Sandbox, extra ...string) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "AWS_EC2_METADATA_DISABLED=true", "AWS_PAGER="}
	for _, k := range []string{"KUBECONFIG", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"} {
		env = append(env, k+"="+sb.EnvMap()[k])
	}
	return append(env, extra...)
}

// runTool runs a client tool found on PATH; a missing tool fails the test (these are the real clients).
func runTool(t *testing.T, env []string, name string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is not on PATH (%v): these tests drive the real %s", name, err, name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("running %s %s: %v", name, strings.Join(args, " "), err)
	}
	return out.String(), errb.String(), code
}

func TestFleetHasTwoClusters(t *testing.T) {
	sb := sandboxtest.Get(t)
	want := []struct{ name, region string }{{"sandbox", "us-west-2"}, {"sandbox-2", "eu-west-1"}}
	if len(sb.Clusters) != len(want) {
		t.Fatalf("%d clusters; want %d", len(sb.Clusters), len(want))
	}
	for i, w := range want {
		c := sb.Clusters[i]
		if c.Name != w.name || c.Context != w.name || c.Profile != w.name || c.Region != w.region || c.AccountID != sb.AccountID {
			t.Errorf("cluster %d = %s/%s/%s in %s, account %s; want %s in %s, account %s", i, c.Name, c.Context, c.Profile, c.Region, c.AccountID, w.name, w.region, sb.AccountID)
		}
	}
	first, second := sb.Clusters[0], sb.Clusters[1]
	if first.APIServerURL != sb.APIServerURL || first.Issuer != sb.Issuer || first.AccessKeyID != sb.AccessKeyID {
		t.Errorf("the Sandbox's own fields do not describe its first cluster")
	}
	if second.APIServerURL == first.APIServerURL || second.Issuer == first.Issuer || bytes.Equal(second.CAPEM, first.CAPEM) || second.Dir == first.Dir {
		t.Errorf("the clusters share an apiserver, issuer, CA or directory")
	}
	if sb.Cluster("sandbox-2") != second || sb.Cluster("sandbox-3") != nil {
		t.Errorf("Cluster by name")
	}
}

// TestContextsReachTheirClustersThroughTheExecPlugin: the real kubectl reaches each cluster through its
// context, authenticated by the exec plugin with the context's AWS profile, and the clusters are distinct.
func TestContextsReachTheirClustersThroughTheExecPlugin(t *testing.T) {
	sb := sandboxtest.Get(t)
	t.Parallel()
	out, errOut, code := runTool(t, clientEnv(t, sb), "kubectl", "config", "current-context")
	if code != 0 || strings.TrimSpace(out) != sandbox.ContextName {
		t.Errorf("current context %q (%s); want %s", out, errOut, sandbox.ContextName)
	}
	for _, c := range sb.Clusters {
		t.Run(c.Context, func(t *testing.T) {
			t.Parallel()
			out, errOut, code := runTool(t, clientEnv(t, sb), "kubectl", "--context", c.Context, "auth", "whoami", "-o", "json")
			if code != 0 {
				t.Fatalf("kubectl auth whoami: exit %d: %s", code, errOut)
			}
			var review authenticationv1.SelfSubjectReview
			if err := json.Unmarshal([]byte(out), &review); err != nil {
				t.Fatal(err)
			}
			u := review.Status.UserInfo
			if u.Username != c.UserARN || !slices.Contains(u.Groups, "system:masters") {
				t.Errorf("whoami: %s in %v; want %s (the profile %s's user) in system:masters", u.Username, u.Groups, c.UserARN, c.Profile)
			}
			out, errOut, code = runTool(t, clientEnv(t, sb), "kubectl", "--context", c.Context, "get", "--raw", "/.well-known/openid-configuration")
			if code != 0 || !strings.Contains(out, `"issuer":"`+c.Issuer+`"`) {
				t.Errorf("the context's discovery document: exit %d %s %s; want issuer %s", code, out, errOut, c.Issuer)
			}
			// With the sandbox's env keys (DIR/env), they win over the profile, as with `aws eks get-token`.
			out, errOut, code = runTool(t, clientEnv(t, sb, "AWS_ACCESS_KEY_ID="+sb.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+sb.SecretAccessKey),
				"kubectl", "--context", c.Context, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}")
			if code != 0 || out != sb.Clusters[0].UserARN {
				t.Errorf("whoami with env keys: exit %d %q %s; want %s", code, out, errOut, sb.Clusters[0].UserARN)
			}
		})
	}
}

// TestProfilesSeeTheirClusters: the real aws CLI with each cluster's profile (its region, keys and the
// sandbox endpoint, from the config files alone) describes that cluster, and lists only it in its region.
func TestProfilesSeeTheirClusters(t *testing.T) {
	sb := sandboxtest.Get(t)
	t.Parallel()
	for _, c := range sb.Clusters {
		t.Run(c.Profile, func(t *testing.T) {
			t.Parallel()
			out, errOut, code := runTool(t, clientEnv(t, sb), "aws", "--profile", c.Profile, "--output", "json", "eks", "describe-cluster", "--name", c.Name)
			if code != 0 {
				t.Fatalf("aws eks describe-cluster --profile %s: exit %d: %s", c.Profile, code, errOut)
			}
			var d struct {
				Cluster struct {
					Arn, Endpoint string
					Identity      struct{ Oidc struct{ Issuer string } }
				}
			}
			if err := json.Unmarshal([]byte(out), &d); err != nil {
				t.Fatal(err)
			}
			wantARN := "arn:aws:eks:" + c.Region + ":" + c.AccountID + ":cluster/" + c.Name
			if d.Cluster.Arn != wantARN || d.Cluster.Endpoint != c.APIServerURL || d.Cluster.Identity.Oidc.Issuer != c.Issuer {
				t.Errorf("describe-cluster = %+v; want %s at %s, issuer %s", d.Cluster, wantARN, c.APIServerURL, c.Issuer)
			}
			out, errOut, code = runTool(t, clientEnv(t, sb), "aws", "--profile", c.Profile, "--output", "json", "eks", "list-clusters")
			var l struct{ Clusters []string }
			if code != 0 || json.Unmarshal([]byte(out), &l) != nil || !slices.Contains(l.Clusters, c.Name) {
				t.Errorf("list-clusters --profile %s: exit %d %s %s; want %s in it", c.Profile, code, out, errOut, c.Name)
			}
			for _, other := range sb.Clusters {
				if other.Region != c.Region && slices.Contains(l.Clusters, other.Name) {
					t.Errorf("list-clusters in %s lists %s, which is in %s", c.Region, other.Name, other.Region)
				}
			}
			out, errOut, code = runTool(t, clientEnv(t, sb), "aws", "--profile", c.Profile, "--output", "json", "sts", "get-caller-identity")
			if code != 0 || !strings.Contains(out, c.UserARN) {
				t.Errorf("get-caller-identity --profile %s: exit %d %s %s; want %s", c.Profile, code, out, errOut, c.UserARN)
			}
		})
	}
	// A cluster is not in another region.
	_, errOut, code := runTool(t, clientEnv(t, sb), "aws", "--profile", "sandbox", "eks", "describe-cluster", "--name", "sandbox-2")
	if code == 0 || !strings.Contains(errOut, "ResourceNotFoundException") {
		t.Errorf("describe-cluster sandbox-2 in us-west-2: exit %d %s; want ResourceNotFoundException", code, errOut)
	}
}

// TestWrongKeysAreRefused: a profile with keys AWS never issued fails AWS calls and its context's kubectl,
// and leaves the other context working.
func TestWrongKeysAreRefused(t *testing.T) {
	sb := sandboxtest.Get(t)
	t.Parallel()
	b, err := os.ReadFile(sb.AWSCredentialsPath)
	if err != nil {
		t.Fatal(err)
	}
	second := sb.Cluster("sandbox-2")
	broken := strings.Replace(string(b), second.AccessKeyID, "AKIAWRONGWRONGWRONG1", 1)
	if broken == string(b) {
		t.Fatalf("the credentials file has no key %s of profile sandbox-2:\n%s", second.AccessKeyID, b)
	}
	path := filepath.Join(t.TempDir(), "credentials")
	if err := os.WriteFile(path, []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append(clientEnv(t, sb), "AWS_SHARED_CREDENTIALS_FILE="+path) // the later value wins
	_, errOut, code := runTool(t, env, "aws", "--profile", "sandbox-2", "sts", "get-caller-identity")
	if want := "An error occurred (InvalidClientTokenId) when calling the GetCallerIdentity operation: The security token included in the request is invalid."; code == 0 || !strings.Contains(errOut, want) {
		t.Errorf("aws sts get-caller-identity --profile sandbox-2 with wrong keys: exit %d %s; want %q", code, errOut, want)
	}
	_, errOut, code = runTool(t, env, "kubectl", "--context", "sandbox-2", "get", "namespace", "default")
	if code == 0 || !strings.Contains(errOut, "You must be logged in to the server") {
		t.Errorf("kubectl --context sandbox-2 with wrong keys: exit %d %s; want the apiserver's 401", code, errOut)
	}
	if _, errOut, code = runTool(t, env, "kubectl", "--context", "sandbox", "get", "namespace", "default"); code != 0 {
		t.Errorf("kubectl --context sandbox beside a broken sandbox-2 profile: exit %d %s", code, errOut)
	}
}

// TestEachClusterHasItsOwnIssuer: TokenRequest tokens of each cluster verify against its own JWKS only, and
// through the AWS endpoint's STS they assume a role trusting that cluster's provider, not the other's.
func TestEachClusterHasItsOwnIssuer(t *testing.T) {
	sb := sandboxtest.Get(t)
	t.Parallel()
	ctx := context.Background()
	cfg := aws.Config{Region: sb.Region, BaseEndpoint: aws.String(sb.AWSEndpoint), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(sb.AccessKeyID, sb.SecretAccessKey, "")}
	iamc, anon := iam.NewFromConfig(cfg), sts.NewFromConfig(aws.Config{Region: sb.Region, BaseEndpoint: aws.String(sb.AWSEndpoint), RetryMaxAttempts: 1, Credentials: aws.AnonymousCredentials{}})
	ns := fmt.Sprintf("fleet-%d", time.Now().UnixNano()%1e6)
	tokens, jwks, roles := map[string]string{}, map[string]jose.JSONWebKeySet{}, map[string]string{}
	for _, c := range sb.Clusters {
		kube, err := kubernetes.NewForConfig(c.RESTConfig)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = kube.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
		if _, err := kube.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "sdc"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		tr, err := kube.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "sdc", &authenticationv1.TokenRequest{
			Spec: authenticationv1.TokenRequestSpec{Audiences: []string{"sts.amazonaws.com"}}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		tokens[c.Name] = tr.Status.Token
		var set jose.JSONWebKeySet
		getJSON(t, anonymousFor(t, c.CAPEM), c.Issuer+"/openid/v1/jwks", &set)
		jwks[c.Name] = set

		host := strings.TrimPrefix(c.Issuer, "https://")
		block, _ := pem.Decode(c.CAPEM)
		ca, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha1.Sum(ca.Raw)
		if _, err := iamc.CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{Url: aws.String(c.Issuer),
			ClientIDList: []string{"sts.amazonaws.com"}, ThumbprintList: []string{hex.EncodeToString(sum[:])}}); err != nil {
			t.Fatalf("OIDC provider for %s: %v", c.Name, err)
		}
		role := ns + "-" + c.Name
		trust := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::%s:oidc-provider/%s"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"%s:sub":"system:serviceaccount:%s:sdc","%s:aud":"sts.amazonaws.com"}}}]}`,
			sb.AccountID, host, host, ns, host)
		out, err := iamc.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(role), AssumeRolePolicyDocument: aws.String(trust)})
		if err != nil {
			t.Fatal(err)
		}
		roles[c.Name] = aws.ToString(out.Role.Arn)
	}
	for _, c := range sb.Clusters {
		for _, other := range sb.Clusters {
			tok, err := jwt.ParseSigned(tokens[c.Name], []jose.SignatureAlgorithm{jose.RS256})
			if err != nil {
				t.Fatal(err)
			}
			var claims jwt.Claims
			verr := tok.Claims(jwks[other.Name], &claims)
			if (verr == nil) != (c == other) {
				t.Errorf("the token of %s against the JWKS of %s: %v", c.Name, other.Name, verr)
			}
			_, err = anon.AssumeRoleWithWebIdentity(ctx, &sts.AssumeRoleWithWebIdentityInput{RoleArn: aws.String(roles[other.Name]),
				RoleSessionName: aws.String("fleet"), WebIdentityToken: aws.String(tokens[c.Name])})
			var ae smithy.APIError
			switch {
			case c == other && err != nil:
				t.Errorf("the token of %s for the role trusting its own provider: %v", c.Name, err)
			case c != other && (!errors.As(err, &ae) || ae.ErrorCode() != "AccessDenied"):
				t.Errorf("the token of %s for the role trusting %s: %v; want AccessDenied", c.Name, other.Name, err)
			}
		}
	}
}

// anonymousFor is an HTTP client that trusts caPEM and presents no credentials, as IAM does.
func anonymousFor(t *testing.T, caPEM []byte) *http.Client {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("CA PEM does not parse")
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

// TestTargetAccount: the second account's admin keys and profile work, and its role is there.
func TestTargetAccount(t *testing.T) {
	sb := sandboxtest.Get(t)
	t.Parallel()
	tg := sb.Target
	if tg.AccountID != sandbox.TargetAccountID || tg.Profile != sandbox.TargetProfile || tg.RoleARN != "arn:aws:iam::"+sandbox.TargetAccountID+":role/"+sandbox.TargetRoleName {
		t.Errorf("target %+v", tg)
	}
	env := sb.EnvMap()
	for k, want := range map[string]string{"SANDBOX_TARGET_ACCOUNT_ID": tg.AccountID, "SANDBOX_TARGET_ACCESS_KEY_ID": tg.AccessKeyID,
		"SANDBOX_TARGET_SECRET_ACCESS_KEY": tg.SecretAccessKey, "SANDBOX_TARGET_PROFILE": tg.Profile, "SANDBOX_TARGET_ROLE_ARN": tg.RoleARN} {
		if env[k] != want || want == "" {
			t.Errorf("DIR/env %s = %q; want %q", k, env[k], want)
		}
	}
	out, errOut, code := runTool(t, clientEnv(t, sb), "aws", "--profile", tg.Profile, "--output", "json", "iam", "get-role", "--role-name", sandbox.TargetRoleName)
	if code != 0 || !strings.Contains(out, tg.RoleARN) || !strings.Contains(out, "arn:aws:iam::"+sb.AccountID+":root") {
		t.Errorf("get-role %s --profile %s: exit %d %s %s; want the role trusting %s", sandbox.TargetRoleName, tg.Profile, code, out, errOut, sb.AccountID)
	}
	// The sandbox account's admin does not see the target account's role.
	if _, errOut, code = runTool(t, clientEnv(t, sb), "aws", "--profile", "sandbox", "iam", "get-role", "--role-name", sandbox.TargetRoleName); code == 0 || !strings.Contains(errOut, "NoSuchEntity") {
		t.Errorf("get-role %s in the sandbox account: exit %d %s; want NoSuchEntity", sandbox.TargetRoleName, code, errOut)
	}
}

// TestStopAPIServer: stopping one cluster's apiserver (on a fleet of its own, since it stays stopped)
// makes that context fail and leaves the other cluster and the AWS endpoint answering.
func TestStopAPIServer(t *testing.T) {
	sandboxtest.Get(t) // skipped under -short, like every test that needs a sandbox
	t.Parallel()
	sb, err := sandboxtest.StartWith(sandbox.Options{Clusters: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sb.Stop()
		if !t.Failed() {
			_ = os.RemoveAll(sb.Dir)
		}
	})
	second := sb.Cluster("sandbox-2")
	pid := second.APIServerPID()
	second.StopAPIServer()
	if err := syscall.Kill(pid, 0); err == nil {
		t.Errorf("the apiserver of sandbox-2 (pid %d) still runs", pid)
	}
	out, errOut, code := runTool(t, clientEnv(t, sb), "kubectl", "--context", "sandbox-2", "get", "namespace", "default", "--request-timeout", "5s")
	if code == 0 || !strings.Contains(errOut, "was refused") {
		t.Errorf("kubectl --context sandbox-2: exit %d %s %s; want the connection refused", code, out, errOut)
	}
	if _, errOut, code := runTool(t, clientEnv(t, sb), "kubectl", "--context", "sandbox", "get", "namespace", "default"); code != 0 {
		t.Errorf("kubectl --context sandbox: exit %d %s", code, errOut)
	}
	if out, errOut, code := runTool(t, clientEnv(t, sb), "aws", "--profile", "sandbox-2", "eks", "describe-cluster", "--name", "sandbox-2"); code != 0 || !strings.Contains(out, second.APIServerURL) {
		t.Errorf("the AWS endpoint still describes sandbox-2: exit %d %s %s", code, out, errOut)
	}
}
