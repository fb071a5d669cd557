package cmd

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	admissionv1client "k8s.io/client-go/kubernetes/typed/admissionregistration/v1"

	sdcaws "github.com/kubectl-sdc/kubectl-sdc/pkg/aws"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/catalog"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/cluster"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/doctor"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/fleet"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/render"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

const doctorLong = `Check the whole IRSA chain of a ServiceAccount (and the Deployment running SDC under it), and say
what to fix: kube context and cluster issuer, AWS credentials, the IAM OIDC provider and its audience,
the pod identity webhook, the ServiceAccount's role annotation, the role, its trust and its permissions,
the Deployment, its pods' AWS environment, static credentials that would win over IRSA, and the SDC
version. --probe also asks AWS: it mints a token for the ServiceAccount, exchanges it at STS for the
role's credentials and, with those, looks at the S3 buckets the stages use.

The permissions are checked against --stage/--set/--bucket (as for bind), else against the stages bind
recorded on the role (tag kubectl-sdc/stages), within the role's permissions boundary. When the stages
assume another role (--assume-role-arn, else tag kubectl-sdc/assume-role-arn), doctor checks that this
role may assume it and, with credentials of its account (--target-profile), that its trust admits this
role and its policies allow the stages; --probe then goes through both roles.

Doctor only reads. The exceptions: --probe asks the TokenRequest API for a short-lived token (nothing is
stored), and --probe-write puts one small marker object (<prefix>.kubectl-sdc-doctor-probe).

--contexts (names or shell patterns) or --all-contexts check several kube contexts side by side, each as
--context would check it, with the AWS profile its exec credential plugin names (unless --profile): each
context's report, then a table of the fleet. A context that cannot be checked (no answer, credentials
refused, no OIDC issuer, no answer within --request-timeout) is that context's error.

Exit codes: 0 no check failed, 1 a check failed (or, with --strict, warned) or, over a fleet, a context
could not be checked (unless --ignore-unreachable), 2 doctor could not run (bad flags, no usable kube
context or AWS configuration).`

const doctorExample = `  # The ServiceAccount sdc in ns1, and the Deployment(s) running under it
  kubectl sdc doctor -n ns1

  # Prove it with AWS: assume the role as the ServiceAccount and look at the bucket
  kubectl sdc doctor -n ns1 --deployment sdc --probe

  # Every annotated ServiceAccount in the cluster, as JSON; fail on warnings too
  kubectl sdc doctor -A -o json --strict

  # Every annotated ServiceAccount of every production context, each with its own AWS profile
  kubectl sdc doctor -A --contexts 'prod-*'`

// DoctorOptions are doctor's flags.
type DoctorOptions struct {
	*Globals
	aws   awsFlags
	perms permissionFlags
	fleet fleetFlags

	ServiceAccount string
	Deployment     string
	AllNamespaces  bool
	Probe          bool
	ProbeWrite     bool
	ProbePrincipal string
	Strict         bool
	Output         outputFlag
	Verbose        int
	AssumeRoleARN  string
	TargetProfile  string

	opts    doctor.Options
	catalog *catalog.Catalog
}

func newDoctorCmd(g *Globals) *cobra.Command {
	o := &DoctorOptions{Globals: g}
	c := &cobra.Command{
		Use:     "doctor",
		Short:   "Diagnose the IRSA or EKS Pod Identity chain of a ServiceAccount and its Deployment, with the fix for each problem",
		Long:    doctorLong,
		Example: doctorExample,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return &ExitError{Code: ExitCannotRun, Err: fmt.Errorf("doctor takes no arguments, got %q: name the target with -n, --service-account or --deployment", args)}
			}
			return nil
		},
		RunE: func(c *cobra.Command, _ []string) error {
			if err := o.Complete(c); err != nil {
				return &ExitError{Code: ExitCannotRun, Err: err}
			}
			if err := o.Validate(); err != nil {
				return &ExitError{Code: ExitCannotRun, Err: err}
			}
			if o.fleet.enabled() {
				return o.RunFleet(c.Context())
			}
			return o.Run(c.Context())
		},
	}
	c.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &ExitError{Code: ExitCannotRun, Err: err}
	})
	f := c.Flags()
	f.StringVar(&o.ServiceAccount, "service-account", vocab.DefaultServiceAccount, "ServiceAccount `NAME` to check (with --deployment: default that Deployment's)")
	f.StringVar(&o.Deployment, "deployment", "", "Deployment `NAME` to check; its ServiceAccount is the target unless --service-account is given")
	f.BoolVarP(&o.AllNamespaces, "all-namespaces", "A", false, "Check every ServiceAccount with an eks.amazonaws.com/role-arn annotation, in every namespace, and the Deployments using them")
	f.BoolVar(&o.Probe, "probe", false, "Also ask AWS: assume the role with a token of the ServiceAccount, and reach the stages' S3 buckets with its credentials")
	f.BoolVar(&o.ProbeWrite, "probe-write", false, "With --probe: also put a small marker object <prefix>"+doctor.ProbeMarker+" where S3 stages write")
	f.StringVar(&o.ProbePrincipal, "probe-principal", "", "With --probe: the `USER` in the session tag "+vocab.SDCSessionTagKey+" of the probe's Assume Another Role call, as SDC sets it to the user who starts the pipeline (default "+doctor.DefaultProbePrincipal+"; matters when the target's trust conditions on it)")
	f.BoolVar(&o.Strict, "strict", false, "Exit 1 on warnings too")
	f.StringVar(&o.AssumeRoleARN, "assume-role-arn", "", "Role `ARN` the SDC stages assume (\"Assume Another Role\"; default: the one bind recorded on the role, tag "+vocab.TagAssumeRoleARN+")")
	f.StringVar(&o.TargetProfile, "target-profile", "", "AWS `PROFILE` of the assumed role's account, to check that role's trust and policies too")
	noFileCompletions(c, "assume-role-arn", "target-profile")
	o.Output.add(c, "the report", "text")
	f.CountVarP(&o.Verbose, "verbose", "v", "Show the details of passing checks too")
	o.aws.add(f)
	o.perms.add(c, g)
	o.fleet.add(c, g)
	addTargetCompletions(c, g)
	return c
}

