package bind

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	applyappsv1 "k8s.io/client-go/applyconfigurations/apps/v1"
	appsv1client "k8s.io/client-go/kubernetes/typed/apps/v1"
	authorizationv1client "k8s.io/client-go/kubernetes/typed/authorization/v1"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"

	sdcaws "github.com/kubectl-sdc/kubectl-sdc/pkg/aws"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/catalog"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/cluster"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/plan"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// Binder talks to the cluster and the AWS account.
type Binder struct {
	AWS      *sdcaws.Clients
	Core     corev1client.CoreV1Interface
	Apps     appsv1client.AppsV1Interface
	Resolver *cluster.Resolver
	// Leases serialise the edits of shared IAM documents among the writers of this cluster (apply_lock.go),
	// in LockNamespace (DefaultLockNamespace when ""); nil: not serialised.
	Leases        coordinationv1client.CoordinationV1Interface
	LockNamespace string
	// Authz answers the preflight's SelfSubjectAccessReviews (preflight.go); nil: Kubernetes writes are not checked.
	Authz authorizationv1client.AuthorizationV1Interface
	// Warn tells the user something while a plan is applied (once each); nil: nothing is said.
	Warn     func(string)
	warnOnce sync.Once
	// TargetAWS are the clients of --target-profile, in the account of the role the stages assume; nil
	// without it (bind then writes nothing there).
	TargetAWS *sdcaws.Clients
	// Now is the clock (restart decisions and annotations); nil means time.Now.
	Now func() time.Time
}

// Where the role's name came from.
const (
	RoleFromFlag       = "--role-name"
	RoleFromAnnotation = "the ServiceAccount's " + vocab.RoleARNAnnotation + " annotation"
	RoleByDefault      = "the default name"
	// RoleFromAssociation is the role the ServiceAccount's EKS Pod Identity association names.
	RoleFromAssociation = "the ServiceAccount's EKS Pod Identity association"
)

// Result is the plan and everything it was computed from.
type Result struct {
	Request  *Request
	Observed *Observed
	Cluster  *cluster.Cluster
	Identity sdcaws.Identity
	Names    Names
	// Audience is the token audience the trust admits (see audienceFor).
	Audience  string
	Plan      *plan.Plan
	Selection catalog.Selection // normalized, as recorded on the role
	// Notes are things worth telling the user that change nothing, e.g. pods the webhook skipped.
	Notes []string
	// Warnings are what bind did not do and the user must, e.g. for a Deployment that StreamSets Control
	// Hub manages; Fragment is then the pod spec fragment to put into the Control Hub deployment's YAML.
	Warnings []string
	Fragment *applyappsv1.DeploymentApplyConfiguration
	// Handoff is what the target account's owners must add (--assume-role-arn without --target-profile).
	Handoff *Handoff
	// Refusals are SDC images that cannot use EKS Pod Identity (without --force): Plan fails with them.
	Refusals []string
	// Command names the command in Apply's messages; "" means bind.
	Command string
}

// Plan observes the current state and plans every change: Observe, then the pure Plan. It writes nothing.
func (b *Binder) Plan(ctx context.Context, r *Request) (*Result, error) {
	o, err := b.Observe(ctx, r)
	if err != nil {
		return nil, err
	}
	return Plan(r, o)
}

