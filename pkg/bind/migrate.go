package bind

import (
	"context"

	sdcaws "github.com/kubectl-sdc/kubectl-sdc/pkg/aws"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/catalog"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/cluster"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/eksread"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/plan"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// MigrateRequest is what `kubectl sdc migrate` asks for: move ServiceAccounts bound by IRSA to EKS Pod
// Identity, keeping each one's role and permissions.
type MigrateRequest struct {
	// Namespace and ServiceAccount name one ServiceAccount; AllNamespaces takes every ServiceAccount with
	// a role annotation instead.
	Namespace, ServiceAccount string
	AllNamespaces             bool
	// RemoveIRSA, Force, Restart and TrustPolicyLimit mean what they mean to bind.
	RemoveIRSA, Force, Restart bool
	TrustPolicyLimit           int
	// Catalog knows each stage's library, for the SDC image rule; nil means the built-in one.
	Catalog *catalog.Catalog
}

// Validate checks the request before anything is read.
func (m *MigrateRequest) Validate() error {
	if m.AllNamespaces {
		return nil
	}
	if err := vocab.ValidateNamespace("--namespace", m.Namespace); err != nil {
		return err
	}
	return vocab.ValidateObjectName("--service-account", m.ServiceAccount)
}

// Migration is migrate's plan: one bind result per ServiceAccount, their changes in one plan (each
// change's ID prefixed by its ServiceAccount).
type Migration struct {
	Request  *MigrateRequest
	Cluster  *cluster.Cluster
	Identity sdcaws.Identity
	Agent    eksread.Agent
	Results  []*Result
	Plan     *plan.Plan
	// Notes are facts worth telling (ServiceAccounts left out, and why); Warnings what the user must do.
	Notes, Warnings []string
}

// PlanMigration reads everything once (ObserveMigration) and plans every ServiceAccount as bind
// --mechanism pod-identity would (MigrationPlan). It writes nothing.
func (b *Binder) PlanMigration(ctx context.Context, m *MigrateRequest) (*Migration, error) {
	o, err := b.ObserveMigration(ctx, m)
	if err != nil {
		return nil, err
	}
	return MigrationPlan(m, o)
}

// ApplyMigration applies the migration's plan; see Apply.
func (b *Binder) ApplyMigration(ctx context.Context, mg *Migration) (plan.Result, error) {
	if len(mg.Results) == 0 {
		return plan.Result{}, nil
	}
	res := *mg.Results[0]
	res.Plan, res.Command = mg.Plan, "migrate"
	return b.Apply(ctx, &res)
}

// MigrationOutput is what `migrate -o json|yaml` prints.
type MigrationOutput struct {
	Cluster         string            `json:"cluster"`
	Mechanism       string            `json:"mechanism"`
	RemoveIRSA      bool              `json:"removeIrsa"`
	DryRun          bool              `json:"dryRun"`
	ServiceAccounts []MigratedAccount `json:"serviceAccounts"`
	Warnings        []string          `json:"warnings,omitempty"`
}

// MigratedAccount is one ServiceAccount of MigrationOutput.
type MigratedAccount struct {
	Namespace              string         `json:"namespace"`
	ServiceAccount         string         `json:"serviceAccount"`
	RoleARN                string         `json:"roleArn"`
	PodIdentityAssociation string         `json:"podIdentityAssociation"`
	Changes                []ChangeOutput `json:"changes"`
}

// Output summarizes the migration; applied may be nil (dry run, or nothing applied yet).
func (mg *Migration) Output(dryRun bool, applied *plan.Result) MigrationOutput {
	out := MigrationOutput{Mechanism: string(vocab.MechanismPodIdentity), RemoveIRSA: mg.Request.RemoveIRSA, DryRun: dryRun,
		ServiceAccounts: []MigratedAccount{}, Warnings: mg.Warnings}
	if mg.Cluster != nil {
		out.Cluster = mg.Cluster.Name
	}
	outcome := map[*plan.Change]plan.Outcome{}
	if applied != nil {
		for _, o := range applied.Outcomes {
			outcome[o.Change] = o
		}
	}
	i := 0
	for _, res := range mg.Results {
		acct := MigratedAccount{Namespace: res.Request.Namespace, ServiceAccount: res.Request.ServiceAccount, RoleARN: res.Names.RoleARN,
			PodIdentityAssociation: vocab.AssociationName(res.Cluster.Name, res.Request.Namespace, res.Request.ServiceAccount), Changes: []ChangeOutput{}}
		for range res.Plan.Changes {
			c := mg.Plan.Changes[i]
			i++
			var oc *plan.Outcome
			if o, ok := outcome[c]; ok {
				oc = &o
			}
			acct.Changes = append(acct.Changes, changeOutput(c, oc))
		}
		out.ServiceAccounts = append(out.ServiceAccounts, acct)
	}
	return out
}
