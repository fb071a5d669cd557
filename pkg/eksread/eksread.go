// Package eksread reads what EKS Pod Identity is made of — a cluster's Pod Identity associations and
// whether the cluster runs the Pod Identity agent — so bind, doctor and manifest see EKS the same way and
// pay for it the same way: one paged list per cluster (filtered when only one namespace or ServiceAccount
// matters), then a describe of only the associations in scope, in parallel with a bound.
package eksread

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"

	sdcaws "github.com/kubectl-sdc/kubectl-sdc/pkg/aws"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// API is the part of *eks.Client the readers use.
type API interface {
	ListPodIdentityAssociations(context.Context, *eks.ListPodIdentityAssociationsInput, ...func(*eks.Options)) (*eks.ListPodIdentityAssociationsOutput, error)
	DescribePodIdentityAssociation(context.Context, *eks.DescribePodIdentityAssociationInput, ...func(*eks.Options)) (*eks.DescribePodIdentityAssociationOutput, error)
	DescribeAddon(context.Context, *eks.DescribeAddonInput, ...func(*eks.Options)) (*eks.DescribeAddonOutput, error)
	DescribeCluster(context.Context, *eks.DescribeClusterInput, ...func(*eks.Options)) (*eks.DescribeClusterOutput, error)
}

// Summary is an association as ListPodIdentityAssociations returns it: without its role.
type Summary struct {
	ID, ARN, Namespace, ServiceAccount string
}

// Key is namespace/serviceAccount, the one association a pair can have.
func (s Summary) Key() string { return s.Namespace + "/" + s.ServiceAccount }

// Association is one association, described.
type Association struct {
	Summary
	Cluster       string
	RoleARN       string
	TargetRoleARN string
	// ExternalID is what EKS passes as sts:ExternalId when it assumes the target role with session tags
	// disabled; Policy is the association's session policy ("" for none).
	ExternalID, Policy string
	DisableSessionTags bool
	Tags               map[string]string
	Created, Modified  time.Time
}

// Filter narrows a list to a namespace and, within it, a ServiceAccount ("" means all).
type Filter struct{ Namespace, ServiceAccount string }

// listPageSize is EKS's largest page of associations.
const listPageSize = 100

// List pages through the cluster's associations, filtered; an error names the cluster.
func List(ctx context.Context, c API, cluster string, f Filter) ([]Summary, error) {
	in := &eks.ListPodIdentityAssociationsInput{ClusterName: aws.String(cluster), MaxResults: aws.Int32(listPageSize)}
	if f.Namespace != "" {
		in.Namespace = aws.String(f.Namespace)
		if f.ServiceAccount != "" {
			in.ServiceAccount = aws.String(f.ServiceAccount)
		}
	}
	var out []Summary
	for {
		page, err := c.ListPodIdentityAssociations(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("listing the EKS Pod Identity associations of cluster %s (eks:ListPodIdentityAssociations): %w", cluster, err)
		}
		for _, a := range page.Associations {
			out = append(out, Summary{ID: aws.ToString(a.AssociationId), ARN: aws.ToString(a.AssociationArn),
				Namespace: aws.ToString(a.Namespace), ServiceAccount: aws.ToString(a.ServiceAccount)})
		}
		if aws.ToString(page.NextToken) == "" {
			break
		}
		in.NextToken = page.NextToken
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key() < out[j].Key() })
	return out, nil
}

// Describe reads one association; nil, nil when it is gone (deleted since it was listed).
func Describe(ctx context.Context, c API, cluster, id string) (*Association, error) {
	out, err := c.DescribePodIdentityAssociation(ctx, &eks.DescribePodIdentityAssociationInput{ClusterName: aws.String(cluster), AssociationId: aws.String(id)})
	if sdcaws.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("describing EKS Pod Identity association %s of cluster %s (eks:DescribePodIdentityAssociation): %w", id, cluster, err)
	}
	return FromEKS(out.Association), nil
}

// FromEKS converts the SDK's association.
func FromEKS(a *ekstypes.PodIdentityAssociation) *Association {
	if a == nil {
		return nil
	}
	return &Association{
		Summary: Summary{ID: aws.ToString(a.AssociationId), ARN: aws.ToString(a.AssociationArn),
			Namespace: aws.ToString(a.Namespace), ServiceAccount: aws.ToString(a.ServiceAccount)},
		Cluster: aws.ToString(a.ClusterName), RoleARN: aws.ToString(a.RoleArn), TargetRoleARN: aws.ToString(a.TargetRoleArn),
		ExternalID: aws.ToString(a.ExternalId), Policy: aws.ToString(a.Policy),
		DisableSessionTags: aws.ToBool(a.DisableSessionTags), Tags: a.Tags,
		Created: aws.ToTime(a.CreatedAt), Modified: aws.ToTime(a.ModifiedAt),
	}
}

