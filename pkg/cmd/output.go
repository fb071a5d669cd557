package cmd

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/doctor"
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
	if rep, ok := v.(*doctor.Report); ok && f == "json" {
		return writeReportJSON(w, rep)
	}
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

// writeReportJSON writes doctor's report byte for byte as json.MarshalIndent(rep, "", "  ") would, a
// target at a time: doctor -A's report on ten thousand ServiceAccounts is tens of MB of JSON, which
// marshalling whole held two and three times over at the end of the run.
func writeReportJSON(w io.Writer, rep *doctor.Report) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	put := func(prefix string, v any) error {
		b, err := json.MarshalIndent(v, prefix, "  ")
		if err != nil {
			return err
		}
		_, err = bw.Write(b)
		return err
	}
	_, _ = bw.WriteString("{\n  \"checks\": ")
	if err := put("  ", rep.Checks); err != nil {
		return err
	}
	_, _ = bw.WriteString(",\n  \"targets\": ")
	switch {
	case rep.Targets == nil:
		_, _ = bw.WriteString("null")
	case len(rep.Targets) == 0:
		_, _ = bw.WriteString("[]")
	default:
		_, _ = bw.WriteString("[\n")
		for i := range rep.Targets {
			_, _ = bw.WriteString("    ")
			if err := put("    ", &rep.Targets[i]); err != nil {
				return err
			}
			if i < len(rep.Targets)-1 {
				_, _ = bw.WriteString(",")
			}
			_, _ = bw.WriteString("\n")
		}
		_, _ = bw.WriteString("  ]")
	}
	_, _ = bw.WriteString(",\n  \"summary\": ")
	if err := put("  ", rep.Summary); err != nil {
		return err
	}
	_, _ = bw.WriteString("\n}\n")
	return bw.Flush()
}
