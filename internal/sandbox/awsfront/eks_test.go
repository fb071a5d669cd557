package awsfront

import (
	"context"
	"encoding/base64"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
)

func TestEKSSandboxCluster(t *testing.T) {
	integration(t)
	t.Parallel()
	ctx := context.Background()
	c := newClients(adminConfig(shared.url))
	// A cluster of moto's own stays visible next to the sandbox one.
	motoCluster := uniqueName("moto")
	if _, err := c.eks.CreateCluster(ctx, &eks.CreateClusterInput{
		Name: aws.String(motoCluster), RoleArn: aws.String("arn:aws:iam::" + shared.creds.AccountID + ":role/eks"),
		ResourcesVpcConfig: &ekstypes.VpcConfigRequest{SubnetIds: []string{"subnet-1"}},
	}); err != nil {
		t.Fatalf("CreateCluster in moto: %v", err)
	}

	list, err := c.eks.ListClusters(ctx, &eks.ListClustersInput{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(list.Clusters, "sandbox") || !slices.Contains(list.Clusters, motoCluster) {
		t.Fatalf("ListClusters = %v; want both sandbox and %s", list.Clusters, motoCluster)
	}
	if n := len(slices.DeleteFunc(slices.Clone(list.Clusters), func(s string) bool { return s != "sandbox" })); n != 1 {
		t.Fatalf("ListClusters names sandbox %d times: %v", n, list.Clusters)
	}

	out, err := c.eks.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String("sandbox")})
	if err != nil {
		t.Fatal(err)
	}
	cl := out.Cluster
	ca, err := base64.StdEncoding.DecodeString(aws.ToString(cl.CertificateAuthority.Data))
	if err != nil {
		t.Fatalf("certificateAuthority.data is not base64: %v", err)
	}
	got := map[string]string{
		"name": aws.ToString(cl.Name), "arn": aws.ToString(cl.Arn), "endpoint": aws.ToString(cl.Endpoint),
		"issuer": aws.ToString(cl.Identity.Oidc.Issuer), "status": string(cl.Status), "version": aws.ToString(cl.Version), "ca": string(ca),
	}
	want := map[string]string{
		"name": "sandbox", "arn": "arn:aws:eks:us-west-2:" + shared.creds.AccountID + ":cluster/sandbox", "endpoint": shared.eks.Endpoint,
		"issuer": shared.eks.Issuer, "status": "ACTIVE", "version": "1.34", "ca": string(shared.eks.CAData),
	}
	for k := range want {
		if got[k] != want[k] {
			t.Errorf("DescribeCluster sandbox: %s = %q; want %q", k, got[k], want[k])
		}
	}
	if cl.CreatedAt == nil || cl.CreatedAt.IsZero() {
		t.Errorf("DescribeCluster sandbox has no createdAt")
	}

	// Other names are moto's.
	other, err := c.eks.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(motoCluster)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(other.Cluster.Identity.Oidc.Issuer) == shared.eks.Issuer {
		t.Errorf("moto's cluster %s got the sandbox issuer", motoCluster)
	}
	_, err = c.eks.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String("no-such-cluster")})
	if code, _, status := apiError(t, err); code != "ResourceNotFoundException" || status != 404 {
		t.Errorf("DescribeCluster of a missing cluster: %s HTTP %d; want ResourceNotFoundException 404", code, status)
	}
}

func TestEKSWithoutSandboxCluster(t *testing.T) {
	integration(t)
	t.Parallel()
	_, url := newFront(t, Config{})
	c := newClients(adminConfig(url))
	_, err := c.eks.DescribeCluster(context.Background(), &eks.DescribeClusterInput{Name: aws.String("sandbox")})
	if code, _, _ := apiError(t, err); code != "ResourceNotFoundException" {
		t.Errorf("without a sandbox cluster DescribeCluster sandbox = %s; want moto's ResourceNotFoundException", code)
	}
}
