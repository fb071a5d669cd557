package cmd

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/bind"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/plan"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/render"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

const migrateLong = `Move ServiceAccounts bound by IRSA to EKS Pod Identity, keeping each one's role and permissions.

For each ServiceAccount (one, or every one with an eks.amazonaws.com/role-arn annotation with -A), migrate
does what kubectl sdc bind --mechanism pod-identity does, with the role the annotation names: it checks
that the cluster runs the EKS Pod Identity agent, adds the pods.eks.amazonaws.com statement to the role's
trust (every other statement stays) and creates the ServiceAccount's Pod Identity association. IRSA keeps
working meanwhile (its environment comes first in the AWS SDKs' credential chain), until --remove-irsa
removes the annotation (when bind set it), restarts the pods that carry IRSA's environment and takes the
ServiceAccount out of the role's web identity trust.

SDC's AWS SDK for Java reads Pod Identity credentials only from 1.12.746, which no open-source SDC bundles:
migrate lists every Deployment whose SDC version is known to be older, with the reason, and changes nothing
(--force migrates anyway). It shows the plan first, like bind, and a second run changes nothing.`

const migrateExample = `  # One ServiceAccount: add EKS Pod Identity beside IRSA
  kubectl sdc migrate -n ns1 --service-account sdc

  # Every IRSA-bound ServiceAccount of the cluster, plan only
  kubectl sdc migrate -A --dry-run

  # Once the pods run well on Pod Identity: remove IRSA
  kubectl sdc migrate -n ns1 --service-account sdc --remove-irsa --yes`

// MigrateOptions are migrate's flags.
type MigrateOptions struct {
	*Globals
	lock lockFlag
	aws  awsFlags

	ServiceAccount   string
	AllNamespaces    bool
	RemoveIRSA       bool
	Force            bool
	Restart          bool
	TrustPolicyLimit int
	DryRun           bool
	ExitCode         bool
	Yes              bool
	Output           outputFlag

	req *bind.MigrateRequest
}

func newMigrateCmd(g *Globals) *cobra.Command {
	o := &MigrateOptions{Globals: g}
	c := &cobra.Command{
		Use:     "migrate",
		Short:   "Move IRSA-bound ServiceAccounts to EKS Pod Identity (plan first, idempotent)",
		Long:    migrateLong,
		Example: migrateExample,
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := o.Complete(c); err != nil {
				return err
			}
			if err := o.Validate(c); err != nil {
				return err
			}
			return o.Run(c.Context())
		},
	}
	f := c.Flags()
	o.lock.add(f)
	f.StringVar(&o.ServiceAccount, "service-account", vocab.DefaultServiceAccount, "ServiceAccount `NAME` to migrate")
	f.BoolVarP(&o.AllNamespaces, "all-namespaces", "A", false, "Migrate every ServiceAccount with an eks.amazonaws.com/role-arn annotation, in every namespace")
	f.BoolVar(&o.RemoveIRSA, "remove-irsa", false, "Also remove IRSA: the role-arn annotation (if kubectl-sdc set it) and the ServiceAccount's web identity trust, after restarting its pods")
	f.BoolVar(&o.Force, "force", false, "Migrate even Deployments whose SDC version is known to bundle an AWS SDK for Java that cannot read Pod Identity credentials")
	f.BoolVar(&o.Restart, "restart", true, "Restart pods that would otherwise keep no working identity (created before the association, or carrying IRSA's environment with --remove-irsa). On by default, as in bind; unbind's is off")
	f.IntVar(&o.TrustPolicyLimit, "trust-policy-limit", vocab.MaxTrustPolicy, "The account's role trust policy length quota in `CHARACTERS` (IAM's default; raised quotas go up to 4096)")
	f.BoolVar(&o.DryRun, "dry-run", false, "Print the plan and change nothing")
	f.BoolVar(&o.ExitCode, "exit-code", false, "With --dry-run: exit 2 when there are changes, 0 when none")
	f.BoolVarP(&o.Yes, "yes", "y", false, "Apply without asking")
	o.Output.add(c, "the result object", "the plan in prose")
	o.aws.add(f)
	_ = c.RegisterFlagCompletionFunc("service-account", completeServiceAccounts(g))
	return c
}

// Complete turns the flags into a migrate request.
func (o *MigrateOptions) Complete(_ *cobra.Command) error {
	ns, _, err := o.Namespace()
	if err != nil {
		return fmt.Errorf("kube context: %w", err)
	}
	cat, err := (&permissionFlags{}).catalog()
	if err != nil {
		return err
	}
	o.req = &bind.MigrateRequest{Namespace: ns, ServiceAccount: o.ServiceAccount, AllNamespaces: o.AllNamespaces,
		RemoveIRSA: o.RemoveIRSA, Force: o.Force, Restart: o.Restart, TrustPolicyLimit: o.TrustPolicyLimit, Catalog: cat}
	return nil
}

