package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	sdcaws "github.com/kubectl-sdc/kubectl-sdc/pkg/aws"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/bind"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/render"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

const unbindLong = `Undo what bind did for a ServiceAccount, and nothing more: the exact inverse of bind.

unbind removes only what is the binding's, for every mechanism the ServiceAccount has (IRSA, EKS Pod
Identity, or both; --mechanism irsa|pod-identity removes only one):
  1. EKS Pod Identity: the ServiceAccount's association (when it names the role unbound), then the role's
     statement for pods.eks.amazonaws.com, only when kubectl-sdc made the role, no other association of
     the cluster names it and its tags name no other binding (the statement has no conditions: it serves
     every association naming the role).
  2. IRSA: the trust statement (or the entry of a :sub list) that admits system:serviceaccount:<ns>:<sa>
     through this cluster's OIDC provider. A role that then trusts nobody and that kubectl-sdc made (tag
     app.kubernetes.io/managed-by=kubectl-sdc) is deleted, its policies detached first. A role bind did not
     make is never deleted, and a wildcard statement that still admits the ServiceAccount is left alone and
     reported.
  3. once no mechanism serves the binding, its statements in the role's kubectl-sdc policy; the policy is
     deleted (its other versions first) when none are left, kubectl-sdc made it and nothing else has it
     attached.
  4. IRSA: the eks.amazonaws.com/role-arn annotation (and sts-regional-endpoints, when bind set it),
     released by server-side apply: annotations and labels of other managers stay.
  5. with --delete-service-account, the ServiceAccount itself, only when bind created it; with --restart,
     the Deployments whose pods still carry the identity removed; with --prune-provider, the cluster's OIDC
     provider when no role of the account trusts it any more.

Like bind it shows the plan first (- delete, ~ update, = unchanged, with a diff of every document), then
asks (on a terminal) or applies with --yes. Unbinding what is not bound prints "Nothing to do" and writes
nothing.`

const unbindExample = `  # See what unbinding ns1/sdc would remove; exit 2 when something would
  kubectl sdc unbind -n ns1 --dry-run --exit-code

  # Unbind, restart the pods that still carry the role, and delete the ServiceAccount bind created
  kubectl sdc unbind -n ns1 --restart --delete-service-account --yes

  # The annotation and the association are gone already (say, the ServiceAccount was deleted): name the role
  kubectl sdc unbind -n ns1 --service-account etl --role-name sdc-prod.us-west-2+ns1+etl --yes

  # Migrated to EKS Pod Identity, and back: remove the association only, keep IRSA
  kubectl sdc unbind -n ns1 --mechanism pod-identity --yes`

// UnbindOptions are unbind's flags.
type UnbindOptions struct {
	*Globals
	lock lockFlag
	aws  awsFlags

	ServiceAccount       string
	RoleName             string
	DeleteServiceAccount bool
	PruneProvider        bool
	Restart              bool
	Mechanism            string
	TargetProfile        string
	DryRun               bool
	ExitCode             bool
	Yes                  bool
	Output               outputFlag
	Verbose              int

	req *bind.UnbindRequest
	// Saving and applying saved plans (saved_plan.go).
	saving savingFlags
	saved  *appliedPlan
}

