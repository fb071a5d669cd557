package cmd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/bind"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/manifest"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/render"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

const bindLong = `Give a ServiceAccount (and the Deployment running SDC under it) AWS permissions through IRSA (or EKS Pod
Identity with --mechanism pod-identity), in one step.

bind makes all of this true, creating or changing only what is not already so:
  1. an IAM OIDC identity provider for the cluster's service-account issuer, audience sts.amazonaws.com
  2. a customer managed IAM policy with the permissions asked for (--stage/--bucket, or --policy-file)
  3. the namespace and the ServiceAccount
  4. an IAM role that trusts exactly this ServiceAccount through the provider, with the policies attached
  5. the eks.amazonaws.com/role-arn annotation on the ServiceAccount
  6. with --deployment: the Deployment runs under the ServiceAccount with securityContext.fsGroup

A Deployment that StreamSets Control Hub manages is never changed (its agent creates it again from the
Control Hub deployment's YAML at every restart): bind warns, applies everything else and prints the lines
to put into that YAML. --print-manifest touches no Deployment and prints the whole manifest (or with
--fragment those lines) on standard output, the plan going to standard error.

Inside an organization's guardrails, --permissions-boundary, --role-path and --tag (defaults from
$KUBECTL_SDC_PERMISSIONS_BOUNDARY, $KUBECTL_SDC_ROLE_PATH and $KUBECTL_SDC_TAGS) go into the calls that
create the role, its policy and the provider. With --assume-role-arn the stages' permissions live in the
role they assume in another account ("Assume Another Role", SDC 3.19.0 or later): this role may only
assume it, and with --target-profile bind also makes that role's trust admit this one and attaches the
stages' policy there.

With --mechanism pod-identity there is no OIDC provider and no annotation: bind checks that the cluster runs
the EKS Pod Identity agent (the eks-pod-identity-agent add-on, or EKS Auto Mode), makes the policy and role
as above with a trust of pods.eks.amazonaws.com (sts:AssumeRole, sts:TagSession), and creates the
ServiceAccount's Pod Identity association (or points it at the role). SDC's AWS SDK for Java reads Pod
Identity credentials only from 1.12.746, which no open-source SDC bundles: bind refuses SDC versions known
to be older (--force binds anyway) and warns about versions not documented either way. An IRSA annotation
on the ServiceAccount stays (its environment wins in the SDK's chain) unless --remove-irsa.

Two ways reach a role in another account. --assume-role-arn is SDC's "Assume Another Role" (either
mechanism): SDC's stages assume the role themselves, so each stage must be configured for it, from SDC
3.19.0. --target-role-arn (Pod Identity only) is EKS's own chain: the association names the target role, EKS
assumes the binding's role and then the target, and the pods get the target's credentials with no SDC
configuration at all, but only an SDC whose AWS SDK reads Pod Identity credentials can use them. Pick
--target-role-arn when your SDC can use Pod Identity, --assume-role-arn otherwise. With either, the binding's
role may only assume the target, the stages' permissions go there, and --target-profile makes the target's
trust (for --target-role-arn the EKS user guide's: conditioned on the session tags, or with
--disable-session-tags on the association's external ID) and policy; without it bind prints what to add
there. --session-policy narrows the pods' credentials (the association's policy; EKS requires
--disable-session-tags).

It always shows the plan first: + create, ~ update or = unchanged for each resource, with a diff of every
IAM document and Kubernetes object it would change. Then it asks (on a terminal), or applies with --yes.
A second run on an unchanged system changes nothing.`

