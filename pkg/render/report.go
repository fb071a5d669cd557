package render

import (
	"fmt"
	"io"
	"strings"

	"github.com/charmbracelet/lipgloss"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/doctor"
)

// reportIndent is where a check's detail and fix start: under its ID, past the symbol and status word.
const reportIndent = "          "

// Report writes a doctor report: the cluster-wide checks grouped by layer, then each target under a
// heading with its checks grouped by layer, then the summary. Every check line has a symbol and a status
// word, so nothing depends on color. Details of passing checks are shown only when verbose.
func Report(w io.Writer, th *Theme, rep *doctor.Report, verbose bool) error {
	var b strings.Builder
	writeReport(&b, th, rep.Checks, rep.Targets, rep.Summary, rep.AllNamespaces, verbose)
	_, err := io.WriteString(w, b.String())
	return err
}

func writeReport(b *strings.Builder, th *Theme, checks []doctor.Result, targets []doctor.TargetReport, sum doctor.Summary, allNamespaces, verbose bool) {
	width := checkIDWidth()
	writeLayers(b, th, checks, width, verbose, "")
	if len(targets) == 0 && allNamespaces {
		b.WriteString("\nNo ServiceAccount in any namespace carries the eks.amazonaws.com/role-arn annotation.\n")
	}
	for _, t := range targets {
		b.WriteString("\n")
		b.WriteString(th.Title.Render(targetHeading(t)))
		b.WriteString("\n")
		writeLayers(b, th, t.Checks, width, verbose, "  ")
	}
	b.WriteString("\n")
	b.WriteString(ReportSummary(th, sum))
	b.WriteString("\n")
}

// checkIDWidth is the width of the longest check ID, so that every report's titles line up.
func checkIDWidth() int {
	width := 0
	for _, c := range doctor.Checks() {
		width = max(width, len(c.ID))
	}
	return width
}

// targetHeading names a target: ServiceAccount, Deployment and role.
func targetHeading(t doctor.TargetReport) string {
	parts := []string{"ServiceAccount " + t.Namespace + "/" + t.ServiceAccount}
	if t.Deployment != "" {
		parts = append(parts, "Deployment "+t.Deployment)
	}
	if t.RoleARN != "" {
		parts = append(parts, "role "+t.RoleARN)
	}
	return strings.Join(parts, " · ")
}

// ReportSummary is the report's last line: "Summary: 14 pass, 1 warn, 1 fail, 2 skip."
func ReportSummary(th *Theme, s doctor.Summary) string {
	line := fmt.Sprintf("Summary: %d pass, %d warn, %d fail, %d skip.", s.Pass, s.Warn, s.Fail, s.Skip)
	switch {
	case s.Fail > 0:
		return th.Fail.Render(line)
	case s.Warn > 0:
		return th.Warn.Render(line)
	}
	return th.Bold.Render(line)
}

func writeLayers(b *strings.Builder, th *Theme, results []doctor.Result, width int, verbose bool, indent string) {
	for _, layer := range doctor.Layers {
		first := true
		for _, r := range results {
			if r.Layer != layer {
				continue
			}
			if first {
				b.WriteString(indent + th.Bold.Render(layer.Title()) + "\n")
				first = false
			}
			writeResult(b, th, r, width, verbose, indent)
		}
	}
}

// StatusMark is a status's symbol and word, e.g. "✗ fail", styled.
func StatusMark(th *Theme, s doctor.Status) string {
	sym, style := "?", th.Bold
	switch s {
	case doctor.Pass:
		sym, style = "✓", th.Pass
	case doctor.Warn:
		sym, style = "!", th.Warn
	case doctor.Fail:
		sym, style = "✗", th.Fail
	case doctor.Skip:
		sym, style = "-", th.Skip
	}
	return style.Render(sym + " " + string(s))
}

func writeResult(b *strings.Builder, th *Theme, r doctor.Result, width int, verbose bool, indent string) {
	fmt.Fprintf(b, "%s  %s  %s  %s\n", indent, StatusMark(th, r.Status), pad(r.ID, width), r.Title)
	pre := indent + reportIndent
	if r.Detail != "" && (r.Status != doctor.Pass || verbose) {
		b.WriteString(styleLines(r.Detail, pre, th.Dim))
	}
	if r.Fix != "" {
		lines := strings.Split(r.Fix, "\n")
		fmt.Fprintf(b, "%s%s %s\n", pre, th.Bold.Render("fix:"), th.Fix.Render(lines[0]))
		for _, l := range lines[1:] {
			fmt.Fprintf(b, "%s     %s\n", pre, th.Fix.Render(l))
		}
	}
}

func styleLines(s, prefix string, style lipgloss.Style) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		b.WriteString(prefix + style.Render(l) + "\n")
	}
	return b.String()
}
