package awsfront

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
)

// targetAccount is the second account of these tests, as the sandbox's.
const targetAccount = "210987654321"

// webIdentity assumes roleARN through the shared front with a token of is for ns/sa and returns the
// session's credentials.
func webIdentity(t *testing.T, is *issuer, roleARN string) *ststypes.Credentials {
	t.Helper()
	anon := sts.NewFromConfig(awsConfig(shared.url, aws.AnonymousCredentials{}))
	out, err := anon.AssumeRoleWithWebIdentity(context.Background(), &sts.AssumeRoleWithWebIdentityInput{
		RoleArn: aws.String(roleARN), RoleSessionName: aws.String("irsa"),
		WebIdentityToken: aws.String(is.token(t, is.claims("ns", "sa", "sts.amazonaws.com"))),
	})
	if err != nil {
		t.Fatalf("assuming %s with a web identity: %v", roleARN, err)
	}
	return out.Credentials
}

// sessionConfig is an SDK configuration with session credentials.
func sessionConfig(c *ststypes.Credentials) aws.Config {
	return awsConfig(shared.url, credentials.NewStaticCredentialsProvider(aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken)))
}

func s3Of(cfg aws.Config) *s3.Client {
	return s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
}

// policyDoc renders statements as a policy document.
func policyDoc(statements ...map[string]any) string {
	b, _ := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": statements})
	return string(b)
}

func allow(action string, resource ...string) map[string]any {
	return map[string]any{"Effect": "Allow", "Action": action, "Resource": resource}
}

func deny(action string, resource ...string) map[string]any {
	return map[string]any{"Effect": "Deny", "Action": action, "Resource": resource}
}

// trusting is a trust policy admitting the AWS principals for sts:AssumeRole.
func trusting(principals ...string) string {
	return policyDoc(map[string]any{"Effect": "Allow", "Principal": map[string]any{"AWS": principals}, "Action": "sts:AssumeRole"})
}

func putRolePolicy(t *testing.T, c *iam.Client, role, doc string) {
	t.Helper()
	if _, err := c.PutRolePolicy(context.Background(), &iam.PutRolePolicyInput{RoleName: aws.String(role), PolicyName: aws.String("inline"), PolicyDocument: aws.String(doc)}); err != nil {
		t.Fatalf("PutRolePolicy %s: %v", role, err)
	}
}

// crossAccount is an IRSA role in the sandbox's account and what a test wires around it in the target.
type crossAccount struct {
	source  *clients // the sandbox account's admin
	target  *clients // the target account's admin
	is      *issuer
	irsa    string // the IRSA role's name
	irsaARN string
	bucket  string // a bucket of the target account
}

// newCrossAccount makes an IRSA role (trusting a fresh issuer for ns/sa) and a bucket in the target account.
func newCrossAccount(t *testing.T) *crossAccount {
	t.Helper()
	ctx := context.Background()
	creds, err := shared.front.CreateAdmin(ctx, targetAccount, uniqueName("target-admin"))
	if err != nil {
		t.Fatal(err)
	}
	src := newClients(adminConfig(shared.url))
	tgt := newClients(awsConfig(shared.url, credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, "")))
	x := &crossAccount{source: &src, target: &tgt, is: newIssuer(t), irsa: uniqueName("irsa"), bucket: strings.ToLower(uniqueName("target-data"))}
	createProvider(t, src.iam, x.is, []string{"sts.amazonaws.com"}, []string{x.is.CAThumbprint})
	x.irsaARN = createRole(t, src.iam, x.irsa, trustPolicy(shared.creds.AccountID, x.is.Host, "StringEquals", "system:serviceaccount:ns:sa", "sts.amazonaws.com"))
	if _, err := tgt.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(x.bucket), CreateBucketConfiguration: usWest2}); err != nil {
		t.Fatalf("the target admin's CreateBucket: %v", err)
	}
	return x
}

// targetRole creates a role in the target account with a trust and an inline policy.
func (x *crossAccount) targetRole(t *testing.T, trust, policy string) (name, arn string) {
	t.Helper()
	name = uniqueName("target")
	arn = createRole(t, x.target.iam, name, trust)
	if policy != "" {
		putRolePolicy(t, x.target.iam, name, policy)
	}
	return name, arn
}

