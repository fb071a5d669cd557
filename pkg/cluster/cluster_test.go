package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/smithy-go"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/rest"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// fakeEKS is a hand-written stand-in for the two EKS calls, for unit tests of the pure resolution logic;
// the sources' real test runs against the sandbox's EKS.
type fakeEKS struct {
	region   string
	clusters []ekstypes.Cluster // in ListClusters order
	pageSize int
	fail     map[string]error // DescribeCluster failures by name

	mu    *sync.Mutex
	calls *[]string
}

func (f fakeEKS) record(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	*f.calls = append(*f.calls, f.region+" "+s)
}

func (f fakeEKS) DescribeCluster(_ context.Context, in *eks.DescribeClusterInput, _ ...func(*eks.Options)) (*eks.DescribeClusterOutput, error) {
	name := aws.ToString(in.Name)
	f.record("DescribeCluster " + name)
	if err, ok := f.fail[name]; ok {
		return nil, err
	}
	for i := range f.clusters {
		if aws.ToString(f.clusters[i].Name) == name {
			return &eks.DescribeClusterOutput{Cluster: &f.clusters[i]}, nil
		}
	}
	return nil, &smithy.GenericAPIError{Code: "ResourceNotFoundException", Message: "No cluster found for name: " + name}
}

func (f fakeEKS) ListClusters(_ context.Context, in *eks.ListClustersInput, _ ...func(*eks.Options)) (*eks.ListClustersOutput, error) {
	f.record("ListClusters " + aws.ToString(in.NextToken))
	start := 0
	if in.NextToken != nil {
		fmt.Sscan(*in.NextToken, &start)
	}
	size := f.pageSize
	if size == 0 {
		size = 100
	}
	out := &eks.ListClustersOutput{}
	for i := start; i < len(f.clusters) && i < start+size; i++ {
		out.Clusters = append(out.Clusters, aws.ToString(f.clusters[i].Name))
	}
	if start+size < len(f.clusters) {
		out.NextToken = aws.String(fmt.Sprint(start + size))
	}
	return out, nil
}

// account is a fake AWS account: clusters per region, and the calls made.
type account struct {
	regions  map[string][]ekstypes.Cluster
	pageSize int
	fail     map[string]error
	mu       sync.Mutex
	calls    []string
}

func (a *account) factory() func(string) EKS {
	return func(region string) EKS {
		return fakeEKS{region: region, clusters: a.regions[region], pageSize: a.pageSize, fail: a.fail, mu: &a.mu, calls: &a.calls}
	}
}

func eksCluster(name, region, id string) ekstypes.Cluster {
	return ekstypes.Cluster{
		Name:     aws.String(name),
		Arn:      aws.String(fmt.Sprintf("arn:aws:eks:%s:111122223333:cluster/%s", region, name)),
		Endpoint: aws.String(fmt.Sprintf("https://%s.gr7.%s.eks.amazonaws.com", id, region)),
		Identity: &ekstypes.Identity{Oidc: &ekstypes.OIDC{Issuer: aws.String(fmt.Sprintf("https://oidc.eks.%s.amazonaws.com/id/%s", region, id))}},
	}
}

const (
	prodID    = "5E1D0CEXAMPLEA591B746AFC5AB30262"
	stagingID = "0A1B2C3D4E5F60718293A4B5C6D7E8F9"
)

