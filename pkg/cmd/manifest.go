package cmd

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/catalog"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/eksread"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/manifest"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/render"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

const manifestLong = `Print the Deployment manifest that runs StreamSets Data Collector under a ServiceAccount with its AWS
identity, in the original guide's shape: for StreamSets Control Hub's advanced-mode Kubernetes YAML, whose
agent creates the Deployment (and creates it again at every restart, so a patch would not last), or for
kubectl apply.

The manifest holds the ServiceAccount (serviceAccountName), securityContext.fsGroup (65534 by default, so
SDC's non-root user can read the projected AWS token), the image, the name and app label, and SDC's port
18630; nothing that Control Hub fills in itself (namespace, replicas, the engine's registration settings).
--fragment prints only the lines to merge into a manifest you already have, nested where they go
(spec.template.spec): the right thing for the YAML Control Hub shows in advanced mode.

manifest writes nothing. It reads the ServiceAccount in the namespace (-n) to say on standard error when it
does not exist yet or has no AWS identity. Only when the ServiceAccount has no IRSA annotation does it ask
AWS whether the ServiceAccount has an EKS Pod Identity association (one eks:ListPodIdentityAssociations
filtered to it), to say which mechanism serves it and whether the image's SDC can use Pod Identity. The
manifest is the same for both mechanisms.`

const manifestExample = `  # The guide's manifest for namespace ns1, after kubectl sdc bind -n ns1 ...
  kubectl sdc manifest -n ns1 --image streamsets/datacollector:5.11.0

  # Only the lines to merge into the Control Hub deployment's YAML (advanced mode)
  kubectl sdc manifest -n ns1 --fragment

  # Plain Kubernetes: apply it
  kubectl sdc manifest -n ns1 --image streamsets/datacollector:5.11.0 | kubectl apply -n ns1 -f -`

// ManifestOptions are manifest's flags.
type ManifestOptions struct {
	*Globals
	aws            awsFlags
	ServiceAccount string
	Name           string
	Image          string
	FSGroup        int64
	Fragment       bool
	Output         outputFlag

	namespace string
	// manifest holds what to print; its Mechanism (how the pods get the AWS identity) is set by Run from
	// the ServiceAccount.
	manifest manifest.Options
}

func newManifestCmd(g *Globals) *cobra.Command {
	o := &ManifestOptions{Globals: g}
	c := &cobra.Command{
		Use:     "manifest",
		Short:   "Print the SDC Deployment manifest (or the fragment) for Control Hub or kubectl apply; writes nothing",
		Long:    manifestLong,
		Example: manifestExample,
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
	f.StringVar(&o.ServiceAccount, "service-account", vocab.DefaultServiceAccount, "ServiceAccount `NAME` the pods run under")
	// --deployment is the name bind and doctor give the same thing; --name, manifest's first name for it,
	// stays as a hidden alias of the same value, since flags are a stable contract.
	f.StringVar(&o.Name, "deployment", vocab.DefaultDeploymentName, "`NAME` of the Deployment, its container and its app label, as bind's and doctor's --deployment (--name is the same flag, kept for scripts)")
	f.StringVar(&o.Name, "name", vocab.DefaultDeploymentName, "The same as --deployment")
	_ = f.MarkHidden("name")
	f.StringVar(&o.Image, "image", "", "SDC `IMAGE` (required without --fragment), e.g. streamsets/datacollector:5.11.0")
	f.Int64Var(&o.FSGroup, "fs-group", vocab.DefaultFSGroup, "Pod securityContext.fsGroup `GID`; -1 leaves securityContext out")
	f.BoolVar(&o.Fragment, "fragment", false, "Print only the pod spec's serviceAccountName and securityContext, to merge into a manifest you have")
	c.Flags().StringVarP((*string)(&o.Output), "output", "o", "", "Print the manifest in `FORMAT` yaml (the default) or json")
	_ = c.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"json", "yaml"}, cobra.ShellCompDirectiveNoFileComp))
	_ = c.RegisterFlagCompletionFunc("service-account", completeServiceAccounts(g))
	o.aws.add(f)
	for _, flag := range []string{"deployment", "name", "image", "fs-group"} {
		_ = c.RegisterFlagCompletionFunc(flag, cobra.NoFileCompletions)
	}
	return c
}

