package vocab

import (
	"os/exec"
	"strings"
	"testing"
)

// The vocabulary is a leaf, and the read-only diagnoser does not depend on the package that writes: the
// words come from here, not from pkg/bind.
func TestDependencyDirections(t *testing.T) {
	t.Parallel()
	deps := func(pkg string) []string {
		out, err := exec.Command("go", "list", "-deps", "github.com/kubectl-sdc/kubectl-sdc/"+pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		return strings.Fields(string(out))
	}
	for _, d := range deps("pkg/vocab") {
		if strings.HasPrefix(d, "github.com/kubectl-sdc/kubectl-sdc/") && d != "github.com/kubectl-sdc/kubectl-sdc/pkg/vocab" {
			t.Errorf("pkg/vocab depends on %s; it must stay a leaf", d)
		}
	}
	for _, d := range deps("pkg/doctor") {
		if d == "github.com/kubectl-sdc/kubectl-sdc/pkg/bind" {
			t.Error("pkg/doctor depends on pkg/bind; take the words from pkg/vocab")
		}
	}
}
