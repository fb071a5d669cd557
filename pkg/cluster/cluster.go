// Package cluster turns a kube context into the facts IRSA needs about its cluster: the EKS cluster name,
// region, partition, account, API endpoint and, above all, the OIDC issuer. It tries a list of sources in
// order and records which answered and what each of the others said.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	sdcaws "github.com/kubectl-sdc/kubectl-sdc/pkg/aws"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// Cluster is what the resolution found out about the kube context's cluster.
type Cluster struct {
	// Name is the EKS cluster name when known, else derived from the kubeconfig (sanitized for IAM names).
	Name      string `json:"name"`
	Region    string `json:"region,omitempty"`
	Partition string `json:"partition"`
	AccountID string `json:"accountId,omitempty"`
	// ARN is the EKS cluster ARN when an EKS source answered or the kubeconfig names it.
	ARN string `json:"arn,omitempty"`
	// Endpoint is the API server URL: EKS's when known, else the kube context's server.
	Endpoint string `json:"endpoint"`
	// Issuer is the service account token issuer URL, https://oidc.eks.<region>.amazonaws.com/id/<ID> on EKS.
	Issuer string `json:"issuer"`
	// Source is the name of the source that found the issuer.
	Source string `json:"source"`
	// Tried lists every source asked, in order, with what it said; the last is Source.
	Tried []Attempt `json:"tried"`
	// Context and KubeCluster are the kube context and its kubeconfig cluster entry.
	Context     string `json:"context"`
	KubeCluster string `json:"kubeCluster"`
	// Warnings are facts worth telling the user that did not stop resolution.
	Warnings []string `json:"warnings,omitempty"`
	// AutoMode is EKS Auto Mode (DescribeCluster's computeConfig.enabled), which runs the Pod Identity
	// agent itself; nil when the cluster was not described.
	AutoMode *bool `json:"autoMode,omitempty"`
}

// RequireEKS checks that the cluster is an EKS cluster that the EKS API can name: one whose ARN is known
// (an EKS source found it, or the kubeconfig names it). EKS Pod Identity needs it.
func (c *Cluster) RequireEKS() error {
	if c.ARN == "" {
		return fmt.Errorf("EKS Pod Identity needs the EKS cluster's name, and cluster %q was found by %s, which does not tell it (it may not be an EKS cluster): name it with --eks-cluster NAME --region REGION, or use IRSA",
			c.Name, c.Source)
	}
	return nil
}

// Attempt is one source's answer: how it found the issuer, why it did not apply, or how it failed.
type Attempt struct {
	Source string `json:"source"`
	Detail string `json:"detail"`
}

// EKS is the part of *eks.Client the EKS sources use.
type EKS interface {
	DescribeCluster(ctx context.Context, in *eks.DescribeClusterInput, optFns ...func(*eks.Options)) (*eks.DescribeClusterOutput, error)
	ListClusters(ctx context.Context, in *eks.ListClustersInput, optFns ...func(*eks.Options)) (*eks.ListClustersOutput, error)
}

// Resolver finds a Cluster for the current context of Kubeconfig.
type Resolver struct {
	// Kubeconfig is the kubeconfig with kubectl's flags applied (see Kubeconfig); CurrentContext selects.
	Kubeconfig clientcmdapi.Config
	// REST is the context's client configuration, for the oidc-discovery source; nil leaves it out.
	REST *rest.Config
	// EKSCluster is --eks-cluster: when set, that cluster is described and nothing else is tried.
	EKSCluster string
	// Region is --region or the AWS configuration's region; "" when neither says.
	Region string
	// EKS returns an EKS client for a region; nil when there are no AWS credentials to use.
	EKS func(region string) EKS
	// Sources are tried in order; nil means DefaultSources.
	Sources []Source
}

// Kube is the kube context the sources look at.
type Kube struct {
	Context  string                 // context name
	Cluster  string                 // kubeconfig cluster entry name
	Server   string                 // API server URL
	AuthInfo *clientcmdapi.AuthInfo // the context's user; never nil
}

// Source is one way to find the issuer. Find returns the cluster when it answers, with a detail saying how;
// (nil, detail, nil) when it does not apply, detail saying why; or an error when it tried and failed.
type Source struct {
	Name string
	Find func(ctx context.Context, r *Resolver, k Kube) (*Cluster, string, error)
	// Decisive sources stop resolution when they fail: the user asked for exactly that cluster.
	Decisive bool
}

// The names of the built-in sources, as Cluster.Source and Attempt.Source report them.
const (
	SourceEKSClusterFlag  = "eks-cluster-flag"
	SourceKubeconfigExec  = "kubeconfig-exec"
	SourceEKSEndpoint     = "eks-endpoint"
	SourceEKSListClusters = "eks-list-clusters"
	SourceOIDCDiscovery   = "oidc-discovery"
)

// DefaultSources are the built-in sources in the order they are tried: exact user input first, then what
// the kubeconfig says, then what costs AWS calls, then the API server itself (which works anywhere).
func DefaultSources() []Source {
	return []Source{
		{Name: SourceEKSClusterFlag, Find: findByFlag, Decisive: true},
		{Name: SourceKubeconfigExec, Find: findByKubeconfig},
		{Name: SourceEKSEndpoint, Find: findByEndpointHost},
		{Name: SourceEKSListClusters, Find: findByListClusters},
		{Name: SourceOIDCDiscovery, Find: findByDiscovery},
	}
}

