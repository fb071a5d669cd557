package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	admissionv1client "k8s.io/client-go/kubernetes/typed/admissionregistration/v1"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/bindings"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/catalog"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/doctor"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/render"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

const listLong = `List every binding of the namespace (-n, else the context's) or, with -A, of the cluster: each
ServiceAccount with an eks.amazonaws.com/role-arn annotation, the role, the stages bind recorded on it, the
Deployments running under it, its pods (those with the role's identity / all), and the status doctor
would give it without probes (ok, warn or fail; -o wide adds the first failing or warning check).

--orphans lists instead the roles kubectl-sdc made for this cluster that no ServiceAccount points at any
more, with the command that removes each.

list reads what doctor -A reads: one list of ServiceAccounts, Deployments, pods and webhooks whatever their
number, and the account's roles and policies in one batch read from ten roles on.`

const listExample = `  # The bindings of the namespace, then of the whole cluster
  kubectl sdc list -n ns1
  kubectl sdc list -A -o wide

  # For scripts: every failing binding
  kubectl sdc list -A -o json | jq -r '.items[] | select(.status == "fail") | .namespace + "/" + .serviceAccount'

  # The clean-up list: roles left behind by deleted ServiceAccounts
  kubectl sdc list -A --orphans`

// ListOptions are list's flags.
type ListOptions struct {
	*Globals
	aws awsFlags

	AllNamespaces bool
	Output        outputFlag
	NoHeaders     bool
	Orphans       bool

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
	f.BoolVarP(&o.AllNamespaces, "all-namespaces", "A", false, "List the bindings of every namespace")
	f.BoolVar(&o.NoHeaders, "no-headers", false, "Print the table without its header line (for scripts)")
	f.BoolVar(&o.Orphans, "orphans", false, "List the roles kubectl-sdc made for this cluster that no ServiceAccount points at any more, and how to remove each")
	o.Output.addTable(c, "the list")
	o.aws.add(f)
	return c
}

// Complete reads the namespace.
func (o *ListOptions) Complete() error {
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
	if !o.AllNamespaces {
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
	admission, err := admissionv1client.NewForConfig(s.REST)
	if err != nil {
		return err
	}
	cat, err := catalog.Default()
	if err != nil {
		return err
	}
	opts := doctor.Options{Namespace: o.namespace, AllNamespaces: o.AllNamespaces, Annotated: true}
	if o.Orphans {
		// Whether any ServiceAccount points at a role is a question about the whole cluster.
		opts.AllNamespaces, opts.ReadAccount = true, true
	}
	d := &doctor.Doctor{Core: s.Core, Apps: s.Apps, Admission: admission, AWS: s.AWS, Resolver: s.Resolver, Catalog: cat, Options: opts}
	f, err := d.Gather(ctx)
	if err != nil {
		return err
	}
	if o.Orphans {
		return o.printOrphans(f)
	}
	return o.printBindings(bindings.FromReport(f, doctor.Judge(ctx, f)))
}

func (o *ListOptions) printBindings(l bindings.List) error {
	if o.Output.structured() {
		return o.Output.print(o.Out, l)
	}
	if len(l.Items) == 0 {
		fmt.Fprintln(o.ErrOut, o.nothingFound("bindings"))
		return nil
	}
	headers := []string{"SERVICEACCOUNT", "MECHANISM", "ROLE", "STAGES", "DEPLOYMENTS", "PODS", "STATUS"}
	if o.Output.wide() {
		headers = append(headers, "PROBLEM")
	}
	var rows [][]string
	for _, b := range l.Items {
		role := b.RoleARN
		if !o.Output.wide() {
			if name := vocab.RoleNameOf(b.RoleARN); name != "" {
				role = name
			}
		}
		row := []string{b.ServiceAccount, string(b.Mechanism), orNone(role), orNone(strings.Join(b.Stages, ",")),
			orNone(strings.Join(b.Deployments, ",")), fmt.Sprintf("%d/%d", b.Pods.WithIdentity, b.Pods.Total), string(b.Status)}
		if o.Output.wide() {
			problem := ""
			if len(b.Problems) > 0 {
				problem = b.Problems[0]
			}
			row = append(row, orNone(problem))
		}
		if o.AllNamespaces {
			row = append([]string{b.Namespace}, row...)
		}
		rows = append(rows, row)
	}
	status := len(headers) - 1
	if o.Output.wide() {
		status--
	}
	if o.AllNamespaces {
		headers = append([]string{"NAMESPACE"}, headers...)
		status++
	}
	th := o.Theme()
	_, err := io.WriteString(o.Out, render.Table(th, o.headers(headers), rows, func(_, col int, cell string) string {
		if col == status {
			return render.Verdict(th, cell)
		}
		return cell
	}))
	return err
}

func (o *ListOptions) printOrphans(f *doctor.Facts) error {
	if f.Account == nil {
		return fmt.Errorf("--orphans reads the account's roles with iam:GetAccountAuthorizationDetails, which failed: %v (docs/permissions/doctor-policy.json allows it)", f.AccountErr)
	}
	ns := o.namespace
	if o.AllNamespaces {
		ns = ""
	}
	orphans := bindings.Orphans(f, ns)
	if o.Output.structured() {
		return o.Output.print(o.Out, struct {
			Items []bindings.Orphan `json:"items"`
		}{orphans})
	}
	if len(orphans) == 0 {
		fmt.Fprintln(o.ErrOut, o.nothingFound("orphaned roles"))
		return nil
	}
	headers := []string{"ROLE", "NAMESPACE", "SERVICEACCOUNT", "COMMAND"}
	var rows [][]string
	for _, r := range orphans {
		role := r.RoleName
		if o.Output.wide() {
			role = r.RoleARN
		}
		rows = append(rows, []string{role, orNone(r.Namespace), orNone(r.ServiceAccount), r.Command})
	}
	_, err := io.WriteString(o.Out, render.Table(o.Theme(), o.headers(headers), rows, nil))
	return err
}

// headers are the table's headers, nil with --no-headers.
func (o *ListOptions) headers(h []string) []string {
	if o.NoHeaders {
		return nil
	}
	return h
}

// nothingFound is kubectl get's line for an empty answer, on standard error.
func (o *ListOptions) nothingFound(what string) string {
	if o.AllNamespaces {
		return "No " + what + " found."
	}
	return fmt.Sprintf("No %s found in %s namespace.", what, o.namespace)
}

// orNone is kubectl's way of showing an empty cell.
func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}
