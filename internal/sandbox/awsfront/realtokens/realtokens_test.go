// Package realtokens checks the AWS front's STS against tokens minted by the sandbox apiserver's
// TokenRequest API, the tokens IRSA pods present.
package realtokens

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox"
	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox/sandboxtest"
)

func TestMain(m *testing.M) { sandboxtest.Main(m) }

const aud = "sts.amazonaws.com"

// env is what every test here needs from the one sandbox.
type env struct {
	sb          *sandbox.Sandbox
	kube        kubernetes.Interface
	iam         *iam.Client
	host        string // the issuer without https://
	providerARN string
	thumbprint  string // SHA-1 of the last certificate the apiserver presents
	leafPrint   string // SHA-1 of the first one
}

func setup(t *testing.T) *env {
	t.Helper()
	sb := sandboxtest.Get(t)
	kube, err := kubernetes.NewForConfig(sb.RESTConfig)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(sb.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := tls.Dial("tcp", u.Host, &tls.Config{InsecureSkipVerify: true}) // we only read the chain
	if err != nil {
		t.Fatalf("reading the apiserver's TLS chain: %v", err)
	}
	chain := conn.ConnectionState().PeerCertificates
	conn.Close()
	top, leaf := sha1.Sum(chain[len(chain)-1].Raw), sha1.Sum(chain[0].Raw)
	host := strings.TrimPrefix(sb.Issuer, "https://")
	return &env{
		sb: sb, kube: kube, iam: iam.NewFromConfig(adminConfig(sb)), host: host,
		providerARN: "arn:aws:iam::" + sb.AccountID + ":oidc-provider/" + host,
		thumbprint:  hex.EncodeToString(top[:]), leafPrint: hex.EncodeToString(leaf[:]),
	}
}

func awsConfig(sb *sandbox.Sandbox, creds aws.CredentialsProvider) aws.Config {
	return aws.Config{Region: sb.Region, Credentials: creds, BaseEndpoint: aws.String(sb.AWSEndpoint), RetryMaxAttempts: 1}
}

func adminConfig(sb *sandbox.Sandbox) aws.Config {
	return awsConfig(sb, credentials.NewStaticCredentialsProvider(sb.AccessKeyID, sb.SecretAccessKey, ""))
}

// serviceAccount makes namespace ns and service account sa in it.
func (e *env) serviceAccount(t *testing.T, ns, sa string) {
	t.Helper()
	ctx := context.Background()
	if _, err := e.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	if _, err := e.kube.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// token asks the apiserver's TokenRequest API for a token of ns/sa with the audience.
func (e *env) token(t *testing.T, ns, sa, audience string) string {
	t.Helper()
	ttl := int64(600) // TokenRequest's minimum
	tr, err := e.kube.CoreV1().ServiceAccounts(ns).CreateToken(context.Background(), sa, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{Audiences: []string{audience}, ExpirationSeconds: &ttl},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("TokenRequest for %s/%s: %v", ns, sa, err)
	}
	return tr.Status.Token
}

// role creates a role trusting the sandbox issuer's provider for sub (with op) and audience aud.
func (e *env) role(t *testing.T, name, op, sub string) string {
	t.Helper()
	cond := map[string]map[string]string{"StringEquals": {e.host + ":aud": aud}}
	if cond[op] == nil {
		cond[op] = map[string]string{}
	}
	cond[op][e.host+":sub"] = sub
	doc, _ := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
		"Effect": "Allow", "Principal": map[string]string{"Federated": e.providerARN},
		"Action": "sts:AssumeRoleWithWebIdentity", "Condition": cond,
	}}})
	out, err := e.iam.CreateRole(context.Background(), &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(string(doc))})
	if err != nil {
		t.Fatalf("creating role %s: %v", name, err)
	}
	return aws.ToString(out.Role.Arn)
}

// assume calls sts:AssumeRoleWithWebIdentity through the sandbox's AWS endpoint without credentials.
func (e *env) assume(roleARN, token string) (*sts.AssumeRoleWithWebIdentityOutput, error) {
	c := sts.NewFromConfig(awsConfig(e.sb, aws.AnonymousCredentials{}))
	return c.AssumeRoleWithWebIdentity(context.Background(), &sts.AssumeRoleWithWebIdentityInput{
		RoleArn: aws.String(roleARN), RoleSessionName: aws.String("kube"), WebIdentityToken: aws.String(token),
	})
}

