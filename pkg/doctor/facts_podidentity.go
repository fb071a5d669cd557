package doctor

import (
	"context"
	"sync"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/eksread"
)

// eks is the EKS client of a region.
func (d *Doctor) eks(region string) eksread.API { return d.AWS.ForRegion(region).EKS }

// associationScope narrows the association list to what doctor looks at: the whole cluster with -A, the
// ServiceAccount when it is named, else the namespace.
func associationScope(o Options) eksread.Filter {
	switch {
	case o.AllNamespaces:
		return eksread.Filter{}
	case o.Annotated:
		return eksread.Filter{Namespace: o.Namespace}
	case o.Deployment == "" || o.ServiceAccountSet:
		return eksread.Filter{Namespace: o.Namespace, ServiceAccount: o.ServiceAccount}
	}
	return eksread.Filter{Namespace: o.Namespace}
}

// gatherPodIdentity describes the association of each target that has one, in parallel with a bound, and
// reads the agent once; with many targets it starts the account's IAM batch read (gatherIAM's) at the same
// time, since the roles the associations name are not known before the describes answer. A target served
// by Pod Identity alone takes its association's role as its RoleARN.
func (d *Doctor) gatherPodIdentity(ctx context.Context, f *Facts, batch *accountRead) {
	var scope []eksread.Summary
	for _, t := range f.Targets {
		if t.Associated {
			scope = append(scope, eksread.Summary{ID: t.associationID, Namespace: t.Namespace, ServiceAccount: t.ServiceAccount})
		}
	}
	if len(scope) == 0 {
		return
	}
	if f.Identity != nil && len(f.Targets) >= batchRoles {
		batch.start(ctx, d.AWS.IAM) // refused: the per-role reads still work
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		a := eksread.ReadAgent(ctx, d.eks(f.Cluster.Region), f.Cluster.Name, f.Cluster.AutoMode)
		f.Agent = &a
	}()
	described := eksread.DescribeAll(ctx, d.eks(f.Cluster.Region), f.Cluster.Name, scope, f.parallelism())
	wg.Wait()
	for _, t := range f.Targets {
		if !t.Associated {
			continue
		}
		got := described[t.Namespace+"/"+t.ServiceAccount]
		t.Association, t.AssociationErr = got.Association, got.Err
		if t.Association != nil && t.Annotation == "" {
			t.RoleARN = t.Association.RoleARN
		}
	}
}
