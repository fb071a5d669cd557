package aws

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// recorded is one request as the server saw it.
type recorded struct {
	Method, Path, UserAgent, Authorization string
	Body                                   string
}

// awsServer is an httptest server that records every request and answers with respond.
type awsServer struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []recorded
}

func newAWSServer(t *testing.T, respond func(w http.ResponseWriter, r recorded, n int)) *awsServer {
	t.Helper()
	s := &awsServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec := recorded{
			Method: r.Method, Path: r.URL.Path, UserAgent: r.Header.Get("User-Agent"),
			Authorization: r.Header.Get("Authorization"), Body: string(body),
		}
		s.mu.Lock()
		s.reqs = append(s.reqs, rec)
		n := len(s.reqs)
		s.mu.Unlock()
		respond(w, rec, n)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *awsServer) requests() []recorded {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]recorded(nil), s.reqs...)
}

const callerIdentityXML = `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
<GetCallerIdentityResult><Arn>arn:aws-cn:iam::111122223333:user/alice</Arn><UserId>AIDAEXAMPLE</UserId><Account>111122223333</Account></GetCallerIdentityResult>
<ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata></GetCallerIdentityResponse>`

// staticAt points the SDK at endpoint with fixed credentials, so no test depends on the machine's AWS setup.
func staticAt(endpoint string) []func(*config.LoadOptions) error {
	return []func(*config.LoadOptions) error{
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", "")),
		config.WithBaseEndpoint(endpoint),
	}
}

// isolateEnv keeps the developer's own AWS files and variables out of a test that reads the chain.
func isolateEnv(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	for _, k := range []string{"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION",
		"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_IAM", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

func TestUserAgentStartsWithPlugin(t *testing.T) {
	t.Parallel()
	srv := newAWSServer(t, func(w http.ResponseWriter, r recorded, _ int) {
		if strings.Contains(r.Body, "Action=GetCallerIdentity") {
			_, _ = io.WriteString(w, callerIdentityXML)
			return
		}
		w.WriteHeader(http.StatusNotFound) // every other call may fail: only the header matters here
	})
	c, err := Load(context.Background(), Options{Region: "us-west-2"}, staticAt(srv.URL)...)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.Identity(ctx); err != nil {
		t.Fatalf("Identity: %v", err)
	}
	_, _ = c.IAM.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("r")})
	_, _ = c.EKS.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String("c")})
	_, _ = c.S3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("b")})

	reqs := srv.requests()
	if len(reqs) < 4 {
		t.Fatalf("server saw %d requests, want at least 4 (STS, IAM, EKS, S3)", len(reqs))
	}
	for _, r := range reqs {
		if !strings.HasPrefix(r.UserAgent, "kubectl-sdc/") {
			t.Errorf("%s %s: User-Agent %q does not start with kubectl-sdc/", r.Method, r.Path, r.UserAgent)
		}
		if strings.Count(r.UserAgent, "kubectl-sdc/") != 1 {
			t.Errorf("%s %s: User-Agent %q names the plugin more than once", r.Method, r.Path, r.UserAgent)
		}
		if !strings.Contains(r.UserAgent, "aws-sdk-go-v2/") {
			t.Errorf("%s %s: User-Agent %q lost the SDK's own agent", r.Method, r.Path, r.UserAgent)
		}
	}
}

