package awsfront

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
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
)

// The package's integration tests share one moto; each test makes its own names (and its own front when it
// changes faults or reads counts) so they can run in parallel.
var shared struct {
	moto  *Moto
	front *Front
	url   string // the shared front's URL
	creds Credentials
	eks   *EKSCluster
}

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run()) // unit tests only
	}
	code, err := runWithMoto(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "awsfront tests:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func runWithMoto(m *testing.M) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "awsfront-test-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	mo, err := StartMoto(ctx, MotoOptions{Dir: dir})
	if err != nil {
		return 0, err
	}
	defer mo.Stop()
	shared.moto = mo
	shared.eks = &EKSCluster{
		Name:     "sandbox",
		Endpoint: "https://127.0.0.1:6443",
		CAData:   []byte("-----BEGIN CERTIFICATE-----\nMIIBtest\n-----END CERTIFICATE-----\n"),
		Issuer:   "https://127.0.0.1:6443",
		Version:  "1.34",
	}
	f, srv, err := startFront(ctx, Config{EKS: shared.eks})
	if err != nil {
		return 0, err
	}
	defer srv.Close()
	shared.front, shared.url = f, srv.URL
	shared.creds, err = f.Bootstrap(ctx)
	if err != nil {
		return 0, err
	}
	return m.Run(), nil
}

// startFront makes a front over the shared moto and serves it on a loopback port.
func startFront(ctx context.Context, cfg Config) (*Front, *httptest.Server, error) {
	cfg.MotoURL = shared.moto.URL
	f, err := New(cfg)
	if err != nil {
		return nil, nil, err
	}
	return f, httptest.NewServer(f), nil
}

// integration marks a test that needs moto; under -short it is skipped (the documented unit-only mode).
func integration(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs moto_server; runs without -short")
	}
	if shared.moto == nil {
		t.Fatal("moto is not running: TestMain failed to start it")
	}
}

// newFront gives a test its own front (own faults and counts) over the shared moto, with the admin keys.
func newFront(t *testing.T, cfg Config) (*Front, string) {
	t.Helper()
	f, srv, err := startFront(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	f.mu.Lock()
	f.admin = shared.creds
	f.mu.Unlock()
	return f, srv.URL
}

// awsConfig is an SDK configuration that talks to endpoint with the given keys.
func awsConfig(endpoint string, creds aws.CredentialsProvider) aws.Config {
	return aws.Config{
		Region:           "us-west-2",
		Credentials:      creds,
		BaseEndpoint:     aws.String(endpoint),
		RetryMaxAttempts: 1,
		HTTPClient:       &http.Client{Timeout: 30 * time.Second},
	}
}

func adminConfig(endpoint string) aws.Config {
	return awsConfig(endpoint, credentials.NewStaticCredentialsProvider(shared.creds.AccessKeyID, shared.creds.SecretAccessKey, ""))
}

type clients struct {
	iam *iam.Client
	sts *sts.Client
	eks *eks.Client
	s3  *s3.Client
}

func newClients(cfg aws.Config) clients {
	return clients{
		iam: iam.NewFromConfig(cfg),
		sts: sts.NewFromConfig(cfg),
		eks: eks.NewFromConfig(cfg),
		s3:  s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }),
	}
}

// usWest2 is the bucket configuration S3 wants for a bucket outside us-east-1.
var usWest2 = &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraintUsWest2}

// apiError returns the AWS error code, message and HTTP status of err, or fails the test.
func apiError(t *testing.T, err error) (code, msg string, status int) {
	t.Helper()
	if err == nil {
		t.Fatal("the call succeeded; want an AWS error")
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error is not an AWS API error: %v", err)
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	return ae.ErrorCode(), ae.ErrorMessage(), status
}

// names makes names unique to one test run, so parallel tests never share IAM entities in moto.
var nameSeq atomic.Int64

func uniqueName(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, time.Now().UnixNano()%1e6, nameSeq.Add(1))
}