const bindExample = `  # The original guide: namespace ns1, ServiceAccount sdc, the S3 bucket's policy, and a Deployment
  kubectl sdc bind -n ns1 --bucket sdc-ingest-bucket --deployment sdc --create-deployment \
      --image streamsets/datacollector:5.11.0 --yes

  # Stages from the catalog (kubectl sdc stages), parameters with --set
  kubectl sdc bind -n etl --stage kinesis-consumer --set stream=orders --set application=orders-sdc

  # StreamSets Control Hub runs SDC: everything but the Deployment, then the manifest for its YAML
  kubectl sdc bind -n ns1 --bucket sdc-ingest-bucket --print-manifest --image streamsets/datacollector:5.11.0 --yes

  # EKS Pod Identity instead of IRSA (an SDC whose AWS SDK for Java is 1.12.746 or later)
  kubectl sdc bind -n ns1 --bucket sdc-ingest-bucket --mechanism pod-identity --deployment sdc

  # Only show what would change; exit 2 when something would
  kubectl sdc bind -n ns1 --bucket sdc-ingest-bucket --dry-run --exit-code

  # Inside an organization's guardrails: a permissions boundary, a role path and tags
  kubectl sdc bind -n ns1 --bucket sdc-ingest-bucket --permissions-boundary arn:aws:iam::123456789012:policy/sdc-boundary \
      --role-path /sdc/ --tag cost-center=data-platform

  # The data in another account through EKS Pod Identity's own chain (a target role)
  kubectl sdc bind -n ns1 --bucket data-bucket --mechanism pod-identity --deployment sdc \
      --target-role-arn arn:aws:iam::210987654321:role/sdc-data --target-profile data-account

  # The data in another account: the stages assume a role there ("Assume Another Role")
  kubectl sdc bind -n ns1 --bucket data-bucket --assume-role-arn arn:aws:iam::210987654321:role/sdc-data \
      --target-profile data-account`

// BindOptions are bind's flags.
type BindOptions struct {
	*Globals
	lock  lockFlag
	aws   awsFlags
	perms permissionFlags
	guard guardrailFlags

	ServiceAccount   string
	Deployment       string
	CreateDeployment bool
	Image            string
	FSGroup          int64
	Restart          bool
	Wait             bool
	Timeout          time.Duration
	RoleName         string
	PolicyName       string
	PolicyFile       string
	AttachPolicyARNs []string
	RegionalSTS      bool
	TrustPolicyLimit int
	DryRun           bool
	ExitCode         bool
	Yes              bool
	Output           outputFlag
	Verbose          int
	// PrintManifest prints the Deployment manifest (or with Fragment its fragment) instead of touching a
	// Deployment: for Deployments that StreamSets Control Hub creates from its own YAML.
	PrintManifest bool
	Fragment      bool
	// Mechanism is --mechanism; RemoveIRSA and Force are Pod Identity's.
	Mechanism  string
	RemoveIRSA bool
	Force      bool
	// TargetRoleARN, DisableSessionTags and SessionPolicyFile are the association's target role, session
	// tags setting and session policy (Pod Identity's).
	TargetRoleARN      string
	SubjectPattern     string
	DisableSessionTags bool
	SessionPolicyFile  string

	req      *bind.Request
	manifest manifest.Options
	// Saving and applying saved plans (saved_plan.go).
	saving savingFlags
	saved  *appliedPlan
}

func newBindCmd(g *Globals) *cobra.Command { return bindCmd(&BindOptions{Globals: g}) }

