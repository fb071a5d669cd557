package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"k8s.io/client-go/discovery"

	sdcaws "github.com/kubectl-sdc/kubectl-sdc/pkg/aws"
)

// findByFlag describes the cluster --eks-cluster names.
func findByFlag(ctx context.Context, r *Resolver, k Kube) (*Cluster, string, error) {
	if r.EKSCluster == "" {
		return nil, "no --eks-cluster given", nil
	}
	region := r.Region
	if region == "" {
		if ref, ok := kubeconfigRef(k); ok && ref.name == r.EKSCluster {
			region = ref.region
		}
	}
	c, err := describe(ctx, r, r.EKSCluster, region, "--eks-cluster")
	if err != nil {
		return nil, "", err
	}
	// The user named a cluster; if the kube context talks to another one, bind would wire the wrong pair.
	if k.Server != "" && !sameEndpoint(c.Endpoint, k.Server) {
		c.Warnings = append(c.Warnings, fmt.Sprintf("--eks-cluster %s has endpoint %s but kube context %q talks to %s: check --context",
			r.EKSCluster, c.Endpoint, k.Context, k.Server))
	}
	return c, fmt.Sprintf("eks:DescribeCluster %s in %s", r.EKSCluster, c.Region), nil
}

// findByKubeconfig describes the cluster the context's exec credential plugin or cluster entry names.
func findByKubeconfig(ctx context.Context, r *Resolver, k Kube) (*Cluster, string, error) {
	ref, ok := kubeconfigRef(k)
	if !ok {
		return nil, "the context has no aws/aws-iam-authenticator exec plugin and its cluster name is neither an EKS ARN nor eksctl's name.region.eksctl.io", nil
	}
	region := firstNonEmpty(ref.region, r.Region)
	c, err := describe(ctx, r, ref.name, region, ref.from)
	if err != nil {
		return nil, "", err
	}
	return c, fmt.Sprintf("%s names EKS cluster %s in %s; eks:DescribeCluster", ref.from, ref.name, c.Region), nil
}

// findByEndpointHost reads the issuer off an EKS API server host name: the endpoint's ID is the issuer's.
func findByEndpointHost(_ context.Context, _ *Resolver, k Kube) (*Cluster, string, error) {
	id, region, suffix, ok := parseEKSEndpoint(k.Server)
	if !ok {
		return nil, fmt.Sprintf("server %s is not an EKS endpoint (<id>.<x>.<region>.eks.amazonaws.com)", k.Server), nil
	}
	c := &Cluster{
		Region:   region,
		Issuer:   fmt.Sprintf("https://oidc.eks.%s.%s/id/%s", region, suffix, id),
		Endpoint: k.Server,
	}
	return c, fmt.Sprintf("server host names EKS cluster ID %s in %s", id, region), nil
}

// findByListClusters looks for the cluster whose endpoint is the context's server among the account's
// clusters in the region.
func findByListClusters(ctx context.Context, r *Resolver, k Kube) (*Cluster, string, error) {
	if r.EKS == nil {
		return nil, "no AWS credentials to list EKS clusters with", nil
	}
	if r.Region == "" {
		return nil, "no AWS region to list EKS clusters in (pass --region)", nil
	}
	client := r.EKS(r.Region)
	pages := eks.NewListClustersPaginator(client, &eks.ListClustersInput{})
	listed := 0
	var failures []string
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, "", fmt.Errorf("eks:ListClusters in %s: %w", r.Region, err)
		}
		listed += len(page.Clusters)
		found, failed := describeAll(ctx, client, page.Clusters, k.Server)
		failures = append(failures, failed...)
		if found != nil {
			c, err := fromEKS(found.Cluster, aws.ToString(found.Cluster.Name), r.Region)
			if err != nil {
				return nil, "", err
			}
			return c, fmt.Sprintf("eks:ListClusters in %s: %s has endpoint %s", r.Region, aws.ToString(found.Cluster.Name), k.Server), nil
		}
	}
	if len(failures) > 0 {
		return nil, "", fmt.Errorf("none of the %d EKS clusters in %s that could be described has endpoint %s; %s",
			listed, r.Region, k.Server, strings.Join(failures, "; "))
	}
	return nil, fmt.Sprintf("none of the %d EKS clusters in %s has endpoint %s", listed, r.Region, k.Server), nil
}

// describeParallelism bounds the eks:DescribeCluster calls in flight while looking for a server: enough to
// hide latency in an account with dozens of clusters, few enough to stay clear of EKS's throttling.
const describeParallelism = 8

