package awsfront

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

func TestAssumeRoleWithWebIdentity(t *testing.T) {
	integration(t)
	t.Parallel()
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	const ns, sa, aud = "streamsets", "sdc", "sts.amazonaws.com"
	cases := []struct {
		name       string
		noProvider bool
		clientIDs  []string                                         // default: aud
		thumbprint func(is *issuer) string                          // default: the CA's
		noRole     bool                                             // the role is never created
		trustOp    string                                           // default StringEquals
		trustSub   string                                           // default system:serviceaccount:ns:sa
		claims     func(map[string]any)                             // changes to the default claims
		sign       func(*testing.T, *issuer, map[string]any) string // default: the issuer's key
		wantCode   string                                           // "" means accepted
		wantMsg    string
		wantStatus int
	}{
		{name: "accepted"},
		{name: "StringLike wildcard trust accepted", trustOp: "StringLike", trustSub: "system:serviceaccount:" + ns + ":*"},
		{name: "audience list with one known audience accepted", claims: func(c map[string]any) { c["aud"] = []string{"other", aud} }},
		{name: "provider missing", noProvider: true, wantCode: "InvalidIdentityToken", wantMsg: "No OpenIDConnect provider found in your account for https://127.0.0.1:", wantStatus: 400},
		{name: "audience not in the provider", clientIDs: []string{"some-other-client"}, wantCode: "InvalidIdentityToken", wantMsg: "Incorrect token audience", wantStatus: 400},
		{name: "token audience wrong", claims: func(c map[string]any) { c["aud"] = []string{"sts.amazon.com"} }, wantCode: "InvalidIdentityToken", wantMsg: "Incorrect token audience", wantStatus: 400},
		{name: "bad thumbprint", thumbprint: func(*issuer) string { return "0123456789abcdef0123456789abcdef01234567" }, wantCode: "InvalidIdentityToken", wantMsg: "OpenIDConnect provider's HTTPS certificate doesn't match configured thumbprint", wantStatus: 400},
		{name: "leaf thumbprint is not the top of the chain", thumbprint: func(is *issuer) string { return is.LeafThumbprint }, wantCode: "InvalidIdentityToken", wantMsg: "doesn't match configured thumbprint", wantStatus: 400},
		{name: "upper-case thumbprint accepted", thumbprint: func(is *issuer) string { return strings.ToUpper(is.CAThumbprint) }},
		{name: "wrong signing key", sign: func(t *testing.T, is *issuer, c map[string]any) string { return signToken(t, otherKey, is.kid, c) }, wantCode: "InvalidIdentityToken", wantStatus: 400},
		{name: "unknown key id", sign: func(t *testing.T, is *issuer, c map[string]any) string {
			return signToken(t, otherKey, "no-such-kid", c)
		}, wantCode: "InvalidIdentityToken", wantStatus: 400},
		{name: "not a JWT", sign: func(*testing.T, *issuer, map[string]any) string { return "not.a-jwt-at-all" }, wantCode: "InvalidIdentityToken", wantMsg: "not a valid JWT", wantStatus: 400},
		{name: "expired", claims: func(c map[string]any) {
			c["iat"], c["nbf"], c["exp"] = time.Now().Add(-2*time.Hour).Unix(), time.Now().Add(-2*time.Hour).Unix(), time.Now().Add(-time.Hour).Unix()
		}, wantCode: "ExpiredTokenException", wantMsg: "Token expired", wantStatus: 400},
		{name: "not yet valid", claims: func(c map[string]any) { c["nbf"] = time.Now().Add(time.Hour).Unix() }, wantCode: "ExpiredTokenException", wantStatus: 400},
		{name: "role missing", noRole: true, wantCode: "AccessDenied", wantMsg: "Not authorized to perform sts:AssumeRoleWithWebIdentity", wantStatus: 403},
		{name: "trust for another subject", trustSub: "system:serviceaccount:" + ns + ":someone-else", wantCode: "AccessDenied", wantMsg: "Not authorized to perform sts:AssumeRoleWithWebIdentity", wantStatus: 403},
		{name: "wrong namespace", claims: func(c map[string]any) { c["sub"] = "system:serviceaccount:default:" + sa }, wantCode: "AccessDenied", wantStatus: 403},
	}
	admin := newClients(adminConfig(shared.url))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			is := newIssuer(t)
			if !tc.noProvider {
				ids := tc.clientIDs
				if ids == nil {
					ids = []string{aud}
				}
				tp := is.CAThumbprint
				if tc.thumbprint != nil {
					tp = tc.thumbprint(is)
				}
				createProvider(t, admin.iam, is, ids, []string{tp})
			}
			roleName := uniqueName("irsa")
			roleARN := "arn:aws:iam::" + shared.creds.AccountID + ":role/" + roleName
			if !tc.noRole {
				op, sub := "StringEquals", "system:serviceaccount:"+ns+":"+sa
				if tc.trustOp != "" {
					op = tc.trustOp
				}
				if tc.trustSub != "" {
					sub = tc.trustSub
				}
				roleARN = createRole(t, admin.iam, roleName, trustPolicy(shared.creds.AccountID, is.Host, op, sub, aud))
			}
			claims := is.claims(ns, sa, aud)
			if tc.claims != nil {
				tc.claims(claims)
			}
			tok := ""
			if tc.sign != nil {
				tok = tc.sign(t, is, claims)
			} else {
				tok = is.token(t, claims)
			}

			anon := sts.NewFromConfig(awsConfig(shared.url, aws.AnonymousCredentials{}))
			out, err := anon.AssumeRoleWithWebIdentity(ctx, &sts.AssumeRoleWithWebIdentityInput{
				RoleArn: aws.String(roleARN), RoleSessionName: aws.String("test-session"), WebIdentityToken: aws.String(tok),
			})
			if tc.wantCode != "" {
				code, msg, status := apiError(t, err)
				if code != tc.wantCode || !strings.Contains(msg, tc.wantMsg) || status != tc.wantStatus {
					t.Fatalf("got %s %q (HTTP %d); want %s containing %q (HTTP %d)", code, msg, status, tc.wantCode, tc.wantMsg, tc.wantStatus)
				}
				return
			}
			if err != nil {
				t.Fatalf("AssumeRoleWithWebIdentity refused a valid token: %v", err)
			}
			// The minted credentials work and belong to the role.
			sess := sts.NewFromConfig(awsConfig(shared.url, credentials.NewStaticCredentialsProvider(
				aws.ToString(out.Credentials.AccessKeyId), aws.ToString(out.Credentials.SecretAccessKey), aws.ToString(out.Credentials.SessionToken))))
			id, err := sess.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			if err != nil {
				t.Fatalf("GetCallerIdentity with the session: %v", err)
			}
			if want := ":assumed-role/" + roleName + "/test-session"; !strings.HasSuffix(aws.ToString(id.Arn), want) {
				t.Fatalf("session ARN %s; want it to end in %s", aws.ToString(id.Arn), want)
			}
		})
	}
}