// bindCmd is bind's command with its flags bound to o.
func bindCmd(o *BindOptions) *cobra.Command {
	g := o.Globals
	c := &cobra.Command{
		Use:     "bind",
		Short:   "Create or update everything IRSA or EKS Pod Identity needs for a ServiceAccount (plan first, idempotent)",
		Long:    bindLong,
		Example: bindExample,
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := o.Complete(c); err != nil {
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
	f.StringVar(&o.ServiceAccount, "service-account", vocab.DefaultServiceAccount, "ServiceAccount `NAME` to bind")
	f.StringVar(&o.Deployment, "deployment", "", "Deployment `NAME` to run under the ServiceAccount with the fsGroup")
	f.BoolVar(&o.CreateDeployment, "create-deployment", false, "Create --deployment in the original guide's shape when it does not exist (needs --image)")
	f.StringVar(&o.Image, "image", "", "SDC `IMAGE` for --create-deployment or --print-manifest, e.g. streamsets/datacollector:5.11.0")
	f.BoolVar(&o.PrintManifest, "print-manifest", false, "Touch no Deployment: after applying everything else, print the Deployment manifest (named by --deployment, default sdc; needs --image) for Control Hub or kubectl apply")
	f.BoolVar(&o.Fragment, "fragment", false, "With --print-manifest: print only the pod spec's serviceAccountName and securityContext, to merge into a manifest you have")
	f.Int64Var(&o.FSGroup, "fs-group", vocab.DefaultFSGroup, "Pod securityContext.fsGroup `GID` for --deployment; -1 leaves it alone")
	f.BoolVar(&o.Restart, "restart", true, "Restart the Deployment's pods that started before the role annotation or association (they have no AWS identity until they restart). On by default, as in migrate, since a bind takes effect only in new pods; unbind's is off")
	f.BoolVar(&o.Wait, "wait", false, "Follow the Deployment's rollout until it is ready or --timeout passes")
	f.DurationVar(&o.Timeout, "timeout", 5*time.Minute, "How long --wait waits, as a `DURATION` (e.g. 90s, 10m)")
	f.StringVar(&o.RoleName, "role-name", "", "IAM role `NAME` to use, shared on purpose by every ServiceAccount bound with it (default: the one the ServiceAccount's annotation names, else sdc-<cluster>.<region>+<namespace>+<serviceaccount>)")
	f.StringVar(&o.PolicyName, "policy-name", "", "IAM policy `NAME` (default: the role's name; one policy per role, holding each of its bindings' permissions)")
	f.StringVar(&o.PolicyFile, "policy-file", "", "IAM policy document (JSON) `FILE` to grant instead of catalog stages")
	f.StringArrayVar(&o.AttachPolicyARNs, "attach-policy-arn", nil, "Also attach this managed policy `ARN` to the role (repeatable)")
	f.IntVar(&o.TrustPolicyLimit, "trust-policy-limit", vocab.MaxTrustPolicy, "The account's role trust policy length quota in `CHARACTERS` (IAM's default; raised quotas go up to 4096)")
	f.BoolVar(&o.RegionalSTS, "sts-regional-endpoints", true, "Annotate eks.amazonaws.com/sts-regional-endpoints=\"true\" (pods use their region's STS)")
	f.BoolVar(&o.DryRun, "dry-run", false, "Print the plan and change nothing")
	f.BoolVar(&o.ExitCode, "exit-code", false, "With --dry-run: exit 2 when there are changes, 0 when none (as terraform plan -detailed-exitcode; kubectl diff exits 1 on changes)")
	f.BoolVarP(&o.Yes, "yes", "y", false, "Apply without asking")
	o.Output.add(c, "the result object (with --print-manifest: the manifest)", "the plan in prose (with --print-manifest: yaml)")
	f.CountVarP(&o.Verbose, "verbose", "v", "Say more: how the cluster's issuer was found, and what was tried")
	f.StringVar(&o.Mechanism, "mechanism", string(vocab.MechanismIRSA), "How the pods get the role (`MECHANISM`): irsa (an IAM OIDC provider and the role-arn annotation, the original guide's way) or pod-identity (an EKS Pod Identity association)")
	f.BoolVar(&o.RemoveIRSA, "remove-irsa", false, "With --mechanism pod-identity: remove the ServiceAccount's IRSA (the role-arn annotation, if bind set it, and its web identity trust)")
	f.BoolVar(&o.Force, "force", false, "With --mechanism pod-identity: bind even an SDC version known to bundle an AWS SDK for Java that cannot read Pod Identity credentials")
	f.StringVar(&o.SubjectPattern, "subject-pattern", "", "With IRSA and --role-name: admit every ServiceAccount whose subject matches this `PATTERN` (IAM's StringLike on :sub; '*' any run, '?' one character), e.g. system:serviceaccount:sdc-*:sdc; the ServiceAccount bound now must match it")
	_ = c.RegisterFlagCompletionFunc("subject-pattern", cobra.NoFileCompletions)
	f.StringVar(&o.TargetRoleARN, "target-role-arn", "", "With --mechanism pod-identity: the association's target role `ARN` (any account): EKS assumes the binding's role, then this one, and the pods get its credentials (EKS's own chain; the stages' permissions go there). Unlike --assume-role-arn it needs no SDC configuration, but an SDC whose AWS SDK reads Pod Identity credentials")
	f.BoolVar(&o.DisableSessionTags, "disable-session-tags", false, "With --mechanism pod-identity: disable the association's session tags (a target role's trust then conditions on the association's external ID); default: leave the association's setting")
	f.StringVar(&o.SessionPolicyFile, "session-policy", "", "With --mechanism pod-identity and --disable-session-tags: IAM policy document (JSON) `FILE` that narrows the pods' credentials (the association's policy, at most 2048 characters)")
	_ = c.RegisterFlagCompletionFunc("target-role-arn", cobra.NoFileCompletions)
	_ = c.RegisterFlagCompletionFunc("mechanism", cobra.FixedCompletions(mechanismNames(), cobra.ShellCompDirectiveNoFileComp))
	o.aws.add(f)
	o.perms.add(c, g)
	o.guard.add(c)
	o.saving.add(c)
	addGitOpsOutput(c)
	addTargetCompletions(c, g)
	return c
}

// mechanismNames are --mechanism's values.
func mechanismNames() []string {
	out := make([]string, len(vocab.Mechanisms))
	for i, m := range vocab.Mechanisms {
		out[i] = string(m)
	}
	return out
}

// Complete turns the flags into a bind request.
func (o *BindOptions) Complete(c *cobra.Command) error {
	ns, _, err := o.Namespace()
	if err != nil {
		return fmt.Errorf("kube context: %w", err)
	}
	sel, err := o.perms.selection()
	if err != nil {
		return err
	}
	r := &bind.Request{
		Namespace: ns, ServiceAccount: o.ServiceAccount, Deployment: o.Deployment,
		CreateDeployment: o.CreateDeployment, Image: o.Image, FSGroup: o.FSGroup, Restart: o.Restart,
		RoleName: o.RoleName, PolicyName: o.PolicyName, RegionalSTS: o.RegionalSTS, TrustPolicyLimit: o.TrustPolicyLimit,
		Selection: sel, AttachPolicyARNs: o.AttachPolicyARNs,
		Via: vocab.Mechanism(o.Mechanism), RegionalSTSSet: c.Flags().Changed("sts-regional-endpoints"),
		RemoveIRSA: o.RemoveIRSA, Force: o.Force, TargetRoleARN: o.TargetRoleARN,
		SubjectPattern: o.SubjectPattern,
	}
	if c.Flags().Changed("disable-session-tags") {
		r.DisableSessionTags = &o.DisableSessionTags
	}
	if o.SessionPolicyFile != "" {
		data, err := os.ReadFile(o.SessionPolicyFile)
		if err != nil {
			return fmt.Errorf("--session-policy: %w", err)
		}
		if r.SessionPolicy, err = iampolicy.Parse(data); err != nil {
			return fmt.Errorf("--session-policy %s: not a valid IAM policy document: %w", o.SessionPolicyFile, err)
		}
	}
	if err := o.guard.complete(c, r); err != nil {
		return err
	}
	if len(sel.Stages) > 0 || r.Via == vocab.MechanismPodIdentity {
		// Pod Identity judges the SDC image by the libraries of the stages, which the catalog knows.
		if r.Catalog, err = o.perms.catalog(); err != nil {
			return err
		}
	}
	if o.PolicyFile != "" {
		data, err := os.ReadFile(o.PolicyFile)
		if err != nil {
			return fmt.Errorf("--policy-file: %w", err)
		}
		if r.PolicyDocument, err = iampolicy.Parse(data); err != nil {
			return fmt.Errorf("--policy-file %s: not a valid IAM policy document: %w", o.PolicyFile, err)
		}
	}
	if o.PrintManifest {
		// The manifest is printed instead of touching a Deployment: the request names none, and --deployment
		// and --image are the manifest's.
		o.manifest = manifest.Options{Fragment: o.Fragment, Name: o.Deployment, Image: o.Image,
			ServiceAccount: o.ServiceAccount, FSGroup: o.FSGroup, NameFlag: "--deployment", ImageFlag: "--image"}
		r.Deployment, r.Image, r.PrintedImage = "", "", o.Image
	}
	o.req = r
	return nil
}

// Validate checks every flag before anything is read or written.
func (o *BindOptions) Validate() error {
	if err := o.validateOutput(); err != nil {
		return err
	}
	if err := o.lock.validate(); err != nil {
		return err
	}
	if o.ExitCode && !o.DryRun {
		return errors.New("--exit-code needs --dry-run")
	}
	if err := o.saving.validate(o.DryRun, o.PrintManifest, o.Wait); err != nil {
		return err
	}
	if o.Wait && o.Deployment == "" {
		return errors.New("--wait needs --deployment (it follows that Deployment's rollout)")
	}
	if o.Timeout <= 0 {
		return fmt.Errorf("--timeout %s: must be positive", o.Timeout)
	}
	if o.Fragment && !o.PrintManifest {
		return errors.New("--fragment needs --print-manifest (it says what to print)")
	}
	if o.PrintManifest {
		switch {
		case o.CreateDeployment:
			return errors.New("--print-manifest touches no Deployment and --create-deployment creates one: use one or the other")
		case o.Wait:
			return errors.New("--wait follows a Deployment's rollout, and with --print-manifest bind touches no Deployment")
		}
		if err := o.req.Validate(); err != nil {
			return err
		}
		// The mechanism is bind's; set here so the manifest can be checked before anything is read.
		o.manifest.Mechanism = o.req.Mechanism()
		return o.manifest.Validate()
	}
	return o.req.Validate()
}

// Run plans, shows the plan, asks, applies and reports.
func (o *BindOptions) Run(ctx context.Context) error {
	s, err := o.session(ctx, o.aws)
	if err != nil {
		return err
	}
	b := s.binder(o.lock)
	b.Warn = o.warner()
	if b.TargetAWS, err = o.guard.targetClients(ctx, s.AWS.Region); err != nil {
		return err
	}
	res, err := b.Plan(ctx, o.req)
	if err != nil {
		return err
	}
	pf := b.Preflight(ctx, res)
	if o.Verbose > 0 {
		explainPreflight(o.ErrOut, pf)
	}
	res.Notes = append(res.Notes, uncheckedNotes(pf)...)
	if o.Verbose > 0 {
		explainCluster(o.ErrOut, res.Cluster)
	}
	if err := o.savedPlan(res); err != nil {
		return err
	}
	out, th, prose := o.proseStream()
	if prose {
		if err := render.Plan(out, th, o.facts(res), res.Plan); err != nil {
			return err
		}
		render.Notes(out, th, res.Notes)
		render.Warnings(out, th, res.Warnings)
		printHandoff(out, th, res.Handoff)
	} else {
		// The warnings are in the result object too; standard error makes sure a person sees them.
		render.Warnings(o.ErrOut, o.ErrTheme(), res.Warnings)
	}
	if o.DryRun || !res.Plan.HasChanges() {
		if err := o.printResult(res, nil); err != nil {
			return err
		}
		if err := o.printManifest(out, th, prose, res); err != nil {
			return err
		}
		if o.DryRun && o.ExitCode && res.Plan.HasChanges() {
			return &ExitError{Code: ExitChanges}
		}
		if !o.DryRun && o.Wait {
			return o.wait(ctx, b)
		}
		return nil
	}
	if err := pf.Refusal("bind", res.Plan); err != nil {
		if perr := o.printResult(res, nil); perr != nil {
			return perr
		}
		return err
	}
	if !o.Yes {
		if err := o.confirm(res); err != nil {
			return err
		}
	}
	applied, applyErr := b.Apply(ctx, res)
	if err := o.printResult(res, &applied); err != nil {
		return err
	}
	if applyErr != nil {
		return rerun(applyErr)
	}
	if prose {
		created, updated, _ := res.Plan.Counts()
		render.Applied(out, th, created, updated, fmt.Sprintf("Check the whole chain: kubectl sdc doctor -n %s --service-account %s --probe", o.req.Namespace, o.req.ServiceAccount))
	}
	if err := o.printManifest(out, th, prose, res); err != nil {
		return err
	}
	if o.Wait {
		return o.wait(ctx, b)
	}
	return nil
}

// confirm asks on a terminal; without one it refuses, since nothing may change unseen.
func (o *BindOptions) confirm(res *bind.Result) error {
	if !render.IsTerminal(o.In) {
		return errors.New("refusing to change anything without confirmation: standard input is not a terminal; re-run with --yes to apply, or --dry-run to only see the plan")
	}
	if _, _, prose := o.proseStream(); !prose {
		// The plan was not printed as prose: show it where the prompt is.
		_ = render.Plan(o.ErrOut, o.ErrTheme(), o.facts(res), res.Plan)
	}
	if render.Confirm(o.In, o.ErrOut, "Apply these changes?") {
		return nil
	}
	return errors.New("nothing changed: not confirmed")
}

// wait follows the Deployment's rollout with a progress line.
func (o *BindOptions) wait(ctx context.Context, b *bind.Binder) error {
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	progress := render.NewProgress(o.ErrOut)
	err := b.WaitRollout(ctx, o.req.Namespace, o.req.Deployment, func(p bind.Progress) { progress.Update(p.String()) })
	progress.Done()
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("deployment %s/%s did not finish rolling out within --timeout %s: %s", o.req.Namespace, o.req.Deployment, o.Timeout, progress.Last())
	}
	return err
}