func TestIdentityPartitionFromARN(t *testing.T) {
	t.Parallel()
	srv := newAWSServer(t, func(w http.ResponseWriter, _ recorded, _ int) {
		_, _ = io.WriteString(w, callerIdentityXML)
	})
	// No region at all: STS still answers, and the partition comes from the ARN, not from a region.
	c, err := Load(context.Background(), Options{}, staticAt(srv.URL)...)
	if err != nil {
		t.Fatal(err)
	}
	id, err := c.Identity(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := Identity{Account: "111122223333", ARN: "arn:aws-cn:iam::111122223333:user/alice", UserID: "AIDAEXAMPLE", Partition: "aws-cn"}
	if id != want {
		t.Errorf("Identity() = %+v, want %+v", id, want)
	}
}

func TestIAMSignedForPartitionHomeRegion(t *testing.T) {
	t.Parallel()
	cases := []struct{ region, wantScope string }{
		{"us-west-2", "/us-east-1/iam/aws4_request"},
		{"eu-central-1", "/us-east-1/iam/aws4_request"},
		{"cn-northwest-1", "/cn-north-1/iam/aws4_request"},
		{"us-gov-east-1", "/us-gov-west-1/iam/aws4_request"},
	}
	for _, tc := range cases {
		t.Run(tc.region, func(t *testing.T) {
			t.Parallel()
			srv := newAWSServer(t, func(w http.ResponseWriter, _ recorded, _ int) { w.WriteHeader(http.StatusForbidden) })
			c, err := Load(context.Background(), Options{Region: tc.region}, staticAt(srv.URL)...)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = c.IAM.ListRoles(context.Background(), &iam.ListRolesInput{})
			reqs := srv.requests()
			if len(reqs) == 0 {
				t.Fatal("IAM call did not reach the custom endpoint")
			}
			if !strings.Contains(reqs[0].Authorization, tc.wantScope) {
				t.Errorf("Authorization %q lacks credential scope %q", reqs[0].Authorization, tc.wantScope)
			}
			if c.Partition != PartitionForRegion(tc.region) {
				t.Errorf("Partition = %q, want %q", c.Partition, PartitionForRegion(tc.region))
			}
		})
	}
}

// The path-style tests read the environment and files, so they cannot run in parallel.
func TestS3PathStyleWithCustomEndpoint(t *testing.T) {
	cases := []struct {
		name  string
		setup func(t *testing.T, endpoint string)
	}{
		{"AWS_ENDPOINT_URL", func(t *testing.T, ep string) { t.Setenv("AWS_ENDPOINT_URL", ep) }},
		{"AWS_ENDPOINT_URL_S3", func(t *testing.T, ep string) { t.Setenv("AWS_ENDPOINT_URL_S3", ep) }},
		{"profile endpoint_url", func(t *testing.T, ep string) {
			writeFile(t, os.Getenv("AWS_CONFIG_FILE"), "[profile sandbox]\nregion = us-west-2\nendpoint_url = "+ep+"\n")
			t.Setenv("AWS_PROFILE", "sandbox")
		}},
		{"profile services s3 endpoint_url", func(t *testing.T, ep string) {
			writeFile(t, os.Getenv("AWS_CONFIG_FILE"), "[profile sandbox]\nregion = us-west-2\nservices = local\n\n[services local]\ns3 =\n  endpoint_url = "+ep+"\n")
			t.Setenv("AWS_PROFILE", "sandbox")
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			isolateEnv(t)
			srv := newAWSServer(t, func(w http.ResponseWriter, _ recorded, _ int) { w.WriteHeader(http.StatusOK) })
			tc.setup(t, srv.URL)
			c, err := Load(context.Background(), Options{Region: "us-west-2"})
			if err != nil {
				t.Fatal(err)
			}
			if !c.S3.Options().UsePathStyle {
				t.Error("UsePathStyle is off with a custom endpoint")
			}
			if _, err := c.S3.HeadBucket(context.Background(), &s3.HeadBucketInput{Bucket: aws.String("sdc-ingest-bucket")}); err != nil {
				t.Fatalf("HeadBucket through the custom endpoint: %v", err)
			}
			reqs := srv.requests()
			if len(reqs) != 1 || reqs[0].Path != "/sdc-ingest-bucket" {
				t.Errorf("requests = %+v, want one to path /sdc-ingest-bucket", reqs)
			}
		})
	}
}

func TestS3VirtualHostedWithoutCustomEndpoint(t *testing.T) {
	isolateEnv(t)
	c, err := Load(context.Background(), Options{Region: "us-west-2"})
	if err != nil {
		t.Fatal(err)
	}
	if c.S3.Options().UsePathStyle {
		t.Error("UsePathStyle is on against AWS's own endpoints; virtual-hosted style is AWS's default")
	}
}

func TestProfileFlag(t *testing.T) {
	isolateEnv(t)
	writeFile(t, os.Getenv("AWS_CONFIG_FILE"), "[profile eu]\nregion = eu-west-1\n")
	c, err := Load(context.Background(), Options{Profile: "eu"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Region != "eu-west-1" {
		t.Errorf("Region = %q, want the profile's eu-west-1", c.Region)
	}
	c, err = Load(context.Background(), Options{Profile: "eu", Region: "ap-south-1"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Region != "ap-south-1" {
		t.Errorf("Region = %q, want --region's ap-south-1 over the profile's", c.Region)
	}
	_, err = Load(context.Background(), Options{Profile: "missing"})
	if err == nil || !strings.Contains(err.Error(), `--profile "missing"`) {
		t.Errorf("Load with an unknown profile: error %v, want one naming --profile \"missing\"", err)
	}
}

func TestForRegion(t *testing.T) {
	t.Parallel()
	srv := newAWSServer(t, func(w http.ResponseWriter, _ recorded, _ int) { w.WriteHeader(http.StatusNotFound) })
	c, err := Load(context.Background(), Options{}, staticAt(srv.URL)...)
	if err != nil {
		t.Fatal(err)
	}
	// Without a region, EKS refuses up front with what to do, and sends nothing.
	_, err = c.EKS.DescribeCluster(context.Background(), &eks.DescribeClusterInput{Name: aws.String("c")})
	if err == nil || !strings.Contains(err.Error(), "--region") {
		t.Errorf("EKS without a region: error %v, want one saying to pass --region", err)
	}
	if n := len(srv.requests()); n != 0 {
		t.Errorf("EKS without a region sent %d requests, want 0", n)
	}
	if same := c.ForRegion(""); same != c {
		t.Error("ForRegion(\"\") made new clients")
	}
	cn := c.ForRegion("cn-north-1")
	if cn.Region != "cn-north-1" || cn.Partition != "aws-cn" || cn.EKS.Options().Region != "cn-north-1" {
		t.Errorf("ForRegion(cn-north-1) = region %q partition %q eks %q", cn.Region, cn.Partition, cn.EKS.Options().Region)
	}
	if c.Region != "" {
		t.Errorf("ForRegion changed the original clients' region to %q", c.Region)
	}
	_, _ = cn.EKS.DescribeCluster(context.Background(), &eks.DescribeClusterInput{Name: aws.String("c")})
	reqs := srv.requests()
	if len(reqs) != 1 || !strings.Contains(reqs[0].Authorization, "/cn-north-1/eks/") {
		t.Errorf("EKS in cn-north-1: requests %+v, want one signed for cn-north-1", reqs)
	}
}

func TestPartitionForRegion(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"us-west-2": "aws", "eu-central-1": "aws", "": "aws",
		"cn-north-1": "aws-cn", "cn-northwest-1": "aws-cn",
		"us-gov-west-1": "aws-us-gov", "us-gov-east-1": "aws-us-gov",
	}
	for region, want := range cases {
		if got := PartitionForRegion(region); got != want {
			t.Errorf("PartitionForRegion(%q) = %q, want %q", region, got, want)
		}
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
