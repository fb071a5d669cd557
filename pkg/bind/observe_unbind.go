package bind

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/eksread"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iamread"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// otherBinding names a binding other than this one that the role's kubectl-sdc tags record, "" when there
// is none. A role shared on purpose (--role-name) records each binding under keys of its own (stages,
// assumed role), which unbind removes with the binding: those keys decide, and its ownership tags, which
// name whichever binding made it, count only when they name another cluster. A role made for one binding
// has no such keys: its ownership tags decide.
func otherBinding(tags map[string]string, o *UnbindObserved, r *UnbindRequest) string {
	var own, others []string
	for k := range tags {
		for _, prefix := range []string{vocab.TagStages + "/", vocab.TagAssumeRoleARN + "/"} {
			if id, ok := strings.CutPrefix(k, prefix); ok && id == o.Names.BindingID {
				own = append(own, k)
			} else if ok {
				others = append(others, k)
			}
		}
	}
	if len(others) > 0 {
		slices.Sort(others)
		return "another binding (tag " + others[0] + ")"
	}
	who := ownerOf(tags, o.Cluster, r.Namespace, r.ServiceAccount)
	if len(own) == 0 {
		return who
	}
	if who != "" && ownerOf(tags, o.Cluster, tags[vocab.TagNamespace], tags[vocab.TagServiceAccount]) != "" {
		return who // made for a binding of another cluster
	}
	return ""
}

// podIdentityStatementMayGo reports whether the role's tags let its Pod Identity statement go: the request
// removes Pod Identity, kubectl-sdc made the role, its trust has the statement and its tags name no other
// binding. Whether another association of the cluster names the role is the last question, asked only then.
func podIdentityStatementMayGo(r *UnbindRequest, o *UnbindObserved) bool {
	role := o.Role
	return r.removes(vocab.MechanismPodIdentity) && role != nil && role.Tags[vocab.ManagedByKey] == vocab.ManagedByValue &&
		iampolicy.HasPodIdentityStatement(role.Trust) && otherBinding(role.Tags, o, r) == ""
}

// ObserveUnbind reads what unbind may change: the cluster, the caller and the ServiceAccount (with the
// Deployments using it) in parallel, then the role (with its policy lists), the policy bind names like it,
// the ServiceAccount's EKS Pod Identity association (one filtered list, one describe) and, to prune the
// provider, the provider and every role's trust, in parallel; then any other customer managed policy
// attached to the role (among them bind's, when the role is at another path than the annotation says) and,
// only when the role's Pod Identity statement could go, the cluster's other associations, to learn whether
// one names the role. An association that names another role than the one found (no --role-name, no
// annotation; or --mechanism pod-identity) is followed, at the cost of reading that role. It writes nothing.
func (b *Binder) ObserveUnbind(ctx context.Context, r *UnbindRequest) (*UnbindObserved, error) {
	o := &UnbindObserved{Now: b.now(), Policies: map[string]*iamread.Policy{}}
	w, err := b.where(ctx, func(ctx context.Context) error { return b.observeUnbindKube(ctx, r, o) })
	if err != nil {
		return nil, err
	}
	o.Cluster, o.Identity = w.cluster, w.identity
	rd := readers{aws: w.aws}
	// The association is read even when only IRSA goes: while it names the role, the binding's statements
	// and tags stay.
	if err := o.Cluster.RequireEKS(); err == nil {
		o.AssociationRead, rd.eks = true, b.AWS.ForRegion(o.Cluster.Region).EKS
	} else if r.Mechanism == vocab.MechanismPodIdentity {
		return nil, err
	}
	o.Names = unbindNames(NamesFor(r.bindRequest(), o.Cluster, o.Identity, o.ServiceAccount))

	var named *iamread.Policy
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		named, err = b.readUnbindRole(gctx, rd, o)
		return err
	})
	if o.AssociationRead {
		g.Go(func() (err error) {
			o.Association, err = eksread.Find(gctx, rd.eks, o.Cluster.Name, r.Namespace, r.ServiceAccount)
			return err
		})
	}
	if r.PruneProvider {
		g.Go(func() (err error) {
			o.Provider, err = iamread.ReadProvider(gctx, rd.aws.IAM, o.Names.ProviderARN)
			return err
		})
		g.Go(func() (err error) {
			o.Trusts, err = iamread.ReadTrusts(gctx, rd.aws.IAM)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if n, follow := followAssociation(r, o); follow {
		o.Names, o.Role = n, nil
		if named, err = b.readUnbindRole(ctx, rd, o); err != nil {
			return nil, err
		}
	}
	if a := o.Association; a != nil && a.TargetRoleARN != "" && r.TargetProfile != "" && r.removes(vocab.MechanismPodIdentity) {
		if err := b.observeTarget(ctx, &Request{TargetRoleARN: a.TargetRoleARN, TargetProfile: r.TargetProfile}, &o.Target); err != nil {
			return nil, err
		}
	}
	n := o.Names
	if o.Role == nil {
		o.Policies[n.PolicyARN] = named
		return o, nil
	}
	if named == nil {
		// A role found at another path than the annotation's (IAM finds roles by name) has its policy beside
		// it: bind used both where it found them.
		for _, a := range o.Role.Attached {
			if p, ok := vocab.ParsePolicyARN(a); ok && p.Account == n.Account && p.Name == n.PolicyName {
				o.Names.PolicyARN = a
				break
			}
		}
	}
	if o.Names.PolicyARN == n.PolicyARN {
		o.Policies[n.PolicyARN] = named
	}
	prefix := fmt.Sprintf("arn:%s:iam::%s:policy/", n.Partition, n.Account)
	var others []string
	for _, a := range o.Role.Attached {
		if _, read := o.Policies[a]; !read && strings.HasPrefix(a, prefix) {
			others = append(others, a)
		}
	}
	var mu sync.Mutex
	g, gctx = errgroup.WithContext(ctx)
	for _, a := range others {
		g.Go(func() error {
			p, err := iamread.ReadPolicy(gctx, rd.aws.IAM, a)
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			o.Policies[a] = p
			return nil
		})
	}
	if o.AssociationRead && podIdentityStatementMayGo(r, o) {
		g.Go(func() error { return b.observeOtherAssociations(gctx, rd, r, o) })
	}
	return o, g.Wait()
}

// unbindNames are bind's names for the binding, with the policy bind makes beside the role, at the
// annotation's path (--role-path's) or "/".
func unbindNames(n Names) Names {
	n.PolicyName = n.RoleName
	n.PolicyARN = vocab.PolicyARNAt(n.Partition, n.Account, n.RolePath, n.PolicyName)
	return n
}

// followAssociation: the role to unbind is the one the ServiceAccount's association names when nothing
// else named one (no --role-name, no annotation), or when only Pod Identity is removed and the annotation
// names another role; as for bind, only a role of the caller's account.
func followAssociation(r *UnbindRequest, o *UnbindObserved) (Names, bool) {
	a, n := o.Association, o.Names
	if a == nil || !(n.RoleSource == RoleByDefault || n.RoleSource == RoleFromAnnotation && r.Mechanism == vocab.MechanismPodIdentity) {
		return n, false
	}
	p, ok := vocab.ParseRoleARN(a.RoleARN)
	if !ok || p.Account != o.Identity.Account || p.Partition != o.Identity.Partition || strings.EqualFold(p.Name, n.RoleName) {
		return n, false
	}
	return unbindNames(namesWithRole(r.bindRequest(), n, p, RoleFromAssociation)), true
}

// readUnbindRole reads the role o.Names names (into o.Role) and the policy bind names like it.
func (b *Binder) readUnbindRole(ctx context.Context, rd readers, o *UnbindObserved) (*iamread.Policy, error) {
	n := o.Names
	var named *iamread.Policy
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		role, err := readRole(gctx, rd.aws.IAM, n.RoleName, iamread.RoleOptions{InlineNames: true, Concurrent: true})
		o.Role = role
		return err
	})
	g.Go(func() (err error) {
		named, err = iamread.ReadPolicy(gctx, rd.aws.IAM, n.PolicyARN)
		return err
	})
	return named, g.Wait()
}

