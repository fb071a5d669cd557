// Package rusage runs a command from a small, fresh process, so that the peak resident set the kernel
// reports for it is the command's own.
//
// Go starts a child with clone(CLONE_VM|CLONE_VFORK): until it execs, the child runs in its parent's
// memory, and at exec Linux records that memory's high-water mark as the child's peak resident set
// (ru_maxrss). A command the bench starts directly therefore reports at least the bench's own peak: with
// the bench holding ten thousand seeded pods, /bin/true "peaks" at the bench's size. Started through the
// helper (./helper, a program that imports little and does nothing else), the command inherits the
// helper's high-water mark instead, a few MiB; a run of true through it measures that least figure.
package rusage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"time"
)

// Env carries the file the helper writes its result to.
const Env = "SDC_BENCH_RUSAGE_OUT"

// Usage is what one command cost, as the kernel counts it.
type Usage struct {
	// MaxRSS is the largest resident set, in bytes, of the command and of the descendants it waited for
	// (for `kubectl sdc ...`: kubectl, which execs the plugin in the same process, the plugin, and the exec
	// credential plugin the plugin runs).
	MaxRSS int64 `json:"max_rss_bytes"`
	// Wall is from the command's start to its exit; CPU is its user and system time and its children's.
	Wall time.Duration `json:"wall_ns"`
	CPU  time.Duration `json:"cpu_ns"`
	// Code is the exit code; -1 when a signal ended it.
	Code int `json:"code"`
	// Err is why the command could not start.
	Err string `json:"error,omitempty"`
}

// Helper is the helper program: it runs args[0] with the rest as its arguments, with this process's
// standard streams and environment (without Env), writes its Usage as JSON to the file Env names, and
// returns the exit code to exit with, the command's.
func Helper(args []string) int {
	out := os.Getenv(Env)
	if out == "" {
		fmt.Fprintf(os.Stderr, "rusage: %s is not set: run through rusage.Command\n", Env)
		return 127
	}
	_ = os.Unsetenv(Env)
	u := Usage{Code: 127}
	if len(args) == 0 {
		u.Err = "no command given"
	} else {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
		cmd.SysProcAttr = sysProcAttr()
		start := time.Now()
		err := cmd.Run()
		u.Wall = time.Since(start)
		var ee *exec.ExitError
		switch {
		case err == nil || errors.As(err, &ee):
			ps := cmd.ProcessState
			u.Code = ps.ExitCode()
			u.CPU = ps.UserTime() + ps.SystemTime()
			u.MaxRSS = maxRSS(ps)
		default:
			u.Err = err.Error()
		}
	}
	b, _ := json.Marshal(u)
	if err := os.WriteFile(out, b, 0o600); err != nil {
		fmt.Fprintf(os.Stderr, "rusage: writing %s: %v\n", out, err)
		return 127
	}
	if u.Err != "" {
		fmt.Fprintf(os.Stderr, "rusage: %s\n", u.Err)
	}
	return max(u.Code, 0)
}

// Command is name with args run through the helper program in the environment env, the Usage written to
// resultFile, which Read reads after the command ends.
func Command(ctx context.Context, helper, resultFile string, env []string, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, helper, append([]string{name}, args...)...)
	cmd.Env = append(append([]string(nil), env...), Env+"="+resultFile)
	return cmd
}

// Read reads the Usage the helper wrote to resultFile and removes the file.
func Read(resultFile string) (Usage, error) {
	b, err := os.ReadFile(resultFile)
	if err != nil {
		return Usage{}, fmt.Errorf("the rusage helper left no result: %w", err)
	}
	_ = os.Remove(resultFile)
	var u Usage
	if err := json.Unmarshal(b, &u); err != nil {
		return Usage{}, fmt.Errorf("the rusage helper's result %q does not parse: %w", b, err)
	}
	if u.Err != "" {
		return u, fmt.Errorf("starting the command: %s", u.Err)
	}
	return u, nil
}

// Build builds the helper program into out.
func Build(ctx context.Context, moduleRoot, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", out, "./bench/internal/rusage/helper")
	cmd.Dir = moduleRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building the rusage helper: %v\n%s", err, b)
	}
	return nil
}
