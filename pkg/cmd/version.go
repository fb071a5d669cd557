package cmd

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/version"
)

// VersionOptions prints the stamped build facts.
type VersionOptions struct {
	*Globals
	Output outputFlag
}

func newVersionCmd(g *Globals) *cobra.Command {
	o := &VersionOptions{Globals: g}
	c := &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and build date of the plugin",
		Args:  cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run()
		},
	}
	o.Output.add(c, "the version facts", "one line of text")
	return c
}

// Validate checks -o.
func (o *VersionOptions) Validate() error { return o.Output.validate() }

// Run prints the version.
func (o *VersionOptions) Run() error {
	info := version.Get()
	if o.Output.structured() {
		return o.Output.print(o.Out, info)
	}
	_, err := fmt.Fprintf(o.Out, "kubectl-sdc %s (commit %s, built %s, %s, %s)\n",
		info.Version, info.Commit, info.BuildDate, info.GoVersion, info.Platform)
	return err
}
