package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	admissionv1client "k8s.io/client-go/kubernetes/typed/admissionregistration/v1"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/bindings"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/catalog"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/doctor"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/fleet"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/render"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

const listLong = `List every binding of the namespace (-n, else the context's) or, with -A, of the cluster: each
ServiceAccount with an eks.amazonaws.com/role-arn annotation or an EKS Pod Identity association (MECHANISM
irsa, pod-identity, or irsa+pod-identity for both), the role (the annotation's, else the association's),
the stages bind recorded on it, the Deployments running under it, its pods (those with the role's identity
/ all), and the status doctor would give it without probes (ok, warn or fail; -o wide adds the first
failing or warning check).

--orphans lists instead the roles kubectl-sdc made for this cluster that no ServiceAccount annotation and
no EKS Pod Identity association of the cluster names any more, with the command that removes each.

list reads what doctor -A reads: one list of ServiceAccounts, Deployments, pods and webhooks whatever their
number, and the account's roles and policies in one batch read from ten roles on.

--contexts (names or shell patterns) or --all-contexts list several kube contexts side by side, each as
--context would list it, with the AWS profile its exec credential plugin names (unless --profile): each
context's table under its heading, or one document with every context (-o json|yaml). A context that cannot
be listed (no answer, credentials refused, no OIDC issuer, no answer within --request-timeout) is that
context's error, and list exits 1 unless --ignore-unreachable.`

const listExample = `  # The bindings of the namespace, then of the whole cluster
  kubectl sdc list -n ns1
  kubectl sdc list -A -o wide

  # For scripts: every failing binding
  kubectl sdc list -A -o json | jq -r '.items[] | select(.status == "fail") | .namespace + "/" + .serviceAccount'

  # The clean-up list: roles left behind by deleted ServiceAccounts
  kubectl sdc list -A --orphans

  # Every binding of every production context, each read with its own AWS profile
  kubectl sdc list -A --contexts 'prod-*' -o json`

// ListOptions are list's flags.
type ListOptions struct {
	*Globals
	aws   awsFlags
	fleet fleetFlags

	AllNamespaces bool
	Output        outputFlag
	NoHeaders     bool
	Orphans       bool

	// namespace is -n, else the context's; over a fleet, -n or "" (each context's own).
	namespace string
}

func newListCmd(g *Globals) *cobra.Command {
	o := &ListOptions{Globals: g}
	c := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the bindings of a namespace or the cluster, with doctor's verdict on each",
		Long:    listLong,
		Example: listExample,
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := o.Complete(c); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			if o.fleet.enabled() {
				return o.RunFleet(c.Context())
			}
			return o.Run(c.Context())
		},
	}
	f := c.Flags()
	f.BoolVarP(&o.AllNamespaces, "all-namespaces", "A", false, "List the bindings of every namespace")
	f.BoolVar(&o.NoHeaders, "no-headers", false, "Print the table without its header line (for scripts)")
	f.BoolVar(&o.Orphans, "orphans", false, "List the roles kubectl-sdc made for this cluster that no ServiceAccount points at any more, and how to remove each")
	o.Output.addTable(c, "the list")
	o.aws.add(f)
	o.fleet.add(c, g)
	return c
}

// Complete reads the namespace; over a fleet it also selects the contexts (each context's namespace is its
// own, unless -n).
func (o *ListOptions) Complete(c *cobra.Command) error {
	if err := o.fleet.validate(c, o.Globals, o.aws); err != nil {
		return err
	}
	if o.fleet.enabled() {
		o.namespace = deref(o.ConfigFlags.Namespace) // -n, checked in Validate; each context's own with it
		return o.fleet.complete(o.Globals, o.aws)
	}
	ns, _, err := o.Namespace()
	if err != nil {
		return fmt.Errorf("kube context: %w", err)
	}
	o.namespace = ns
	return nil
}

// Validate checks every flag before anything is read.
func (o *ListOptions) Validate() error {
	if err := o.Output.validateTable(); err != nil {
		return err
	}
	if o.NoHeaders && o.Output.structured() {
		return errors.New("--no-headers is for the table: leave it out with -o json or yaml")
	}
	if !o.AllNamespaces && (o.namespace != "" || !o.fleet.enabled()) {
		return vocab.ValidateNamespace("--namespace", o.namespace)
	}
	return nil
}

