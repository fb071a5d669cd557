package render

import (
	"fmt"
	"io"
	"strings"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/bindings"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// ListLayout is how list's tables look: -A adds the NAMESPACE column, -o wide the role's ARN in place of its
// name and the PROBLEM column, --no-headers leaves the header line out.
type ListLayout struct {
	AllNamespaces, Wide, NoHeaders bool
}

func (l ListLayout) headers(h []string) []string {
	if l.NoHeaders {
		return nil
	}
	if l.AllNamespaces {
		h = append([]string{"NAMESPACE"}, h...)
	}
	return h
}

// Bindings is list's table, in kubectl get's look: one row per binding, `<none>` for an empty cell, the
// status word styled as doctor styles its statuses.
func Bindings(th *Theme, items []bindings.Binding, l ListLayout) string {
	headers := []string{"SERVICEACCOUNT", "MECHANISM", "ROLE", "STAGES", "DEPLOYMENTS", "PODS", "STATUS"}
	status := len(headers) - 1
	if l.Wide {
		headers = append(headers, "PROBLEM")
	}
	if l.AllNamespaces {
		status++
	}
	var rows [][]string
	for _, b := range items {
		role, target := b.RoleARN, b.TargetRoleARN
		if !l.Wide {
			if name := vocab.RoleNameOf(b.RoleARN); name != "" {
				role = name
			}
			if name := vocab.RoleNameOf(target); name != "" {
				target = name
			}
		}
		if target != "" {
			role += " -> " + target // EKS Pod Identity's own chain: the pods get the target's credentials
		}
		if b.SubjectPattern != "" {
			role += " (pattern " + strings.TrimPrefix(b.SubjectPattern, "system:serviceaccount:") + ")"
		}
		row := []string{b.ServiceAccount, string(b.Mechanism), orNone(role), orNone(strings.Join(b.Stages, ",")),
			orNone(strings.Join(b.Deployments, ",")), fmt.Sprintf("%d/%d", b.Pods.WithIdentity, b.Pods.Total), string(b.Status)}
		if l.Wide {
			problem := ""
			if len(b.Problems) > 0 {
				problem = b.Problems[0]
			}
			row = append(row, orNone(problem))
		}
		if l.AllNamespaces {
			row = append([]string{b.Namespace}, row...)
		}
		rows = append(rows, row)
	}
	return Table(th, l.headers(headers), rows, func(_, col int, cell string) string {
		if col == status {
			return Verdict(th, cell)
		}
		return cell
	})
}

// Orphans is list --orphans's table: each role no ServiceAccount points at any more, with the command
// that removes it (-o wide: the role's ARN).
func Orphans(th *Theme, items []bindings.Orphan, l ListLayout) string {
	var rows [][]string
	for _, r := range items {
		role := r.RoleName
		if l.Wide {
			role = r.RoleARN
		}
		rows = append(rows, []string{role, orNone(r.Namespace), orNone(r.ServiceAccount), r.Command})
	}
	// The rows name their namespace whatever -A: a role may trust ServiceAccounts of several.
	l.AllNamespaces = false
	return Table(th, l.headers([]string{"ROLE", "NAMESPACE", "SERVICEACCOUNT", "COMMAND"}), rows, nil)
}

// NothingFound is kubectl get's line for an empty answer, of a namespace ("" for the cluster): "No
// bindings found in ns1 namespace."
func NothingFound(what, namespace string) string {
	if namespace == "" {
		return "No " + what + " found."
	}
	return fmt.Sprintf("No %s found in %s namespace.", what, namespace)
}

// orNone is kubectl's way of showing an empty cell.
func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

// FleetList writes list over several kube contexts: each context under its heading (as doctor's fleet
// report has it), with its table (table), the line an empty list gets, or the error that kept list from it;
// then the fleet's summary line. one and many name the items: "binding", "bindings".
func FleetList[T any](w io.Writer, th *Theme, fl *bindings.Fleet[T], one, many string, table func([]T) string) error {
	var b strings.Builder
	for i, c := range fl.Contexts {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString(contextHeading(th, c.Context, c.Cluster, c.Account, c.Region))
		switch {
		case c.Error != "":
			writeContextError(&b, th, c.Reason, strings.TrimSuffix(c.Error, " (fix: "+c.Fix+")"), c.Fix)
		case len(c.Items) == 0:
			b.WriteString(th.Paint(th.Dim, NothingFound(many, c.Namespace)) + "\n")
		default:
			b.WriteString(table(c.Items))
		}
	}
	b.WriteString("\n")
	b.WriteString(listFleetSummary(th, fl.Summary, len(fl.Contexts), plural(fl.Summary.Items, one, many)))
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// listFleetSummary is a fleet list's last line: "Fleet: 3 contexts, 1 could not be listed; 4 bindings: 2
// ok, 1 warn, 1 fail."
func listFleetSummary(th *Theme, s bindings.FleetSummary, contexts int, what string) string {
	line := fmt.Sprintf("Fleet: %d %s", contexts, plural(contexts, "context", "contexts"))
	if s.Errors > 0 {
		line += fmt.Sprintf(", %d could not be listed", s.Errors)
	}
	line += fmt.Sprintf("; %d %s", s.Items, what)
	if st := s.Statuses; st != nil {
		line += fmt.Sprintf(": %d ok, %d warn, %d fail", st.OK, st.Warn, st.Fail)
	}
	line += "."
	if s.Errors > 0 {
		return th.Paint(th.Fail, line)
	}
	return th.Paint(th.Bold, line)
}
