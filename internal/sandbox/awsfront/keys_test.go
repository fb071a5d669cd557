package awsfront

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// TestUnknownKeysAreRefused: keys AWS never issued are refused by every service in its own words, and the
// refusal still counts as a call.
func TestUnknownKeysAreRefused(t *testing.T) {
	integration(t)
	t.Parallel()
	f, url := newFront(t, Config{EKS: shared.eks})
	bad := newClients(awsConfig(url, credentials.NewStaticCredentialsProvider("AKIAUNKNOWNUNKNOWN01", "wrong", "")))
	ctx := context.Background()
	for _, tc := range []struct {
		name       string
		call       func() error
		wantCode   string
		wantStatus int
		wantMsg    string
	}{
		{"sts", func() error { _, err := bad.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); return err },
			"InvalidClientTokenId", 403, "The security token included in the request is invalid."},
		{"iam", func() error { _, err := bad.iam.ListRoles(ctx, &iam.ListRolesInput{}); return err },
			"InvalidClientTokenId", 403, "The security token included in the request is invalid."},
		{"s3", func() error { _, err := bad.s3.ListBuckets(ctx, &s3.ListBucketsInput{}); return err },
			"InvalidAccessKeyId", 403, "The AWS Access Key Id you provided does not exist in our records."},
		{"eks", func() error { _, err := bad.eks.ListClusters(ctx, &eks.ListClustersInput{}); return err },
			"UnrecognizedClientException", 403, "The security token included in the request is invalid."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, msg, status := apiError(t, tc.call())
			if code != tc.wantCode || status != tc.wantStatus || msg != tc.wantMsg {
				t.Errorf("%s %q HTTP %d; want %s %q HTTP %d", code, msg, status, tc.wantCode, tc.wantMsg, tc.wantStatus)
			}
		})
	}
	if got := f.Calls(); got.ByAction["sts:GetCallerIdentity"] != 1 || got.ByAction["s3:ListBuckets"] != 1 {
		t.Errorf("refused calls not counted: %+v", got.ByAction)
	}
	// The admin keys, bootstrapped through another front over the same moto, are known here too.
	if _, err := newClients(adminConfig(url)).sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
		t.Errorf("the admin keys on a second front: %v", err)
	}
}

// TestAccessKeyLifecycle: a key made with iam:CreateAccessKey works at once, stops working while Inactive
// and for good once deleted; a deleted user's keys die with it.
func TestAccessKeyLifecycle(t *testing.T) {
	integration(t)
	t.Parallel()
	ctx := context.Background()
	admin := newClients(adminConfig(shared.url))
	user := uniqueName("keys")
	if _, err := admin.iam.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(user), Path: aws.String("/team/")}); err != nil {
		t.Fatal(err)
	}
	key, err := admin.iam.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(user)})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(key.AccessKey.AccessKeyId)
	as := sts.NewFromConfig(awsConfig(shared.url, credentials.NewStaticCredentialsProvider(id, aws.ToString(key.AccessKey.SecretAccessKey), "")))
	whoami := func() error { _, err := as.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); return err }

	out, err := as.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("a new key: %v", err)
	}
	if want := "arn:aws:iam::" + shared.creds.AccountID + ":user/team/" + user; aws.ToString(out.Arn) != want {
		t.Errorf("caller %s; want %s", aws.ToString(out.Arn), want)
	}
	setStatus := func(s iamtypes.StatusType) {
		t.Helper()
		if _, err := admin.iam.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String(user), AccessKeyId: aws.String(id), Status: s}); err != nil {
			t.Fatal(err)
		}
	}
	setStatus(iamtypes.StatusTypeInactive)
	if code, _, _ := apiError(t, whoami()); code != "InvalidClientTokenId" {
		t.Errorf("an Inactive key: %s; want InvalidClientTokenId", code)
	}
	setStatus(iamtypes.StatusTypeActive)
	if err := whoami(); err != nil {
		t.Errorf("the key made Active again: %v", err)
	}
	if _, err := admin.iam.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String(user), AccessKeyId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := apiError(t, whoami()); code != "InvalidClientTokenId" {
		t.Errorf("a deleted key: %s; want InvalidClientTokenId", code)
	}

	second, err := admin.iam.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(user)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.iam.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String(user), AccessKeyId: second.AccessKey.AccessKeyId}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.iam.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String(user)}); err != nil {
		t.Fatal(err)
	}
	gone := sts.NewFromConfig(awsConfig(shared.url, credentials.NewStaticCredentialsProvider(aws.ToString(second.AccessKey.AccessKeyId), "x", "")))
	_, err = gone.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if code, _, _ := apiError(t, err); code != "InvalidClientTokenId" {
		t.Errorf("a deleted user's key: %s; want InvalidClientTokenId", code)
	}
}

