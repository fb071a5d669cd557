package render

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/doctor"
)

// FleetReport writes doctor over several kube contexts: each context's report (or the error that kept
// doctor from it) under a heading naming the context, its cluster, account and region, then the fleet
// table (CONTEXT, CLUSTER, ACCOUNT, REGION, TARGETS, PASS, WARN, FAIL, ERROR) and the fleet's summary line.
// verbose also says which AWS profile and region each context was read with, and how long it took.
func FleetReport(w io.Writer, th *Theme, fr *doctor.FleetReport, verbose bool) error {
	var b strings.Builder
	for i, c := range fr.Contexts {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString(contextHeading(th, c.Context, c.Cluster, c.Account, c.Region))
		if verbose {
			b.WriteString(th.Paint(th.Dim, fmt.Sprintf("%s; took %s", c.ReadWith, c.Elapsed.Round(time.Millisecond))))
			b.WriteString("\n")
		}
		if c.Error != "" {
			writeContextError(&b, th, c.Reason, strings.TrimSuffix(c.Error, " (fix: "+c.Fix+")"), c.Fix)
			continue
		}
		writeReport(&b, th, c.Checks, c.Targets, c.Summary, c.AllNamespaces, verbose)
	}
	b.WriteString("\n")
	b.WriteString(fleetTable(th, fr))
	b.WriteString(FleetSummary(th, fr.Summary, len(fr.Contexts)))
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// ContextHeading names a context of a fleet and what it turned out to be, for every command's per-context
// section (after "=== "): "Context prod · cluster prod-eks · account 123456789012 · eu-west-1".
func ContextHeading(context, cluster, account, region string) string {
	parts := []string{"Context " + context}
	if cluster != "" {
		parts = append(parts, "cluster "+cluster)
	}
	if account != "" {
		parts = append(parts, "account "+account)
	}
	if region != "" {
		parts = append(parts, region)
	}
	return strings.Join(parts, " · ")
}

// contextHeading is the line that opens a context's section of a fleet's text, for every command.
func contextHeading(th *Theme, context, cluster, account, region string) string {
	return th.Paint(th.Bold, "=== "+ContextHeading(context, cluster, account, region)) + "\n"
}

// writeContextError writes why a context could not be examined, in the shape of a failed check.
func writeContextError(b *strings.Builder, th *Theme, reason, detail, fix string) {
	fmt.Fprintf(b, "%s  %s\n", th.Paint(th.Fail, "✗ error"), reason)
	const pre = "         " // under the reason, past "✗ error  "
	b.WriteString(styleLines(th, detail, pre, th.Dim))
	if fix != "" {
		fmt.Fprintf(b, "%s%s %s\n", pre, th.Paint(th.Bold, "fix:"), th.Paint(th.Fix, fix))
	}
}

func fleetTable(th *Theme, fr *doctor.FleetReport) string {
	headers := []string{"CONTEXT", "CLUSTER", "ACCOUNT", "REGION", "TARGETS", "PASS", "WARN", "FAIL", "ERROR"}
	var rows [][]string
	for _, c := range fr.Contexts {
		row := []string{c.Context, c.Cluster, c.Account, c.Region}
		if c.Error != "" {
			row = append(row, "", "", "", "", c.Reason)
		} else {
			row = append(row, strconv.Itoa(len(c.Targets)), strconv.Itoa(c.Summary.Pass), strconv.Itoa(c.Summary.Warn), strconv.Itoa(c.Summary.Fail), "")
		}
		rows = append(rows, row)
	}
	return Table(th, headers, rows, func(_, col int, cell string) string {
		switch {
		case col == 6 && cell != "0" && cell != "-":
			return th.Paint(th.Warn, cell)
		case col >= 7 && cell != "0" && cell != "-":
			return th.Paint(th.Fail, cell)
		}
		return cell
	})
}

// FleetSummary is a fleet report's last line: "Fleet: 3 contexts, 1 could not be examined; 28 pass, 1 warn,
// 2 fail, 4 skip."
func FleetSummary(th *Theme, s doctor.FleetSummary, contexts int) string {
	line := fmt.Sprintf("Fleet: %d %s", contexts, plural(contexts, "context", "contexts"))
	if s.Errors > 0 {
		line += fmt.Sprintf(", %d could not be examined", s.Errors)
	}
	line += fmt.Sprintf("; %d pass, %d warn, %d fail, %d skip.", s.Pass, s.Warn, s.Fail, s.Skip)
	switch {
	case s.Fail > 0 || s.Errors > 0:
		return th.Paint(th.Fail, line)
	case s.Warn > 0:
		return th.Paint(th.Warn, line)
	}
	return th.Paint(th.Bold, line)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
