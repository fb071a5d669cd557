package awsfront

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// as is the CLI with other credentials (a later duplicate in the environment wins).
func (c *awsCLI) as(key, secret, session string) *awsCLI {
	env := append(append([]string{}, c.env...), "AWS_ACCESS_KEY_ID="+key, "AWS_SECRET_ACCESS_KEY="+secret)
	if session != "" {
		env = append(env, "AWS_SESSION_TOKEN="+session)
	}
	return &awsCLI{path: c.path, env: env, endpoint: c.endpoint}
}

// TestAWSCLIRefusesUnknownKeys: the real CLI with keys AWS never issued gets each service's refusal.
func TestAWSCLIRefusesUnknownKeys(t *testing.T) {
	integration(t)
	t.Parallel()
	cli := newAWSCLI(t, shared.url).as("AKIAUNKNOWNUNKNOWN03", "wrong", "")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"sts", "get-caller-identity"}, "An error occurred (InvalidClientTokenId) when calling the GetCallerIdentity operation: The security token included in the request is invalid."},
		{[]string{"iam", "list-roles"}, "An error occurred (InvalidClientTokenId) when calling the ListRoles operation: The security token included in the request is invalid."},
		{[]string{"s3api", "list-buckets"}, "An error occurred (InvalidAccessKeyId) when calling the ListBuckets operation: The AWS Access Key Id you provided does not exist in our records."},
		{[]string{"eks", "list-clusters"}, "An error occurred (UnrecognizedClientException) when calling the ListClusters operation: The security token included in the request is invalid."},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			t.Parallel()
			if out, errOut, code := cli.run(t, tc.args...); code == 0 || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want a failure printing %q", code, out, errOut, tc.want)
			}
		})
	}
}

// TestAWSCLICrossAccount: with the real CLI, web identity into the IRSA role, then assume-role into the
// other account and write and read its bucket; the refusals; a boundary that lacks s3:PutObject.
func TestAWSCLICrossAccount(t *testing.T) {
	integration(t)
	t.Parallel()
	ctx := context.Background()
	x := newCrossAccount(t)
	objects := "arn:aws:s3:::" + x.bucket + "/*"
	everything := policyDoc(allow("s3:*", "arn:aws:s3:::"+x.bucket, objects))
	_, okARN := x.targetRole(t, trusting(x.irsaARN), everything)
	_, untrustedARN := x.targetRole(t, trusting("arn:aws:iam::"+shared.creds.AccountID+":role/someone-else"), everything)
	_, unlistedARN := x.targetRole(t, trusting(x.irsaARN), everything)
	bounded, boundedARN := x.targetRole(t, trusting(x.irsaARN), everything)
	boundary, err := x.target.iam.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String(uniqueName("reads")),
		PolicyDocument: aws.String(policyDoc(allow("s3:GetObject", objects), allow("s3:ListBucket", "arn:aws:s3:::"+x.bucket)))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := x.target.iam.PutRolePermissionsBoundary(ctx, &iam.PutRolePermissionsBoundaryInput{RoleName: aws.String(bounded), PermissionsBoundary: boundary.Policy.Arn}); err != nil {
		t.Fatal(err)
	}
	putRolePolicy(t, x.source.iam, x.irsa, policyDoc(allow("sts:AssumeRole", okARN, untrustedARN, boundedARN)))

	cli := newAWSCLI(t, shared.url)
	web := cli.ok(t, "sts", "assume-role-with-web-identity", "--role-arn", x.irsaARN, "--role-session-name", "irsa",
		"--web-identity-token", x.is.token(t, x.is.claims("ns", "sa", "sts.amazonaws.com")))
	irsa := cli.as(field(web, "Credentials", "AccessKeyId"), field(web, "Credentials", "SecretAccessKey"), field(web, "Credentials", "SessionToken"))
	session := func(t *testing.T, roleARN string) *awsCLI {
		t.Helper()
		out := irsa.ok(t, "sts", "assume-role", "--role-arn", roleARN, "--role-session-name", "sdc-stage")
		return cli.as(field(out, "Credentials", "AccessKeyId"), field(out, "Credentials", "SecretAccessKey"), field(out, "Credentials", "SessionToken"))
	}
	file := filepath.Join(t.TempDir(), "obj.json")
	if err := os.WriteFile(file, []byte(`{"from":"target"}`), 0o600); err != nil {
		t.Fatal(err)
	}

	t.Run("assume-role into the other account, then write and read its bucket", func(t *testing.T) {
		target := session(t, okARN)
		if id := target.ok(t, "sts", "get-caller-identity"); field(id, "Account") != targetAccount {
			t.Fatalf("the target session is %v; want account %s", id, targetAccount)
		}
		target.ok(t, "s3api", "put-object", "--bucket", x.bucket, "--key", "in/obj.json", "--body", file)
		out := filepath.Join(t.TempDir(), "back.json")
		target.ok(t, "s3api", "get-object", "--bucket", x.bucket, "--key", "in/obj.json", out)
		if b, err := os.ReadFile(out); err != nil || string(b) != `{"from":"target"}` {
			t.Fatalf("read back %q, %v", b, err)
		}
	})
	for _, tc := range []struct{ name, arn string }{
		{"the target's trust does not admit the caller", untrustedARN},
		{"the caller's policy lacks sts:AssumeRole on it", unlistedARN},
	} {
		t.Run("assume-role refused: "+tc.name, func(t *testing.T) {
			want := "An error occurred (AccessDenied) when calling the AssumeRole operation: User: arn:aws:sts::" + shared.creds.AccountID +
				":assumed-role/" + x.irsa + "/irsa is not authorized to perform: sts:AssumeRole on resource: " + tc.arn
			if out, errOut, code := irsa.run(t, "sts", "assume-role", "--role-arn", tc.arn, "--role-session-name", "sdc-stage"); code == 0 || !strings.Contains(errOut, want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want a failure printing %q", code, out, errOut, want)
			}
		})
	}
	t.Run("a boundary without s3:PutObject refuses it although the role's policy allows it", func(t *testing.T) {
		target := session(t, boundedARN)
		_, errOut, code := target.run(t, "s3api", "put-object", "--bucket", x.bucket, "--key", "in/denied.json", "--body", file)
		if want := "because no permissions boundary allows the s3:PutObject action"; code == 0 || !strings.Contains(errOut, "(AccessDenied)") || !strings.Contains(errOut, want) {
			t.Errorf("exit %d, stderr %q; want AccessDenied %q", code, errOut, want)
		}
		target.ok(t, "s3api", "head-bucket", "--bucket", x.bucket)
	})
}
