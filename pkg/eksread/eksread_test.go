package eksread

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox/awsfront"
	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox/awsfront/awsfronttest"
	"github.com/kubectl-sdc/kubectl-sdc/internal/testenv"
)

func TestMain(m *testing.M) {
	cleanup := testenv.Isolate()
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// Against moto behind the sandbox's front (which implements the Pod Identity and add-on calls): a list
// pages through more than one page and filters, describes are bounded and keyed, a missing add-on leads
// to asking for Auto Mode, and Auto Mode known from an earlier DescribeCluster costs nothing. (The front
// reports computeConfig for its own clusters only; Auto Mode read from DescribeCluster is tested end to
// end on the sandbox cluster.)
func TestReadersAgainstSandboxAWS(t *testing.T) {
	m := awsfronttest.Moto(t)
	front, url, creds := awsfronttest.Front(t, m, awsfront.Faults{})
	ctx := context.Background()
	cfg := aws.Config{Region: "us-west-2", BaseEndpoint: aws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, "")}
	e, i := eks.NewFromConfig(cfg), iam.NewFromConfig(cfg)
	const cluster = "eksread"
	if _, err := e.CreateCluster(ctx, &eks.CreateClusterInput{Name: aws.String(cluster), RoleArn: aws.String("arn:aws:iam::" + creds.AccountID + ":role/eks"),
		ResourcesVpcConfig: &ekstypes.VpcConfigRequest{SubnetIds: []string{"subnet-1"}}}); err != nil {
		t.Fatal(err)
	}
	role, err := i.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("eksread"), AssumeRolePolicyDocument: aws.String(
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"]}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	const n = 105 // more than one page of 100
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 16)
	for k := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			_, err := e.CreatePodIdentityAssociation(ctx, &eks.CreatePodIdentityAssociationInput{ClusterName: aws.String(cluster),
				Namespace: aws.String(fmt.Sprintf("ns%d", k%3)), ServiceAccount: aws.String(fmt.Sprintf("sa%03d", k)), RoleArn: role.Role.Arn})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}

	front.ResetCalls()
	all, err := List(ctx, e, cluster, Filter{})
	if err != nil || len(all) != n {
		t.Fatalf("List: %d associations, %v; want %d", len(all), err, n)
	}
	if got := front.Calls().ByAction["eks:ListPodIdentityAssociations"]; got != 2 {
		t.Errorf("%d list calls for %d associations, want 2 pages", got, n)
	}
	ns1, err := List(ctx, e, cluster, Filter{Namespace: "ns1"})
	if err != nil || len(ns1) != 35 {
		t.Errorf("List ns1: %d, %v", len(ns1), err)
	}
	one, err := Find(ctx, e, cluster, "ns2", "sa002")
	if err != nil || one == nil || one.RoleARN != aws.ToString(role.Role.Arn) || one.Cluster != cluster || one.Created.IsZero() {
		t.Errorf("Find: %+v, %v", one, err)
	}
	if none, err := Find(ctx, e, cluster, "ns2", "sa001"); none != nil || err != nil {
		t.Errorf("Find of a ServiceAccount without one: %+v, %v", none, err)
	}

	front.ResetCalls()
	got := DescribeAll(ctx, e, cluster, ns1, 4)
	if len(got) != len(ns1) || front.Calls().ByAction["eks:DescribePodIdentityAssociation"] != len(ns1) {
		t.Errorf("DescribeAll: %d results, %v", len(got), front.Calls().ByAction)
	}
	for _, s := range ns1 {
		if d := got[s.Key()]; d.Err != nil || d.Association == nil || d.Association.ServiceAccount != s.ServiceAccount {
			t.Errorf("%s: %+v", s.Key(), d)
		}
	}
	if a, err := Describe(ctx, e, cluster, "a-00000000000000000"); a != nil || err != nil {
		t.Errorf("Describe of a gone association: %+v, %v", a, err)
	}
	if _, err := List(ctx, e, "no-such-cluster", Filter{}); err == nil {
		t.Error("List of a missing cluster: no error")
	}

	// Clusters made in moto have no add-ons: the agent is missing unless the cluster runs in Auto Mode.
	a := ReadAgent(ctx, e, cluster, nil)
	if a.Serves() || a.AutoMode == nil || *a.AutoMode || a.AddonStatus != "" || a.Err != nil {
		t.Errorf("no add-on, no Auto Mode: %+v (%s)", a, a.Describe())
	}
	front.ResetCalls()
	on := true
	if a := ReadAgent(ctx, e, cluster, &on); !a.Serves() || front.Calls().Total != 0 {
		t.Errorf("Auto Mode known: %+v, %d calls", a, front.Calls().Total)
	}
	if _, err := e.CreateAddon(ctx, &eks.CreateAddonInput{ClusterName: aws.String(cluster), AddonName: aws.String("eks-pod-identity-agent")}); err != nil {
		t.Fatal(err)
	}
	off := false
	front.ResetCalls()
	if a := ReadAgent(ctx, e, cluster, &off); !a.Serves() || a.AddonStatus != "ACTIVE" || front.Calls().Total != 1 {
		t.Errorf("add-on ACTIVE: %+v (%s), %v", a, a.Describe(), front.Calls().ByAction)
	}
}