// TestCrossAccountAssumeRole: web identity into the IRSA role, then sts:AssumeRole into a role of the other
// account, whose policy lets the session read and write a bucket there; and the ways STS refuses.
func TestCrossAccountAssumeRole(t *testing.T) {
	integration(t)
	t.Parallel()
	ctx := context.Background()
	x := newCrossAccount(t)
	bucketPolicy := policyDoc(allow("s3:*", "arn:aws:s3:::"+x.bucket, "arn:aws:s3:::"+x.bucket+"/*"))
	_, okARN := x.targetRole(t, trusting(x.irsaARN), bucketPolicy)
	_, otherTrustARN := x.targetRole(t, trusting("arn:aws:iam::"+shared.creds.AccountID+":role/someone-else"), bucketPolicy)
	_, rootTrustARN := x.targetRole(t, trusting("arn:aws:iam::"+shared.creds.AccountID+":root"), bucketPolicy)
	// The IRSA role may assume the first and the third; not the one that trusts someone else, nor a role it
	// was not given.
	putRolePolicy(t, x.source.iam, x.irsa, policyDoc(allow("sts:AssumeRole", okARN, otherTrustARN, rootTrustARN)))

	irsa := sts.NewFromConfig(sessionConfig(webIdentity(t, x.is, x.irsaARN)))
	assume := func(arn string) (*ststypes.Credentials, error) {
		out, err := irsa.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(arn), RoleSessionName: aws.String("sdc-stage")})
		if err != nil {
			return nil, err
		}
		return out.Credentials, nil
	}

	t.Run("allowed: read and write the target's bucket", func(t *testing.T) {
		c, err := assume(okARN)
		if err != nil {
			t.Fatalf("AssumeRole %s: %v", okARN, err)
		}
		cfg := sessionConfig(c)
		id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(id.Account) != targetAccount || !strings.HasSuffix(aws.ToString(id.Arn), "/sdc-stage") {
			t.Errorf("the target session is %s in %s; want an assumed-role session in %s", aws.ToString(id.Arn), aws.ToString(id.Account), targetAccount)
		}
		s3c := s3Of(cfg)
		if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(x.bucket), Key: aws.String("in/a.json"), Body: strings.NewReader(`{"a":1}`)}); err != nil {
			t.Fatalf("PutObject with the target session: %v", err)
		}
		got, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(x.bucket), Key: aws.String("in/a.json")})
		if err != nil {
			t.Fatalf("GetObject with the target session: %v", err)
		}
		b, _ := io.ReadAll(got.Body)
		got.Body.Close()
		if string(b) != `{"a":1}` {
			t.Errorf("read back %q", b)
		}
		// Nothing else: the role's policy names only this bucket.
		_, err = s3c.ListBuckets(ctx, &s3.ListBucketsInput{})
		if code, msg, _ := apiError(t, err); code != "AccessDenied" || !strings.Contains(msg, "because no identity-based policy allows the s3:ListAllMyBuckets action") {
			t.Errorf("ListBuckets: %s %q", code, msg)
		}
	})
	t.Run("a trust that names the account, with the caller's policy allowing it", func(t *testing.T) {
		if _, err := assume(rootTrustARN); err != nil {
			t.Errorf("AssumeRole %s: %v", rootTrustARN, err)
		}
	})
	for _, tc := range []struct{ name, arn string }{
		{"the target's trust does not admit the caller", otherTrustARN},
		{"the caller's policy lacks sts:AssumeRole on it", "arn:aws:iam::" + targetAccount + ":role/" + x.targetRoleName(t, trusting(x.irsaARN))},
		{"the role does not exist", "arn:aws:iam::" + targetAccount + ":role/" + uniqueName("missing")},
	} {
		t.Run("refused: "+tc.name, func(t *testing.T) {
			_, err := assume(tc.arn)
			code, msg, status := apiError(t, err)
			want := "User: arn:aws:sts::" + shared.creds.AccountID + ":assumed-role/" + x.irsa + "/irsa is not authorized to perform: sts:AssumeRole on resource: " + tc.arn
			if code != "AccessDenied" || status != 403 || msg != want {
				t.Errorf("%s %q HTTP %d; want AccessDenied %q HTTP 403", code, msg, status, want)
			}
		})
	}
}

// targetRoleName creates a target role trusting trust with no policy and returns its name.
func (x *crossAccount) targetRoleName(t *testing.T, trust string) string {
	name, _ := x.targetRole(t, trust, "")
	return name
}

