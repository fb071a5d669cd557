package bind

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	sdcaws "github.com/kubectl-sdc/kubectl-sdc/pkg/aws"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/cluster"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/eksread"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iamread"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// MigrationObserved is what migrate read, once: the cluster, the caller, the ServiceAccounts, Deployments
// and pods of the scope, the ServiceAccounts to move (and why others are left out), the agent, the
// associations in scope (one paged list, then a describe of each) and each distinct role they use.
type MigrationObserved struct {
	Cluster  *cluster.Cluster
	Identity sdcaws.Identity
	// Region is the AWS region the reads used.
	Region       string
	Now          time.Time
	Deployments  []appsv1.Deployment
	Pods         []corev1.Pod
	Targets      []*corev1.ServiceAccount
	LeftOut      []string // notes: ServiceAccounts of the scope left out, and why
	Agent        eksread.Agent
	Associations map[string]eksread.Described // by namespace/name
	Roles        map[string]*iamread.Role     // by role name
}

// migrateParallelism bounds the IAM and EKS reads in flight.
const migrateParallelism = 16

// ObserveMigration reads what MigrationPlan plans from; it writes nothing. The Kubernetes lists, the
// caller, the cluster and the associations' list run together; then the describes of the associations in
// scope, the agent and each distinct role, at most migrateParallelism at a time.
func (b *Binder) ObserveMigration(ctx context.Context, m *MigrateRequest) (*MigrationObserved, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	ns := m.Namespace
	if m.AllNamespaces {
		ns = metav1.NamespaceAll
	}
	o := &MigrationObserved{Now: b.now(), Roles: map[string]*iamread.Role{}}
	var sas []corev1.ServiceAccount
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		o.Identity, err = b.AWS.Identity(gctx)
		return err
	})
	var listed []eksread.Summary
	g.Go(func() (err error) {
		if o.Cluster, err = b.Resolver.Resolve(gctx); err != nil {
			return err
		}
		if err := o.Cluster.RequireEKS(); err != nil {
			return err
		}
		// The associations hang off the cluster: one paged list (filtered to the ServiceAccount when one
		// is named), while the Kubernetes lists run.
		f := eksread.Filter{}
		if !m.AllNamespaces {
			f = eksread.Filter{Namespace: m.Namespace, ServiceAccount: m.ServiceAccount}
		}
		listed, err = eksread.List(gctx, b.AWS.ForRegion(o.Cluster.Region).EKS, o.Cluster.Name, f)
		return err
	})
	g.Go(func() error {
		l, err := b.Core.ServiceAccounts(ns).List(gctx, metav1.ListOptions{})
		if err != nil {
			return fmt.Errorf("listing ServiceAccounts: %w", err)
		}
		sas = l.Items
		return nil
	})
	g.Go(func() error {
		l, err := b.Apps.Deployments(ns).List(gctx, metav1.ListOptions{})
		if err != nil {
			return fmt.Errorf("listing Deployments: %w", err)
		}
		o.Deployments = l.Items
		return nil
	})
	g.Go(func() error {
		l, err := b.Core.Pods(ns).List(gctx, metav1.ListOptions{})
		if err != nil {
			return fmt.Errorf("listing pods: %w", err)
		}
		o.Pods = l.Items
		return nil
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	c, id := o.Cluster, o.Identity
	if c.AccountID != "" && c.AccountID != id.Account {
		return nil, fmt.Errorf("the AWS credentials are for account %s (%s) but cluster %s is in account %s: use credentials of the cluster's account (--profile)",
			id.Account, id.ARN, c.Name, c.AccountID)
	}
	associated := map[string]bool{}
	for _, a := range listed {
		associated[a.Key()] = true
	}
	var err error
	if o.Targets, o.LeftOut, err = migrationTargets(m, sas, associated, id); err != nil {
		return nil, err
	}
	if len(o.Targets) == 0 {
		return o, nil
	}

	eks := b.AWS.ForRegion(c.Region).EKS
	clients, _ := b.clientsFor(c) // the same clients bind reads IAM through
	o.Region = clients.Region
	in := map[string]bool{}
	for _, sa := range o.Targets {
		in[sa.Namespace+"/"+sa.Name] = true
	}
	var scope []eksread.Summary
	for _, s := range listed {
		if in[s.Key()] {
			scope = append(scope, s)
		}
	}
	// The describes come first: a ServiceAccount whose IRSA is already removed is served by its
	// association's role, which is read with the others.
	o.Associations = eksread.DescribeAll(ctx, eks, c.Name, scope, migrateParallelism)
	names := map[string]bool{}
	for _, sa := range o.Targets {
		if p, _, ok := migrationRoleOf(sa, o.Associations); ok {
			names[p.Name] = true
		}
	}
	var mu sync.Mutex
	reads, rctx := errgroup.WithContext(ctx)
	reads.SetLimit(migrateParallelism)
	reads.Go(func() error { o.Agent = eksread.ReadAgent(rctx, eks, c.Name, c.AutoMode); return nil })
	for name := range names {
		reads.Go(func() error {
			r, err := iamread.ReadRole(rctx, clients.IAM, name, iamread.RoleOptions{Concurrent: true})
			if err != nil {
				return err
			}
			mu.Lock()
			o.Roles[name] = r
			mu.Unlock()
			return nil
		})
	}
	return o, reads.Wait()
}

// migrationRoleOf is the role a ServiceAccount to move is bound to: its annotation's, else (IRSA already
// removed) its association's.
func migrationRoleOf(sa *corev1.ServiceAccount, assocs map[string]eksread.Described) (vocab.ParsedRoleARN, string, bool) {
	if p, ok := vocab.ParseRoleARN(sa.Annotations[vocab.RoleARNAnnotation]); ok {
		return p, RoleFromAnnotation, true
	}
	if a := assocs[sa.Namespace+"/"+sa.Name].Association; a != nil {
		if p, ok := vocab.ParseRoleARN(a.RoleARN); ok {
			return p, RoleFromAssociation, true
		}
	}
	return vocab.ParsedRoleARN{}, "", false
}

// migrationTargets are the ServiceAccounts to move: the one named, which must be bound by IRSA to a role of
// the account, or with AllNamespaces every such one (the others are noted and left out); and those already
// moved (an association, no annotation), for which a second run has nothing to change.
func migrationTargets(m *MigrateRequest, sas []corev1.ServiceAccount, associated map[string]bool, id sdcaws.Identity) (targets []*corev1.ServiceAccount, leftOut []string, err error) {
	var out []*corev1.ServiceAccount
	for i := range sas {
		sa := &sas[i]
		if !m.AllNamespaces && (sa.Namespace != m.Namespace || sa.Name != m.ServiceAccount) {
			continue
		}
		v := sa.Annotations[vocab.RoleARNAnnotation]
		p, ok := vocab.ParseRoleARN(v)
		var why string
		switch {
		case v == "" && associated[sa.Namespace+"/"+sa.Name]:
			// Moved already (IRSA removed): a second run finds nothing to change.
		case v == "":
			if m.AllNamespaces {
				continue
			}
			why = fmt.Sprintf("ServiceAccount %s/%s has no %s annotation, so it is not bound by IRSA and there is nothing to migrate: give it EKS Pod Identity with kubectl sdc bind -n %s --service-account %s --mechanism pod-identity --stage ...",
				sa.Namespace, sa.Name, vocab.RoleARNAnnotation, sa.Namespace, sa.Name)
		case !ok:
			why = fmt.Sprintf("ServiceAccount %s/%s: its annotation %s=%q is not a role ARN (kubectl sdc doctor -n %s --service-account %s says more)",
				sa.Namespace, sa.Name, vocab.RoleARNAnnotation, v, sa.Namespace, sa.Name)
		case p.Account != id.Account || p.Partition != id.Partition:
			why = fmt.Sprintf("ServiceAccount %s/%s is bound to role %s of account %s, and an EKS Pod Identity association can name only a role of the cluster's account (%s)",
				sa.Namespace, sa.Name, v, p.Account, id.Account)
		}
		if why != "" {
			if !m.AllNamespaces {
				return nil, nil, fmt.Errorf("%s", why)
			}
			leftOut = append(leftOut, "left out: "+why)
			continue
		}
		out = append(out, sa)
	}
	if !m.AllNamespaces && len(out) == 0 {
		return nil, nil, fmt.Errorf("ServiceAccount %s/%s does not exist: nothing to migrate (--service-account, -n)", m.Namespace, m.ServiceAccount)
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Namespace+"/"+out[i].Name < out[j].Namespace+"/"+out[j].Name
	})
	return out, leftOut, nil
}

// workloadsOf are the Deployments running under the ServiceAccount, with their pods.
func workloadsOf(sa *corev1.ServiceAccount, deploys []appsv1.Deployment, pods []corev1.Pod) []Workload {
	var out []Workload
	for i := range deploys {
		d := &deploys[i]
		name := d.Spec.Template.Spec.ServiceAccountName
		if name == "" {
			name = "default"
		}
		if d.Namespace != sa.Namespace || name != sa.Name {
			continue
		}
		w := Workload{Deployment: d}
		if d.Spec.Selector != nil {
			if sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector); err == nil && !sel.Empty() {
				for _, p := range pods {
					if p.Namespace == d.Namespace && sel.Matches(labels.Set(p.Labels)) {
						w.Pods = append(w.Pods, p)
					}
				}
			}
		}
		out = append(out, w)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Deployment.Name < out[j].Deployment.Name })
	return out
}