// Run gathers the facts doctor gathers, judges them without probes and prints one row per binding.
func (o *ListOptions) Run(ctx context.Context) error {
	s, err := o.session(ctx, o.aws)
	if err != nil {
		return err
	}
	f, _, items, err := o.gather(ctx, s, o.namespace)
	if err != nil {
		return err
	}
	if o.Orphans {
		return o.printOrphans(f)
	}
	return o.printBindings(items)
}

// gather reads one context's facts as doctor -A reads them (for ns, unless -A) and judges them without
// probes, into the bindings it shows (none with --orphans). An error is a context list cannot look at: doctor's reasons (its API server, AWS credentials or
// OIDC issuer; a *fleet.Unreachable), or ServiceAccounts it could not list.
func (o *ListOptions) gather(ctx context.Context, s *session, ns string) (*doctor.Facts, *doctor.Report, []bindings.Binding, error) {
	admission, err := admissionv1client.NewForConfig(s.REST)
	if err != nil {
		return nil, nil, nil, err
	}
	cat, err := catalog.Default()
	if err != nil {
		return nil, nil, nil, err
	}
	opts := doctor.Options{Namespace: ns, AllNamespaces: o.AllNamespaces, Annotated: true}
	if o.Orphans {
		// Whether any ServiceAccount points at a role is a question about the whole cluster.
		opts.AllNamespaces, opts.ReadAccount = true, true
	}
	d := &doctor.Doctor{Core: s.Core, Apps: s.Apps, Admission: admission, Metadata: s.Metadata, AWS: s.AWS, Resolver: s.Resolver, Catalog: cat, Options: opts}
	f, err := d.Gather(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	// Each target's report is folded into its binding as it is judged, and not kept.
	b := bindings.NewBuilder(f)
	each := b.Add
	if o.Orphans {
		each = func(int, *doctor.TargetReport) {}
	}
	rep := doctor.JudgeEach(ctx, f, each)
	var items []bindings.Binding
	if !o.Orphans {
		items = b.List(rep.Checks).Items
	}
	if err := rep.Unreachable(); err != nil {
		return f, rep, items, err
	}
	if f.ServiceAccountsErr != nil {
		return f, rep, items, &fleet.Unreachable{Reason: "ServiceAccounts not listed",
			Err: fmt.Errorf("listing the ServiceAccounts: %w", f.ServiceAccountsErr),
			Fix: "docs/permissions/doctor-rbac.yaml's ClusterRole kubectl-sdc-doctor lets list read them"}
	}
	if o.Orphans && f.Account == nil {
		return f, rep, items, fmt.Errorf("--orphans reads the account's roles with iam:GetAccountAuthorizationDetails, which failed: %v (docs/permissions/doctor-policy.json allows it)", f.AccountErr)
	}
	if err := bindings.AssociationsUnread(f); o.Orphans && err != nil {
		return f, rep, items, fmt.Errorf("--orphans needs the role of every EKS Pod Identity association of the cluster (a role one names is not an orphan), and reading them failed: %v (docs/permissions/doctor-policy.json allows eks:ListPodIdentityAssociations and eks:DescribePodIdentityAssociation)", err)
	}
	return f, rep, items, nil
}

// scope is the namespace whose rows list shows ("" for the cluster).
func (o *ListOptions) scope(ns string) string {
	if o.AllNamespaces {
		return ""
	}
	return ns
}

func (o *ListOptions) layout() render.ListLayout {
	return render.ListLayout{AllNamespaces: o.AllNamespaces, Wide: o.Output.wide(), NoHeaders: o.NoHeaders}
}

func (o *ListOptions) printBindings(items []bindings.Binding) error {
	if o.Output.structured() {
		return o.Output.print(o.Out, bindings.List{Items: items})
	}
	if len(items) == 0 {
		fmt.Fprintln(o.ErrOut, render.NothingFound("bindings", o.scope(o.namespace)))
		return nil
	}
	_, err := io.WriteString(o.Out, render.Bindings(o.Theme(), items, o.layout()))
	return err
}

func (o *ListOptions) printOrphans(f *doctor.Facts) error {
	orphans := bindings.Orphans(f, o.scope(o.namespace))
	if o.Output.structured() {
		return o.Output.print(o.Out, struct {
			Items []bindings.Orphan `json:"items"`
		}{orphans})
	}
	if len(orphans) == 0 {
		fmt.Fprintln(o.ErrOut, render.NothingFound("orphaned roles", o.scope(o.namespace)))
		return nil
	}
	_, err := io.WriteString(o.Out, render.Orphans(o.Theme(), orphans, o.layout()))
	return err
}

// RunFleet lists each selected context as Run would list it alone, side by side, and prints every
// context's list: under its heading in text, or as one document with every context.
func (o *ListOptions) RunFleet(ctx context.Context) error {
	var failed bool
	var err error
	if o.Orphans {
		fl := bindings.NewFleet(runFleet(ctx, &o.fleet, o.examineOrphans))
		failed = fl.Failed(o.fleet.IgnoreUnreachable)
		err = o.printFleet(fl, func(th *render.Theme) error {
			return render.FleetList(o.Out, th, fl, "orphaned role", "orphaned roles", func(items []bindings.Orphan) string {
				return render.Orphans(th, items, o.layout())
			})
		})
	} else {
		fl := bindings.NewBindingsFleet(runFleet(ctx, &o.fleet, o.examineBindings))
		failed = fl.Failed(o.fleet.IgnoreUnreachable)
		err = o.printFleet(fl, func(th *render.Theme) error {
			return render.FleetList(o.Out, th, fl, "binding", "bindings", func(items []bindings.Binding) string {
				return render.Bindings(th, items, o.layout())
			})
		})
	}
	if err != nil {
		return err
	}
	if failed {
		return &ExitError{Code: ExitFailure}
	}
	return nil
}

// printFleet prints a fleet's list as -o asks: the document, else text.
func (o *ListOptions) printFleet(doc any, text func(*render.Theme) error) error {
	if o.Output.structured() {
		return o.Output.print(o.Out, doc)
	}
	return text(o.Theme())
}

// examineBindings lists the bindings of one context of a fleet: list's fleet.Func.
func (o *ListOptions) examineBindings(ctx context.Context, c fleet.Context) (bindings.Report[bindings.Binding], fleet.Identity, error) {
	var out bindings.Report[bindings.Binding]
	_, items, id, err := o.examine(ctx, c, &out.Namespace)
	if err != nil {
		return out, id, err
	}
	out.Items = items
	return out, id, nil
}

// examineOrphans lists the orphaned roles of one context of a fleet: list --orphans's fleet.Func.
func (o *ListOptions) examineOrphans(ctx context.Context, c fleet.Context) (bindings.Report[bindings.Orphan], fleet.Identity, error) {
	var out bindings.Report[bindings.Orphan]
	f, _, id, err := o.examine(ctx, c, &out.Namespace)
	if err != nil {
		return out, id, err
	}
	out.Items = bindings.Orphans(f, out.Namespace)
	return out, id, nil
}

// examine gathers one context of a fleet as Run gathers its own, with the context's clients and
// namespace (-n, else the context's; scope gets the namespace listed, "" for the cluster).
func (o *ListOptions) examine(ctx context.Context, c fleet.Context, scope *string) (*doctor.Facts, []bindings.Binding, fleet.Identity, error) {
	id := fleet.Identity{Region: c.Region}
	s, err := o.contextSession(ctx, c)
	if err != nil {
		return nil, nil, id, &fleet.Unreachable{Reason: "cannot load its configuration", Err: err}
	}
	id.ReadWith, id.Region = s.ReadWith, s.AWS.Region
	ns := s.Namespace
	if !o.AllNamespaces {
		if err := vocab.ValidateNamespace("--namespace", ns); err != nil {
			return nil, nil, id, &fleet.Unreachable{Reason: "bad namespace", Err: fmt.Errorf("kube context %q: %w", c.Name, err),
				Fix: "pass -n NAMESPACE, or fix the context's namespace: kubectl config set-context " + c.Name + " --namespace NAME"}
		}
	}
	*scope = o.scope(ns)
	f, rep, items, err := o.gather(ctx, s, ns)
	if rep != nil {
		id.Cluster, id.Account = rep.Cluster, rep.Account
		if rep.Region != "" {
			id.Region = rep.Region
		}
	}
	return f, items, id, err
}