// Validate checks every flag before anything is read or written.
func (o *MigrateOptions) Validate(c *cobra.Command) error {
	if err := o.Output.validate(); err != nil {
		return err
	}
	if err := o.lock.validate(); err != nil {
		return err
	}
	switch {
	case o.ExitCode && !o.DryRun:
		return errors.New("--exit-code needs --dry-run")
	case o.AllNamespaces && c.Flags().Changed("service-account"):
		return errors.New("--service-account names one ServiceAccount and -A/--all-namespaces takes every IRSA-bound one: use one or the other")
	case o.TrustPolicyLimit < vocab.MaxTrustPolicy || o.TrustPolicyLimit > vocab.MaxTrustPolicyRaised:
		return &vocab.FlagError{Flag: "--trust-policy-limit", Value: fmt.Sprint(o.TrustPolicyLimit), Rule: fmt.Sprintf(
			"IAM's role trust policy length quota is %d by default and can be raised to at most %d", vocab.MaxTrustPolicy, vocab.MaxTrustPolicyRaised)}
	}
	return o.req.Validate()
}

// Run plans, shows the plan, asks, applies and reports.
func (o *MigrateOptions) Run(ctx context.Context) error {
	s, err := o.session(ctx, o.aws)
	if err != nil {
		return err
	}
	b := s.binder(o.lock)
	b.Warn = o.warner()
	mg, err := b.PlanMigration(ctx, o.req)
	if err != nil {
		return err
	}
	pf := b.PreflightMigration(ctx, mg)
	mg.Notes = append(mg.Notes, uncheckedNotes(pf)...)
	prose := !o.Output.structured()
	out, th := o.Out, o.Theme()
	if prose {
		if err := render.Plan(out, th, o.facts(mg), mg.Plan); err != nil {
			return err
		}
		render.Notes(out, th, mg.Notes)
		render.Warnings(out, th, mg.Warnings)
	} else {
		render.Warnings(o.ErrOut, o.ErrTheme(), mg.Warnings)
	}
	if o.DryRun || !mg.Plan.HasChanges() {
		if err := o.printResult(mg, nil); err != nil {
			return err
		}
		if o.DryRun && o.ExitCode && mg.Plan.HasChanges() {
			return &ExitError{Code: ExitChanges}
		}
		return nil
	}
	if err := pf.Refusal("migrate", mg.Plan); err != nil {
		if perr := o.printResult(mg, nil); perr != nil {
			return perr
		}
		return err
	}
	if !o.Yes {
		if !render.IsTerminal(o.In) {
			return errors.New("refusing to change anything without confirmation: standard input is not a terminal; re-run with --yes to apply, or --dry-run to only see the plan")
		}
		if !prose {
			_ = render.Plan(o.ErrOut, o.ErrTheme(), o.facts(mg), mg.Plan)
		}
		if !render.Confirm(o.In, o.ErrOut, "Apply these changes?") {
			return errors.New("nothing changed: not confirmed")
		}
	}
	applied, applyErr := b.ApplyMigration(ctx, mg)
	if err := o.printResult(mg, &applied); err != nil {
		return err
	}
	if applyErr != nil {
		return rerun(applyErr)
	}
	if prose {
		created, updated, _ := mg.Plan.Counts()
		next := "Check each ServiceAccount: kubectl sdc doctor -n <NAMESPACE> --service-account <NAME> --probe"
		if len(mg.Results) == 1 {
			r := mg.Results[0].Request
			next = fmt.Sprintf("Check the whole chain: kubectl sdc doctor -n %s --service-account %s --probe", r.Namespace, r.ServiceAccount)
		}
		render.Applied(out, th, created, updated, next)
	}
	return nil
}

// printResult prints the result object for -o.
func (o *MigrateOptions) printResult(mg *bind.Migration, applied *plan.Result) error {
	if !o.Output.structured() {
		return nil
	}
	return o.Output.print(o.Out, mg.Output(o.DryRun, applied))
}

func (o *MigrateOptions) facts(mg *bind.Migration) []render.Fact {
	c := mg.Cluster
	what := fmt.Sprintf("%d ServiceAccount(s) from IRSA to EKS Pod Identity, keeping their roles; IRSA stays until --remove-irsa", len(mg.Results))
	if o.RemoveIRSA {
		what = fmt.Sprintf("%d ServiceAccount(s) from IRSA to EKS Pod Identity, keeping their roles, and removing IRSA", len(mg.Results))
	}
	return []render.Fact{
		{Label: "Cluster", Value: fmt.Sprintf("%s (%s, found by %s)", c.Name, c.Region, c.Source)},
		{Label: "Agent", Value: mg.Agent.Describe()},
		{Label: "Account", Value: fmt.Sprintf("%s as %s", mg.Identity.Account, mg.Identity.ARN)},
		{Label: "Migrating", Value: what},
	}
}
