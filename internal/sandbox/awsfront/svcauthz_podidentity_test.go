package awsfront

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
)

// TestServicesAuthorizePodIdentitySessions: EKS Pod Identity's sessions are authorised in the other
// services as in S3, with their session tags as aws:PrincipalTag.
func TestServicesAuthorizePodIdentitySessions(t *testing.T) {
	integration(t)
	t.Parallel()
	ctx := context.Background()
	is, cl := podCluster(t)
	_, url := newFront(t, Config{EKS: cl})
	c := newClients(adminConfig(url))
	a := newSvcClients(adminConfig(url))
	ns := uniqueName("ns")
	stream := uniqueName("pi-stream")
	if _, err := a.kinesis.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(stream), ShardCount: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	for _, tbl := range []string{ns, ns + "-other"} {
		createLeaseTable(t, a.dynamodb, tbl, nil)
	}
	role := uniqueName("pi-svc")
	roleARN := createRole(t, c.iam, role, podIdentityTrust(bothActions, nil))
	putRolePolicy(t, c.iam, role, policyDoc(
		allow("kinesis:DescribeStream", arnIn("kinesis", "stream/"+stream)),
		// ABAC: the lease table named after the pod's namespace.
		allow("dynamodb:DescribeTable", arnIn("dynamodb", "table/${aws:PrincipalTag/kubernetes-namespace}")),
	))
	if _, err := c.eks.CreatePodIdentityAssociation(ctx, &eks.CreatePodIdentityAssociationInput{
		ClusterName: aws.String("sandbox"), Namespace: aws.String(ns), ServiceAccount: aws.String("sdc"), RoleArn: aws.String(roleARN),
	}); err != nil {
		t.Fatal(err)
	}
	out, err := assumeForPod(t, url, is.token(t, is.podClaims(ns, "sdc", "sdc-0", "pods.eks.amazonaws.com")))
	if err != nil {
		t.Fatalf("AssumeRoleForPodIdentity: %v", err)
	}
	s := newSvcClients(awsConfig(url, credentials.NewStaticCredentialsProvider(out.Credentials.AccessKeyID, out.Credentials.SecretAccessKey, out.Credentials.SessionToken)))

	describe := func(table string) func() error {
		return func() error {
			_, err := s.dynamodb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
			return err
		}
	}
	cases := []struct {
		name    string
		call    func() error
		allowed bool
	}{
		{"DescribeStream on the allowed stream", func() error {
			_, err := s.kinesis.DescribeStream(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String(stream)})
			return err
		}, true},
		{"DescribeTable on the table of the pod's namespace tag", describe(ns), true},
		{"DescribeTable on another table", describe(ns + "-other"), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if tc.allowed {
				if err != nil {
					t.Fatalf("want allowed, got %v", err)
				}
				return
			}
			wantAPIError(t, err, "AccessDeniedException", 400, "assumed-role/"+role+"/eks-sandbox-sdc-0-")
		})
	}
}
