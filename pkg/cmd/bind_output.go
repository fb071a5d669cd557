package cmd

import (
	"fmt"
	"io"
	"strings"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/bind"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/cluster"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/manifest"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/plan"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/render"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// proseStream is where the plan and the rest of the prose go, and whether there is any: standard output
// without -o; with --print-manifest standard error, since standard output then holds only the manifest.
func (o *BindOptions) proseStream() (io.Writer, *render.Theme, bool) {
	if o.PrintManifest || o.Output.gitops() {
		return o.ErrOut, o.ErrTheme(), true
	}
	return o.Out, o.Theme(), !o.Output.structured()
}

// printResult prints the result object for -o; with --print-manifest, -o is the manifest's format instead.
func (o *BindOptions) printResult(res *bind.Result, applied *plan.Result) error {
	if o.PrintManifest {
		return nil
	}
	if o.Output.gitops() {
		return o.printGitOps(res)
	}
	return o.Output.print(o.Out, res.Output(o.DryRun, applied))
}

// printManifest prints, once everything else is applied, what the user puts where bind did not write:
// with --print-manifest the manifest or fragment alone on standard output, in -o's format (yaml by
// default); for a Deployment that Control Hub manages, the fragment after the prose (the result object of
// -o holds it already).
func (o *BindOptions) printManifest(out io.Writer, th *render.Theme, prose bool, res *bind.Result) error {
	if o.PrintManifest {
		obj, err := manifest.Object(o.manifest)
		if err != nil {
			return err
		}
		format := o.Output
		if format == "" {
			format = "yaml"
		}
		return format.print(o.Out, obj)
	}
	if res.Fragment == nil || !prose {
		return nil
	}
	var text strings.Builder
	if err := outputFlag("yaml").print(&text, res.Fragment); err != nil {
		return err
	}
	render.Snippet(out, th, fmt.Sprintf("For the Control Hub deployment's YAML (kubectl sdc manifest -n %s --service-account %s --fragment prints them again):",
		o.req.Namespace, o.req.ServiceAccount), text.String())
	return nil
}

func (o *BindOptions) facts(res *bind.Result) []render.Fact {
	c := res.Cluster
	where := c.Name
	if c.Region != "" {
		where += " (" + c.Region + ")"
	}
	if o.req.Mechanism() == vocab.MechanismPodIdentity {
		return append([]render.Fact{
			{Label: "Cluster", Value: fmt.Sprintf("%s (found by %s)", where, c.Source)},
			{Label: "Agent", Value: res.Observed.Agent.Describe()},
			{Label: "Account", Value: fmt.Sprintf("%s as %s", res.Identity.Account, res.Identity.ARN)},
			{Label: "Binding", Value: fmt.Sprintf("ServiceAccount %s/%s -> role %s, by EKS Pod Identity", o.req.Namespace, o.req.ServiceAccount, res.Names.RoleARN)},
		}, guardrailFacts(res)...)
	}
	return append([]render.Fact{
		{Label: "Cluster", Value: where},
		{Label: "Issuer", Value: fmt.Sprintf("%s (found by %s)", c.Issuer, c.Source)},
		{Label: "Account", Value: fmt.Sprintf("%s as %s", res.Identity.Account, res.Identity.ARN)},
		{Label: "Binding", Value: fmt.Sprintf("ServiceAccount %s/%s -> role %s", o.req.Namespace, o.req.ServiceAccount, res.Names.RoleARN)},
	}, guardrailFacts(res)...)
}

// explainCluster says how each issuer source answered (bind's and unbind's -v, on standard error).
func explainCluster(w io.Writer, c *cluster.Cluster) {
	fmt.Fprintf(w, "cluster: context %q, kubeconfig cluster %q, server %s\n", c.Context, c.KubeCluster, c.Endpoint)
	for _, a := range c.Tried {
		fmt.Fprintf(w, "  %-18s %s\n", a.Source+":", a.Detail)
	}
	for _, warning := range c.Warnings {
		fmt.Fprintf(w, "  warning: %s\n", warning)
	}
}
