package aws

import (
	"os"
	"testing"

	"github.com/kubectl-sdc/kubectl-sdc/internal/testenv"
)

func TestMain(m *testing.M) {
	cleanup := testenv.Isolate()
	code := m.Run()
	cleanup()
	os.Exit(code)
}
