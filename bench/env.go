package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/kubectl-sdc/kubectl-sdc/bench/internal/rusage"
	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox"
)

// toolbox is where the commands a user would type come from: the plugin's directory first on PATH, then
// the caller's PATH (kubectl, aws, openssl, jq), then bin/ for a kubectl that `make sandbox-bin` built.
type toolbox struct {
	root        string       // the module root
	pluginDir   string       // holds kubectl-sdc
	plugin      string       // pluginDir/kubectl-sdc
	binDir      string       // the sandbox binaries (bin/)
	home        string       // HOME of every command: kubectl's discovery cache and the aws CLI's files start empty
	baselineDir string       // bench/baseline
	helper      string       // the rusage helper every command runs through
	seq         atomic.Int64 // names the rusage helpers' result files
}

// requiredTools are what the baselines and the plugin's dispatch need on PATH.
var requiredTools = []string{"kubectl", "aws", "openssl", "jq", "bash"}

// check fails with the missing tools named, rather than letting a baseline die half-way.
func (t *toolbox) check() error {
	var missing []string
	for _, name := range requiredTools {
		if _, err := t.lookPath(name); err != nil {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("the benchmarks need %s on PATH (the baselines are the aws CLI, kubectl, openssl and jq); install them and run again", strings.Join(missing, ", "))
	}
	return nil
}

func (t *toolbox) path() string {
	return t.pluginDir + string(os.PathListSeparator) + os.Getenv("PATH") + string(os.PathListSeparator) + t.binDir
}

// lookPath finds name on the PATH commands run with.
func (t *toolbox) lookPath(name string) (string, error) {
	for _, dir := range filepath.SplitList(t.path()) {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s is not on PATH", name)
}

// env is the environment commands run in: the caller's, minus anything that could point AWS or kubectl
// elsewhere or give the plugin defaults (KUBECTL_SDC_*), plus the sandbox's (nil: no sandbox), with the plugin first on PATH.
func (t *toolbox) env(sb *sandbox.Sandbox) []string {
	drop := map[string]bool{"KUBECONFIG": true, "NO_COLOR": true, "HOME": true, "PATH": true}
	for _, k := range sandbox.UnsetEnv {
		drop[k] = true
	}
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if drop[k] || strings.HasPrefix(k, "AWS_") || strings.HasPrefix(k, "KUBECTL_SDC_") {
			continue
		}
		out = append(out, kv)
	}
	out = append(out, "PATH="+t.path(), "HOME="+t.home, "NO_COLOR=1")
	if sb != nil {
		out = append(out, sb.Env()...)
	}
	return out
}

// cmdResult is what one command printed, how it ended and how long it took, start to exit.
type cmdResult struct {
	Args           []string
	Stdout, Stderr string
	Code           int
	Wall           time.Duration
	// CPU is the user and system time of the process and the children it waited for (kubectl's includes
	// the plugin's): how much of the wall time was the tools' own work.
	CPU time.Duration
	// PeakRSS is the largest resident set in bytes of the process and the children it waited for: for
	// `kubectl sdc ...`, the largest of kubectl's (which execs the plugin in its own process), the
	// plugin's and the exec credential plugin's (see package rusage).
	PeakRSS int64
}

func (r cmdResult) String() string {
	return fmt.Sprintf("%s: exit %d\n--- stdout\n%s--- stderr\n%s", strings.Join(r.Args, " "), r.Code, tail(r.Stdout, 4000), tail(r.Stderr, 4000))
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "...\n" + s[len(s)-n:]
}

// run runs name with args in the sandbox environment (sb nil: without one) and times it. A command that
// cannot start is an error; one that exits non-zero is a result with its code.
func (t *toolbox) run(ctx context.Context, sb *sandbox.Sandbox, name string, args ...string) (cmdResult, error) {
	return t.runWith(ctx, sb, nil, name, args...)
}

// runWith is run with extra variables in the environment.
func (t *toolbox) runWith(ctx context.Context, sb *sandbox.Sandbox, extra []string, name string, args ...string) (cmdResult, error) {
	// A bound against a hung command; the naive walk over 100 ServiceAccounts with the aws CLI takes minutes
	// on a quiet machine and more than ten on a loaded one.
	ctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()
	path := name
	if !strings.Contains(name, "/") {
		p, err := t.lookPath(name)
		if err != nil {
			return cmdResult{}, err
		}
		path = p
	}
	// Through the rusage helper, so that the peak resident set is the command's own (see package rusage).
	result := filepath.Join(t.home, fmt.Sprintf(".rusage-%d", t.seq.Add(1)))
	cmd := rusage.Command(ctx, t.helper, result, append(t.env(sb), extra...), path, args...)
	cmd.Dir = t.home
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := cmdResult{Args: append([]string{name}, args...), Stdout: stdout.String(), Stderr: stderr.String()}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return r, fmt.Errorf("running %s: %w", strings.Join(r.Args, " "), err)
	}
	u, err := rusage.Read(result)
	if err != nil {
		return r, fmt.Errorf("running %s: %w", strings.Join(r.Args, " "), err)
	}
	r.Wall, r.CPU, r.PeakRSS, r.Code = u.Wall, u.CPU, u.MaxRSS, u.Code
	return r, nil
}

// buildPlugin builds cmd/kubectl-sdc into dir as the release does (trimmed paths, no cgo), stripped or
// not, for goos/goarch.
func buildPlugin(ctx context.Context, root, out, goos, goarch string, stripped bool) error {
	args := []string{"build", "-trimpath"}
	if stripped {
		args = append(args, "-ldflags", "-s -w")
	}
	args = append(args, "-o", out, "./cmd/kubectl-sdc")
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s (GOOS=%s GOARCH=%s): %v\n%s", strings.Join(args, " "), goos, goarch, err, b)
	}
	return nil
}

// hostIsReleaseTarget tells whether the plugin built for the size figure can also be the one that runs.
func hostIsReleaseTarget() bool { return runtime.GOOS == "linux" && runtime.GOARCH == "amd64" }