// Kubeconfig returns the kubeconfig selected by kubectl's flags (--kubeconfig, --context, --cluster,
// --user, --server) with those overrides applied, so its CurrentContext is the context in use.
func Kubeconfig(f *genericclioptions.ConfigFlags) (clientcmdapi.Config, error) {
	raw, err := f.ToRawKubeConfigLoader().RawConfig()
	if err != nil {
		return clientcmdapi.Config{}, fmt.Errorf("reading the kubeconfig: %w", err)
	}
	o := &clientcmd.ConfigOverrides{}
	if f.Context != nil {
		o.CurrentContext = *f.Context
	}
	if f.ClusterName != nil {
		o.Context.Cluster = *f.ClusterName
	}
	if f.AuthInfoName != nil {
		o.Context.AuthInfo = *f.AuthInfoName
	}
	if f.APIServer != nil {
		o.ClusterInfo.Server = *f.APIServer
	}
	merged, err := clientcmd.NewNonInteractiveClientConfig(raw, o.CurrentContext, o, nil).MergedRawConfig()
	if err != nil {
		return clientcmdapi.Config{}, fmt.Errorf("the kubeconfig has no usable context (%w): pass --context, or check 'kubectl config current-context'", err)
	}
	return merged, nil
}

// Resolve tries the sources in order and returns the first answer. When none answers, the error lists what
// each source said.
func (r *Resolver) Resolve(ctx context.Context) (*Cluster, error) {
	k, err := r.kube()
	if err != nil {
		return nil, err
	}
	sources := r.Sources
	if sources == nil {
		sources = DefaultSources()
	}
	var tried []Attempt
	for _, s := range sources {
		c, detail, err := s.Find(ctx, r, k)
		if err != nil {
			detail = err.Error()
		}
		tried = append(tried, Attempt{Source: s.Name, Detail: detail})
		if err != nil && s.Decisive {
			return nil, fmt.Errorf("%s: %w", s.Name, err)
		}
		if c != nil && err == nil {
			c.Source, c.Tried = s.Name, tried
			r.finish(c, k)
			return c, nil
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "could not find the OIDC issuer of kube context %q (server %s); tried:", k.Context, k.Server)
	for _, a := range tried {
		fmt.Fprintf(&b, "\n  %s: %s", a.Source, a.Detail)
	}
	b.WriteString("\nname the EKS cluster with --eks-cluster NAME (and --region REGION)")
	return nil, errors.New(b.String())
}

func (r *Resolver) kube() (Kube, error) {
	cfg := r.Kubeconfig
	name := cfg.CurrentContext
	if name == "" {
		return Kube{}, errors.New("the kubeconfig has no current context: pass --context NAME, or run 'kubectl config use-context NAME'")
	}
	kctx, ok := cfg.Contexts[name]
	if !ok || kctx == nil {
		return Kube{}, fmt.Errorf("kube context %q is not in the kubeconfig: see 'kubectl config get-contexts'", name)
	}
	cl, ok := cfg.Clusters[kctx.Cluster]
	if !ok || cl == nil {
		return Kube{}, fmt.Errorf("kube context %q names cluster %q, which is not in the kubeconfig: see 'kubectl config get-clusters'", name, kctx.Cluster)
	}
	ai := cfg.AuthInfos[kctx.AuthInfo]
	if ai == nil {
		ai = &clientcmdapi.AuthInfo{}
	}
	return Kube{Context: name, Cluster: kctx.Cluster, Server: cl.Server, AuthInfo: ai}, nil
}

// finish fills what follows from what a source found: region and account from the ARN, partition from the
// ARN, region or issuer, the name from the kubeconfig when EKS did not give one.
func (r *Resolver) finish(c *Cluster, k Kube) {
	c.Context, c.KubeCluster = k.Context, k.Cluster
	if c.Endpoint == "" {
		c.Endpoint = k.Server
	}
	if a, err := arn.Parse(c.ARN); err == nil {
		c.Region = firstNonEmpty(c.Region, a.Region)
		c.AccountID = firstNonEmpty(c.AccountID, a.AccountID)
		c.Partition = firstNonEmpty(c.Partition, a.Partition)
	}
	if ref, ok := kubeconfigRef(k); ok {
		if c.Name == "" {
			c.Name = ref.name
		}
		// The kubeconfig's ARN is only about this cluster when it names the same cluster and region.
		if ref.arn != "" && c.ARN == "" && ref.name == c.Name && (c.Region == "" || c.Region == ref.region) {
			c.ARN, c.AccountID = ref.arn, firstNonEmpty(c.AccountID, ref.account)
		}
		if c.Region == "" && ref.name == c.Name {
			c.Region = ref.region
		}
	}
	if c.Region == "" {
		region, _, _ := vocab.ParseEKSIssuer(c.Issuer)
		c.Region = firstNonEmpty(region, r.Region)
	}
	if c.Partition == "" {
		switch {
		case strings.HasSuffix(issuerHost(c.Issuer), ".amazonaws.com.cn"):
			c.Partition = sdcaws.PartitionChina
		default:
			c.Partition = sdcaws.PartitionForRegion(c.Region)
		}
	}
	if c.Name == "" {
		c.Name = k.Cluster
	}
	c.Name = vocab.SanitizeName(c.Name)
}

func issuerHost(issuer string) string {
	u, err := url.Parse(issuer)
	if err != nil {
		return ""
	}
	return u.Hostname()
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