func newUnbindCmd(g *Globals) *cobra.Command {
	o := &UnbindOptions{Globals: g}
	c := &cobra.Command{
		Use:     "unbind",
		Short:   "Remove what bind made for a ServiceAccount, and only that (plan first, idempotent)",
		Long:    unbindLong,
		Example: unbindExample,
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := o.Complete(); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(c.Context())
		},
	}
	f := c.Flags()
	o.lock.add(f)
	f.StringVar(&o.ServiceAccount, "service-account", vocab.DefaultServiceAccount, "ServiceAccount `NAME` to unbind")
	f.StringVar(&o.RoleName, "role-name", "", "IAM role `NAME` to unbind from, when neither the ServiceAccount's annotation nor its EKS Pod Identity association names it any more (default: the annotation's role, else the association's, else bind's default name)")
	f.StringVar(&o.Mechanism, "mechanism", "", "Remove only this `MECHANISM`: irsa or pod-identity (default: every mechanism the ServiceAccount has)")
	f.BoolVar(&o.DeleteServiceAccount, "delete-service-account", false, "Also delete the ServiceAccount, when bind created it")
	f.BoolVar(&o.PruneProvider, "prune-provider", false, "Also delete the cluster's IAM OIDC provider, when no role of the account trusts it any more and kubectl-sdc made it")
	f.BoolVar(&o.Restart, "restart", false, "Restart the Deployments whose pods still carry the role's environment (otherwise they keep it until they restart). Off by default, unlike bind's and migrate's: unbind leaves every Deployment untouched unless asked")
	f.BoolVar(&o.DryRun, "dry-run", false, "Print the plan and change nothing")
	f.BoolVar(&o.ExitCode, "exit-code", false, "With --dry-run: exit 2 when there are changes, 0 when none (as terraform plan -detailed-exitcode; kubectl diff exits 1 on changes)")
	f.BoolVarP(&o.Yes, "yes", "y", false, "Apply without asking")
	o.Output.add(c, "the result object", "the plan in prose")
	f.StringVar(&o.TargetProfile, "target-profile", "", "AWS `PROFILE` of the account of the EKS Pod Identity association's target role: also take out what bind put there for this binding (its trust statement, its statements of the target's policy, and the role and policy when bind made them and nothing else uses them); without it, unbind says what stays")
	f.CountVarP(&o.Verbose, "verbose", "v", "Say more: how the cluster's issuer was found")
	o.aws.add(f)
	o.saving.add(c)
	_ = c.RegisterFlagCompletionFunc("service-account", completeServiceAccounts(g))
	_ = c.RegisterFlagCompletionFunc("role-name", cobra.NoFileCompletions)
	_ = c.RegisterFlagCompletionFunc("mechanism", cobra.FixedCompletions([]string{string(vocab.MechanismIRSA), string(vocab.MechanismPodIdentity)}, cobra.ShellCompDirectiveNoFileComp))
	return c
}

// Complete turns the flags into an unbind request.
func (o *UnbindOptions) Complete() error {
	ns, _, err := o.Namespace()
	if err != nil {
		return fmt.Errorf("kube context: %w", err)
	}
	o.req = &bind.UnbindRequest{Namespace: ns, ServiceAccount: o.ServiceAccount, RoleName: o.RoleName,
		DeleteServiceAccount: o.DeleteServiceAccount, PruneProvider: o.PruneProvider, Restart: o.Restart,
		Mechanism: vocab.Mechanism(o.Mechanism), TargetProfile: o.TargetProfile}
	return nil
}

// Validate checks every flag before anything is read or written.
func (o *UnbindOptions) Validate() error {
	if err := o.Output.validate(); err != nil {
		return err
	}
	if err := o.lock.validate(); err != nil {
		return err
	}
	if o.ExitCode && !o.DryRun {
		return errors.New("--exit-code needs --dry-run")
	}
	if err := o.saving.validate(o.DryRun, false, false); err != nil {
		return err
	}
	return o.req.Validate()
}