// kubeconfig builds a one-context kubeconfig.
func kubeconfig(clusterName, server string, ai *clientcmdapi.AuthInfo) clientcmdapi.Config {
	if ai == nil {
		ai = &clientcmdapi.AuthInfo{Token: "t"}
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[clusterName] = &clientcmdapi.Cluster{Server: server}
	cfg.AuthInfos["user"] = ai
	cfg.Contexts["ctx"] = &clientcmdapi.Context{Cluster: clusterName, AuthInfo: "user"}
	cfg.CurrentContext = "ctx"
	return *cfg
}

func awsExec(args ...string) *clientcmdapi.AuthInfo {
	return &clientcmdapi.AuthInfo{Exec: &clientcmdapi.ExecConfig{Command: "aws", Args: args, APIVersion: "client.authentication.k8s.io/v1beta1"}}
}

func TestResolve(t *testing.T) {
	t.Parallel()
	prod := eksCluster("prod", "us-west-2", prodID)
	staging := eksCluster("staging", "eu-west-1", stagingID)
	prodServer := aws.ToString(prod.Endpoint)
	prodIssuer := aws.ToString(prod.Identity.Oidc.Issuer)
	stagingIssuer := aws.ToString(staging.Identity.Oidc.Issuer)
	noIssuer := eksCluster("old", "us-west-2", "ABCDEF")
	noIssuer.Identity = nil
	private := eksCluster("private", "us-west-2", "FEDCBA9876543210FEDCBA9876543210")
	private.Endpoint = aws.String("https://kube.internal.example.com:443/")
	many := []ekstypes.Cluster{eksCluster("a", "us-west-2", "AA"), eksCluster("b", "us-west-2", "BB"), eksCluster("c", "us-west-2", "CC"), private}

	cases := []struct {
		name       string
		kube       clientcmdapi.Config
		flag       string
		region     string
		regions    map[string][]ekstypes.Cluster
		noAWS      bool
		pageSize   int
		want       Cluster // Tried and Context are checked separately
		wantCalls  []string
		wantErr    string
		wantWarn   string
		wantTriedN int
	}{
		{
			name: "eks-cluster flag", kube: kubeconfig("whatever", prodServer, nil), flag: "prod", region: "us-west-2",
			regions: map[string][]ekstypes.Cluster{"us-west-2": {prod}},
			want: Cluster{Name: "prod", Region: "us-west-2", Partition: "aws", AccountID: "111122223333", ARN: aws.ToString(prod.Arn),
				Endpoint: prodServer, Issuer: prodIssuer, Source: SourceEKSClusterFlag, KubeCluster: "whatever"},
			wantCalls: []string{"us-west-2 DescribeCluster prod"}, wantTriedN: 1,
		},
		{
			name: "eks-cluster flag for another cluster than the context warns", kube: kubeconfig("x", prodServer, nil), flag: "staging", region: "eu-west-1",
			regions: map[string][]ekstypes.Cluster{"eu-west-1": {staging}},
			want: Cluster{Name: "staging", Region: "eu-west-1", Partition: "aws", AccountID: "111122223333", ARN: aws.ToString(staging.Arn),
				Endpoint: aws.ToString(staging.Endpoint), Issuer: stagingIssuer, Source: SourceEKSClusterFlag, KubeCluster: "x"},
			wantWarn: "--eks-cluster staging has endpoint", wantTriedN: 1,
		},
		{
			name: "eks-cluster flag for a missing cluster stops: no guessing another cluster", kube: kubeconfig("x", prodServer, nil), flag: "nope", region: "us-west-2",
			regions:   map[string][]ekstypes.Cluster{"us-west-2": {prod}},
			wantErr:   `names EKS cluster "nope", which does not exist in us-west-2`,
			wantCalls: []string{"us-west-2 DescribeCluster nope"},
		},
		{
			name: "eks-cluster flag without a region", kube: kubeconfig("x", prodServer, nil), flag: "prod",
			wantErr: "no region is known: pass --region",
		},
		{
			name: "aws eks get-token exec with its own region",
			kube: kubeconfig("arn:aws:eks:us-west-2:111122223333:cluster/prod", "https://kube.example.com",
				awsExec("--region", "us-west-2", "eks", "get-token", "--cluster-name", "prod", "--output", "json")),
			region: "eu-west-1", regions: map[string][]ekstypes.Cluster{"us-west-2": {prod}},
			want: Cluster{Name: "prod", Region: "us-west-2", Partition: "aws", AccountID: "111122223333", ARN: aws.ToString(prod.Arn),
				Endpoint: prodServer, Issuer: prodIssuer, Source: SourceKubeconfigExec, KubeCluster: "arn:aws:eks:us-west-2:111122223333:cluster/prod"},
			wantCalls: []string{"us-west-2 DescribeCluster prod"}, wantTriedN: 2,
		},
		{
			name:    "aws eks get-token with --region= and --cluster-id=",
			kube:    kubeconfig("c", "https://kube.example.com", awsExec("eks", "get-token", "--cluster-id=staging", "--region=eu-west-1")),
			regions: map[string][]ekstypes.Cluster{"eu-west-1": {staging}},
			want: Cluster{Name: "staging", Region: "eu-west-1", Partition: "aws", AccountID: "111122223333", ARN: aws.ToString(staging.Arn),
				Endpoint: aws.ToString(staging.Endpoint), Issuer: stagingIssuer, Source: SourceKubeconfigExec, KubeCluster: "c"},
			wantCalls: []string{"eu-west-1 DescribeCluster staging"}, wantTriedN: 2,
		},
		{
			name: "exec region from the exec environment",
			kube: kubeconfig("c", "https://kube.example.com", &clientcmdapi.AuthInfo{Exec: &clientcmdapi.ExecConfig{
				Command: "/usr/local/bin/aws", Args: []string{"eks", "get-token", "--cluster-name", "staging"},
				Env: []clientcmdapi.ExecEnvVar{{Name: "AWS_PROFILE", Value: "p"}, {Name: "AWS_DEFAULT_REGION", Value: "eu-west-1"}}}}),
			region: "us-west-2", regions: map[string][]ekstypes.Cluster{"eu-west-1": {staging}},
			want: Cluster{Name: "staging", Region: "eu-west-1", Partition: "aws", AccountID: "111122223333", ARN: aws.ToString(staging.Arn),
				Endpoint: aws.ToString(staging.Endpoint), Issuer: stagingIssuer, Source: SourceKubeconfigExec, KubeCluster: "c"},
			wantCalls: []string{"eu-west-1 DescribeCluster staging"}, wantTriedN: 2,
		},
		{
			name: "aws-iam-authenticator with the configured region",
			kube: kubeconfig("c", "https://kube.example.com", &clientcmdapi.AuthInfo{Exec: &clientcmdapi.ExecConfig{
				Command: "aws-iam-authenticator", Args: []string{"token", "-i", "prod"}}}),
			region: "us-west-2", regions: map[string][]ekstypes.Cluster{"us-west-2": {prod}},
			want: Cluster{Name: "prod", Region: "us-west-2", Partition: "aws", AccountID: "111122223333", ARN: aws.ToString(prod.Arn),
				Endpoint: prodServer, Issuer: prodIssuer, Source: SourceKubeconfigExec, KubeCluster: "c"},
			wantTriedN: 2,
		},
		{
			name:   "update-kubeconfig cluster ARN without exec (token auth)",
			kube:   kubeconfig("arn:aws:eks:eu-west-1:111122223333:cluster/staging", "https://kube.example.com", nil),
			region: "us-west-2", regions: map[string][]ekstypes.Cluster{"eu-west-1": {staging}},
			want: Cluster{Name: "staging", Region: "eu-west-1", Partition: "aws", AccountID: "111122223333", ARN: aws.ToString(staging.Arn),
				Endpoint: aws.ToString(staging.Endpoint), Issuer: stagingIssuer, Source: SourceKubeconfigExec, KubeCluster: "arn:aws:eks:eu-west-1:111122223333:cluster/staging"},
			wantCalls: []string{"eu-west-1 DescribeCluster staging"}, wantTriedN: 2,
		},
		{
			name:    "eksctl cluster name",
			kube:    kubeconfig("prod.us-west-2.eksctl.io", "https://kube.example.com", nil),
			regions: map[string][]ekstypes.Cluster{"us-west-2": {prod}},
			want: Cluster{Name: "prod", Region: "us-west-2", Partition: "aws", AccountID: "111122223333", ARN: aws.ToString(prod.Arn),
				Endpoint: prodServer, Issuer: prodIssuer, Source: SourceKubeconfigExec, KubeCluster: "prod.us-west-2.eksctl.io"},
			wantTriedN: 2,
		},
		{
			name: "EKS endpoint host without AWS credentials; name and account from the kubeconfig ARN",
			kube: kubeconfig("arn:aws:eks:us-west-2:111122223333:cluster/prod", prodServer, nil), noAWS: true,
			want: Cluster{Name: "prod", Region: "us-west-2", Partition: "aws", AccountID: "111122223333", ARN: "arn:aws:eks:us-west-2:111122223333:cluster/prod",
				Endpoint: prodServer, Issuer: prodIssuer, Source: SourceEKSEndpoint, KubeCluster: "arn:aws:eks:us-west-2:111122223333:cluster/prod"},
			wantTriedN: 3,
		},
		{
			name: "EKS endpoint host in China, lower-case ID, kubeconfig name kept",
			kube: kubeconfig("my cluster", "https://"+strings.ToLower(prodID)+".yl4.cn-north-1.eks.amazonaws.com.cn", nil), noAWS: true,
			want: Cluster{Name: "my-cluster", Region: "cn-north-1", Partition: "aws-cn",
				Endpoint: "https://" + strings.ToLower(prodID) + ".yl4.cn-north-1.eks.amazonaws.com.cn",
				Issuer:   "https://oidc.eks.cn-north-1.amazonaws.com.cn/id/" + prodID, Source: SourceEKSEndpoint, KubeCluster: "my cluster"},
			wantTriedN: 3,
		},
		{
			name:    "EKS endpoint host wins over a failing describe (cluster without an issuer)",
			kube:    kubeconfig("arn:aws:eks:us-west-2:111122223333:cluster/old", "https://ABCDEF.gr7.us-west-2.eks.amazonaws.com", nil),
			regions: map[string][]ekstypes.Cluster{"us-west-2": {noIssuer}},
			want: Cluster{Name: "old", Region: "us-west-2", Partition: "aws", AccountID: "111122223333", ARN: "arn:aws:eks:us-west-2:111122223333:cluster/old",
				Endpoint: "https://ABCDEF.gr7.us-west-2.eks.amazonaws.com", Issuer: "https://oidc.eks.us-west-2.amazonaws.com/id/ABCDEF",
				Source: SourceEKSEndpoint, KubeCluster: "arn:aws:eks:us-west-2:111122223333:cluster/old"},
			wantTriedN: 3,
		},
		{
			name: "list clusters across pages finds the private endpoint",
			kube: kubeconfig("corp", "HTTPS://Kube.Internal.Example.com", nil), region: "us-west-2", pageSize: 2,
			regions: map[string][]ekstypes.Cluster{"us-west-2": many},
			want: Cluster{Name: "private", Region: "us-west-2", Partition: "aws", AccountID: "111122223333", ARN: aws.ToString(private.Arn),
				Endpoint: "https://kube.internal.example.com:443/", Issuer: aws.ToString(private.Identity.Oidc.Issuer), Source: SourceEKSListClusters, KubeCluster: "corp"},
			wantCalls: []string{"us-west-2 ListClusters ", "us-west-2 DescribeCluster a", "us-west-2 DescribeCluster b",
				"us-west-2 ListClusters 2", "us-west-2 DescribeCluster c", "us-west-2 DescribeCluster private"},
			wantTriedN: 4,
		},
		{
			name: "nothing answers: every source says why",
			kube: kubeconfig("corp", "https://kube.internal.example.com", nil), region: "us-west-2",
			regions: map[string][]ekstypes.Cluster{"us-west-2": {prod}},
			wantErr: "could not find the OIDC issuer of kube context \"ctx\" (server https://kube.internal.example.com); tried:\n" +
				"  eks-cluster-flag: no --eks-cluster given\n" +
				"  kubeconfig-exec: the context has no aws/aws-iam-authenticator exec plugin and its cluster name is neither an EKS ARN nor eksctl's name.region.eksctl.io\n" +
				"  eks-endpoint: server https://kube.internal.example.com is not an EKS endpoint (<id>.<x>.<region>.eks.amazonaws.com)\n" +
				"  eks-list-clusters: none of the 1 EKS clusters in us-west-2 has endpoint https://kube.internal.example.com\n" +
				"  oidc-discovery: no Kubernetes client configuration\n" +
				"name the EKS cluster with --eks-cluster NAME (and --region REGION)",
		},
		{
			name: "no current context", kube: clientcmdapi.Config{}, wantErr: "the kubeconfig has no current context",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			acct := &account{regions: tc.regions, pageSize: tc.pageSize}
			r := &Resolver{Kubeconfig: tc.kube, EKSCluster: tc.flag, Region: tc.region, EKS: acct.factory()}
			if tc.noAWS {
				r.EKS = nil
			}
			got, err := r.Resolve(context.Background())
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
			} else {
				if err != nil {
					t.Fatalf("Resolve: %v", err)
				}
				if len(got.Tried) != tc.wantTriedN || got.Tried[len(got.Tried)-1].Source != got.Source {
					t.Errorf("Tried = %+v, want %d attempts ending with %s", got.Tried, tc.wantTriedN, got.Source)
				}
				if got.Context != "ctx" {
					t.Errorf("Context = %q, want ctx", got.Context)
				}
				if tc.wantWarn != "" && (len(got.Warnings) != 1 || !strings.Contains(got.Warnings[0], tc.wantWarn)) {
					t.Errorf("Warnings = %q, want one containing %q", got.Warnings, tc.wantWarn)
				}
				if tc.wantWarn == "" && len(got.Warnings) != 0 {
					t.Errorf("unexpected Warnings %q", got.Warnings)
				}
				g := *got
				if g.AutoMode != nil && *g.AutoMode {
					t.Errorf("AutoMode on, but no test cluster has a computeConfig")
				}
				g.Tried, g.Context, g.Warnings, g.AutoMode = nil, "", nil, nil
				if !reflect.DeepEqual(g, tc.want) {
					t.Errorf("Resolve() =\n %+v\nwant\n %+v", g, tc.want)
				}
			}
			// Clusters of one page are described in parallel, so their order is not fixed; the calls are.
			if tc.wantCalls != nil && strings.Join(sorted(acct.calls), "|") != strings.Join(sorted(tc.wantCalls), "|") {
				t.Errorf("EKS calls = %q, want %q", acct.calls, tc.wantCalls)
			}
		})
	}
}

