package cmd

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"
)

// outputFlag is -o/--output, handled here once for every command: json or yaml instead of the command's
// prose, or for a command that prints a table, wide (more columns, as kubectl get -o wide).
type outputFlag string

func (f *outputFlag) add(c *cobra.Command, what, instead string) {
	c.Flags().StringVarP((*string)(f), "output", "o", "", "Print "+what+" in `FORMAT` json or yaml instead of "+instead)
	_ = c.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"json", "yaml"}, cobra.ShellCompDirectiveNoFileComp))
}

// addTable is add for a command whose prose is a table: -o wide is accepted too.
func (f *outputFlag) addTable(c *cobra.Command, what string) {
	c.Flags().StringVarP((*string)(f), "output", "o", "", "Print "+what+" in `FORMAT` json or yaml instead of a table, or wide: the table with more columns")
	_ = c.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"json", "yaml", "wide"}, cobra.ShellCompDirectiveNoFileComp))
}

func (f outputFlag) validate() error {
	switch f {
	case "", "json", "yaml":
		return nil
	}
	return fmt.Errorf("--output %q is not supported: use json or yaml", string(f))
}

// validateTable is validate for a command registered with addTable.
func (f outputFlag) validateTable() error {
	switch f {
	case "", "json", "yaml", "wide":
		return nil
	}
	return fmt.Errorf("--output %q is not supported: use json, yaml or wide", string(f))
}

// structured reports whether -o asked for json or yaml.
func (f outputFlag) structured() bool { return f == "json" || f == "yaml" }

// wide reports whether -o asked for the table's wide form.
func (f outputFlag) wide() bool { return f == "wide" }

// print writes v in the -o format; it does nothing without -o.
func (f outputFlag) print(w io.Writer, v any) error {
	var b []byte
	var err error
	switch f {
	case "json":
		if b, err = json.MarshalIndent(v, "", "  "); err == nil {
			b = append(b, '\n')
		}
	case "yaml":
		b, err = yaml.Marshal(v)
	default:
		return nil
	}
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}