// TestAssumeRoleWithWebIdentityQueryGET checks the unsigned GET form of the call (query parameters), which
// moto alone would route to S3.
func TestAssumeRoleWithWebIdentityQueryGET(t *testing.T) {
	integration(t)
	t.Parallel()
	admin := newClients(adminConfig(shared.url))
	is := newIssuer(t)
	createProvider(t, admin.iam, is, []string{"sts.amazonaws.com"}, []string{is.CAThumbprint})
	roleName := uniqueName("irsa-get")
	roleARN := createRole(t, admin.iam, roleName, trustPolicy(shared.creds.AccountID, is.Host, "StringEquals", "system:serviceaccount:a:b", "sts.amazonaws.com"))
	for _, tc := range []struct {
		name, sub string
		want      int
		wantBody  string
	}{
		{"accepted", "system:serviceaccount:a:b", http.StatusOK, "<AccessKeyId>"},
		{"refused", "system:serviceaccount:a:c", http.StatusForbidden, "<Code>AccessDenied</Code>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := is.claims("a", "b", "sts.amazonaws.com")
			c["sub"] = tc.sub
			q := "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleSessionName=s1&RoleArn=" + roleARN + "&WebIdentityToken=" + is.token(t, c)
			resp, err := http.Get(shared.url + "/?" + q)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body := readAll(t, resp)
			if resp.StatusCode != tc.want || !strings.Contains(body, tc.wantBody) {
				t.Fatalf("HTTP %d %s; want %d with %s", resp.StatusCode, body, tc.want, tc.wantBody)
			}
		})
	}
}

