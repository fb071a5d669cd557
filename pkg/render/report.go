package render

import (
	"bufio"
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
	rw := NewReportWriter(w, th, verbose)
	if err := rw.Begin(rep); err != nil {
		return err
	}
	for i := range rep.Targets {
		if err := rw.Target(i, &rep.Targets[i]); err != nil {
			return err
		}
	}
	return rw.End(rep.Summary)
}

// ReportWriter writes a doctor report as Report does, a target at a time as doctor.Stream hands them over:
// doctor -A's report on ten thousand targets is not held whole. The check IDs line up as in Report, since
// the report's TargetCheckIDs are known before any target is judged.
type ReportWriter struct {
	w             *bufio.Writer
	th            *Theme
	verbose       bool
	width         int
	allNamespaces bool
	targets       int
	b             strings.Builder
}

// NewReportWriter writes to w.
func NewReportWriter(w io.Writer, th *Theme, verbose bool) *ReportWriter {
	return &ReportWriter{w: bufio.NewWriterSize(w, 64<<10), th: th, verbose: verbose}
}

// Begin writes the cluster-wide checks.
func (rw *ReportWriter) Begin(rep *doctor.Report) error {
	rw.width = checkIDWidth(rep.Checks, rep.Targets, rep.TargetCheckIDs)
	rw.allNamespaces = rep.AllNamespaces
	writeLayers(&rw.b, rw.th, rep.Checks, rw.width, rw.verbose, "")
	return rw.flush()
}

// Target writes one target's checks under its heading.
func (rw *ReportWriter) Target(_ int, t *doctor.TargetReport) error {
	rw.targets++
	writeTarget(&rw.b, rw.th, t, rw.width, rw.verbose)
	return rw.flush()
}

// End writes the summary and flushes.
func (rw *ReportWriter) End(sum doctor.Summary) error {
	writeEnd(&rw.b, rw.th, sum, rw.targets == 0 && rw.allNamespaces)
	if err := rw.flush(); err != nil {
		return err
	}
	return rw.w.Flush()
}

func (rw *ReportWriter) flush() error {
	_, err := rw.w.WriteString(rw.b.String())
	rw.b.Reset()
	return err
}

func writeReport(b *strings.Builder, th *Theme, checks []doctor.Result, targets []doctor.TargetReport, sum doctor.Summary, allNamespaces, verbose bool) {
	width := checkIDWidth(checks, targets, nil)
	writeLayers(b, th, checks, width, verbose, "")
	for i := range targets {
		writeTarget(b, th, &targets[i], width, verbose)
	}
	writeEnd(b, th, sum, len(targets) == 0 && allNamespaces)
}

func writeTarget(b *strings.Builder, th *Theme, t *doctor.TargetReport, width int, verbose bool) {
	b.WriteString("\n")
	b.WriteString(th.Paint(th.Title, targetHeading(*t)))
	b.WriteString("\n")
	writeLayers(b, th, t.Checks, width, verbose, "  ")
}

// writeEnd writes the summary, after saying that -A found no target when it did not.
func writeEnd(b *strings.Builder, th *Theme, sum doctor.Summary, noTarget bool) {
	if noTarget {
		b.WriteString("\nNo ServiceAccount in any namespace carries the eks.amazonaws.com/role-arn annotation or has an EKS Pod Identity association.\n")
	}
	b.WriteString("\n")
	b.WriteString(ReportSummary(th, sum))
	b.WriteString("\n")
}

// checkIDWidth fits every check that always runs, and those of this report (its results, and the target
// checks it says concern a target), so that every report's titles line up: a report without EKS Pod
// Identity keeps the width it always had.
func checkIDWidth(checks []doctor.Result, targets []doctor.TargetReport, targetCheckIDs []string) int {
	width := 0
	for _, c := range doctor.Checks() {
		if c.Applies == nil {
			width = max(width, len(c.ID))
		}
	}
	for _, r := range checks {
		width = max(width, len(r.ID))
	}
	for _, id := range targetCheckIDs {
		width = max(width, len(id))
	}
	for _, t := range targets {
		for _, r := range t.Checks {
			width = max(width, len(r.ID))
		}
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
	if t.PodIdentityAssociation != "" {
		parts = append(parts, "EKS Pod Identity")
	}
	return strings.Join(parts, " · ")
}

// ReportSummary is the report's last line: "Summary: 14 pass, 1 warn, 1 fail, 2 skip."
func ReportSummary(th *Theme, s doctor.Summary) string {
	line := fmt.Sprintf("Summary: %d pass, %d warn, %d fail, %d skip.", s.Pass, s.Warn, s.Fail, s.Skip)
	switch {
	case s.Fail > 0:
		return th.Paint(th.Fail, line)
	case s.Warn > 0:
		return th.Paint(th.Warn, line)
	}
	return th.Paint(th.Bold, line)
}

func writeLayers(b *strings.Builder, th *Theme, results []doctor.Result, width int, verbose bool, indent string) {
	for _, layer := range doctor.Layers {
		first := true
		for _, r := range results {
			if r.Layer != layer {
				continue
			}
			if first {
				b.WriteString(indent + th.Paint(th.Bold, layer.Title()) + "\n")
				first = false
			}
			writeResult(b, th, r, width, verbose, indent)
		}
	}
}

// StatusMark is a status's symbol and word, e.g. "✗ fail", styled.
func StatusMark(th *Theme, s doctor.Status) string {
	if m, ok := th.marks[s]; ok {
		return m
	}
	return statusMark(th, s)
}

func statusMark(th *Theme, s doctor.Status) string {
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
	return th.Paint(style, sym+" "+string(s))
}

func writeResult(b *strings.Builder, th *Theme, r doctor.Result, width int, verbose bool, indent string) {
	fmt.Fprintf(b, "%s  %s  %s  %s\n", indent, StatusMark(th, r.Status), pad(r.ID, width), r.Title)
	pre := indent + reportIndent
	if r.Detail != "" && (r.Status != doctor.Pass || verbose) {
		b.WriteString(styleLines(th, r.Detail, pre, th.Dim))
	}
	if r.Fix != "" {
		lines := strings.Split(r.Fix, "\n")
		fmt.Fprintf(b, "%s%s %s\n", pre, th.Paint(th.Bold, "fix:"), th.Paint(th.Fix, lines[0]))
		for _, l := range lines[1:] {
			fmt.Fprintf(b, "%s     %s\n", pre, th.Paint(th.Fix, l))
		}
	}
}

func styleLines(th *Theme, s, prefix string, style lipgloss.Style) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		b.WriteString(prefix + th.Paint(style, l) + "\n")
	}
	return b.String()
}
