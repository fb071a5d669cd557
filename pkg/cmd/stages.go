package cmd

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/catalog"
)

const stagesLong = `List the StreamSets Data Collector stages whose AWS permissions kubectl sdc knows: the stage
library each lives in, the first SDC version whose library can use IRSA credentials, and the parameters
the stage's IAM statements need (* marks required ones; give them to bind and doctor with
--set NAME=VALUE, or --bucket and --prefix).

The catalog is plugins.yaml, built into the plugin; --catalog FILE reads another one with the same schema.
-o yaml prints the catalog itself, a starting point for your own.`

const stagesExample = `  # What can bind grant, and which parameters does each stage need?
  kubectl sdc stages

  # The full catalog, IAM statements included
  kubectl sdc stages -o yaml`

// StagesOptions lists the stage catalog.
type StagesOptions struct {
	*Globals
	Output      outputFlag
	CatalogFile string

	catalog *catalog.Catalog
}

func newStagesCmd(g *Globals) *cobra.Command {
	o := &StagesOptions{Globals: g}
	c := &cobra.Command{
		Use:     "stages",
		Short:   "List the SDC stages and the AWS permissions bind can grant them",
		Long:    stagesLong,
		Example: stagesExample,
		Args:    cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			if err := o.Complete(); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run()
		},
	}
	o.Output.add(c, "the catalog", "a table")
	c.Flags().StringVar(&o.CatalogFile, "catalog", "", "Read the stage catalog from this `FILE` instead of the built-in plugins.yaml")
	_ = c.MarkFlagFilename("catalog", "yaml", "yml")
	return c
}

// Validate checks -o.
func (o *StagesOptions) Validate() error { return o.Output.validate() }

// Complete loads the catalog.
func (o *StagesOptions) Complete() error {
	c, err := catalog.LoadOrDefault(o.CatalogFile)
	if err != nil {
		return err
	}
	o.catalog = c
	return nil
}

// Run prints the catalog.
func (o *StagesOptions) Run() error {
	if o.Output.structured() {
		return o.Output.print(o.Out, o.catalog)
	}
	return o.printTable()
}

func (o *StagesOptions) printTable() error {
	rows := [][]string{{"NAME", "LIBRARY", "MIN SDC", "PARAMETERS", "DESCRIPTION"}}
	for _, s := range o.catalog.Stages() {
		minSDC := "-"
		if l, ok := o.catalog.Library(s.Library); ok && l.MinSDCVersion != "" {
			minSDC = l.MinSDCVersion
		}
		var params []string
		for _, p := range s.Parameters {
			name := p.Name
			if p.Required {
				name += "*"
			}
			params = append(params, name)
		}
		rows = append(rows, []string{s.Name, s.Library, minSDC, strings.Join(params, ", "), s.Description})
	}
	widths := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, cell := range r {
			widths[i] = max(widths[i], len(cell))
		}
	}
	// Padding is computed on the plain text and styling applied after, so escape codes never skew columns.
	theme := o.Theme()
	var b strings.Builder
	for n, r := range rows {
		for i, cell := range r {
			if i < len(r)-1 {
				cell += strings.Repeat(" ", widths[i]-len(cell)+3)
			}
			if n == 0 {
				cell = theme.Bold.Render(cell)
			}
			b.WriteString(cell)
		}
		b.WriteString("\n")
	}
	b.WriteString(theme.Dim.Render("* required: give parameters with --set NAME=VALUE (--bucket and --prefix are shorthands); '-' = minimum version not known"))
	b.WriteString("\n")
	_, err := fmt.Fprint(o.Out, b.String())
	return err
}
