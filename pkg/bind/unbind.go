package bind

import (
	"context"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

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
	// TargetProfile names the AWS profile of the account of the association's target role: unbind then
	// also takes out what bind put there for the binding; without it, it says what stays.
	TargetProfile string
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
	AssociationRead bool
	Association     *eksread.Association
	// Target is the association's target role and the policy bind keeps on it, read with --target-profile
	// (nil when the association has no target, or without --target-profile).
	Target                *TargetObserved
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
	var target *sdcaws.Clients
	if t := res.Observed.Target; t != nil && t.Managed {
		target = b.TargetAWS
	}
	return b.apply(ctx, res.Observed.Cluster, target, res.Plan, "unbind")
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
