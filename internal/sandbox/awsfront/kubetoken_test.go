package awsfront

import (
	"context"
	"encoding/base64"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox/credential"
)

// TestVerifyKubeToken: EKS bearer tokens made by the sandbox's exec plugin and by the real `aws eks
// get-token` verify for their cluster only, with the right secret, within 15 minutes, and say who made them.
func TestVerifyKubeToken(t *testing.T) {
	integration(t)
	t.Parallel()
	ctx := context.Background()
	now := time.Now()
	f := shared.front
	token := func(t *testing.T, key, secret, session, cluster string) string {
		t.Helper()
		tok, err := credential.TokenFor(ctx, awsConfig(shared.url, credentials.NewStaticCredentialsProvider(key, secret, session)), cluster)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	admin := token(t, shared.creds.AccessKeyID, shared.creds.SecretAccessKey, "", "fleet-a")
	id, err := f.VerifyKubeToken(ctx, admin, "fleet-a", now)
	if err != nil {
		t.Fatalf("the admin's token: %v", err)
	}
	if want := "arn:aws:iam::" + shared.creds.AccountID + ":user/" + AdminUser; id.ARN != want || id.CanonicalARN != want || id.Account != shared.creds.AccountID || id.AccessKeyID != shared.creds.AccessKeyID {
		t.Errorf("identity %+v; want %s", id, want)
	}

	// A role session's token names the session and maps by the role.
	is := newIssuer(t)
	c := newClients(adminConfig(shared.url))
	createProvider(t, c.iam, is, []string{"sts.amazonaws.com"}, []string{is.CAThumbprint})
	role := uniqueName("kube")
	roleARN := createRole(t, c.iam, role, trustPolicy(shared.creds.AccountID, is.Host, "StringEquals", "system:serviceaccount:ns:sa", "sts.amazonaws.com"))
	sess := webIdentity(t, is, roleARN)
	id, err = f.VerifyKubeToken(ctx, token(t, aws.ToString(sess.AccessKeyId), aws.ToString(sess.SecretAccessKey), aws.ToString(sess.SessionToken), "fleet-a"), "fleet-a", now)
	if err != nil {
		t.Fatalf("a session's token: %v", err)
	}
	if id.CanonicalARN != roleARN || id.SessionName != "irsa" || !strings.Contains(id.ARN, ":assumed-role/"+role+"/irsa") {
		t.Errorf("session identity %+v; want role %s, session irsa", id, roleARN)
	}

	// What the real CLI makes verifies too.
	cli := newAWSCLI(t, shared.url)
	out := cli.ok(t, "eks", "get-token", "--cluster-name", "fleet-a")
	if _, err := f.VerifyKubeToken(ctx, field(out, "status", "token"), "fleet-a", time.Now()); err != nil {
		t.Errorf("the token of `aws eks get-token`: %v", err)
	}

	user := uniqueName("kube-user")
	if _, err := c.iam.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(user)}); err != nil {
		t.Fatal(err)
	}
	key, err := c.iam.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(user)})
	if err != nil {
		t.Fatal(err)
	}
	userID, userSecret := aws.ToString(key.AccessKey.AccessKeyId), aws.ToString(key.AccessKey.SecretAccessKey)

	// A token whose URL asks for something else than GetCallerIdentity.
	raw, _ := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(admin, credential.TokenPrefix))
	u, _ := url.Parse(string(raw))
	q := u.Query()
	q.Set("Action", "GetSessionToken")
	u.RawQuery = q.Encode()
	otherAction := credential.TokenPrefix + base64.RawURLEncoding.EncodeToString([]byte(u.String()))

	for _, tc := range []struct {
		name, token, cluster string
		at                   time.Time
		want                 string
	}{
		{"another cluster", admin, "fleet-b", now, "signature does not match"},
		{"a wrong secret", token(t, shared.creds.AccessKeyID, "not-the-secret", "", "fleet-a"), "fleet-a", now, "signature does not match"},
		{"an unknown key", token(t, "AKIAUNKNOWNUNKNOWN02", "x", "", "fleet-a"), "fleet-a", now, "InvalidClientTokenId"},
		{"too old", admin, "fleet-a", now.Add(16 * time.Minute), "token expired"},
		{"not a token", "Bearer abc", "fleet-a", now, "prefix"},
		{"another action", otherAction, "fleet-a", now, "not GetCallerIdentity"},
		{"a session key without its token", token(t, aws.ToString(sess.AccessKeyId), aws.ToString(sess.SecretAccessKey), "", "fleet-a"), "fleet-a", now, "InvalidClientTokenId"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.VerifyKubeToken(ctx, tc.token, tc.cluster, tc.at)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v; want it to say %q", err, tc.want)
			}
		})
	}
	if _, err := f.VerifyKubeToken(ctx, token(t, userID, userSecret, "", "fleet-a"), "fleet-a", time.Now()); err != nil {
		t.Errorf("a key made with CreateAccessKey: %v", err)
	}
	// A key whose secret the front never saw cannot be verified, so it is refused.
	other, _ := newFront(t, Config{})
	if _, err := other.VerifyKubeToken(ctx, token(t, userID, userSecret, "", "fleet-a"), "fleet-a", time.Now()); err == nil || !strings.Contains(err.Error(), "does not know the secret") {
		t.Errorf("a key issued through another front: %v", err)
	}
}