// Complete turns the flags into doctor options; over a fleet it also selects the contexts (each context's
// namespace is its own, unless -n).
func (o *DoctorOptions) Complete(c *cobra.Command) error {
	if err := o.fleet.validate(c, o.Globals, o.aws); err != nil {
		return err
	}
	ns := ""
	if o.fleet.enabled() {
		if err := o.fleet.complete(o.Globals, o.aws); err != nil {
			return err
		}
		ns = deref(o.ConfigFlags.Namespace) // -n, checked here; without it each context's own, checked with it
	} else {
		var err error
		if ns, _, err = o.Namespace(); err != nil {
			return fmt.Errorf("kube context: %w", err)
		}
	}
	var err error
	if o.catalog, err = o.perms.catalog(); err != nil {
		return err
	}
	o.opts = doctor.Options{
		Namespace: ns, AllNamespaces: o.AllNamespaces,
		ServiceAccount: o.ServiceAccount, ServiceAccountSet: c.Flags().Changed("service-account"),
		Deployment: o.Deployment, CatalogFile: o.perms.CatalogFile,
		Probe: o.Probe, ProbeWrite: o.ProbeWrite, ProbePrincipal: o.ProbePrincipal,
		AssumeRoleARN: o.AssumeRoleARN, TargetProfile: o.TargetProfile,
		ExpectedBoundary: os.Getenv(vocab.EnvPermissionsBoundary),
	}
	if len(o.perms.Stages) > 0 || len(o.perms.Sets) > 0 || o.perms.Bucket != "" || o.perms.Prefix != "" {
		sel, err := o.perms.selection()
		if err != nil {
			return err
		}
		o.opts.Selection = &sel
	}
	return nil
}

// Validate checks every flag before anything is read.
func (o *DoctorOptions) Validate() error {
	if err := o.Output.validate(); err != nil {
		return err
	}
	if sel := o.opts.Selection; sel != nil {
		if len(sel.Stages) == 0 {
			return fmt.Errorf("--set and --prefix need a --stage (or --bucket for the s3 stage): see `kubectl sdc stages`")
		}
		// Render against a placeholder account, so unknown stages and bad parameters fail before any read.
		doc, _, err := o.catalog.Render(*sel, catalog.Target{Partition: "aws", Region: "us-east-1", Account: "000000000000"})
		if err != nil {
			return err
		}
		if _, err := iampolicy.Parse(doc); err != nil {
			return err
		}
	}
	opts := o.opts
	if o.fleet.enabled() && opts.Namespace == "" {
		opts.Namespace = "default" // a stand-in: each context's own namespace is checked with it
	}
	return opts.Validate()
}

