package aws

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox/awsfront"
	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox/awsfront/awsfronttest"
)

// sandboxAWS is moto behind the sandbox's AWS front, the stand-in for AWS that the project tests against.
type sandboxAWS struct {
	moto  *awsfront.Moto
	creds awsfront.Credentials
}

func startSandboxAWS(t *testing.T) *sandboxAWS {
	return &sandboxAWS{moto: awsfronttest.Moto(t)}
}

// front serves a new front over the shared moto with the given faults and returns it and its URL.
func (s *sandboxAWS) front(t *testing.T, faults awsfront.Faults) (*awsfront.Front, string) {
	t.Helper()
	f, url, creds := awsfronttest.Front(t, s.moto, faults)
	s.creds = creds
	return f, url
}

func (s *sandboxAWS) clients(t *testing.T, url string) *Clients {
	t.Helper()
	c, err := Load(context.Background(), Options{Region: "us-west-2"},
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(s.creds.AccessKeyID, s.creds.SecretAccessKey, "")),
		config.WithBaseEndpoint(url))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestAgainstSandboxAWS(t *testing.T) {
	sb := startSandboxAWS(t)
	ctx := context.Background()
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`

	t.Run("identity, path-style S3, error classes", func(t *testing.T) {
		_, url := sb.front(t, awsfront.Faults{})
		c := sb.clients(t, url)
		id, err := c.Identity(ctx)
		if err != nil {
			t.Fatalf("Identity: %v", err)
		}
		if id.Account != sb.creds.AccountID || id.Partition != "aws" || !strings.HasPrefix(id.ARN, "arn:aws:iam::"+sb.creds.AccountID+":") {
			t.Errorf("Identity = %+v, want the sandbox account %s in partition aws", id, sb.creds.AccountID)
		}

		// S3 on an IP endpoint works only path-style.
		const bucket = "kubectl-sdc-aws-test"
		_, err = c.S3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)})
		if !IsNotFound(err) {
			t.Errorf("HeadBucket of a missing bucket: %v, want IsNotFound", err)
		}
		if _, err := c.S3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket),
			CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraintUsWest2}}); err != nil {
			t.Fatalf("CreateBucket: %v", err)
		}
		if _, err := c.S3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)}); err != nil {
			t.Errorf("HeadBucket of the created bucket: %v", err)
		}
		if _, err := c.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("in/marker"),
			Body: strings.NewReader("kubectl-sdc")}); err != nil {
			t.Errorf("PutObject: %v", err)
		}
		_, err = c.S3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("absent")})
		if !IsNotFound(err) {
			t.Errorf("GetObject of a missing key: %v, want IsNotFound", err)
		}

		_, err = c.IAM.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("aws-test-role")})
		if !IsNotFound(err) {
			t.Errorf("GetRole of a missing role: %v, want IsNotFound", err)
		}
		create := func(ctx context.Context) error {
			_, err := c.IAM.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("aws-test-role"), AssumeRolePolicyDocument: aws.String(trust)})
			return err
		}
		if err := create(ctx); err != nil {
			t.Fatalf("CreateRole: %v", err)
		}
		if err := create(ctx); !IsAlreadyExists(err) {
			t.Errorf("second CreateRole: %v, want IsAlreadyExists", err)
		}
		// Other regions' clients reach IAM (global) through the same endpoint.
		if _, err := c.ForRegion("eu-west-1").IAM.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("aws-test-role")}); err != nil {
			t.Errorf("GetRole from eu-west-1 clients: %v", err)
		}
	})

	t.Run("throttling is ridden out", func(t *testing.T) {
		front, url := sb.front(t, awsfront.Faults{ThrottleRate: 0.3})
		c := sb.clients(t, url)
		calls := []func() error{
			func() error { _, err := c.Identity(ctx); return err },
			func() error { _, err := c.IAM.ListRoles(ctx, &iam.ListRolesInput{}); return err },
			func() error { _, err := c.EKS.ListClusters(ctx, &eks.ListClustersInput{}); return err },
			func() error { _, err := c.S3.ListBuckets(ctx, &s3.ListBucketsInput{}); return err },
		}
		ops := 0
		for round := 0; round < 3; round++ {
			for i, call := range calls {
				ops++
				if err := call(); err != nil {
					t.Errorf("call %d in round %d failed through 30%% throttling: %v", i, round, err)
				}
			}
		}
		// The front counts every attempt; more attempts than operations means throttled ones were retried.
		if got := front.Calls().Total; got <= ops {
			t.Errorf("front saw %d calls for %d operations: nothing was throttled, so this test proved nothing", got, ops)
		}
	})

	t.Run("eventual consistency is ridden out", func(t *testing.T) {
		_, url := sb.front(t, awsfront.Faults{ConsistencyDelayMS: 1500})
		c := sb.clients(t, url)
		if _, err := c.IAM.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("aws-test-fresh"), AssumeRolePolicyDocument: aws.String(trust)}); err != nil {
			t.Fatalf("CreateRole: %v", err)
		}
		pol, err := c.IAM.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("aws-test-fresh"),
			PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}]}`)})
		if err != nil {
			t.Fatalf("CreatePolicy: %v", err)
		}
		attach := func(ctx context.Context) error {
			_, err := c.IAM.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("aws-test-fresh"), PolicyArn: pol.Policy.Arn})
			return err
		}
		first := attach(ctx)
		if !IsEventuallyConsistent(first) {
			t.Errorf("attaching right after create: %v, want an error IsEventuallyConsistent recognises (the front hides new entities)", first)
		}
		if err := RetryEventual(ctx, attach, IsEventuallyConsistent); err != nil {
			t.Fatalf("RetryEventual(AttachRolePolicy): %v", err)
		}
		out, err := c.IAM.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String("aws-test-fresh")})
		if err != nil || len(out.AttachedPolicies) != 1 || aws.ToString(out.AttachedPolicies[0].PolicyArn) != aws.ToString(pol.Policy.Arn) {
			t.Errorf("attached policies = %+v, %v; want the new policy", out, err)
		}
	})
}