// issuer is an OIDC issuer for tests: an HTTPS server presenting a two-certificate chain (leaf, then CA, as
// the sandbox apiserver does) that serves discovery and JWKS, and signs tokens.
type issuer struct {
	URL            string
	Host           string // URL without https://
	CAThumbprint   string // SHA-1 of the last certificate of the chain, what IAM wants
	LeafThumbprint string
	CAPEM          []byte // the CA of the chain, for clients that trust it as a cluster's CA
	key            *rsa.PrivateKey
	kid            string
	srv            *httptest.Server
}

func newIssuer(t *testing.T) *issuer {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test issuer CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	signKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	is := &issuer{key: signKey, kid: uniqueName("kid")}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": is.URL, "jwks_uri": is.URL + "/openid/v1/jwks", "id_token_signing_alg_values_supported": []string{"RS256"}})
	})
	mux.HandleFunc("/openid/v1/jwks", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &signKey.PublicKey, KeyID: is.kid, Algorithm: "RS256", Use: "sig"}}})
	})
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are what some tests want
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{leafDER, caDER}, PrivateKey: leafKey}}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	is.srv = srv
	is.URL = srv.URL
	is.Host = strings.TrimPrefix(srv.URL, "https://")
	caSum, leafSum := sha1.Sum(caDER), sha1.Sum(leafDER)
	is.CAThumbprint, is.LeafThumbprint = hex.EncodeToString(caSum[:]), hex.EncodeToString(leafSum[:])
	is.CAPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	return is
}

// claims are the usual claims of a projected service account token for ns/sa, valid for an hour.
func (is *issuer) claims(ns, sa, aud string) map[string]any {
	now := time.Now()
	return map[string]any{
		"iss": is.URL, "sub": "system:serviceaccount:" + ns + ":" + sa, "aud": []string{aud},
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
}

// token signs claims with the issuer's key.
func (is *issuer) token(t *testing.T, claims map[string]any) string {
	t.Helper()
	return signToken(t, is.key, is.kid, claims)
}

func signToken(t *testing.T, key *rsa.PrivateKey, kid string, claims map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// trustPolicy is an IRSA trust policy for the issuer's provider with the given condition operator on sub.
func trustPolicy(account, host, op, sub, aud string) string {
	cond := map[string]map[string]string{"StringEquals": {host + ":aud": aud}}
	if cond[op] == nil {
		cond[op] = map[string]string{}
	}
	cond[op][host+":sub"] = sub
	doc := map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
		"Effect":    "Allow",
		"Principal": map[string]string{"Federated": "arn:aws:iam::" + account + ":oidc-provider/" + host},
		"Action":    "sts:AssumeRoleWithWebIdentity",
		"Condition": cond,
	}}}
	b, _ := json.Marshal(doc)
	return string(b)
}

// createProvider registers the issuer in IAM with the given client IDs and thumbprints.
func createProvider(t *testing.T, c *iam.Client, is *issuer, clientIDs, thumbprints []string) string {
	t.Helper()
	out, err := c.CreateOpenIDConnectProvider(context.Background(), &iam.CreateOpenIDConnectProviderInput{
		Url: aws.String(is.URL), ClientIDList: clientIDs, ThumbprintList: thumbprints,
	})
	if err != nil {
		t.Fatalf("creating the OIDC provider for %s: %v", is.URL, err)
	}
	arn := aws.ToString(out.OpenIDConnectProviderArn)
	t.Cleanup(func() {
		_, _ = c.DeleteOpenIDConnectProvider(context.Background(), &iam.DeleteOpenIDConnectProviderInput{OpenIDConnectProviderArn: aws.String(arn)})
	})
	return arn
}

// createRole creates a role with a trust policy and returns its ARN.
func createRole(t *testing.T, c *iam.Client, name, trust string) string {
	t.Helper()
	out, err := c.CreateRole(context.Background(), &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(trust)})
	if err != nil {
		t.Fatalf("creating role %s: %v", name, err)
	}
	return aws.ToString(out.Role.Arn)
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
