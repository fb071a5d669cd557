package cmd

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	admissionv1client "k8s.io/client-go/kubernetes/typed/admissionregistration/v1"

	sdcaws "github.com/kubectl-sdc/kubectl-sdc/pkg/aws"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/catalog"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/doctor"
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

Exit codes: 0 no check failed, 1 a check failed (or, with --strict, warned), 2 doctor could not run
(bad flags, no usable kube context or AWS configuration).`

const doctorExample = `  # The ServiceAccount sdc in ns1, and the Deployment(s) running under it
  kubectl sdc doctor -n ns1

  # Prove it with AWS: assume the role as the ServiceAccount and look at the bucket
  kubectl sdc doctor -n ns1 --deployment sdc --probe

  # Every annotated ServiceAccount in the cluster, as JSON; fail on warnings too
  kubectl sdc doctor -A -o json --strict`

// DoctorOptions are doctor's flags.
type DoctorOptions struct {
	*Globals
	aws   awsFlags
	perms permissionFlags

	ServiceAccount string
	Deployment     string
	AllNamespaces  bool
	Probe          bool
	ProbeWrite     bool
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
		Short:   "Diagnose the IRSA chain of a ServiceAccount and its Deployment, with the fix for each problem",
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
	f.BoolVar(&o.Strict, "strict", false, "Exit 1 on warnings too")
	f.StringVar(&o.AssumeRoleARN, "assume-role-arn", "", "Role `ARN` the SDC stages assume (\"Assume Another Role\"; default: the one bind recorded on the role, tag "+vocab.TagAssumeRoleARN+")")
	f.StringVar(&o.TargetProfile, "target-profile", "", "AWS `PROFILE` of the assumed role's account, to check that role's trust and policies too")
	noFileCompletions(c, "assume-role-arn", "target-profile")
	o.Output.add(c, "the report", "text")
	f.CountVarP(&o.Verbose, "verbose", "v", "Show the details of passing checks too")
	o.aws.add(f)
	o.perms.add(c, g)
	addTargetCompletions(c, g)
	return c
}

// Complete turns the flags into doctor options.
func (o *DoctorOptions) Complete(c *cobra.Command) error {
	ns, _, err := o.Namespace()
	if err != nil {
		return fmt.Errorf("kube context: %w", err)
	}
	if o.catalog, err = o.perms.catalog(); err != nil {
		return err
	}
	o.opts = doctor.Options{
		Namespace: ns, AllNamespaces: o.AllNamespaces,
		ServiceAccount: o.ServiceAccount, ServiceAccountSet: c.Flags().Changed("service-account"),
		Deployment: o.Deployment, CatalogFile: o.perms.CatalogFile,
		Probe: o.Probe, ProbeWrite: o.ProbeWrite,
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
	return o.opts.Validate()
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
	d := &doctor.Doctor{Core: s.Core, Apps: s.Apps, Admission: admission, AWS: s.AWS, Resolver: s.Resolver,
		Catalog: o.catalog, Options: o.opts}
	if o.TargetProfile != "" {
		// A profile that does not load is a reason to skip what it would read, not to stop the run.
		d.TargetAWS, d.TargetAWSErr = sdcaws.Load(ctx, sdcaws.Options{Profile: o.TargetProfile, Region: s.AWS.Region})
	}
	rep, err := d.Run(ctx)
	if err != nil {
		return &ExitError{Code: ExitCannotRun, Err: err}
	}
	if err := o.print(rep); err != nil {
		return err
	}
	if rep.Failed(o.Strict) {
		return &ExitError{Code: ExitFailure}
	}
	return nil
}

func (o *DoctorOptions) print(rep *doctor.Report) error {
	if o.Output.structured() {
		return o.Output.print(o.Out, rep)
	}
	return render.Report(o.Out, o.Theme(), rep, o.Verbose > 0)
}
