// Package cmd is the cobra layer: one file per subcommand, each binding flags to an Options struct whose
// Complete, Validate and Run do the work through the domain packages. No domain logic lives here.
package cmd

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/rest"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/render"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/version"
)

// Exit codes, documented in the README's "Exit codes" and in `kubectl sdc --help`. Two meanings share the value 2, one
// per command; each has its own name so that a reader of the code never has to guess which is meant.
const (
	ExitOK      = 0 // success; for `bind|unbind|migrate --dry-run --exit-code`: no changes
	ExitFailure = 1 // an error, bad input, or (doctor) a check failed
	// ExitChanges is `bind|unbind|migrate --dry-run --exit-code` finding changes, as terraform's -detailed-exitcode does.
	ExitChanges = 2
	// ExitCannotRun is doctor not being able to run at all (bad flags, no usable kubeconfig or AWS setup).
	ExitCannotRun = 2
)

// ExitError carries an exit code other than 1 up to main.
type ExitError struct {
	Code int
	Err  error // nil when there is nothing more to print
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit code %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// Globals are the flags and streams every subcommand shares.
type Globals struct {
	genericiooptions.IOStreams
	ConfigFlags *genericclioptions.ConfigFlags
	Color       render.ColorMode
}

// Theme returns the styles for standard output, color decided once from --color, NO_COLOR and the terminal.
func (g *Globals) Theme() *render.Theme { return render.ThemeFor(g.Color, g.Out) }

// ErrTheme returns the styles for standard error.
func (g *Globals) ErrTheme() *render.Theme { return render.ThemeFor(g.Color, g.ErrOut) }

// Namespace is -n, else the kubeconfig context's namespace, else "default".
func (g *Globals) Namespace() (string, bool, error) {
	return g.ConfigFlags.ToRawKubeConfigLoader().Namespace()
}

// RESTConfig is the client configuration of the selected context, carrying the plugin's user agent.
func (g *Globals) RESTConfig() (*rest.Config, error) {
	return g.ConfigFlags.ToRESTConfig()
}

const rootLong = `Give StreamSets Data Collector on Amazon EKS its AWS permissions through IAM Roles for Service Accounts
(IRSA, the default) or EKS Pod Identity (for the SDC releases that can use it).

bind makes the IAM policy and role, the link from the ServiceAccount to the role (IRSA: the cluster's IAM
OIDC provider and the ServiceAccount's annotation; --mechanism pod-identity: an EKS Pod Identity
association), and the Deployment settings in one idempotent, plan-first step; unbind removes what bind
made for a ServiceAccount, and only that; migrate moves IRSA-bound ServiceAccounts to EKS Pod Identity;
list shows every binding with doctor's verdict; doctor checks the whole chain of either mechanism and says
what to fix; manifest prints the SDC Deployment for StreamSets Control Hub's YAML or kubectl apply; apply
applies a plan that bind, unbind or migrate saved with --dry-run --out FILE, once reviewed.

Exit codes:
  0  success (bind/unbind/migrate --dry-run --exit-code: nothing to change; doctor: no check failed)
  1  an error or bad input (doctor: a check failed, or warned with --strict; doctor and list: a context
     of --contexts/--all-contexts could not be checked)
  2  bind/unbind/migrate --dry-run --exit-code: there are changes; doctor: it could not run (bad flags)`

// NewRootCmd builds `kubectl sdc` with every standard kubectl flag.
func NewRootCmd(streams genericiooptions.IOStreams) *cobra.Command {
	g := &Globals{
		IOStreams:   streams,
		ConfigFlags: genericclioptions.NewConfigFlags(true),
		Color:       render.ColorAuto,
	}
	g.ConfigFlags.WrapConfigFn = func(c *rest.Config) *rest.Config {
		c.UserAgent = version.UserAgent()
		// client-go's defaults (5 QPS, burst 10) are for controllers; a CLI's short bursts should not queue.
		c.QPS, c.Burst = 50, 100
		return c
	}
	root := &cobra.Command{
		Use:           "kubectl-sdc",
		Short:         "AWS permissions for StreamSets Data Collector on EKS, through IRSA or EKS Pod Identity",
		Long:          rootLong,
		SilenceUsage:  true,
		SilenceErrors: true,
		Annotations:   map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl sdc"},
		Args:          cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return c.Help()
		},
	}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	g.ConfigFlags.AddFlags(root.PersistentFlags())
	root.PersistentFlags().Var(&g.Color, "color", "Color the output: auto (when a terminal and NO_COLOR is unset), always or never")
	root.AddCommand(newVersionCmd(g))
	root.AddCommand(newStagesCmd(g))
	root.AddCommand(newBindCmd(g))
	root.AddCommand(newUnbindCmd(g))
	root.AddCommand(newListCmd(g))
	root.AddCommand(newDoctorCmd(g))
	root.AddCommand(newManifestCmd(g))
	root.AddCommand(newMigrateCmd(g))
	root.AddCommand(newApplyCmd(g))
	registerGlobalCompletions(root, g)
	return root
}

// Execute runs the root command on args and returns the process exit code.
func Execute(streams genericiooptions.IOStreams, args []string) int {
	root := NewRootCmd(streams)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return ExitOK
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		if ee.Err != nil {
			fmt.Fprintf(streams.ErrOut, "error: %v\n", ee.Err)
		}
		return ee.Code
	}
	fmt.Fprintf(streams.ErrOut, "error: %v\n", err)
	return ExitFailure
}
