// Package sandboxtest starts one sandbox per test package: call Main from TestMain (MainWith for more than
// one cluster), Get from tests.
package sandboxtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox"
	"github.com/kubectl-sdc/kubectl-sdc/internal/testenv"
)

var running *sandbox.Sandbox

// Main starts a sandbox, runs the package's tests and stops it. Under `go test -short` no sandbox is started
// and tests that call Get are skipped: -short is the documented unit-only mode. Otherwise a sandbox that
// cannot start fails the whole package loudly.
func Main(m *testing.M) {
	os.Exit(Run(m))
}

// MainWith is Main with a sandbox started with opts: sandbox.Options{Clusters: 2} gives the package a
// fleet of two clusters. Dir, BinDir and Log are sandboxtest's to set.
func MainWith(m *testing.M, opts sandbox.Options) {
	os.Exit(RunWith(m, opts))
}

// Run is Main without the exit, for a TestMain that has its own cleanup; it returns the exit code. The
// developer's environment is cleared first (see testenv), so the tests see only the sandbox.
func Run(m *testing.M) int {
	return RunWith(m, sandbox.Options{})
}

// RunWith is MainWith without the exit.
func RunWith(m *testing.M, opts sandbox.Options) int {
	cleanup := testenv.Isolate()
	defer cleanup()
	if !isShort() {
		sb, err := StartWith(opts)
		if err != nil {
			fmt.Fprintf(os.Stderr, "sandboxtest: the sandbox did not start: %v\n", err)
			return 1
		}
		running = sb
		code := m.Run()
		sb.Stop()
		if code == 0 {
			_ = os.RemoveAll(sb.Dir)
		} else {
			fmt.Fprintf(os.Stderr, "sandboxtest: the sandbox's logs are in %s\n", sb.Dir)
		}
		return code
	}
	return m.Run()
}

// isShort reads -test.short before m.Run parses flags.
func isShort() bool {
	for _, a := range os.Args[1:] {
		if a == "-test.short" || a == "-test.short=true" {
			return true
		}
	}
	return false
}

// Start starts a sandbox in a fresh temporary directory with the binaries from BinDir.
func Start() (*sandbox.Sandbox, error) {
	return StartWith(sandbox.Options{})
}

// StartWith is Start with opts (their Dir, BinDir and Log are replaced).
func StartWith(opts sandbox.Options) (*sandbox.Sandbox, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "sdc-sandbox-")
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "sandbox.log"))
	if err != nil {
		return nil, err
	}
	// Clusters start side by side; on two busy cores each takes longer.
	clusters := max(opts.Clusters, 1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(1+clusters)*time.Minute)
	defer cancel()
	opts.Dir, opts.BinDir, opts.Log = dir, bin, logf
	sb, err := sandbox.Start(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("%w (logs in %s)", err, dir)
	}
	return sb, nil
}

// Get returns the package's sandbox.
func Get(t testing.TB) *sandbox.Sandbox {
	t.Helper()
	if running == nil {
		if testing.Short() {
			t.Skip("needs the sandbox; -short runs unit tests only")
		}
		t.Fatal("no sandbox: call sandboxtest.Main(m) from TestMain")
	}
	return running
}

// BinDir is where the control-plane binaries are: $SDC_SANDBOX_BIN, else bin/ at the module root.
func BinDir() (string, error) {
	if d := os.Getenv("SDC_SANDBOX_BIN"); d != "" {
		return d, nil
	}
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "bin"), nil
}

// ModuleRoot is the directory of the plugin's go.mod.
func ModuleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("finding the module root: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("not inside the kubectl-sdc module")
	}
	return filepath.Dir(gomod), nil
}