// expect checks the outcome of assume: wantCode "" means accepted.
func expect(t *testing.T, out *sts.AssumeRoleWithWebIdentityOutput, err error, wantCode, wantMsg string, wantStatus int) {
	t.Helper()
	if wantCode == "" {
		if err != nil {
			t.Fatalf("refused: %v", err)
		}
		if aws.ToString(out.Credentials.AccessKeyId) == "" {
			t.Fatal("accepted without credentials")
		}
		return
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("got %v; want %s", err, wantCode)
	}
	status := 0
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	if ae.ErrorCode() != wantCode || !strings.Contains(ae.ErrorMessage(), wantMsg) || status != wantStatus {
		t.Fatalf("got %s %q (HTTP %d); want %s containing %q (HTTP %d)", ae.ErrorCode(), ae.ErrorMessage(), status, wantCode, wantMsg, wantStatus)
	}
}

// resign changes a real token's claims and signs it again with key under the token's own kid.
func resign(t *testing.T, token string, key any, change func(map[string]any)) string {
	t.Helper()
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	claims := map[string]any{}
	if err := tok.UnsafeClaimsWithoutVerification(&claims); err != nil {
		t.Fatal(err)
	}
	change(claims)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", tok.Headers[0].KeyID))
	if err != nil {
		t.Fatal(err)
	}
	out, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// apiserverKey reads the apiserver's service-account signing key.
func apiserverKey(t *testing.T, path string) any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		t.Fatalf("%s holds no PEM", path)
	}
	if k, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		return k
	}
	k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil {
		t.Fatalf("%s: not a PKCS#8 or PKCS#1 private key: %v", path, err)
	}
	return k
}