// Run plans, shows the plan, asks, applies and reports.
func (o *UnbindOptions) Run(ctx context.Context) error {
	s, err := o.session(ctx, o.aws)
	if err != nil {
		return err
	}
	b := s.binder(o.lock)
	b.Warn = o.warner()
	if o.TargetProfile != "" {
		if b.TargetAWS, err = sdcaws.Load(ctx, sdcaws.Options{Profile: o.TargetProfile, Region: s.AWS.Region}); err != nil {
			return fmt.Errorf("--target-profile: %w", err)
		}
	}
	res, err := b.PlanUnbind(ctx, o.req)
	if err != nil {
		return err
	}
	pf := b.PreflightUnbind(ctx, res)
	if o.Verbose > 0 {
		explainPreflight(o.ErrOut, pf)
	}
	res.Notes = append(res.Notes, uncheckedNotes(pf)...)
	if err := o.savedPlan(res); err != nil {
		return err
	}
	if o.Verbose > 0 {
		explainCluster(o.ErrOut, res.Cluster)
	}
	prose := !o.Output.structured()
	if prose {
		if err := o.printPlan(o.Out, o.Theme(), res); err != nil {
			return err
		}
	} else {
		render.Warnings(o.ErrOut, o.ErrTheme(), res.Warnings)
	}
	if o.DryRun || !res.Plan.HasChanges() {
		if err := o.Output.print(o.Out, res.Output(o.DryRun, nil)); err != nil {
			return err
		}
		if o.DryRun && o.ExitCode && res.Plan.HasChanges() {
			return &ExitError{Code: ExitChanges}
		}
		return nil
	}
	if err := pf.Refusal("unbind", res.Plan); err != nil {
		if perr := o.Output.print(o.Out, res.Output(false, nil)); perr != nil {
			return perr
		}
		return err
	}
	if !o.Yes {
		if err := o.confirm(res, prose); err != nil {
			return err
		}
	}
	applied, applyErr := b.ApplyUnbind(ctx, res)
	if err := o.Output.print(o.Out, res.Output(false, &applied)); err != nil {
		return err
	}
	if applyErr != nil {
		return rerun(applyErr)
	}
	if prose {
		t := res.Plan.Tally()
		render.Removed(o.Out, o.Theme(), t.Update, t.Delete, "")
	}
	return nil
}

// printPlan writes the plan, its notes and warnings; a plan without changes ends with "Nothing to do".
func (o *UnbindOptions) printPlan(w io.Writer, th *render.Theme, res *bind.UnbindResult) error {
	last := render.Summary(th, res.Plan)
	if !res.Plan.HasChanges() {
		via := ""
		if o.req.Mechanism != "" {
			via = " by " + o.req.Mechanism.Title()
		}
		last = th.Bold.Render(fmt.Sprintf("Nothing to do: ServiceAccount %s/%s is not bound to role %s%s (%d unchanged).",
			o.req.Namespace, o.req.ServiceAccount, res.Names.RoleName, via, res.Plan.Tally().Unchanged))
	}
	if err := render.PlanEnding(w, th, o.facts(res), res.Plan, last); err != nil {
		return err
	}
	render.Notes(w, th, res.Notes)
	render.Warnings(w, th, res.Warnings)
	return nil
}

func (o *UnbindOptions) facts(res *bind.UnbindResult) []render.Fact {
	c := res.Cluster
	where := c.Name
	if c.Region != "" {
		where += " (" + c.Region + ")"
	}
	return []render.Fact{
		{Label: "Cluster", Value: where},
		{Label: "Issuer", Value: fmt.Sprintf("%s (found by %s)", c.Issuer, c.Source)},
		{Label: "Account", Value: fmt.Sprintf("%s as %s", res.Identity.Account, res.Identity.ARN)},
		{Label: "Unbinding", Value: fmt.Sprintf("ServiceAccount %s/%s from role %s (from %s)%s", o.req.Namespace, o.req.ServiceAccount, res.Names.RoleARN, res.Names.RoleSource, removedBy(res.Mechanism))},
	}
}

// removedBy says which mechanisms the plan removes, for the Unbinding line.
func removedBy(m vocab.Mechanism) string {
	if m == "" {
		return ""
	}
	return ", by " + m.Title()
}

// confirm asks on a terminal; without one it refuses, since nothing may be removed unseen.
func (o *UnbindOptions) confirm(res *bind.UnbindResult, prose bool) error {
	if !render.IsTerminal(o.In) {
		return errors.New("refusing to remove anything without confirmation: standard input is not a terminal; re-run with --yes to apply, or --dry-run to only see the plan")
	}
	if !prose {
		_ = o.printPlan(o.ErrOut, o.ErrTheme(), res)
	}
	if render.Confirm(o.In, o.ErrOut, "Apply these changes?") {
		return nil
	}
	return errors.New("nothing changed: not confirmed")
}