// TestSessionKeysNeedTheirToken: a session's key works only with the session token STS gave with it.
func TestSessionKeysNeedTheirToken(t *testing.T) {
	integration(t)
	t.Parallel()
	ctx := context.Background()
	admin := newClients(adminConfig(shared.url))
	is := newIssuer(t)
	createProvider(t, admin.iam, is, []string{"sts.amazonaws.com"}, []string{is.CAThumbprint})
	role := uniqueName("tok")
	roleARN := createRole(t, admin.iam, role, trustPolicy(shared.creds.AccountID, is.Host, "StringEquals", "system:serviceaccount:ns:sa", "sts.amazonaws.com"))
	if _, err := admin.iam.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(role), PolicyName: aws.String("s3"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListAllMyBuckets","Resource":"*"}]}`)}); err != nil {
		t.Fatal(err)
	}
	c := webIdentity(t, is, roleARN)
	with := func(token string) (stsErr, s3Err error) {
		cfg := awsConfig(shared.url, credentials.NewStaticCredentialsProvider(aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), token))
		_, stsErr = sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		_, s3Err = s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }).ListBuckets(ctx, &s3.ListBucketsInput{})
		return stsErr, s3Err
	}
	if stsErr, s3Err := with(aws.ToString(c.SessionToken)); stsErr != nil || s3Err != nil {
		t.Fatalf("with its token: sts %v, s3 %v", stsErr, s3Err)
	}
	for _, tc := range []struct {
		name, token       string
		wantSTS, wantS3   string
		wantS3HTTP        int
		wantS3MsgContains string
	}{
		{"another token", "not-" + aws.ToString(c.SessionToken), "InvalidClientTokenId", "InvalidToken", http.StatusBadRequest, "malformed or otherwise invalid"},
		{"no token", "", "InvalidClientTokenId", "InvalidAccessKeyId", http.StatusForbidden, "does not exist in our records"},
	} {
		stsErr, s3Err := with(tc.token)
		if code, _, _ := apiError(t, stsErr); code != tc.wantSTS {
			t.Errorf("%s: sts %s; want %s", tc.name, code, tc.wantSTS)
		}
		if code, msg, status := apiError(t, s3Err); code != tc.wantS3 || status != tc.wantS3HTTP || !strings.Contains(msg, tc.wantS3MsgContains) {
			t.Errorf("%s: s3 %s %q HTTP %d; want %s HTTP %d", tc.name, code, msg, status, tc.wantS3, tc.wantS3HTTP)
		}
	}
}

// TestExpiredSessionsAreRefused: a session used after its Expiration gets STS's ExpiredToken.
func TestExpiredSessionsAreRefused(t *testing.T) {
	integration(t)
	t.Parallel()
	f, url := newFront(t, Config{})
	f.rememberKey("ASIAEXPIREDEXPIRED01", &principal{Account: shared.creds.AccountID, ARN: "arn:aws:sts::" + shared.creds.AccountID + ":assumed-role/r/s",
		RoleName: "r", RoleARN: "arn:aws:iam::" + shared.creds.AccountID + ":role/r", SessionToken: "tok", Expires: parseExpiration("2020-01-01T00:00:00Z")})
	_, err := sts.NewFromConfig(awsConfig(url, credentials.NewStaticCredentialsProvider("ASIAEXPIREDEXPIRED01", "x", "tok"))).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if code, msg, status := apiError(t, err); code != "ExpiredToken" || status != 403 || msg != "The security token included in the request is expired" {
		t.Errorf("%s %q HTTP %d; want ExpiredToken 403", code, msg, status)
	}
}
