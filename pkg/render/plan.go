package render

import (
	"fmt"
	"io"
	"strings"

	"github.com/aymanbagabas/go-udiff"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/plan"
)

// Fact is one labelled line of a plan's header, e.g. {"Cluster", "sandbox (us-west-2) ..."}.
type Fact struct{ Label, Value string }

// Plan writes the facts, every change with its symbol and word (`+ create`, `~ update`, `- delete`,
// `= unchanged`), a unified diff of the managed document for every create, update and delete, and the
// summary line.
func Plan(w io.Writer, th *Theme, facts []Fact, p *plan.Plan) error {
	return PlanEnding(w, th, facts, p, Summary(th, p))
}

// PlanEnding is Plan with another last line than Summary's (unbind says "Nothing to do" in its own words).
func PlanEnding(w io.Writer, th *Theme, facts []Fact, p *plan.Plan, last string) error {
	var b strings.Builder
	width := 0
	for _, f := range facts {
		width = max(width, len(f.Label))
	}
	for _, f := range facts {
		fmt.Fprintf(&b, "%s  %s\n", th.Paint(th.Bold, pad(f.Label, width)), f.Value)
	}
	if len(facts) > 0 {
		b.WriteString("\n")
	}
	for _, c := range p.Changes {
		writeChange(&b, th, c)
	}
	b.WriteString(last)
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// Summary is the plan's last line: "Plan: 3 to create, 1 to update, 4 unchanged.", with "2 to delete" when
// the plan deletes something.
func Summary(th *Theme, p *plan.Plan) string {
	t := p.Tally()
	switch {
	case t.Create+t.Update+t.Delete == 0:
		return th.Paint(th.Bold, fmt.Sprintf("No changes: %d unchanged.", t.Unchanged))
	case t.Delete == 0:
		return th.Paint(th.Bold, fmt.Sprintf("Plan: %d to create, %d to update, %d unchanged.", t.Create, t.Update, t.Unchanged))
	}
	return th.Paint(th.Bold, fmt.Sprintf("Plan: %d to create, %d to update, %d to delete, %d unchanged.", t.Create, t.Update, t.Delete, t.Unchanged))
}

func writeChange(b *strings.Builder, th *Theme, c *plan.Change) {
	sym, style := "=", th.Unchanged
	switch c.Action {
	case plan.Create:
		sym, style = "+", th.Create
	case plan.Update:
		sym, style = "~", th.Update
	case plan.Delete:
		sym, style = "-", th.Delete
	}
	fmt.Fprintf(b, "%s %s\n", th.Paint(style, sym+" "+pad(string(c.Action), 9)), th.Paint(th.Bold, c.Kind)+" "+c.Name)
	for _, n := range c.Notes {
		fmt.Fprintf(b, "    %s\n", th.Paint(th.Dim, n))
	}
	for _, d := range c.Denied {
		fmt.Fprintf(b, "    %s\n", th.Paint(th.Delete, "! not allowed: "+d))
	}
	if c.Action == plan.Unchanged || c.Before == c.After {
		return
	}
	b.WriteString(Diff(th, c.Kind+" (current)", c.Kind+" (planned)", c.Before, c.After, "    "))
}

// Diff renders a colored unified diff of before and after, every line prefixed with indent.
func Diff(th *Theme, fromLabel, toLabel, before, after, indent string) string {
	d := udiff.Unified(fromLabel, toLabel, ensureNewline(before), ensureNewline(after))
	var b strings.Builder
	for _, line := range strings.SplitAfter(d, "\n") {
		if line == "" {
			continue
		}
		text := strings.TrimRight(line, "\n")
		switch {
		case strings.HasPrefix(text, "---"), strings.HasPrefix(text, "+++"):
			text = th.Paint(th.Bold, text)
		case strings.HasPrefix(text, "@@"):
			text = th.Paint(th.Hunk, text)
		case strings.HasPrefix(text, "+"):
			text = th.Paint(th.Create, text)
		case strings.HasPrefix(text, "-"):
			text = th.Paint(th.Delete, text)
		}
		b.WriteString(indent + text + "\n")
	}
	return b.String()
}

func ensureNewline(s string) string {
	if s == "" || strings.HasSuffix(s, "\n") {
		return s
	}
	return s + "\n"
}

func pad(s string, n int) string {
	if len(s) >= n {
		return s
	}
	return s + strings.Repeat(" ", n-len(s))
}