// Output is what `-o json|yaml` prints.
type Output struct {
	Cluster         string `json:"cluster"`
	Issuer          string `json:"issuer"`
	IssuerSource    string `json:"issuerSource"`
	OIDCProviderARN string `json:"oidcProviderArn"`
	PolicyARN       string `json:"policyArn,omitempty"`
	RoleARN         string `json:"roleArn"`
	Namespace       string `json:"namespace"`
	ServiceAccount  string `json:"serviceAccount"`
	Deployment      string `json:"deployment,omitempty"`
	// Mechanism is irsa or pod-identity; PodIdentityAssociation names the association (cluster/ns/sa)
	// with pod-identity, whose OIDCProviderARN is empty (Pod Identity needs none).
	Mechanism              string         `json:"mechanism"`
	PodIdentityAssociation string         `json:"podIdentityAssociation,omitempty"`
	DryRun                 bool           `json:"dryRun"`
	Changes                []ChangeOutput `json:"changes"`
	// Warnings and Fragment: see Result; present only when there are some.
	Warnings []string                                  `json:"warnings,omitempty"`
	Fragment *applyappsv1.DeploymentApplyConfiguration `json:"fragment,omitempty"`
	// AssumeRoleARN is the role the stages assume; AssumeRoleTarget what its account's owners must add
	// when bind did not (no --target-profile).
	AssumeRoleARN    string   `json:"assumeRoleArn,omitempty"`
	AssumeRoleTarget *Handoff `json:"assumeRoleTarget,omitempty"`
}

// ChangeOutput is one change in Output. Error is set when applying it failed; Skipped when a change it
// depends on failed.
type ChangeOutput struct {
	Kind    string `json:"kind"`
	Name    string `json:"name"`
	Action  string `json:"action"`
	Error   string `json:"error,omitempty"`
	Skipped bool   `json:"skipped,omitempty"`
	// Denied is what the caller may not do that the change needs (the check before writing).
	Denied []string `json:"denied,omitempty"`
}

// Output summarizes the result; applied may be nil (dry run, or nothing applied yet).
func (res *Result) Output(dryRun bool, applied *plan.Result) Output {
	out := Output{
		Cluster: res.Cluster.Name, Issuer: res.Cluster.Issuer, IssuerSource: res.Cluster.Source,
		OIDCProviderARN: res.Names.ProviderARN, PolicyARN: res.Names.PolicyARN, RoleARN: res.Names.RoleARN,
		Namespace: res.Request.Namespace, ServiceAccount: res.Request.ServiceAccount, Deployment: res.Request.Deployment,
		DryRun: dryRun, Changes: []ChangeOutput{}, Warnings: res.Warnings, Fragment: res.Fragment,
		AssumeRoleARN: res.Request.AssumeRoleARN, AssumeRoleTarget: res.Handoff,
		Mechanism: string(res.Request.Mechanism()),
	}
	if res.Request.podIdentityMode() {
		out.OIDCProviderARN = ""
		out.PodIdentityAssociation = vocab.AssociationName(res.Cluster.Name, res.Request.Namespace, res.Request.ServiceAccount)
	}
	out.Changes = changeOutputs(res.Plan, applied)
	return out
}

// changeOutputs are the plan's changes for -o json|yaml, with how each went when applied is not nil.
func changeOutputs(p *plan.Plan, applied *plan.Result) []ChangeOutput {
	out := []ChangeOutput{}
	for i, c := range p.Changes {
		var o *plan.Outcome
		if applied != nil {
			o = &applied.Outcomes[i]
		}
		out = append(out, changeOutput(c, o))
	}
	return out
}

// changeOutput is one change for -o json|yaml; o is how it went (nil: not applied).
func changeOutput(c *plan.Change, o *plan.Outcome) ChangeOutput {
	co := ChangeOutput{Kind: c.Kind, Name: c.Name, Action: string(c.Action), Denied: c.Denied}
	if o != nil {
		co.Skipped = o.Skipped
		if o.Err != nil {
			co.Error = o.Err.Error()
		}
	}
	return co
}

func (b *Binder) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

// Handoff is what the owners of the target account must add when bind may not (no --target-profile): the
// trust statement that admits the binding's role, and the policy with the stages' permissions.
type Handoff struct {
	Account string `json:"account"`
	RoleARN string `json:"roleArn"`
	// TrustStatement goes into the target role's trust policy; Policy (when the binding grants stages or a
	// policy file) is attached to the target role.
	TrustStatement json.RawMessage `json:"trustStatement"`
	Policy         json.RawMessage `json:"policy,omitempty"`
}