// Run gathers the facts, runs the checks and reports.
func (o *DoctorOptions) Run(ctx context.Context) error {
	s, err := o.session(ctx, o.aws)
	if err != nil {
		return &ExitError{Code: ExitCannotRun, Err: err}
	}
	admission, err := admissionv1client.NewForConfig(s.REST)
	if err != nil {
		return &ExitError{Code: ExitCannotRun, Err: err}
	}
	d := &doctor.Doctor{Core: s.Core, Apps: s.Apps, Admission: admission, Metadata: s.Metadata, AWS: s.AWS, Resolver: s.Resolver,
		Catalog: o.catalog, Options: o.opts, Operator: operatorRights(s)}
	if o.TargetProfile != "" {
		// A profile that does not load is a reason to skip what it would read, not to stop the run.
		d.TargetAWS, d.TargetAWSErr = sdcaws.Load(ctx, sdcaws.Options{Profile: o.TargetProfile, Region: s.AWS.Region})
	}
	var rep *doctor.Report
	if o.Output != "yaml" {
		// Each target's report is written as soon as it is judged, and not kept.
		var s doctor.Stream
		var end func(doctor.Summary) error
		if o.Output == "json" {
			rw := newReportWriter(o.Out)
			s, end = doctor.Stream{Begin: rw.begin, Target: rw.target}, rw.end
		} else {
			rw := render.NewReportWriter(o.Out, o.Theme(), o.Verbose > 0)
			s, end = doctor.Stream{Begin: rw.Begin, Target: rw.Target}, rw.End
		}
		rep, err = d.RunStream(ctx, s)
		if err == nil {
			err = end(rep.Summary)
		}
		if err != nil && rep == nil {
			return &ExitError{Code: ExitCannotRun, Err: err}
		}
	} else {
		if rep, err = d.Run(ctx); err != nil {
			return &ExitError{Code: ExitCannotRun, Err: err}
		}
		err = o.print(rep)
	}
	if err != nil {
		return err
	}
	if rep.Failed(o.Strict) {
		return &ExitError{Code: ExitFailure}
	}
	return nil
}

// RunFleet checks each selected context as Run would check it alone, side by side, and reports the fleet.
func (o *DoctorOptions) RunFleet(ctx context.Context) error {
	results := runFleet(ctx, &o.fleet, o.examine)
	fr := doctor.NewFleetReport(results)
	if o.Output.structured() {
		if o.Verbose > 0 {
			notes := make([]string, len(fr.Contexts))
			for i, c := range fr.Contexts {
				notes[i] = "context " + c.Context + ": " + c.ReadWith
			}
			render.Notes(o.ErrOut, o.ErrTheme(), notes)
		}
		if err := o.Output.print(o.Out, fr); err != nil {
			return err
		}
	} else if err := render.FleetReport(o.Out, o.Theme(), fr, o.Verbose > 0); err != nil {
		return err
	}
	if fr.Failed(o.Strict, o.fleet.IgnoreUnreachable) {
		return &ExitError{Code: ExitFailure}
	}
	return nil
}

// examine runs doctor on one context of a fleet: the fleet.Func of doctor.
func (o *DoctorOptions) examine(ctx context.Context, c fleet.Context) (*doctor.Report, fleet.Identity, error) {
	id := fleet.Identity{Region: c.Region}
	s, err := o.contextSession(ctx, c)
	if err != nil {
		return nil, id, &fleet.Unreachable{Reason: "cannot load its configuration", Err: err}
	}
	id.ReadWith, id.Region = s.ReadWith, s.AWS.Region
	admission, err := admissionv1client.NewForConfig(s.REST)
	if err != nil {
		return nil, id, err
	}
	opts := o.opts
	if !opts.AllNamespaces {
		opts.Namespace = s.Namespace
	}
	if err := opts.Validate(); err != nil {
		return nil, id, &fleet.Unreachable{Reason: "bad namespace", Err: fmt.Errorf("kube context %q: %w", c.Name, err),
			Fix: "pass -n NAMESPACE, or fix the context's namespace: kubectl config set-context " + c.Name + " --namespace NAME"}
	}
	d := &doctor.Doctor{Core: s.Core, Apps: s.Apps, Admission: admission, Metadata: s.Metadata, AWS: s.AWS, Resolver: s.Resolver,
		Catalog: o.catalog, Options: opts}
	rep, err := d.Run(ctx)
	if err != nil {
		return nil, id, err
	}
	id.Cluster, id.Account = rep.Cluster, rep.Account
	if rep.Region != "" {
		id.Region = rep.Region
	}
	return rep, id, rep.Unreachable()
}

func (o *DoctorOptions) print(rep *doctor.Report) error {
	if o.Output.structured() {
		return o.Output.print(o.Out, rep)
	}
	return render.Report(o.Out, o.Theme(), rep, o.Verbose > 0)
}

// operatorRights answers doctor's aws.operator check with bind's own check before writing.
func operatorRights(s *session) func(ctx context.Context, c *cluster.Cluster, id sdcaws.Identity, namespace, serviceAccount, boundary string) *doctor.OperatorRights {
	return func(ctx context.Context, c *cluster.Cluster, id sdcaws.Identity, namespace, serviceAccount, boundary string) *doctor.OperatorRights {
		r := s.binder(lockFlag{}).OperatorRights(ctx, c, id, namespace, serviceAccount, boundary)
		return &doctor.OperatorRights{Principal: r.Principal, Bind: r.Bind, BindWithBoundary: r.BindWithBoundary, PodIdentity: r.PodIdentity, Unbind: r.Unbind,
			Boundary: r.Boundary, Unchecked: r.Unchecked}
	}
}