// describeAll describes the named clusters, describeParallelism at a time, and returns the one whose
// endpoint is server (nil when none is), with what could not be described, sorted.
func describeAll(ctx context.Context, client EKS, names []string, server string) (*eks.DescribeClusterOutput, []string) {
	outs := make([]*eks.DescribeClusterOutput, len(names))
	errs := make([]error, len(names))
	sem := make(chan struct{}, describeParallelism)
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			outs[i], errs[i] = client.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(name)})
		}()
	}
	wg.Wait()
	var failures []string
	for i, name := range names {
		switch {
		case errs[i] != nil:
			failures = append(failures, fmt.Sprintf("eks:DescribeCluster %s: %v", name, errs[i]))
		case outs[i].Cluster != nil && sameEndpoint(aws.ToString(outs[i].Cluster.Endpoint), server):
			if outs[i].Cluster.Name == nil {
				outs[i].Cluster.Name = aws.String(name)
			}
			return outs[i], nil
		}
	}
	return nil, failures
}

// findByDiscovery asks the API server for its service account issuer discovery document, which every
// conformant cluster serves (Kubernetes 1.21+).
func findByDiscovery(ctx context.Context, r *Resolver, k Kube) (*Cluster, string, error) {
	if r.REST == nil {
		return nil, "no Kubernetes client configuration", nil
	}
	dc, err := discovery.NewDiscoveryClientForConfig(r.REST)
	if err != nil {
		return nil, "", fmt.Errorf("making a client for %s: %w", k.Server, err)
	}
	const path = "/.well-known/openid-configuration"
	body, err := dc.RESTClient().Get().AbsPath(path).DoRaw(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("GET %s: %w", path, err)
	}
	var doc struct {
		Issuer string `json:"issuer"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, "", fmt.Errorf("GET %s: not an OpenID discovery document: %w", path, err)
	}
	if doc.Issuer == "" {
		return nil, "", fmt.Errorf("GET %s: the document has no issuer", path)
	}
	if u, err := url.Parse(doc.Issuer); err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, "", fmt.Errorf("GET %s: issuer %q is not an https URL, which IAM requires of OIDC providers (set kube-apiserver --service-account-issuer)", path, doc.Issuer)
	}
	return &Cluster{Issuer: doc.Issuer, Endpoint: k.Server}, "GET " + path + " on the API server", nil
}

// describe asks EKS about one cluster.
func describe(ctx context.Context, r *Resolver, name, region, from string) (*Cluster, error) {
	if region == "" {
		return nil, fmt.Errorf("%s names EKS cluster %q but no region is known: pass --region", from, name)
	}
	if r.EKS == nil {
		return nil, fmt.Errorf("%s names EKS cluster %q but there are no AWS credentials to describe it with", from, name)
	}
	out, err := r.EKS(region).DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(name)})
	if err != nil {
		if sdcaws.IsNotFound(err) {
			return nil, fmt.Errorf("%s names EKS cluster %q, which does not exist in %s: check the name and --region (aws eks list-clusters --region %s)", from, name, region, region)
		}
		return nil, fmt.Errorf("eks:DescribeCluster %q in %s: %w", name, region, err)
	}
	if out.Cluster == nil {
		return nil, fmt.Errorf("eks:DescribeCluster %q in %s returned no cluster", name, region)
	}
	return fromEKS(out.Cluster, name, region)
}

func fromEKS(ec *ekstypes.Cluster, name, region string) (*Cluster, error) {
	issuer := ""
	if ec.Identity != nil && ec.Identity.Oidc != nil {
		issuer = aws.ToString(ec.Identity.Oidc.Issuer)
	}
	if issuer == "" {
		return nil, fmt.Errorf("EKS cluster %q in %s has no OIDC issuer (clusters older than Kubernetes 1.13 lack one): upgrade the cluster", name, region)
	}
	c := &Cluster{
		Name:     firstNonEmpty(aws.ToString(ec.Name), name),
		Region:   region,
		ARN:      aws.ToString(ec.Arn),
		Endpoint: aws.ToString(ec.Endpoint),
		Issuer:   issuer,
	}
	if a, err := arn.Parse(c.ARN); err == nil {
		c.AccountID, c.Partition = a.AccountID, a.Partition
	}
	auto := ec.ComputeConfig != nil && aws.ToBool(ec.ComputeConfig.Enabled)
	c.AutoMode = &auto
	return c, nil
}

// ref is an EKS cluster named by the kubeconfig.
type ref struct {
	name, region, account, arn string
	from                       string // where it was read, for messages
}

// kubeconfigRef finds the EKS cluster the context names: first in its exec credential plugin (what
// actually authenticates), then in the cluster entry or context name (the ARN `aws eks update-kubeconfig`
// writes, or eksctl's name.region.eksctl.io). A region missing from the exec args is taken from the exec
// environment, then from the names.
func kubeconfigRef(k Kube) (ref, bool) {
	var named ref
	var haveNamed bool
	for _, s := range []string{k.Cluster, k.Context} {
		if r, ok := parseClusterARN(s); ok {
			named, haveNamed = r, true
			break
		}
		if r, ok := parseEksctlName(s); ok {
			named, haveNamed = r, true
			break
		}
	}
	if r, ok := parseExec(k); ok {
		if r.region == "" && haveNamed && named.name == r.name {
			r.region = named.region
		}
		if haveNamed && named.name == r.name && named.region == r.region {
			r.arn, r.account = named.arn, named.account
		}
		return r, true
	}
	return named, haveNamed
}

func parseExec(k Kube) (ref, bool) {
	ex := k.AuthInfo.Exec
	if ex == nil {
		return ref{}, false
	}
	cmd := strings.TrimSuffix(strings.ToLower(filepath.Base(ex.Command)), ".exe")
	args := ex.Args
	var r ref
	switch cmd {
	case "aws":
		if !containsInOrder(args, "eks", "get-token") {
			return ref{}, false
		}
		r.name = flagValue(args, "--cluster-name", "--cluster-id")
		r.from = "the context's exec plugin (aws eks get-token)"
	case "aws-iam-authenticator":
		if !containsInOrder(args, "token") {
			return ref{}, false
		}
		r.name = flagValue(args, "-i", "--cluster-id")
		r.from = "the context's exec plugin (aws-iam-authenticator token)"
	default:
		return ref{}, false
	}
	if r.name == "" {
		return ref{}, false
	}
	r.region = flagValue(args, "--region")
	if r.region == "" {
		env := map[string]string{}
		for _, e := range ex.Env {
			env[e.Name] = e.Value
		}
		r.region = firstNonEmpty(env["AWS_REGION"], env["AWS_DEFAULT_REGION"])
	}
	return r, true
}

// flagValue returns the value of the first of names in args, in the "--flag value" or "--flag=value" form.
func flagValue(args []string, names ...string) string {
	for _, name := range names {
		for i, a := range args {
			if a == name && i+1 < len(args) {
				return args[i+1]
			}
			if v, ok := strings.CutPrefix(a, name+"="); ok {
				return v
			}
		}
	}
	return ""
}

func containsInOrder(args []string, words ...string) bool {
	i := 0
	for _, a := range args {
		if i < len(words) && a == words[i] {
			i++
		}
	}
	return i == len(words)
}

var regionRE = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)

func parseClusterARN(s string) (ref, bool) {
	a, err := arn.Parse(s)
	if err != nil || a.Service != "eks" || !regionRE.MatchString(a.Region) {
		return ref{}, false
	}
	name, ok := strings.CutPrefix(a.Resource, "cluster/")
	if !ok || name == "" {
		return ref{}, false
	}
	return ref{name: name, region: a.Region, account: a.AccountID, arn: s, from: "the kubeconfig's cluster ARN"}, true
}

var eksctlRE = regexp.MustCompile(`^(?:[^@]*@)?([A-Za-z0-9][A-Za-z0-9_-]*)\.([a-z]{2}(?:-[a-z]+)+-[0-9]+)\.eksctl\.io$`)

func parseEksctlName(s string) (ref, bool) {
	m := eksctlRE.FindStringSubmatch(s)
	if m == nil {
		return ref{}, false
	}
	return ref{name: m[1], region: m[2], from: "the kubeconfig's eksctl cluster name"}, true
}

var eksEndpointRE = regexp.MustCompile(`^([0-9a-z]+)\.[a-z0-9]+\.([a-z]{2}(?:-[a-z]+)+-[0-9]+)\.eks\.(amazonaws\.com(?:\.cn)?)$`)

// parseEKSEndpoint reads <ID>.<x>.<region>.eks.amazonaws.com[.cn]; the ID is upper-case in EKS issuers.
func parseEKSEndpoint(server string) (id, region, suffix string, ok bool) {
	u, err := url.Parse(server)
	if err != nil {
		return "", "", "", false
	}
	m := eksEndpointRE.FindStringSubmatch(strings.ToLower(u.Hostname()))
	if m == nil {
		return "", "", "", false
	}
	return strings.ToUpper(m[1]), m[2], m[3], true
}

// sameEndpoint compares API server URLs as addresses: scheme, host case, trailing slash and the default
// port do not matter.
func sameEndpoint(a, b string) bool {
	na, errA := normalizeEndpoint(a)
	nb, errB := normalizeEndpoint(b)
	return errA == nil && errB == nil && na == nb
}

func normalizeEndpoint(s string) (string, error) {
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", err
	}
	if u.Host == "" {
		return "", errors.New("no host")
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if port == "" || port == "443" {
		port = "443"
	}
	return net.JoinHostPort(host, port) + strings.TrimSuffix(u.EscapedPath(), "/"), nil
}