// TestDiscoverySource serves a discovery document over TLS the way an API server does; the source's test
// against a real kube-apiserver runs with the sandbox.
func TestDiscoverySource(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, doc, wantIssuer, wantErr string
		status                         int
	}{
		{name: "issuer", doc: `{"issuer":"https://127.0.0.1:6443","jwks_uri":"https://127.0.0.1:6443/openid/v1/jwks"}`, wantIssuer: "https://127.0.0.1:6443"},
		{name: "http issuer refused", doc: `{"issuer":"http://127.0.0.1:6443"}`, wantErr: "is not an https URL"},
		{name: "no issuer", doc: `{"jwks_uri":"x"}`, wantErr: "the document has no issuer"},
		{name: "forbidden", status: http.StatusForbidden, doc: `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Forbidden","code":403}`, wantErr: "GET /.well-known/openid-configuration"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var ua string
			srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				ua = r.Header.Get("User-Agent")
				if r.URL.Path != "/.well-known/openid-configuration" {
					http.NotFound(w, r)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				if tc.status != 0 {
					w.WriteHeader(tc.status)
				}
				_, _ = w.Write([]byte(tc.doc))
			}))
			defer srv.Close()
			rc := &rest.Config{Host: srv.URL, TLSClientConfig: rest.TLSClientConfig{Insecure: true}, UserAgent: "kubectl-sdc/test"}
			r := &Resolver{Kubeconfig: kubeconfig("kind-kind", srv.URL, nil), REST: rc}
			got, err := r.Resolve(context.Background())
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), "oidc-discovery: "+"GET") || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want an oidc-discovery attempt containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Issuer != tc.wantIssuer || got.Source != SourceOIDCDiscovery || got.Name != "kind-kind" || got.Partition != "aws" {
				t.Errorf("got %+v", got)
			}
			if ua != "kubectl-sdc/test" {
				t.Errorf("discovery request User-Agent %q, want the REST config's", ua)
			}
		})
	}
}

