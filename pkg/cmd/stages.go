package cmd

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/catalog"
)

const stagesLong = `List the StreamSets Data Collector stages whose AWS permissions kubectl sdc knows: the stage
library each lives in, the first SDC version whose library can use IRSA credentials, and the parameters
the stage's IAM statements need (* marks required ones; give them to bind and doctor with
--set NAME=VALUE, or --bucket and --prefix).

Below the stages, the AWS calls each stage makes, read from SDC's source: the IAM action, the stage
setting it depends on and the SDC releases that make it. bind grants exactly these, and doctor's
iam.permissions checks each of them against the role's policies.

The catalog is plugins.yaml, built into the plugin; --catalog FILE reads another one with the same schema.
-o yaml prints the catalog itself (each call with its resource and the class and method it comes from), a
starting point for your own.`

const stagesExample = `  # What can bind grant, and which parameters does each stage need?
  kubectl sdc stages

  # The full catalog, IAM statements and calls with their sources included
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
	theme := o.Theme()
	var b strings.Builder
	writeTable(&b, rows, theme.Bold.Render)
	b.WriteString(theme.Dim.Render("* required: give parameters with --set NAME=VALUE (--bucket and --prefix are shorthands); '-' = minimum version not known"))
	b.WriteString("\n")
	if calls := o.callRows(); len(calls) > 1 {
		b.WriteString("\n")
		writeTable(&b, calls, theme.Bold.Render)
		note := "WHEN: the setting (--set NAME=VALUE) the call depends on; SDC: the releases that make it; -o yaml adds each call's resource and source"
		if cc := o.catalog.CallsChecked(); cc.From != "" {
			note = fmt.Sprintf("calls read from the source of SDC %s to %s; ", cc.From, cc.Through) + note
		}
		b.WriteString(theme.Dim.Render(note))
		b.WriteString("\n")
	}
	_, err := fmt.Fprint(o.Out, b.String())
	return err
}

// callRows are the stages' calls, one row per distinct action and setting, with the releases that make
// it (a call made in every release, through one class or another, is "all").
func (o *StagesOptions) callRows() [][]string {
	rows := [][]string{{"STAGE", "CALL", "WHEN", "SDC"}}
	for _, s := range o.catalog.Stages() {
		var order []string
		ranges := map[string][]string{}
		for _, c := range s.Calls {
			when := c.When
			if when == "" {
				when = "-"
			}
			k := c.Action + "\x00" + when
			if _, ok := ranges[k]; !ok {
				order = append(order, k)
			}
			ranges[k] = append(ranges[k], releases(c))
		}
		for _, k := range order {
			action, when, _ := strings.Cut(k, "\x00")
			rows = append(rows, []string{s.Name, action, when, joinReleases(ranges[k])})
		}
	}
	return rows
}

// releases says which SDC releases make a call.
func releases(c catalog.Call) string {
	switch {
	case c.Since != "" && c.Before != "":
		return c.Since + " to before " + c.Before
	case c.Since != "":
		return c.Since + " and later"
	case c.Before != "":
		return "before " + c.Before
	}
	return "all"
}

// joinReleases merges the release ranges of one call made through several classes or libraries.
func joinReleases(rs []string) string {
	for _, r := range rs {
		if r == "all" {
			return "all"
		}
		if v, ok := strings.CutPrefix(r, "before "); ok && slices.Contains(rs, v+" and later") {
			return "all"
		}
	}
	return strings.Join(slices.Compact(rs), ", ")
}

// writeTable pads each column to its widest cell; padding is computed on the plain text and styling
// applied after, so escape codes never skew columns.
func writeTable(b *strings.Builder, rows [][]string, header func(...string) string) {
	widths := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, cell := range r {
			widths[i] = max(widths[i], len(cell))
		}
	}
	for n, r := range rows {
		for i, cell := range r {
			if i < len(r)-1 {
				cell += strings.Repeat(" ", widths[i]-len(cell)+3)
			}
			if n == 0 {
				cell = header(cell)
			}
			b.WriteString(cell)
		}
		b.WriteString("\n")
	}
}
