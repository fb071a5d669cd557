package cmd

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/bindings"
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
	if l, ok := v.(bindings.List); ok && f == "json" {
		return writeItemsJSON(w, l.Items)
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

// writeReportJSON writes doctor's report byte for byte as json.MarshalIndent(rep, "", "  ") would.
func writeReportJSON(w io.Writer, rep *doctor.Report) error {
	rw := newReportWriter(w)
	if rep.Targets == nil {
		rw.nullTargets = true
	}
	if err := rw.begin(rep); err != nil {
		return err
	}
	for i := range rep.Targets {
		if err := rw.target(i, &rep.Targets[i]); err != nil {
			return err
		}
	}
	return rw.end(rep.Summary)
}

// writeItemsJSON writes {"items": items} byte for byte as json.MarshalIndent would, an item at a time:
// list -A's ten thousand bindings marshalled whole were held twice over at the end of the run.
func writeItemsJSON[T any](w io.Writer, items []T) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	switch {
	case items == nil:
		_, _ = bw.WriteString("{\n  \"items\": null")
	case len(items) == 0:
		_, _ = bw.WriteString("{\n  \"items\": []")
	default:
		_, _ = bw.WriteString("{\n  \"items\": [\n")
		for i := range items {
			b, err := json.MarshalIndent(&items[i], "    ", "  ")
			if err != nil {
				return err
			}
			_, _ = bw.WriteString("    ")
			_, _ = bw.Write(b)
			if i < len(items)-1 {
				_ = bw.WriteByte(',')
			}
			_ = bw.WriteByte('\n')
		}
		_, _ = bw.WriteString("  ]")
	}
	_, _ = bw.WriteString("\n}\n")
	return bw.Flush()
}

// reportWriter writes doctor's JSON report a target at a time, byte for byte as json.MarshalIndent(rep,
// "", "  ") would write the whole: doctor -A's report on ten thousand ServiceAccounts is tens of MB of JSON,
// which marshalling whole held two and three times over at the end of the run, and its targets are written
// as they are judged (doctor.Stream) rather than kept.
type reportWriter struct {
	bw          *bufio.Writer
	buf         []byte
	targets     int
	nullTargets bool // the report's Targets is nil: "targets": null
}

func newReportWriter(w io.Writer) *reportWriter {
	return &reportWriter{bw: bufio.NewWriterSize(w, 64<<10)}
}

// begin writes the report's cluster-wide checks and opens its targets.
func (rw *reportWriter) begin(rep *doctor.Report) error {
	b := append(rw.buf[:0], "{\n  \"checks\": "...)
	b = appendResults(b, rep.Checks, "  ")
	b = append(b, ",\n  \"targets\": "...)
	rw.buf = b
	_, err := rw.bw.Write(b)
	return err
}

// target writes one target's report (the i-th).
func (rw *reportWriter) target(i int, t *doctor.TargetReport) error {
	b := rw.buf[:0]
	if i == 0 {
		b = append(b, "[\n"...)
	} else {
		b = append(b, ",\n"...)
	}
	b = append(b, "    "...)
	b = appendTargetReport(b, t, "    ")
	rw.buf = b
	rw.targets++
	_, err := rw.bw.Write(b)
	return err
}

// end closes the targets, writes the summary and flushes.
func (rw *reportWriter) end(s doctor.Summary) error {
	b := rw.buf[:0]
	switch {
	case rw.targets > 0:
		b = append(b, "\n  ]"...)
	case rw.nullTargets:
		b = append(b, "null"...)
	default:
		b = append(b, "[]"...)
	}
	b = append(b, ",\n  \"summary\": {\n    \"pass\": "...)
	b = strconv.AppendInt(b, int64(s.Pass), 10)
	b = append(b, ",\n    \"warn\": "...)
	b = strconv.AppendInt(b, int64(s.Warn), 10)
	b = append(b, ",\n    \"fail\": "...)
	b = strconv.AppendInt(b, int64(s.Fail), 10)
	b = append(b, ",\n    \"skip\": "...)
	b = strconv.AppendInt(b, int64(s.Skip), 10)
	b = append(b, "\n  }\n}\n"...)
	if _, err := rw.bw.Write(b); err != nil {
		return err
	}
	return rw.bw.Flush()
}

// appendTargetReport appends t as json.MarshalIndent(t, prefix, "  ") would.
func appendTargetReport(b []byte, t *doctor.TargetReport, prefix string) []byte {
	in := prefix + "  "
	b = append(b, "{\n"...)
	b = appendField(b, in, "namespace", t.Namespace, true)
	b = appendField(b, in, "serviceAccount", t.ServiceAccount, true)
	b = appendField(b, in, "deployment", t.Deployment, true)
	b = appendField(b, in, "roleArn", t.RoleARN, true)
	if t.PodIdentityAssociation != "" {
		b = appendField(b, in, "podIdentityAssociation", t.PodIdentityAssociation, true)
	}
	b = append(b, in...)
	b = append(b, "\"checks\": "...)
	b = appendResults(b, t.Checks, in)
	b = append(b, '\n')
	b = append(b, prefix...)
	return append(b, '}')
}

// appendResults appends rs as json.MarshalIndent(rs, prefix, "  ") would.
func appendResults(b []byte, rs []doctor.Result, prefix string) []byte {
	switch {
	case rs == nil:
		return append(b, "null"...)
	case len(rs) == 0:
		return append(b, "[]"...)
	}
	in, in2 := prefix+"  ", prefix+"    "
	b = append(b, "[\n"...)
	for i := range rs {
		r := &rs[i]
		b = append(b, in...)
		b = append(b, "{\n"...)
		b = appendField(b, in2, "id", r.ID, true)
		b = appendField(b, in2, "layer", string(r.Layer), true)
		b = appendField(b, in2, "status", string(r.Status), true)
		b = appendField(b, in2, "title", r.Title, true)
		b = appendField(b, in2, "detail", r.Detail, true)
		b = appendField(b, in2, "fix", r.Fix, false)
		b = append(b, in...)
		b = append(b, '}')
		if i < len(rs)-1 {
			b = append(b, ',')
		}
		b = append(b, '\n')
	}
	b = append(b, prefix...)
	return append(b, ']')
}

// appendField appends one `"key": "value"` line of an indented object.
func appendField(b []byte, indent, key, value string, comma bool) []byte {
	b = append(b, indent...)
	b = append(b, '"')
	b = append(b, key...)
	b = append(b, "\": "...)
	b = appendJSONString(b, value)
	if comma {
		b = append(b, ',')
	}
	return append(b, '\n')
}

// appendJSONString appends s quoted as encoding/json quotes a string: HTML's <, > and & escaped, the line
// and paragraph separators escaped, invalid UTF-8 as U+FFFD (FuzzJSONString holds it to json.Marshal).
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