func TestKubeconfigFromFlags(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "config")
	const kc = `apiVersion: v1
kind: Config
current-context: a
clusters:
- name: ca
  cluster: {server: "https://a.example.com"}
- name: arn:aws:eks:us-west-2:111122223333:cluster/prod
  cluster: {server: "https://` + prodID + `.gr7.us-west-2.eks.amazonaws.com"}
users:
- name: u
  user: {token: t}
contexts:
- name: a
  context: {cluster: ca, user: u}
- name: b
  context: {cluster: "arn:aws:eks:us-west-2:111122223333:cluster/prod", user: u}
`
	if err := os.WriteFile(path, []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name                    string
		set                     func(f *genericclioptions.ConfigFlags)
		wantContext, wantServer string
		wantSource              string
	}{
		{"current context", func(*genericclioptions.ConfigFlags) {}, "a", "https://a.example.com", SourceOIDCDiscovery},
		{"--context", func(f *genericclioptions.ConfigFlags) { *f.Context = "b" }, "b", "https://" + prodID + ".gr7.us-west-2.eks.amazonaws.com", SourceEKSEndpoint},
		{"--cluster", func(f *genericclioptions.ConfigFlags) {
			*f.ClusterName = "arn:aws:eks:us-west-2:111122223333:cluster/prod"
		}, "a", "https://" + prodID + ".gr7.us-west-2.eks.amazonaws.com", SourceEKSEndpoint},
		{"--server", func(f *genericclioptions.ConfigFlags) { *f.APIServer = "https://other.example.com" }, "a", "https://other.example.com", SourceOIDCDiscovery},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := genericclioptions.NewConfigFlags(false)
			*f.KubeConfig = path
			tc.set(f)
			cfg, err := Kubeconfig(f)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.CurrentContext != tc.wantContext {
				t.Errorf("CurrentContext = %q, want %q", cfg.CurrentContext, tc.wantContext)
			}
			r := &Resolver{Kubeconfig: cfg}
			k, err := r.kube()
			if err != nil {
				t.Fatal(err)
			}
			if k.Server != tc.wantServer {
				t.Errorf("Server = %q, want %q", k.Server, tc.wantServer)
			}
			got, err := r.Resolve(context.Background())
			if tc.wantSource == SourceEKSEndpoint && (got == nil || got.Source != SourceEKSEndpoint || got.Name != "prod") {
				t.Errorf("Resolve = %+v, %v; want the EKS endpoint source naming prod", got, err)
			}
		})
	}
	f := genericclioptions.NewConfigFlags(false)
	*f.KubeConfig = path
	*f.Context = "missing"
	if _, err := Kubeconfig(f); err == nil || !strings.Contains(err.Error(), "--context") {
		t.Errorf("Kubeconfig with a missing --context: %v, want an error saying to pass --context", err)
	}
}