// observeOtherAssociations lists the cluster's associations and describes those of other ServiceAccounts,
// keeping the ones that name the role: the Pod Identity statement has no conditions, so it serves them too.
func (b *Binder) observeOtherAssociations(ctx context.Context, rd readers, r *UnbindRequest, o *UnbindObserved) error {
	all, err := eksread.List(ctx, rd.eks, o.Cluster.Name, eksread.Filter{})
	if err != nil {
		return err
	}
	self := r.Namespace + "/" + r.ServiceAccount
	others := slices.DeleteFunc(all, func(s eksread.Summary) bool { return s.Key() == self })
	for key, d := range eksread.DescribeAll(ctx, rd.eks, o.Cluster.Name, others, migrateParallelism) {
		if d.Err != nil {
			return d.Err
		}
		if d.Association != nil && namesRole(d.Association.RoleARN, o.Names) {
			o.OtherAssociations = append(o.OtherAssociations, key)
		}
	}
	slices.Sort(o.OtherAssociations)
	o.OtherAssociationsRead = true
	return nil
}

// observeUnbindKube reads the ServiceAccount and the namespace's Deployments (and pods, to restart them).
func (b *Binder) observeUnbindKube(ctx context.Context, r *UnbindRequest, o *UnbindObserved) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		sa, err := b.Core.ServiceAccounts(r.Namespace).Get(ctx, r.ServiceAccount, metav1.GetOptions{})
		o.ServiceAccount, err = found(sa, err)
		if err != nil {
			return fmt.Errorf("reading ServiceAccount %s/%s: %w", r.Namespace, r.ServiceAccount, err)
		}
		return nil
	})
	g.Go(func() error {
		l, err := b.Apps.Deployments(r.Namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return fmt.Errorf("listing the Deployments of namespace %s: %w", r.Namespace, err)
		}
		for _, d := range l.Items {
			if serviceAccountOf(&d.Spec.Template.Spec) == r.ServiceAccount {
				o.Deployments = append(o.Deployments, d)
			}
		}
		slices.SortFunc(o.Deployments, func(a, b appsv1.Deployment) int { return strings.Compare(a.Name, b.Name) })
		return nil
	})
	if r.Restart {
		g.Go(func() error {
			l, err := b.Core.Pods(r.Namespace).List(ctx, metav1.ListOptions{})
			if err != nil {
				return fmt.Errorf("listing the pods of namespace %s: %w", r.Namespace, err)
			}
			o.Pods = l.Items
			return nil
		})
	}
	return g.Wait()
}

// serviceAccountOf is the ServiceAccount a pod spec runs under ("default" when it names none).
func serviceAccountOf(spec *corev1.PodSpec) string {
	switch {
	case spec.ServiceAccountName != "":
		return spec.ServiceAccountName
	case spec.DeprecatedServiceAccount != "":
		return spec.DeprecatedServiceAccount
	}
	return "default"
}
