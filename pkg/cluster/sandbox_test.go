package cluster

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox"
	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox/sandboxtest"
	sdcaws "github.com/kubectl-sdc/kubectl-sdc/pkg/aws"
)

func TestMain(m *testing.M) { sandboxtest.Main(m) }

// sandboxResolver points a resolver at the sandbox: its kubeconfig and REST config, and EKS clients made by
// pkg/aws against its AWS endpoint (whose EKS knows one cluster, "sandbox", with the apiserver's issuer).
func sandboxResolver(t *testing.T, sb *sandbox.Sandbox, withAWS bool) *Resolver {
	t.Helper()
	kc, err := clientcmd.LoadFromFile(sb.KubeconfigPath)
	if err != nil {
		t.Fatal(err)
	}
	r := &Resolver{Kubeconfig: *kc, REST: sb.RESTConfig, Region: sb.Region}
	if withAWS {
		clients, err := sdcaws.Load(context.Background(), sdcaws.Options{Region: sb.Region},
			config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(sb.AccessKeyID, sb.SecretAccessKey, "")),
			config.WithBaseEndpoint(sb.AWSEndpoint))
		if err != nil {
			t.Fatal(err)
		}
		r.EKS = func(region string) EKS { return clients.ForRegion(region).EKS }
	}
	return r
}

func TestResolveOnSandbox(t *testing.T) {
	sb := sandboxtest.Get(t)
	t.Parallel()
	cases := []struct {
		name       string
		withAWS    bool
		flag       string
		exec       bool
		wantSource string
		wantName   string
		wantErr    string
	}{
		{name: "without AWS the API server's discovery document answers", wantSource: SourceOIDCDiscovery},
		{name: "EKS ListClusters finds the cluster by endpoint", withAWS: true, wantSource: SourceEKSListClusters, wantName: "sandbox"},
		{name: "--eks-cluster", withAWS: true, flag: "sandbox", wantSource: SourceEKSClusterFlag, wantName: "sandbox"},
		{name: "kubeconfig exec plugin", withAWS: true, exec: true, wantSource: SourceKubeconfigExec, wantName: "sandbox"},
		{name: "--eks-cluster naming a missing cluster", withAWS: true, flag: "prod", wantErr: `names EKS cluster "prod", which does not exist in us-west-2`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := sandboxResolver(t, sb, tc.withAWS)
			r.EKSCluster = tc.flag
			if tc.exec {
				// What `aws eks update-kubeconfig` writes; the resolver only reads it, nothing runs it.
				ctx := r.Kubeconfig.Contexts[r.Kubeconfig.CurrentContext]
				r.Kubeconfig.AuthInfos[ctx.AuthInfo] = &clientcmdapi.AuthInfo{Exec: &clientcmdapi.ExecConfig{
					Command: "aws", Args: []string{"--region", "us-west-2", "eks", "get-token", "--cluster-name", "sandbox"}}}
			}
			c, err := r.Resolve(context.Background())
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Source != tc.wantSource || c.Issuer != sb.Issuer {
				t.Errorf("source %s issuer %s, want %s and the sandbox's %s; tried %+v", c.Source, c.Issuer, tc.wantSource, sb.Issuer, c.Tried)
			}
			if c.Region != sb.Region || c.Partition != "aws" {
				t.Errorf("region %q partition %q, want %s aws", c.Region, c.Partition, sb.Region)
			}
			if tc.wantName != "" && (c.Name != tc.wantName || c.AccountID != sb.AccountID) {
				t.Errorf("name %q account %q, want %s in %s", c.Name, c.AccountID, tc.wantName, sb.AccountID)
			}
			if !sameEndpoint(c.Endpoint, sb.APIServerURL) || len(c.Warnings) != 0 {
				t.Errorf("endpoint %s (warnings %q), want the sandbox's %s", c.Endpoint, c.Warnings, sb.APIServerURL)
			}
		})
	}
}
