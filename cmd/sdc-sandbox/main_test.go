package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox/sandboxtest"
)

// These tests run the built sdc-sandbox binary and watch the processes it leaves behind.

var sandboxBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sdc-sandbox-bin-")
	if err != nil {
		panic(err)
	}
	sandboxBin = filepath.Join(dir, "sdc-sandbox")
	if out, err := exec.Command("go", "build", "-o", sandboxBin, ".").CombinedOutput(); err != nil {
		os.Stderr.Write(out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// startUp runs `sdc-sandbox up` and waits for DIR/ready; args are more flags of up.
func startUp(t *testing.T, args ...string) (*exec.Cmd, string, *bytes.Buffer) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a sandbox; -short runs unit tests only")
	}
	bin, err := sandboxtest.BinDir()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var logs bytes.Buffer
	cmd := exec.Command(sandboxBin, append([]string{"up", "--dir", dir, "--bin-dir", bin}, args...)...)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	deadline := time.Now().Add(90 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(dir, "ready")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no DIR/ready after 90s; output:\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, f := range []string{"kubeconfig", "env", "audit.log", stateFile, "aws/config", "aws/credentials"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("ready, but %s is missing: %v", f, err)
		}
	}
	env, _ := os.ReadFile(filepath.Join(dir, "env"))
	for _, k := range []string{"KUBECONFIG", "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "SDC_SANDBOX_DIR",
		"AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "SANDBOX_TARGET_ACCOUNT_ID", "SANDBOX_TARGET_ACCESS_KEY_ID", "SANDBOX_TARGET_SECRET_ACCESS_KEY",
		"SANDBOX_TARGET_PROFILE", "SANDBOX_TARGET_ROLE_ARN", "SANDBOX_POD_IDENTITY_AGENT_URL"} {
		if !strings.Contains(string(env), "export "+k+"=") {
			t.Errorf("DIR/env has no export of %s:\n%s", k, env)
		}
	}
	return cmd, dir, &logs
}

// descendants are the running processes started by pid: its children and the members of the children's
// process group recorded in DIR/sandbox.json.
func descendants(t *testing.T, pid int, dir string) []int {
	t.Helper()
	st, ok := readState(dir)
	if !ok {
		t.Fatalf("no %s in %s", stateFile, dir)
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil || p == pid {
			continue
		}
		ppid, pgrp, ok := procStat(p)
		if ok && (ppid == pid || pgrp == st.ProcessGroup) && alive(p) {
			out = append(out, p)
		}
	}
	return out
}

func procStat(pid int) (ppid, pgrp int, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(s[i+1:]) // state ppid pgrp ...
	if len(f) < 3 {
		return 0, 0, false
	}
	ppid, _ = strconv.Atoi(f[1])
	pgrp, _ = strconv.Atoi(f[2])
	return ppid, pgrp, true
}

func waitGone(t *testing.T, pids []int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var left []int
		for _, p := range pids {
			if alive(p) {
				left = append(left, p)
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes still running 30s after the sandbox stopped: %v", left)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestDownStopsEverythingAndRefusesASecondUp(t *testing.T) {
	cmd, dir, logs := startUp(t)
	kids := descendants(t, cmd.Process.Pid, dir)
	// etcd, kube-apiserver, kube-controller-manager and moto.
	if len(kids) < 4 {
		t.Fatalf("found %d child processes (%v), want at least 4", len(kids), kids)
	}
	// While it runs, a second sandbox in the same directory is refused.
	bin, _ := sandboxtest.BinDir()
	out, err := exec.Command(sandboxBin, "up", "--dir", dir, "--bin-dir", bin).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "already runs") {
		t.Errorf("second up in the same dir: %v: %s", err, out)
	}
	out, err = exec.Command(sandboxBin, "down", "--dir", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("down: %v: %s", err, out)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("sdc-sandbox up ended with %v after down; output:\n%s", err, logs)
	}
	waitGone(t, kids)
	if _, err := os.Stat(filepath.Join(dir, "ready")); !os.IsNotExist(err) {
		t.Errorf("DIR/ready still there after down: %v", err)
	}
	// A second down finds nothing to stop and says so.
	out, err = exec.Command(sandboxBin, "down", "--dir", dir).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "no sandbox runs") {
		t.Errorf("second down: %v: %s", err, out)
	}
}

func TestKilledSandboxLeavesNoOrphans(t *testing.T) {
	cmd, dir, _ := startUp(t)
	kids := descendants(t, cmd.Process.Pid, dir)
	if len(kids) < 4 {
		t.Fatalf("found %d child processes (%v), want at least 4", len(kids), kids)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	waitGone(t, kids)
}
