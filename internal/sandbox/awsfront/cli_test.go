package awsfront

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// awsCLI runs the real aws CLI against an endpoint in an environment of its own: no profile, no keys but
// the ones given, no instance metadata.
type awsCLI struct {
	path     string
	env      []string
	endpoint string
}

func newAWSCLI(t *testing.T, endpoint string) *awsCLI {
	t.Helper()
	path, err := exec.LookPath("aws")
	if err != nil {
		t.Fatalf("the aws CLI is not on PATH (%v): install awscli (Debian: apt-get install awscli; or pip install awscli) to run these tests, or run unit tests only with go test -short", err)
	}
	dir := t.TempDir()
	cfgFile, credFile := filepath.Join(dir, "config"), filepath.Join(dir, "credentials")
	for _, f := range []string{cfgFile, credFile} {
		if err := os.WriteFile(f, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	env = append(env,
		"AWS_CONFIG_FILE="+cfgFile, "AWS_SHARED_CREDENTIALS_FILE="+credFile, "AWS_EC2_METADATA_DISABLED=true",
		"AWS_ENDPOINT_URL="+endpoint, "AWS_ACCESS_KEY_ID="+shared.creds.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+shared.creds.SecretAccessKey,
		// CLI v1 reads the region only from AWS_DEFAULT_REGION.
		"AWS_DEFAULT_REGION=us-west-2", "AWS_REGION=us-west-2", "AWS_PAGER=", "AWS_MAX_ATTEMPTS=1",
	)
	return &awsCLI{path: path, env: env, endpoint: endpoint}
}

// run runs the CLI with JSON output and returns stdout, stderr and the exit code.
func (c *awsCLI) run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// --endpoint-url as well as AWS_ENDPOINT_URL: CLI versions before 2.13 (Debian's awscli, say) ignore the
	// variable.
	cmd := exec.CommandContext(ctx, c.path, append([]string{"--output", "json", "--endpoint-url", c.endpoint}, args...)...)
	cmd.Env = c.env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("running aws %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), errb.String(), code
}

// ok runs the CLI, requires success and decodes its JSON output.
func (c *awsCLI) ok(t *testing.T, args ...string) map[string]any {
	t.Helper()
	out, errOut, code := c.run(t, args...)
	if code != 0 {
		t.Fatalf("aws %s exited %d: %s", strings.Join(args, " "), code, errOut)
	}
	var v map[string]any
	if strings.TrimSpace(out) == "" {
		return v
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("aws %s printed no JSON: %v\n%s", strings.Join(args, " "), err, out)
	}
	return v
}

// field walks a decoded JSON object by keys.
func field(v any, path ...string) string {
	for _, k := range path {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	s, _ := v.(string)
	return s
}

func TestAWSCLI(t *testing.T) {
	integration(t)
	t.Parallel()
	cli := newAWSCLI(t, shared.url)
	is := newIssuer(t)
	role := uniqueName("cli-role")
	bucket := strings.ToLower(uniqueName("cli-bkt"))
	trust := trustPolicy(shared.creds.AccountID, is.Host, "StringEquals", "system:serviceaccount:ns:sa", "sts.amazonaws.com")
	var roleARN string

	// The steps build on each other, so they run in order.
	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"sts get-caller-identity", func(t *testing.T) {
			id := cli.ok(t, "sts", "get-caller-identity")
			if field(id, "Account") != shared.creds.AccountID || !strings.HasSuffix(field(id, "Arn"), ":user/"+AdminUser) {
				t.Fatalf("get-caller-identity = %v; want account %s, user %s", id, shared.creds.AccountID, AdminUser)
			}
		}},
		{"iam create-role", func(t *testing.T) {
			out := cli.ok(t, "iam", "create-role", "--role-name", role, "--assume-role-policy-document", trust)
			roleARN = field(out, "Role", "Arn")
			if roleARN != "arn:aws:iam::"+shared.creds.AccountID+":role/"+role {
				t.Fatalf("create-role ARN %q", roleARN)
			}
		}},
		{"iam get-role", func(t *testing.T) {
			if got := field(cli.ok(t, "iam", "get-role", "--role-name", role), "Role", "RoleName"); got != role {
				t.Fatalf("get-role RoleName %q; want %s", got, role)
			}
		}},
		{"iam create-policy", func(t *testing.T) {
			out := cli.ok(t, "iam", "create-policy", "--policy-name", role, "--policy-document",
				`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::`+bucket+`/*"}]}`)
			if want := "arn:aws:iam::" + shared.creds.AccountID + ":policy/" + role; field(out, "Policy", "Arn") != want {
				t.Fatalf("create-policy ARN %q; want %s", field(out, "Policy", "Arn"), want)
			}
		}},
		{"iam create-open-id-connect-provider", func(t *testing.T) {
			out := cli.ok(t, "iam", "create-open-id-connect-provider", "--url", is.URL, "--client-id-list", "sts.amazonaws.com", "--thumbprint-list", is.CAThumbprint)
			if want := "arn:aws:iam::" + shared.creds.AccountID + ":oidc-provider/" + is.Host; field(out, "OpenIDConnectProviderArn") != want {
				t.Fatalf("provider ARN %q; want %s", field(out, "OpenIDConnectProviderArn"), want)
			}
		}},
		{"eks describe-cluster", func(t *testing.T) {
			out := cli.ok(t, "eks", "describe-cluster", "--name", "sandbox")
			if field(out, "cluster", "identity", "oidc", "issuer") != shared.eks.Issuer || field(out, "cluster", "endpoint") != shared.eks.Endpoint || field(out, "cluster", "status") != "ACTIVE" {
				t.Fatalf("describe-cluster sandbox = %v", out)
			}
		}},
		{"s3api create-bucket and put-object", func(t *testing.T) {
			cli.ok(t, "s3api", "create-bucket", "--bucket", bucket, "--create-bucket-configuration", "LocationConstraint=us-west-2")
			file := filepath.Join(t.TempDir(), "obj.json")
			if err := os.WriteFile(file, []byte(`{"from":"cli"}`), 0o600); err != nil {
				t.Fatal(err)
			}
			if out := cli.ok(t, "s3api", "put-object", "--bucket", bucket, "--key", "in/obj.json", "--body", file); field(out, "ETag") == "" {
				t.Fatalf("put-object printed no ETag: %v", out)
			}
			// Read it back with a client we did not just use.
			got, err := newClients(adminConfig(shared.url)).s3.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("in/obj.json")})
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(got.Body)
			got.Body.Close()
			if string(b) != `{"from":"cli"}` {
				t.Fatalf("object body %q", b)
			}
		}},
		{"sts assume-role-with-web-identity accepted", func(t *testing.T) {
			out := cli.ok(t, "sts", "assume-role-with-web-identity", "--role-arn", roleARN, "--role-session-name", "cli-session",
				"--web-identity-token", is.token(t, is.claims("ns", "sa", "sts.amazonaws.com")))
			if field(out, "Credentials", "AccessKeyId") == "" || !strings.HasSuffix(field(out, "AssumedRoleUser", "Arn"), ":assumed-role/"+role+"/cli-session") {
				t.Fatalf("assume-role-with-web-identity = %v", out)
			}
		}},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.run) {
			t.FailNow()
		}
	}

	// Refusals: the CLI must print STS's own code and message.
	refusals := []struct {
		name   string
		claims func(map[string]any)
		want   string
	}{
		{"another subject", func(c map[string]any) { c["sub"] = "system:serviceaccount:ns:other" },
			"An error occurred (AccessDenied) when calling the AssumeRoleWithWebIdentity operation: Not authorized to perform sts:AssumeRoleWithWebIdentity"},
		{"wrong audience", func(c map[string]any) { c["aud"] = "someone-else" },
			"An error occurred (InvalidIdentityToken) when calling the AssumeRoleWithWebIdentity operation: Incorrect token audience"},
		{"expired", func(c map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() },
			"An error occurred (ExpiredTokenException) when calling the AssumeRoleWithWebIdentity operation: Token expired"},
	}
	for _, r := range refusals {
		t.Run("sts assume-role-with-web-identity refused: "+r.name, func(t *testing.T) {
			t.Parallel()
			c := is.claims("ns", "sa", "sts.amazonaws.com")
			r.claims(c)
			out, errOut, code := cli.run(t, "sts", "assume-role-with-web-identity", "--role-arn", roleARN, "--role-session-name", "cli-session", "--web-identity-token", is.token(t, c))
			if code == 0 || !strings.Contains(errOut, r.want) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want a failure printing %q", code, out, errOut, r.want)
			}
		})
	}
}
