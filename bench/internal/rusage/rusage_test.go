//go:build linux

package rusage

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
)

// TestPeakIsTheCommandsOwn is why the package exists: started directly, a small command reports its
// parent's peak; through the helper, its own.
func TestPeakIsTheCommandsOwn(t *testing.T) {
	ballast := make([]byte, 256<<20)
	for i := range ballast {
		ballast[i] = 1
	}
	truePath, err := exec.LookPath("true")
	if err != nil {
		t.Fatal(err)
	}
	direct := exec.Command(truePath)
	if err := direct.Run(); err != nil {
		t.Fatal(err)
	}
	directRSS := direct.ProcessState.SysUsage().(*syscall.Rusage).Maxrss * 1024

	self := buildHelper(t)
	out := filepath.Join(t.TempDir(), "usage")
	cmd := Command(context.Background(), self, out, os.Environ(), truePath)
	if err := cmd.Run(); err != nil {
		t.Fatalf("the helper: %v", err)
	}
	u, err := Read(out)
	if err != nil {
		t.Fatal(err)
	}
	if u.Code != 0 || u.MaxRSS <= 0 || u.Wall <= 0 {
		t.Fatalf("usage of true: %+v", u)
	}
	if u.MaxRSS >= 32<<20 {
		t.Errorf("true through the helper peaks at %d MiB: still its parent's (directly: %d MiB)", u.MaxRSS>>20, directRSS>>20)
	}
	if directRSS < 200<<20 {
		t.Logf("started directly, true peaks at %d MiB: this kernel does not carry the parent's peak over", directRSS>>20)
	}
	_ = ballast[len(ballast)-1]
}

func TestExitCodeAndStartFailure(t *testing.T) {
	self := buildHelper(t)
	out := filepath.Join(t.TempDir(), "usage")
	cmd := Command(context.Background(), self, out, os.Environ(), "sh", "-c", "exit 3")
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
		t.Fatalf("the helper exited with %v, want the command's code 3", err)
	}
	if u, err := Read(out); err != nil || u.Code != 3 {
		t.Fatalf("usage %+v, %v: want code 3", u, err)
	}
	cmd = Command(context.Background(), self, out, os.Environ(), filepath.Join(t.TempDir(), "no-such-command"))
	_ = cmd.Run()
	if _, err := Read(out); err == nil {
		t.Fatal("a command that cannot start: want an error from Read")
	}
}

var (
	helperOnce sync.Once
	helperPath string
	helperErr  error
)

// buildHelper builds the helper program once for the tests.
func buildHelper(t *testing.T) string {
	t.Helper()
	helperOnce.Do(func() {
		dir, err := os.MkdirTemp("", "rusage-helper-")
		if err != nil {
			helperErr = err
			return
		}
		root, err := filepath.Abs("../../..")
		if err != nil {
			helperErr = err
			return
		}
		helperPath = filepath.Join(dir, "helper")
		helperErr = Build(context.Background(), root, helperPath)
	})
	if helperErr != nil {
		t.Fatal(helperErr)
	}
	return helperPath
}