// TestKubernetesTokens walks the provider through its states (missing, without the audience, complete,
// wrong thumbprint), so its phases run in order; the cases inside a phase run in parallel.
func TestKubernetesTokens(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	const ns, sa = "streamsets", "sdc"
	e.serviceAccount(t, ns, sa)
	e.serviceAccount(t, "other", sa)
	roleARN := e.role(t, "kube-sdc", "StringEquals", "system:serviceaccount:"+ns+":"+sa)
	wildcardARN := e.role(t, "kube-sdc-wildcard", "StringLike", "system:serviceaccount:"+ns+":*")
	if _, err := e.iam.GetOpenIDConnectProvider(ctx, &iam.GetOpenIDConnectProviderInput{OpenIDConnectProviderArn: aws.String(e.providerARN)}); err == nil {
		t.Fatalf("provider %s exists before the test made it", e.providerARN)
	}

	t.Run("provider missing", func(t *testing.T) {
		out, err := e.assume(roleARN, e.token(t, ns, sa, aud))
		expect(t, out, err, "InvalidIdentityToken", "No OpenIDConnect provider found in your account for "+e.sb.Issuer, 400)
	})

	if _, err := e.iam.CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{
		Url: aws.String(e.sb.Issuer), ClientIDList: []string{"some-other-client"}, ThumbprintList: []string{e.thumbprint},
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = e.iam.DeleteOpenIDConnectProvider(ctx, &iam.DeleteOpenIDConnectProviderInput{OpenIDConnectProviderArn: aws.String(e.providerARN)})
	})
	t.Run("provider without the audience", func(t *testing.T) {
		out, err := e.assume(roleARN, e.token(t, ns, sa, aud))
		expect(t, out, err, "InvalidIdentityToken", "Incorrect token audience", 400)
	})

	if _, err := e.iam.AddClientIDToOpenIDConnectProvider(ctx, &iam.AddClientIDToOpenIDConnectProviderInput{OpenIDConnectProviderArn: aws.String(e.providerARN), ClientID: aws.String(aud)}); err != nil {
		t.Fatal(err)
	}
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("provider complete", func(t *testing.T) {
		cases := []struct {
			name       string
			role       string
			token      func(t *testing.T) string
			wantCode   string
			wantMsg    string
			wantStatus int
		}{
			{name: "right service account", role: roleARN, token: func(t *testing.T) string { return e.token(t, ns, sa, aud) }},
			{name: "StringLike wildcard trust", role: wildcardARN, token: func(t *testing.T) string { return e.token(t, ns, sa, aud) }},
			{name: "wrong namespace", role: roleARN, token: func(t *testing.T) string { return e.token(t, "other", sa, aud) },
				wantCode: "AccessDenied", wantMsg: "Not authorized to perform sts:AssumeRoleWithWebIdentity", wantStatus: 403},
			{name: "wrong audience", role: roleARN, token: func(t *testing.T) string { return e.token(t, ns, sa, "vault") },
				wantCode: "InvalidIdentityToken", wantMsg: "Incorrect token audience", wantStatus: 400},
			{name: "expired", role: roleARN, token: func(t *testing.T) string {
				// The signature is genuinely the issuer's; only the lifetime is over.
				return resign(t, e.token(t, ns, sa, aud), apiserverKey(t, e.sb.ServiceAccountKeyPath), func(c map[string]any) {
					past := time.Now().Add(-2 * time.Hour).Unix()
					c["iat"], c["nbf"], c["exp"] = past, past, past+600
				})
			}, wantCode: "ExpiredTokenException", wantMsg: "Token expired", wantStatus: 400},
			{name: "signed by another key", role: roleARN, token: func(t *testing.T) string {
				return resign(t, e.token(t, ns, sa, aud), otherKey, func(map[string]any) {})
			}, wantCode: "InvalidIdentityToken", wantStatus: 400},
			{name: "role missing", role: "arn:aws:iam::" + e.sb.AccountID + ":role/kube-no-such-role", token: func(t *testing.T) string { return e.token(t, ns, sa, aud) },
				wantCode: "AccessDenied", wantMsg: "Not authorized to perform sts:AssumeRoleWithWebIdentity", wantStatus: 403},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				out, err := e.assume(tc.role, tc.token(t))
				expect(t, out, err, tc.wantCode, tc.wantMsg, tc.wantStatus)
			})
		}
	})

	t.Run("S3 with the session of a real token", func(t *testing.T) {
		bucket := "kubetoken-" + strings.ToLower(hex.EncodeToString(otherKey.PublicKey.N.Bytes()[:4]))
		admin := s3.NewFromConfig(adminConfig(e.sb), func(o *s3.Options) { o.UsePathStyle = true })
		if _, err := admin.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket), CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraintUsWest2}}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.iam.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("kube-sdc"), PolicyName: aws.String("s3"), PolicyDocument: aws.String(
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::` + bucket + `/out/*"}]}`)}); err != nil {
			t.Fatal(err)
		}
		out, err := e.assume(roleARN, e.token(t, ns, sa, aud))
		if err != nil {
			t.Fatal(err)
		}
		c := out.Credentials
		sess := s3.NewFromConfig(awsConfig(e.sb, credentials.NewStaticCredentialsProvider(aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken))), func(o *s3.Options) { o.UsePathStyle = true })
		if _, err := sess.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("out/a"), Body: strings.NewReader("a")}); err != nil {
			t.Errorf("PutObject allowed by the role's policy: %v", err)
		}
		_, err = sess.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("in/a"), Body: strings.NewReader("a")})
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDenied" {
			t.Errorf("PutObject outside the role's policy: %v; want AccessDenied", err)
		}
	})

	// Last: a thumbprint that is not the top of the apiserver's chain breaks every token.
	if _, err := e.iam.UpdateOpenIDConnectProviderThumbprint(ctx, &iam.UpdateOpenIDConnectProviderThumbprintInput{
		OpenIDConnectProviderArn: aws.String(e.providerARN), ThumbprintList: []string{e.leafPrint},
	}); err != nil {
		t.Fatal(err)
	}
	t.Run("thumbprint of the leaf, not the CA", func(t *testing.T) {
		out, err := e.assume(roleARN, e.token(t, ns, sa, aud))
		expect(t, out, err, "InvalidIdentityToken", "OpenIDConnect provider's HTTPS certificate doesn't match configured thumbprint", 400)
	})
}

func TestEKSDescribeClusterReturnsTheRealIssuer(t *testing.T) {
	sb := sandboxtest.Get(t)
	out, err := eks.NewFromConfig(adminConfig(sb)).DescribeCluster(context.Background(), &eks.DescribeClusterInput{Name: aws.String(sandbox.ClusterName)})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(out.Cluster.Identity.Oidc.Issuer); got != sb.Issuer {
		t.Errorf("issuer %q; want the apiserver's %q", got, sb.Issuer)
	}
	if got := aws.ToString(out.Cluster.Endpoint); got != sb.APIServerURL {
		t.Errorf("endpoint %q; want %q", got, sb.APIServerURL)
	}
	// The issuer in DescribeCluster is the one the apiserver really puts in its tokens.
	e := setup(t)
	e.serviceAccount(t, "issuer-check", "sa")
	tok, err := jwt.ParseSigned(e.token(t, "issuer-check", "sa", aud), []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	var claims jwt.Claims
	if err := tok.UnsafeClaimsWithoutVerification(&claims); err != nil {
		t.Fatal(err)
	}
	if claims.Issuer != aws.ToString(out.Cluster.Identity.Oidc.Issuer) {
		t.Errorf("tokens carry iss %q; DescribeCluster says %q", claims.Issuer, aws.ToString(out.Cluster.Identity.Oidc.Issuer))
	}
}
