package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// sandboxEnv is the environment DIR/env describes, read back from the file, on top of PATH and a HOME of
// the test's own.
func sandboxEnv(t *testing.T, dir string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "env"))
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	for _, line := range strings.Split(string(b), "\n") {
		kv, ok := strings.CutPrefix(line, "export ")
		if !ok {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		env = append(env, k+"="+strings.Trim(v, `"`))
	}
	return env
}

// kubectl runs the real kubectl in env.
func kubectl(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	path, err := exec.LookPath("kubectl")
	if err != nil {
		t.Fatalf("kubectl is not on PATH (%v): these tests drive the real kubectl", err)
	}
	cmd := exec.Command(path, args...)
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), 0
}

// TestFleetStopOneAPIServerThenDown: `up --clusters 2` runs two clusters reachable through their contexts
// (the exec plugin being sdc-sandbox itself); `stop-apiserver` makes one unreachable while the other keeps
// answering; `down` leaves no process behind.
func TestFleetStopOneAPIServerThenDown(t *testing.T) {
	cmd, dir, logs := startUp(t, "--clusters", "2")
	kids := descendants(t, cmd.Process.Pid, dir)
	// Two each of etcd, kube-apiserver and kube-controller-manager, and moto.
	if len(kids) < 7 {
		t.Fatalf("found %d child processes (%v), want at least 7", len(kids), kids)
	}
	env := sandboxEnv(t, dir)
	for _, ctx := range []string{"sandbox", "sandbox-2"} {
		if out, code := kubectl(t, env, "--context", ctx, "get", "namespace", "default", "-o", "name"); code != 0 || strings.TrimSpace(out) != "namespace/default" {
			t.Fatalf("kubectl --context %s: exit %d: %s", ctx, code, out)
		}
	}
	kc, _ := os.ReadFile(filepath.Join(dir, "kubeconfig"))
	if !strings.Contains(string(kc), sandboxBin) || !strings.Contains(string(kc), "credential") {
		t.Errorf("the kubeconfig's exec plugin is not this sdc-sandbox's credential command:\n%s", kc)
	}

	st, _ := readState(dir)
	apiserver2 := st.APIServers["sandbox-2"]
	if apiserver2 == 0 || st.APIServers["sandbox"] == 0 {
		t.Fatalf("%s records apiservers %v", stateFile, st.APIServers)
	}
	out, err := exec.Command(sandboxBin, "stop-apiserver", "--dir", dir, "--cluster", "sandbox-3").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "its clusters: sandbox, sandbox-2") {
		t.Errorf("stop-apiserver of an unknown cluster: %v: %s", err, out)
	}
	if out, err := exec.Command(sandboxBin, "stop-apiserver", "--dir", dir, "--cluster", "sandbox-2").CombinedOutput(); err != nil {
		t.Fatalf("stop-apiserver: %v: %s", err, out)
	}
	if alive(apiserver2) {
		t.Errorf("the apiserver of sandbox-2 (pid %d) still runs", apiserver2)
	}
	if out, code := kubectl(t, env, "--context", "sandbox-2", "get", "namespace", "default", "--request-timeout", "5s"); code == 0 || !strings.Contains(out, "was refused") {
		t.Errorf("kubectl --context sandbox-2 after stop-apiserver: exit %d: %s; want the connection refused", code, out)
	}
	if out, code := kubectl(t, env, "--context", "sandbox", "get", "namespace", "default", "-o", "name"); code != 0 {
		t.Errorf("kubectl --context sandbox after sandbox-2's apiserver stopped: exit %d: %s", code, out)
	}

	if out, err := exec.Command(sandboxBin, "down", "--dir", dir).CombinedOutput(); err != nil {
		t.Fatalf("down: %v: %s", err, out)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("sdc-sandbox up ended with %v after down; output:\n%s", err, logs)
	}
	waitGone(t, kids)
}

// TestFleetSIGTERMLeavesNoOrphans: SIGTERM stops every process of a two-cluster sandbox.
func TestFleetSIGTERMLeavesNoOrphans(t *testing.T) {
	cmd, dir, logs := startUp(t, "--clusters", "2")
	kids := descendants(t, cmd.Process.Pid, dir)
	if len(kids) < 7 {
		t.Fatalf("found %d child processes (%v), want at least 7", len(kids), kids)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("sdc-sandbox up ended with %v after SIGTERM; output:\n%s", err, logs)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("sdc-sandbox up still runs 60s after SIGTERM; output:\n%s", logs)
	}
	waitGone(t, kids)
	if _, err := os.Stat(filepath.Join(dir, "ready")); !os.IsNotExist(err) {
		t.Errorf("DIR/ready still there after SIGTERM: %v", err)
	}
}

func TestUpRefusesABadClusterCount(t *testing.T) {
	for _, n := range []string{"0", "9"} {
		dir := filepath.Join(t.TempDir(), "sbx")
		out, err := exec.Command(sandboxBin, "up", "--dir", dir, "--clusters", n).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "--clusters "+n+" is out of range: run 1 to 8 clusters") {
			t.Errorf("up --clusters %s: %v: %s", n, err, out)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("up --clusters %s made %s before refusing", n, dir)
		}
	}
}