// Described is the outcome of describing one listed association.
type Described struct {
	Association *Association // nil when it was deleted meanwhile, or on error
	Err         error
}

// DescribeAll describes the listed associations, at most parallelism at a time, keyed by Summary.Key.
func DescribeAll(ctx context.Context, c API, cluster string, list []Summary, parallelism int) map[string]Described {
	if parallelism < 1 {
		parallelism = 1
	}
	out := make(map[string]Described, len(list))
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, parallelism)
	for _, s := range list {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			a, err := Describe(ctx, c, cluster, s.ID)
			mu.Lock()
			out[s.Key()] = Described{Association: a, Err: err}
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

// Find is the association of one ServiceAccount: a list filtered to it, then a describe; nil, nil when it
// has none.
func Find(ctx context.Context, c API, cluster, namespace, serviceAccount string) (*Association, error) {
	list, err := List(ctx, c, cluster, Filter{Namespace: namespace, ServiceAccount: serviceAccount})
	if err != nil {
		return nil, err
	}
	for _, s := range list {
		if s.Namespace == namespace && s.ServiceAccount == serviceAccount {
			return Describe(ctx, c, cluster, s.ID)
		}
	}
	return nil, nil
}

// Agent is whether the cluster can serve Pod Identity: the eks-pod-identity-agent add-on, or EKS Auto
// Mode (which runs the agent itself).
type Agent struct {
	// AddonStatus is the add-on's status (ACTIVE, CREATING, DEGRADED, ...); "" when it is not installed.
	AddonStatus  string
	AddonVersion string
	// AutoMode is DescribeCluster's computeConfig.enabled; nil when not asked (the add-on answered).
	AutoMode *bool
	// Err is why the add-on (or the cluster) could not be read.
	Err error
}

// Serves reports whether pods of the cluster get Pod Identity credentials.
func (a Agent) Serves() bool {
	return a.Err == nil && (a.AddonStatus == "ACTIVE" || (a.AutoMode != nil && *a.AutoMode))
}

// Describe says what was found, e.g. "add-on eks-pod-identity-agent v1.3.10-eksbuild.2 is ACTIVE".
func (a Agent) Describe() string {
	switch {
	case a.Err != nil:
		return a.Err.Error()
	case a.AutoMode != nil && *a.AutoMode:
		return "the cluster runs in EKS Auto Mode, which runs the Pod Identity agent itself"
	case a.AddonStatus != "":
		s := "add-on " + vocab.PodIdentityAgentAddon
		if a.AddonVersion != "" {
			s += " " + a.AddonVersion
		}
		return s + " is " + a.AddonStatus
	}
	return "add-on " + vocab.PodIdentityAgentAddon + " is not installed and the cluster is not in EKS Auto Mode"
}

// ReadAgent asks for the add-on, and only when it is not ACTIVE, for Auto Mode (unless autoMode is
// already known from a DescribeCluster: pass it to save the call). Auto Mode known to be on needs no call.
func ReadAgent(ctx context.Context, c API, cluster string, autoMode *bool) Agent {
	a := Agent{AutoMode: autoMode}
	if autoMode != nil && *autoMode {
		return a
	}
	out, err := c.DescribeAddon(ctx, &eks.DescribeAddonInput{ClusterName: aws.String(cluster), AddonName: aws.String(vocab.PodIdentityAgentAddon)})
	switch {
	case sdcaws.IsNotFound(err):
	case err != nil:
		a.Err = fmt.Errorf("reading add-on %s of cluster %s (eks:DescribeAddon): %w", vocab.PodIdentityAgentAddon, cluster, err)
		return a
	case out.Addon != nil:
		a.AddonStatus, a.AddonVersion = string(out.Addon.Status), aws.ToString(out.Addon.AddonVersion)
		if a.AddonStatus == "ACTIVE" {
			return a
		}
	}
	if a.AutoMode == nil {
		out, err := c.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(cluster)})
		if err != nil {
			a.Err = fmt.Errorf("reading cluster %s (eks:DescribeCluster): %w", cluster, err)
			return a
		}
		auto := out.Cluster != nil && out.Cluster.ComputeConfig != nil && aws.ToBool(out.Cluster.ComputeConfig.Enabled)
		a.AutoMode = &auto
	}
	return a
}
