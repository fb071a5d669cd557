package bind

// The operations bind, unbind and migrate plan, in one place: each is one write as data, which a planner
// puts on a plan.Change (Op), render shows through the change, and its apply method (in the apply files,
// by kind) carries out.

import (
	"context"
	"time"

	applyappsv1 "k8s.io/client-go/applyconfigurations/apps/v1"
	applycorev1 "k8s.io/client-go/applyconfigurations/core/v1"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/plan"
)

// operation is one write the planner decided on, as data; apply carries it out. The planner builds them,
// Apply runs them: planning stays pure and the tests of the planner read the operations as values.
type operation interface {
	apply(ctx context.Context, a *applier) error
	// needs are the permissions the write needs (needs.go), which the preflight checks before any write.
	needs(f *permFacts) []need
}

// checkOps holds a plan to the plan-to-apply contract: every change that writes carries an operation.
func checkOps(p *plan.Plan) error {
	return p.CheckOps(func(op any) bool { _, ok := op.(operation); return ok })
}

// createProvider creates the IAM OIDC provider.
type createProvider struct {
	URL                    string
	ClientIDs, Thumbprints []string
	Tags                   map[string]string
}

// addClientID adds an audience to an existing provider.
type addClientID struct{ ProviderARN, ClientID string }

// createRole is how to create the role when it does not exist yet: with its guardrails (path, permissions
// boundary, maximum session duration, tags) in the same call.
type createRole struct {
	Name, Trust, Description string
	Tags                     map[string]string
	Path, Boundary           string // "" for "/" and no boundary
	MaxSessionDuration       int32  // 0 for IAM's default
}

// writeTrust makes the role's trust as Edit wants it, and checks afterwards that it still is. IAM has no
// conditional write for a trust policy, so another bind (or any writer) may replace the document between
// our read and our write, or right after: the trust is read fresh before each write, edited and written,
// then read again after a short settle; a trust that lost the edit to a concurrent write is edited and
// written again, with jittered backoff, until it holds or the bound is spent. Success is reported only
// when the check holds.
type writeTrust struct {
	Role   string
	Edit   TrustEdit
	Create *createRole // the role did not exist when planned
	Update bool        // the trust lacked the edit when planned
	Tags   map[string]string
	// Boundary and Settings change an existing role's guardrails (see roleGuardrails); empty: unchanged.
	Boundary string
	Settings *roleSettings
	// Untag are tag keys to remove: records of this binding that no longer hold (bind: a target that
	// changed; unbind: this binding's stages key on a role shared on purpose).
	Untag []string
}

// writePolicy makes this binding's statements of the role's shared policy exactly Want (pkg/grant): it
// creates the policy when missing, else reads the default version fresh, merges and makes the result the
// new default version, and checks afterwards that no concurrent writer dropped them, as writeTrust does.
type writePolicy struct {
	ARN, Name, Binding string
	Path               string // where to create it; "" for "/"
	Create             bool   // the policy did not exist when planned
	Want               string // this binding's statements, compact JSON
	Description        string
	Tags               map[string]string
	// Retag are tags an existing policy gets (others stay), once its document is written.
	Retag map[string]string
}

// attachPolicy attaches a managed policy to the role.
type attachPolicy struct{ Role, PolicyARN string }

// createNamespace creates the namespace.
type createNamespace struct{ Name string }

// applyServiceAccount server-side applies bind's fields of the ServiceAccount.
type applyServiceAccount struct {
	Config *applycorev1.ServiceAccountApplyConfiguration
}

// applyDeployment server-side applies bind's fields of the Deployment.
type applyDeployment struct {
	Config *applyappsv1.DeploymentApplyConfiguration
}

// restartDeployment restarts a Deployment's pods as `kubectl rollout restart` does.
type restartDeployment struct{ Namespace, Name string }

// roleSettings are a role's description and maximum session duration, as UpdateRole sets them.
type roleSettings struct {
	Description        string
	MaxSessionDuration int32
}

// tagPolicy adds tags to a managed policy (other tags stay).
type tagPolicy struct {
	ARN  string
	Tags map[string]string
}

// tagProvider adds tags to an OIDC provider (other tags stay).
type tagProvider struct {
	ARN  string
	Tags map[string]string
}

// providerWrites is an OIDC provider change that adds a client ID and tags: two writes, in that order.
type providerWrites struct {
	ClientID *addClientID
	Tags     *tagProvider
}

// inTarget runs an operation in the account of the role the stages assume, with --target-profile's
// credentials.
type inTarget struct{ Op operation }

// createAssociation makes the ServiceAccount's association. EKS checks that the role exists and trusts
// pods.eks.amazonaws.com, which IAM may not show everywhere yet right after bind wrote it: those refusals
// are retried for a while. One made meanwhile (by another bind) is made to name this role.
type createAssociation struct {
	Cluster, Namespace, ServiceAccount, RoleARN string
	Tags                                        map[string]string
	Chain                                       associationChain
}

// associationChain is what an association says beyond its role: its target role ("" for none), whether
// session tags are disabled, and its session policy (compact JSON, "" for none).
type associationChain struct {
	TargetRoleARN      string
	DisableSessionTags bool
	Policy             string
}

// updateAssociation makes an association name another role, target, session tags setting or policy.
// From says what the association said when planned: only what differs from it is sent (EKS keeps what an
// update leaves out).
type updateAssociation struct {
	Cluster, ID, RoleARN string
	Chain, From          associationChain
}

// withExternalID writes a target's trust that needs the external ID EKS made for the association in this
// apply: it takes it from the association's write (which the change depends on), then writes.
type withExternalID struct{ Op writeTrust }

// trustGuard checks, right before a role is taken apart, that its trust still admits nobody once this
// binding's subject is removed: another bind may have joined the role since the plan was made, while the
// user read it and answered. IAM has no conditional delete, so this narrows the window to the moment before
// the write; a trust read less than guardAfter ago (unbind --yes) is not read again, since a second read
// would narrow nothing.
type trustGuard struct {
	Role string
	Edit TrustEdit
	// Read is when the plan read the trust.
	Read time.Time
}

// detachPolicy detaches a managed policy from a role; with a guard, only while the role serves nobody else.
type detachPolicy struct {
	Role, PolicyARN string
	Guard           *trustGuard
}

// deleteRole deletes a role whose policies were detached (Guard: check the trust first, when no detach
// did just before).
type deleteRole struct {
	Name  string
	Guard *trustGuard
}

// removeGrant takes this binding's statements out of a policy other bindings still use: a new default
// version, written and verified as bind writes one (applier.editPolicy).
type removeGrant struct{ ARN, Binding string }

// deletePolicy deletes a customer managed policy that nothing has attached: its non-default versions
// first, as IAM requires. A policy whose default version is v1 has no other (bind makes every new version
// the default), so it is deleted at once; should someone have made a version by hand, IAM's DeleteConflict
// says so, and the versions are deleted first after all.
type deletePolicy struct {
	ARN string
	// OnlyVersion: the default version was v1 when planned.
	OnlyVersion bool
}

// deleteProvider deletes the cluster's IAM OIDC provider.
type deleteProvider struct{ ARN string }

// deleteServiceAccount deletes the ServiceAccount bind created, only the very one that was planned (UID).
type deleteServiceAccount struct{ Namespace, Name, UID string }

// deleteAssociation deletes the ServiceAccount's association; one already gone is done.
type deleteAssociation struct{ Cluster, ID string }