// Complete resolves the namespace and turns the flags into the manifest's options.
func (o *ManifestOptions) Complete(c *cobra.Command) error {
	ns, _, err := o.Namespace()
	if err != nil {
		return fmt.Errorf("kube context: %w", err)
	}
	o.namespace = ns
	nameFlag, named := "--deployment", c.Flags().Changed("deployment")
	if c.Flags().Changed("name") {
		if named {
			return &vocab.FlagError{Flag: "--name", Rule: "the same flag as --deployment (its older name): give only one"}
		}
		// Errors name the flag the user typed.
		nameFlag, named = "--name", true
	}
	o.manifest = manifest.Options{Fragment: o.Fragment, Image: o.Image, ServiceAccount: o.ServiceAccount, FSGroup: o.FSGroup,
		Mechanism: vocab.MechanismIRSA, NameFlag: nameFlag, ImageFlag: "--image"}
	// A name given with --fragment is an error, the default is not: only a given one is passed on.
	if named || !o.Fragment {
		o.manifest.Name = o.Name
	}
	return nil
}

// Validate checks every flag before anything is read.
func (o *ManifestOptions) Validate() error {
	if err := o.Output.validate(); err != nil {
		return err
	}
	if err := vocab.ValidateNamespace("--namespace", o.namespace); err != nil {
		return err
	}
	return o.manifest.Validate()
}

// Run reads the ServiceAccount, says on standard error what it lacks, and prints the manifest.
func (o *ManifestOptions) Run(ctx context.Context) error {
	sa, err := o.readServiceAccount(ctx)
	var notes []string
	if err != nil {
		// The manifest does not depend on the cluster: say why it could not be checked and print it anyway.
		o.manifest.Mechanism = vocab.MechanismIRSA
		notes = append(notes, fmt.Sprintf("could not read ServiceAccount %s/%s (%v): the manifest assumes IRSA, which kubectl sdc bind sets up", o.namespace, o.ServiceAccount, err))
	} else {
		seen := manifest.Seen{ServiceAccount: sa}
		if sa != nil && sa.Annotations[vocab.RoleARNAnnotation] == "" {
			seen.Associated, seen.AssociationUnknown = o.associated(ctx)
		}
		cat, _ := catalog.Default() // built in: a broken one fails every test, never a user
		notes = o.manifest.FromCluster(o.namespace, seen, cat)
	}
	obj, err := manifest.Object(o.manifest)
	if err != nil {
		return err
	}
	render.Notes(o.ErrOut, o.ErrTheme(), notes)
	format := o.Output
	if format == "" {
		format = "yaml"
	}
	return format.print(o.Out, obj)
}

// readServiceAccount gets the ServiceAccount: nil, nil when it does not exist.
func (o *ManifestOptions) readServiceAccount(ctx context.Context) (*corev1.ServiceAccount, error) {
	cfg, err := o.RESTConfig()
	if err != nil {
		return nil, err
	}
	core, err := corev1client.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	sa, err := core.ServiceAccounts(o.namespace).Get(ctx, o.ServiceAccount, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	return sa, err
}

// associated asks EKS whether the ServiceAccount has a Pod Identity association: one list call, filtered to
// it (after finding the cluster, which may cost eks:ListClusters and DescribeCluster when the kube context
// does not name it). unknown says why it could not tell.
func (o *ManifestOptions) associated(ctx context.Context) (found bool, unknown string) {
	s, err := o.session(ctx, o.aws)
	if err != nil {
		return false, err.Error()
	}
	c, err := s.Resolver.Resolve(ctx)
	if err != nil {
		return false, "the cluster was not found: " + firstLine(err.Error())
	}
	if err := c.RequireEKS(); err != nil {
		return false, err.Error()
	}
	list, err := eksread.List(ctx, s.AWS.ForRegion(c.Region).EKS, c.Name, eksread.Filter{Namespace: o.namespace, ServiceAccount: o.ServiceAccount})
	if err != nil {
		return false, err.Error()
	}
	return len(list) > 0, ""
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
