package workload

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox/sandboxtest"
)

// chainsDoc carries the measured table between these markers; the test says when it no longer matches.
const (
	chainsDoc   = "docs/workload-chains.md"
	chainsBegin = "<!-- chains: rows measured by test/workload -->"
	chainsEnd   = "<!-- /chains -->"
)

// chainsRows renders the measured table's rows as chainsDoc has them: one per setup, a column per chain,
// each cell the S3 calls that worked.
func chainsRows(setups []setup, outcomes map[string]outcome) string {
	mechanism := map[string]string{"irsa": "IRSA", "pod-identity": "EKS Pod Identity"}
	where := map[string]string{
		"":              "the binding's role",
		"same-account":  "a role it assumes, same account",
		"cross-account": "a role it assumes, other account (`--target-profile`)",
	}
	var b strings.Builder
	for _, s := range setups {
		b.WriteString("| " + mechanism[s.mechanism] + " | " + where[s.account] + " |")
		for _, c := range chains {
			o := outcomes[cellKey(s, c)]
			var ok []string
			for _, c := range o.Calls {
				if c.Result == "ok" {
					ok = append(ok, c.Call)
				}
			}
			cell := strings.Join(ok, ", ")
			if o.Error != "" || cell == "" {
				cell = "none"
			}
			b.WriteString(" " + cell + " |")
		}
		b.WriteString("\n")
	}
	return b.String()
}

// checkChainsDoc fails when chainsDoc's rows differ from the measured ones, and prints the rows to put there.
func checkChainsDoc(t *testing.T, rows string) {
	t.Helper()
	root, err := sandboxtest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(chainsDoc)))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), chainsBegin)
	got, _, ok2 := strings.Cut(rest, chainsEnd)
	if !ok || !ok2 {
		t.Fatalf("%s has no table between %q and %q", chainsDoc, strings.TrimSpace(chainsBegin), chainsEnd)
	}
	// The rows follow the table's header and separator lines.
	lines := strings.SplitN(strings.Trim(got, "\n"), "\n", 3)
	if len(lines) < 3 || lines[2] != strings.TrimRight(rows, "\n") {
		t.Errorf("%s's chain table is not what was measured; its rows should be:\n%s", chainsDoc, rows)
	}
}
