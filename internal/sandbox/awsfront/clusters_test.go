package awsfront

import (
	"context"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eks"
)

// TestEKSClustersByRegionAndAccount: each sandbox cluster is visible only in its own region and to callers
// of its own account, as EKS scopes clusters.
func TestEKSClustersByRegionAndAccount(t *testing.T) {
	integration(t)
	t.Parallel()
	ctx := context.Background()
	cluster := func(name, region, account string) EKSCluster {
		return EKSCluster{Name: name, Endpoint: "https://127.0.0.1:1" + name[len(name)-1:], CAData: []byte("ca"), Issuer: "https://issuer/" + name,
			Version: "1.34", Region: region, AccountID: account}
	}
	west, west3, eu := cluster("fleet-1", "", ""), cluster("fleet-3", "us-west-2", ""), cluster("fleet-2", "eu-west-1", "")
	other := cluster("fleet-4", "us-west-2", targetAccount)
	_, url := newFront(t, Config{EKS: &west, Clusters: []EKSCluster{west, eu, west3, other}})
	targetCreds, err := shared.front.CreateAdmin(ctx, targetAccount, uniqueName("eks-admin"))
	if err != nil {
		t.Fatal(err)
	}
	in := func(region string, creds aws.CredentialsProvider) *eks.Client {
		cfg := awsConfig(url, creds)
		cfg.Region = region
		return eks.NewFromConfig(cfg)
	}
	admin := adminConfig(url).Credentials
	target := credentials.NewStaticCredentialsProvider(targetCreds.AccessKeyID, targetCreds.SecretAccessKey, "")

	for _, tc := range []struct {
		region string
		creds  aws.CredentialsProvider
		want   []string
		absent []string
	}{
		{"us-west-2", admin, []string{"fleet-1", "fleet-3"}, []string{"fleet-2", "fleet-4"}},
		{"eu-west-1", admin, []string{"fleet-2"}, []string{"fleet-1", "fleet-3", "fleet-4"}},
		{"us-west-2", target, []string{"fleet-4"}, []string{"fleet-1", "fleet-2", "fleet-3"}},
	} {
		list, err := in(tc.region, tc.creds).ListClusters(ctx, &eks.ListClustersInput{})
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range tc.want {
			if !slices.Contains(list.Clusters, n) {
				t.Errorf("ListClusters in %s = %v; want %s", tc.region, list.Clusters, n)
			}
		}
		for _, n := range tc.absent {
			if slices.Contains(list.Clusters, n) {
				t.Errorf("ListClusters in %s = %v; %s belongs elsewhere", tc.region, list.Clusters, n)
			}
		}
	}
	out, err := in("eu-west-1", admin).DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String("fleet-2")})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := aws.ToString(out.Cluster.Arn), "arn:aws:eks:eu-west-1:"+shared.creds.AccountID+":cluster/fleet-2"; got != want {
		t.Errorf("fleet-2 ARN %s; want %s", got, want)
	}
	if aws.ToString(out.Cluster.Identity.Oidc.Issuer) != eu.Issuer || aws.ToString(out.Cluster.Endpoint) != eu.Endpoint {
		t.Errorf("fleet-2 = %+v", out.Cluster)
	}
	out, err = in("us-west-2", target).DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String("fleet-4")})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := aws.ToString(out.Cluster.Arn), "arn:aws:eks:us-west-2:"+targetAccount+":cluster/fleet-4"; got != want {
		t.Errorf("fleet-4 ARN %s; want %s", got, want)
	}
	for _, miss := range []struct {
		region, name string
		creds        aws.CredentialsProvider
	}{{"us-west-2", "fleet-2", admin}, {"eu-west-1", "fleet-1", admin}, {"us-west-2", "fleet-4", admin}, {"us-west-2", "fleet-1", target}} {
		_, err := in(miss.region, miss.creds).DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(miss.name)})
		if code, _, status := apiError(t, err); code != "ResourceNotFoundException" || status != 404 {
			t.Errorf("DescribeCluster %s in %s: %s HTTP %d; want ResourceNotFoundException 404", miss.name, miss.region, code, status)
		}
	}
}
