package aws

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"

	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox/awsfront"
)

func TestEKSAuthEndpoint(t *testing.T) {
	cases := []struct {
		name, region, base, serviceEnv, want string
	}{
		{"EKS Auth's dual-stack name", "us-west-2", "", "", "https://eks-auth.us-west-2.api.aws"},
		{"China", "cn-north-1", "", "", "https://eks-auth.cn-north-1.api.amazonwebservices.com.cn"},
		{"AWS_ENDPOINT_URL", "eu-west-1", "http://127.0.0.1:4566/", "", "http://127.0.0.1:4566"},
		{"its own AWS_ENDPOINT_URL_EKS_AUTH first", "eu-west-1", "http://127.0.0.1:4566", "http://127.0.0.1:9999", "http://127.0.0.1:9999"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("AWS_ENDPOINT_URL", c.base)
			t.Setenv("AWS_ENDPOINT_URL_EKS_AUTH", c.serviceEnv)
			cl, err := Load(context.Background(), Options{Region: c.region},
				config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")))
			if err != nil {
				t.Fatal(err)
			}
			if got := cl.EKSAuth().Endpoint(); got != c.want {
				t.Errorf("endpoint %s, want %s", got, c.want)
			}
		})
	}
}

// The client against the sandbox's EKS Auth: requests are signed as EKS Auth expects (an unknown key is
// refused before anything else), errors come back in EKS Auth's words with their HTTP status, and
// throttling is ridden out. The success path needs a real cluster's token: the e2e tests take it
// through doctor --probe.
func TestEKSAuthAgainstSandboxAWS(t *testing.T) {
	sb := startSandboxAWS(t)
	ctx := context.Background()
	front, url := sb.front(t, awsfront.Faults{})
	c := sb.clients(t, url)
	const cluster = "eksauth-client"
	if _, err := c.EKS.CreateCluster(ctx, &eks.CreateClusterInput{
		Name: aws.String(cluster), RoleArn: aws.String("arn:aws:iam::" + sb.creds.AccountID + ":role/eks"),
		ResourcesVpcConfig: &ekstypes.VpcConfigRequest{SubnetIds: []string{"subnet-1"}},
	}); err != nil {
		t.Fatalf("CreateCluster: %v", err)
	}
	wantCode := func(t *testing.T, err error, code string, status int) {
		t.Helper()
		var e *EKSAuthError
		if !errors.As(err, &e) || e.Code != code || e.Status != status || e.Message == "" {
			t.Fatalf("error %v, want %s (HTTP %d) with a message", err, code, status)
		}
		if ErrorCode(err) != code {
			t.Errorf("ErrorCode = %q", ErrorCode(err))
		}
	}
	auth := c.EKSAuth()
	_, err := auth.AssumeRoleForPodIdentity(ctx, cluster, "not.a-jwt.token")
	wantCode(t, err, "InvalidTokenException", 400)
	_, err = auth.AssumeRoleForPodIdentity(ctx, "no-such-cluster", "a.b.c")
	wantCode(t, err, "ResourceNotFoundException", 404)
	if front.Calls().ByAction["eks-auth:AssumeRoleForPodIdentity"] != 2 {
		t.Errorf("the front counted %v", front.Calls().ByAction)
	}

	stranger, err := Load(ctx, Options{Region: "us-west-2"},
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("AKIAUNKNOWN000000000", "secret", "")),
		config.WithBaseEndpoint(url))
	if err != nil {
		t.Fatal(err)
	}
	_, err = stranger.EKSAuth().AssumeRoleForPodIdentity(ctx, cluster, "a.b.c")
	if e := (*EKSAuthError)(nil); !errors.As(err, &e) || e.Status != 403 || !strings.Contains(e.Message, "security token") {
		t.Errorf("an unknown access key: %v, want a refusal of the signature's key", err)
	}

	throttled, turl := sb.front(t, awsfront.Faults{ThrottleRate: 0.5})
	tc := sb.clients(t, turl)
	if _, err := tc.EKS.CreateCluster(ctx, &eks.CreateClusterInput{
		Name: aws.String(cluster + "-t"), RoleArn: aws.String("arn:aws:iam::" + sb.creds.AccountID + ":role/eks"),
		ResourcesVpcConfig: &ekstypes.VpcConfigRequest{SubnetIds: []string{"subnet-1"}},
	}); err != nil {
		t.Fatalf("CreateCluster: %v", err)
	}
	for i := 0; i < 5; i++ {
		_, err := tc.EKSAuth().AssumeRoleForPodIdentity(ctx, cluster+"-t", "not.a-jwt.token")
		wantCode(t, err, "InvalidTokenException", 400)
	}
	if got := throttled.Calls().ByAction["eks-auth:AssumeRoleForPodIdentity"]; got <= 5 {
		t.Errorf("%d calls for 5 answers at a 50%% throttle rate: the throttling was not retried", got)
	}
}