func TestHelpers(t *testing.T) {
	t.Parallel()
	same := []struct {
		a, b string
		want bool
	}{
		{"https://X.gr7.us-west-2.eks.amazonaws.com", "https://x.gr7.us-west-2.eks.amazonaws.com/", true},
		{"https://h:443", "h", true},
		{"https://h:6443", "https://h", false},
		{"https://h/a", "https://h/b", false},
		{"https://h", "", false},
	}
	for _, s := range same {
		if got := sameEndpoint(s.a, s.b); got != s.want {
			t.Errorf("sameEndpoint(%q, %q) = %v, want %v", s.a, s.b, got, s.want)
		}
	}
}

func TestClusterJSON(t *testing.T) {
	t.Parallel()
	c := Cluster{Name: "prod", Partition: "aws", Issuer: "https://i", Source: SourceEKSEndpoint, Tried: []Attempt{{Source: SourceEKSEndpoint, Detail: "d"}}}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"name":"prod"`, `"issuer":"https://i"`, `"source":"eks-endpoint"`, `"tried":[{"source":"eks-endpoint","detail":"d"}]`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("JSON %s lacks %s", b, key)
		}
	}
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

// A described cluster says whether it runs in EKS Auto Mode (computeConfig.enabled), which serves Pod
// Identity without the add-on.
func TestFromEKSAutoMode(t *testing.T) {
	t.Parallel()
	ec := &ekstypes.Cluster{Name: aws.String("auto"), Arn: aws.String("arn:aws:eks:us-west-2:111122223333:cluster/auto"),
		Identity: &ekstypes.Identity{Oidc: &ekstypes.OIDC{Issuer: aws.String("https://oidc.eks.us-west-2.amazonaws.com/id/A")}}}
	c, err := fromEKS(ec, "auto", "us-west-2")
	if err != nil || c.AutoMode == nil || *c.AutoMode {
		t.Fatalf("without computeConfig: %+v, %v", c, err)
	}
	ec.ComputeConfig = &ekstypes.ComputeConfigResponse{Enabled: aws.Bool(true)}
	if c, err := fromEKS(ec, "auto", "us-west-2"); err != nil || c.AutoMode == nil || !*c.AutoMode {
		t.Errorf("with computeConfig.enabled: %+v, %v", c, err)
	}
}