// TestSameAccountAssumeRole: within one account a trust naming the caller suffices; a trust naming only the
// account needs the caller's own policy too; an explicit deny refuses either way; chaining caps the duration.
func TestSameAccountAssumeRole(t *testing.T) {
	integration(t)
	t.Parallel()
	ctx := context.Background()
	admin := newClients(adminConfig(shared.url))
	is := newIssuer(t)
	createProvider(t, admin.iam, is, []string{"sts.amazonaws.com"}, []string{is.CAThumbprint})
	irsa := uniqueName("irsa")
	irsaARN := createRole(t, admin.iam, irsa, trustPolicy(shared.creds.AccountID, is.Host, "StringEquals", "system:serviceaccount:ns:sa", "sts.amazonaws.com"))
	named := createRole(t, admin.iam, uniqueName("named"), trusting(irsaARN))
	root := createRole(t, admin.iam, uniqueName("root"), trusting("arn:aws:iam::"+shared.creds.AccountID+":root"))
	denied := createRole(t, admin.iam, uniqueName("denied"), trusting(irsaARN))
	putRolePolicy(t, admin.iam, irsa, policyDoc(deny("sts:AssumeRole", denied)))

	c := sts.NewFromConfig(sessionConfig(webIdentity(t, is, irsaARN)))
	assume := func(arn string, seconds int32) error {
		in := &sts.AssumeRoleInput{RoleArn: aws.String(arn), RoleSessionName: aws.String("sess")}
		if seconds > 0 {
			in.DurationSeconds = aws.Int32(seconds)
		}
		_, err := c.AssumeRole(ctx, in)
		return err
	}
	if err := assume(named, 0); err != nil {
		t.Errorf("a trust naming the caller's role: %v", err)
	}
	if code, _, _ := apiError(t, assume(root, 0)); code != "AccessDenied" {
		t.Errorf("a trust naming the account, no policy of the caller allowing it: %s; want AccessDenied", code)
	}
	if code, _, _ := apiError(t, assume(denied, 0)); code != "AccessDenied" {
		t.Errorf("an explicit deny in the caller's policy: %s; want AccessDenied", code)
	}
	code, msg, _ := apiError(t, assume(named, 7200))
	if code != "ValidationError" || !strings.Contains(msg, "role chaining") {
		t.Errorf("a chained session of 2 h: %s %q; want ValidationError about role chaining", code, msg)
	}
	code, msg, _ = apiError(t, assume(named, 600))
	if code != "ValidationError" || !strings.Contains(msg, "greater than or equal to 900") {
		t.Errorf("a session of 10 min: %s %q; want ValidationError", code, msg)
	}
}

