package cmd

import (
	"os"
	"testing"

	"github.com/kubectl-sdc/kubectl-sdc/internal/testenv"
)

// The shell's kubeconfig, AWS settings and color variables stay out of these tests.
func TestMain(m *testing.M) {
	cleanup := testenv.Isolate()
	code := m.Run()
	cleanup()
	os.Exit(code)
}
