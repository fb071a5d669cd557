package aws

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// startMoto runs moto_server (the AWS stand-in the project tests against) on a free local port and returns
// its URL. Missing moto_server fails the test: these are the tests that prove the clients talk to a real
// implementation of the wire protocols.
func startMoto(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: unit tests only; this test runs moto_server")
	}
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		t.Fatalf("moto_server not found on PATH (install it with: pip install 'moto[server]'): %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", fmt.Sprint(port))
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting moto_server: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(url + "/moto-api/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return url
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("moto_server did not answer on %s within 60s; its output:\n%s", url, out.String())
		}
		time.Sleep(100 * time.Millisecond) // polling for readiness, not synchronising test steps
	}
}

// TestAgainstMoto loads the clients the way the sandbox does (AWS_ENDPOINT_URL in the environment) and
// checks identity, path-style S3, and the error helpers on moto's real answers.
func TestAgainstMoto(t *testing.T) {
	url := startMoto(t)
	isolateEnv(t)
	t.Setenv("AWS_ENDPOINT_URL", url)
	t.Setenv("AWS_REGION", "us-west-2")
	ctx := context.Background()
	c, err := Load(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Region != "us-west-2" || c.Partition != "aws" {
		t.Errorf("Region %q Partition %q, want us-west-2 aws from the environment", c.Region, c.Partition)
	}

	id, err := c.Identity(ctx)
	if err != nil {
		t.Fatalf("Identity: %v", err)
	}
	if id.Account != "123456789012" || id.Partition != "aws" || !strings.HasPrefix(id.ARN, "arn:aws:") {
		t.Errorf("Identity = %+v, want moto's account 123456789012 in partition aws", id)
	}

	// S3 on an IP endpoint works only path-style.
	_, err = c.S3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("sdc-ingest-bucket")})
	if !IsNotFound(err) {
		t.Errorf("HeadBucket of a missing bucket: %v, want IsNotFound", err)
	}
	if _, err := c.S3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("sdc-ingest-bucket"),
		CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraintUsWest2}}); err != nil {
		t.Fatalf("CreateBucket: %v", err)
	}
	if _, err := c.S3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("sdc-ingest-bucket")}); err != nil {
		t.Errorf("HeadBucket of the created bucket: %v", err)
	}
	if _, err := c.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("sdc-ingest-bucket"), Key: aws.String("in/marker"),
		Body: strings.NewReader("kubectl-sdc")}); err != nil {
		t.Errorf("PutObject: %v", err)
	}
	_, err = c.S3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("sdc-ingest-bucket"), Key: aws.String("absent")})
	if !IsNotFound(err) {
		t.Errorf("GetObject of a missing key: %v, want IsNotFound", err)
	}

	// IAM through the custom endpoint: not found, create, already exists.
	_, err = c.IAM.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("sdc-role")})
	if !IsNotFound(err) || !IsEventuallyConsistent(err) {
		t.Errorf("GetRole of a missing role: %v, want IsNotFound", err)
	}
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	create := func(ctx context.Context) error {
		_, err := c.IAM.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("sdc-role"), AssumeRolePolicyDocument: aws.String(trust)})
		return err
	}
	if err := RetryEventual(ctx, create, IsEventuallyConsistent); err != nil {
		t.Fatalf("CreateRole: %v", err)
	}
	if err := create(ctx); !IsAlreadyExists(err) {
		t.Errorf("second CreateRole: %v, want IsAlreadyExists", err)
	}
	// A different region's clients still reach IAM (global) through the same endpoint.
	if _, err := c.ForRegion("eu-west-1").IAM.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("sdc-role")}); err != nil {
		t.Errorf("GetRole from eu-west-1 clients: %v", err)
	}
}