// TestBoundariesAndSessionPolicies: a permissions boundary caps what a role's identity policies allow, for
// web identity and AssumeRole sessions alike, and session policies cap a session further.
func TestBoundariesAndSessionPolicies(t *testing.T) {
	integration(t)
	t.Parallel()
	ctx := context.Background()
	x := newCrossAccount(t)
	objects := "arn:aws:s3:::" + x.bucket + "/*"
	everything := policyDoc(allow("s3:*", "arn:aws:s3:::"+x.bucket, objects))

	// In the target account: a role whose policy allows all of S3 on the bucket, under a boundary that
	// allows only reads.
	boundary, err := x.target.iam.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String(uniqueName("read-only")),
		PolicyDocument: aws.String(policyDoc(allow("s3:GetObject", objects), allow("s3:ListBucket", "arn:aws:s3:::"+x.bucket)))})
	if err != nil {
		t.Fatal(err)
	}
	bounded, boundedARN := x.targetRole(t, trusting(x.irsaARN), everything)
	if _, err := x.target.iam.PutRolePermissionsBoundary(ctx, &iam.PutRolePermissionsBoundaryInput{RoleName: aws.String(bounded), PermissionsBoundary: boundary.Policy.Arn}); err != nil {
		t.Fatal(err)
	}
	_, openARN := x.targetRole(t, trusting(x.irsaARN), everything)
	putRolePolicy(t, x.source.iam, x.irsa, policyDoc(allow("sts:AssumeRole", boundedARN, openARN), allow("s3:*", "*")))
	irsaCreds := webIdentity(t, x.is, x.irsaARN)
	irsa := sts.NewFromConfig(sessionConfig(irsaCreds))

	put := func(c *s3.Client) error {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(x.bucket), Key: aws.String("k"), Body: strings.NewReader("x")})
		return err
	}
	admin := s3Of(awsConfig(shared.url, x.target.iam.Options().Credentials))
	if err := put(admin); err != nil {
		t.Fatal(err)
	}

	t.Run("AssumeRole session under a boundary", func(t *testing.T) {
		out, err := irsa.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(boundedARN), RoleSessionName: aws.String("bounded")})
		if err != nil {
			t.Fatal(err)
		}
		c := s3Of(sessionConfig(out.Credentials))
		code, msg, _ := apiError(t, put(c))
		if code != "AccessDenied" || !strings.Contains(msg, "because no permissions boundary allows the s3:PutObject action") {
			t.Errorf("PutObject: %s %q; want AccessDenied naming the boundary", code, msg)
		}
		if _, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(x.bucket), Key: aws.String("k")}); err != nil {
			t.Errorf("GetObject, which the boundary allows: %v", err)
		}
	})
	t.Run("session policy", func(t *testing.T) {
		out, err := irsa.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(openARN), RoleSessionName: aws.String("narrowed"),
			Policy: aws.String(policyDoc(allow("s3:GetObject", objects)))})
		if err != nil {
			t.Fatal(err)
		}
		c := s3Of(sessionConfig(out.Credentials))
		if code, msg, _ := apiError(t, put(c)); code != "AccessDenied" || !strings.Contains(msg, "because no session policy allows the s3:PutObject action") {
			t.Errorf("PutObject: %s %q; want AccessDenied naming the session policy", code, msg)
		}
		if _, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(x.bucket), Key: aws.String("k")}); err != nil {
			t.Errorf("GetObject, which the session policy allows: %v", err)
		}
	})
	t.Run("web identity session under a boundary with an explicit deny", func(t *testing.T) {
		b, err := x.source.iam.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String(uniqueName("no-put")),
			PolicyDocument: aws.String(policyDoc(allow("s3:*", "*"), deny("s3:PutObject", "*")))})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := x.source.iam.PutRolePermissionsBoundary(ctx, &iam.PutRolePermissionsBoundaryInput{RoleName: aws.String(x.irsa), PermissionsBoundary: b.Policy.Arn}); err != nil {
			t.Fatal(err)
		}
		c := s3Of(sessionConfig(irsaCreds))
		if code, msg, _ := apiError(t, put(c)); code != "AccessDenied" || !strings.Contains(msg, "with an explicit deny in a permissions boundary") {
			t.Errorf("PutObject: %s %q; want AccessDenied from the boundary's deny", code, msg)
		}
	})
}

// TestUserAssumeRole: an IAM user's own and group policies count as a role session's do.
func TestUserAssumeRole(t *testing.T) {
	integration(t)
	t.Parallel()
	ctx := context.Background()
	admin := newClients(adminConfig(shared.url))
	user := uniqueName("user")
	if _, err := admin.iam.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(user)}); err != nil {
		t.Fatal(err)
	}
	key, err := admin.iam.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(user)})
	if err != nil {
		t.Fatal(err)
	}
	userARN := "arn:aws:iam::" + shared.creds.AccountID + ":user/" + user
	named := createRole(t, admin.iam, uniqueName("named"), trusting(userARN))
	root := createRole(t, admin.iam, uniqueName("root"), trusting(shared.creds.AccountID))
	c := sts.NewFromConfig(awsConfig(shared.url, credentials.NewStaticCredentialsProvider(aws.ToString(key.AccessKey.AccessKeyId), aws.ToString(key.AccessKey.SecretAccessKey), "")))
	assume := func(arn string) error {
		_, err := c.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(arn), RoleSessionName: aws.String("user-session")})
		return err
	}
	if err := assume(named); err != nil {
		t.Errorf("a trust naming the user: %v", err)
	}
	code, msg, _ := apiError(t, assume(root))
	if want := "User: " + userARN + " is not authorized to perform: sts:AssumeRole on resource: " + root; code != "AccessDenied" || msg != want {
		t.Errorf("a trust naming the account, the user allowed nothing: %s %q; want AccessDenied %q", code, msg, want)
	}
	group := uniqueName("group")
	if _, err := admin.iam.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String(group)}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.iam.PutGroupPolicy(ctx, &iam.PutGroupPolicyInput{GroupName: aws.String(group), PolicyName: aws.String("assume"), PolicyDocument: aws.String(policyDoc(allow("sts:AssumeRole", root)))}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.iam.AddUserToGroup(ctx, &iam.AddUserToGroupInput{GroupName: aws.String(group), UserName: aws.String(user)}); err != nil {
		t.Fatal(err)
	}
	if err := assume(root); err != nil {
		t.Errorf("a trust naming the account, the user's group allowing it: %v", err)
	}
}
