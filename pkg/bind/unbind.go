package bind

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sdcaws "github.com/kubectl-sdc/kubectl-sdc/pkg/aws"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/cluster"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/eksread"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iamread"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/plan"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// Unbind is bind's inverse, in the same three steps and with the same names, operations and write-then-verify
// loops, which is why it lives here: ObserveUnbind reads, UnbindPlan (pure) decides, ApplyUnbind writes.

// UnbindRequest is what the user asked unbind for, after flag parsing. UnbindPlan never changes it.
type UnbindRequest struct {
	Namespace      string
	ServiceAccount string
	// RoleName names the role when the ServiceAccount's annotation no longer does; "" means the role the
	// annotation names, else bind's default name for the ServiceAccount.
	RoleName string
	// DeleteServiceAccount deletes the ServiceAccount too, when bind created it.
	DeleteServiceAccount bool
	// PruneProvider deletes the cluster's IAM OIDC provider when no role of the account trusts it any more.
	PruneProvider bool
	// Restart restarts the Deployments whose pods still carry the role's environment.
	Restart bool
	// Mechanism removes only IRSA or only EKS Pod Identity; "" removes every mechanism the binding has.
	Mechanism vocab.Mechanism
}

// removes reports whether this unbind removes mechanism m.
func (r *UnbindRequest) removes(m vocab.Mechanism) bool { return r.Mechanism == "" || r.Mechanism == m }

// Validate checks every field before anything is read.
func (r *UnbindRequest) Validate() error {
	if err := vocab.ValidateNamespace("--namespace", r.Namespace); err != nil {
		return err
	}
	if err := vocab.ValidateObjectName("--service-account", r.ServiceAccount); err != nil {
		return err
	}
	if r.RoleName != "" {
		if err := vocab.ValidateIAMName("--role-name", r.RoleName, vocab.MaxRoleName); err != nil {
			return err
		}
	}
	if r.Mechanism != "" {
		if _, err := vocab.ParseMechanism("--mechanism", string(r.Mechanism)); err != nil {
			return err
		}
	}
	return nil
}

// bindRequest is the bind request whose names this unbind undoes: NamesFor picks the role the same way.
func (r *UnbindRequest) bindRequest() *Request {
	return &Request{Namespace: r.Namespace, ServiceAccount: r.ServiceAccount, RoleName: r.RoleName}
}

// UnbindObserved is everything unbind read (nil fields do not exist, or were not needed). UnbindPlan is a
// function of it and the request alone.
type UnbindObserved struct {
	Cluster  *cluster.Cluster
	Identity sdcaws.Identity
	// Names are bind's names for the binding; the policy is the one bind names like the role.
	Names Names
	Now   time.Time

	// Role is the binding's role, with its inline policies' names.
	Role *iamread.Role
	// Policies are the customer managed policies of the account that may hold the binding's statements, by
	// ARN: the one bind names like the role (nil when it does not exist) and every other one of the account
	// attached to the role (a --policy-name of bind).
	Policies map[string]*iamread.Policy
	// Provider and Trusts (every role's trust, by role name) are read only to prune the provider.
	Provider *iamread.Provider
	Trusts   map[string]*iampolicy.Policy

	ServiceAccount *corev1.ServiceAccount
	// Deployments are the namespace's Deployments that run under the ServiceAccount; Pods the namespace's
	// pods, read only to restart them.
	Deployments []appsv1.Deployment
	Pods        []corev1.Pod

	// EKS Pod Identity, read when the request removes it and the cluster is an EKS cluster (AssociationRead).
	// Association is the ServiceAccount's (nil when it has none). OtherAssociations are the other
	// associations of the cluster that name the role ("namespace/name"), read only when the role's Pod
	// Identity statement could otherwise go (OtherAssociationsRead).
	AssociationRead       bool
	Association           *eksread.Association
	OtherAssociationsRead bool
	OtherAssociations     []string
}

// UnbindResult is unbind's plan and everything it was computed from.
type UnbindResult struct {
	Request  *UnbindRequest
	Observed *UnbindObserved
	Cluster  *cluster.Cluster
	Identity sdcaws.Identity
	Names    Names
	// Mechanism is what this plan removes: irsa, pod-identity or irsa+pod-identity ("" when the
	// ServiceAccount is bound by neither).
	Mechanism vocab.Mechanism
	Plan      *plan.Plan
	// Notes change nothing but are worth knowing; Warnings are what unbind left alone and the user may
	// have to do (a wildcard that still admits the ServiceAccount, a role it did not make).
	Notes    []string
	Warnings []string
}

// PlanUnbind observes and plans; it writes nothing.
func (b *Binder) PlanUnbind(ctx context.Context, r *UnbindRequest) (*UnbindResult, error) {
	o, err := b.ObserveUnbind(ctx, r)
	if err != nil {
		return nil, err
	}
	return UnbindPlan(r, o)
}

// ApplyUnbind applies the plan; when something failed, the error says what was done and that the same
// command finishes the job.
func (b *Binder) ApplyUnbind(ctx context.Context, res *UnbindResult) (plan.Result, error) {
	return b.apply(ctx, res.Observed.Cluster, nil, res.Plan, "unbind")
}

// Output is unbind's `-o json|yaml` object: bind's, with actions delete, update and unchanged; mechanism
// is what the plan removes (irsa, pod-identity, irsa+pod-identity, or "" when nothing serves the
// ServiceAccount).
func (res *UnbindResult) Output(dryRun bool, applied *plan.Result) Output {
	out := Output{
		Cluster: res.Cluster.Name, Issuer: res.Cluster.Issuer, IssuerSource: res.Cluster.Source,
		OIDCProviderARN: res.Names.ProviderARN, RoleARN: res.Names.RoleARN,
		Namespace: res.Request.Namespace, ServiceAccount: res.Request.ServiceAccount,
		DryRun: dryRun, Changes: []ChangeOutput{}, Warnings: res.Warnings, Mechanism: string(res.Mechanism),
	}
	if a := res.Observed.Association; a != nil && namesRole(a.RoleARN, res.Names) {
		out.PodIdentityAssociation = vocab.AssociationName(res.Cluster.Name, a.Namespace, a.ServiceAccount)
	}
	if res.Observed.Policies[res.Names.PolicyARN] != nil {
		out.PolicyARN = res.Names.PolicyARN
	}
	out.Changes = changeOutputs(res.Plan, applied)
	return out
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