// TestClientIDChanges: moto lacks Add/RemoveClientID; the front does them, and STS follows the change.
func TestClientIDChanges(t *testing.T) {
	integration(t)
	t.Parallel()
	ctx := context.Background()
	admin := newClients(adminConfig(shared.url))
	is := newIssuer(t)
	arn := createProvider(t, admin.iam, is, []string{"first"}, []string{is.CAThumbprint})
	if _, err := admin.iam.TagOpenIDConnectProvider(ctx, &iam.TagOpenIDConnectProviderInput{OpenIDConnectProviderArn: aws.String(arn), Tags: []iamtypes.Tag{{Key: aws.String("owner"), Value: aws.String("test")}}}); err != nil {
		t.Fatal(err)
	}
	roleARN := createRole(t, admin.iam, uniqueName("cid"), trustPolicy(shared.creds.AccountID, is.Host, "StringEquals", "system:serviceaccount:ns:sa", "sts.amazonaws.com"))
	assume := func() error {
		anon := sts.NewFromConfig(awsConfig(shared.url, aws.AnonymousCredentials{}))
		_, err := anon.AssumeRoleWithWebIdentity(ctx, &sts.AssumeRoleWithWebIdentityInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("s"), WebIdentityToken: aws.String(is.token(t, is.claims("ns", "sa", "sts.amazonaws.com")))})
		return err
	}
	if code, msg, _ := apiError(t, assume()); code != "InvalidIdentityToken" || msg != "Incorrect token audience" {
		t.Fatalf("before the add: %s %q", code, msg)
	}
	for i := 0; i < 2; i++ { // adding twice is not an error
		if _, err := admin.iam.AddClientIDToOpenIDConnectProvider(ctx, &iam.AddClientIDToOpenIDConnectProviderInput{OpenIDConnectProviderArn: aws.String(arn), ClientID: aws.String("sts.amazonaws.com")}); err != nil {
			t.Fatalf("AddClientIDToOpenIDConnectProvider: %v", err)
		}
	}
	p, err := admin.iam.GetOpenIDConnectProvider(ctx, &iam.GetOpenIDConnectProviderInput{OpenIDConnectProviderArn: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.ClientIDList, []string{"first", "sts.amazonaws.com"}) || !slices.Equal(p.ThumbprintList, []string{is.CAThumbprint}) || len(p.Tags) != 1 {
		t.Fatalf("after the add: client IDs %v, thumbprints %v, tags %v", p.ClientIDList, p.ThumbprintList, p.Tags)
	}
	if err := assume(); err != nil {
		t.Fatalf("after the add: %v", err)
	}
	if _, err := admin.iam.RemoveClientIDFromOpenIDConnectProvider(ctx, &iam.RemoveClientIDFromOpenIDConnectProviderInput{OpenIDConnectProviderArn: aws.String(arn), ClientID: aws.String("sts.amazonaws.com")}); err != nil {
		t.Fatalf("RemoveClientIDFromOpenIDConnectProvider: %v", err)
	}
	if code, _, _ := apiError(t, assume()); code != "InvalidIdentityToken" {
		t.Fatalf("after the remove: %s", code)
	}
	_, err = admin.iam.AddClientIDToOpenIDConnectProvider(ctx, &iam.AddClientIDToOpenIDConnectProviderInput{OpenIDConnectProviderArn: aws.String(arn + "-missing"), ClientID: aws.String("x")})
	if code, _, status := apiError(t, err); code != "NoSuchEntity" || status != 404 {
		t.Fatalf("add to a missing provider: %s HTTP %d; want NoSuchEntity 404", code, status)
	}
}

// TestPresignedGetCallerIdentity: a query-signed STS call, as `aws eks get-token` makes, reaches STS.
func TestPresignedGetCallerIdentity(t *testing.T) {
	integration(t)
	t.Parallel()
	f, url := newFront(t, Config{})
	pre, err := sts.NewPresignClient(sts.NewFromConfig(adminConfig(url))).PresignGetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(pre.Method, pre.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range pre.SignedHeader {
		req.Header[k] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body := readAll(t, resp)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "<GetCallerIdentityResult>") {
		t.Fatalf("presigned GetCallerIdentity: HTTP %d %s", resp.StatusCode, body)
	}
	if n := f.Calls().ByAction["sts:GetCallerIdentity"]; n != 1 {
		t.Fatalf("counted %d sts:GetCallerIdentity; want 1", n)
	}
}
