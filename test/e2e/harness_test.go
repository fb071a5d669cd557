// Package e2e drives the built kubectl-sdc binary the way a user does: `kubectl sdc ...` through the real
// kubectl on PATH, against one sandbox (real kube-apiserver, pod identity webhook, AWS front over moto).
package e2e

import (
	"os"
	"testing"

	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox"
	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox/sandboxtest"
	"github.com/kubectl-sdc/kubectl-sdc/test/harness"
)

// The version facts the e2e build is stamped with, so tests can see the Makefile's mechanism work.
const (
	stampVersion = "v9.9.9-e2e"
	stampCommit  = "e2ecommit"
	stampDate    = "2026-01-02T03:04:05Z"
)

func TestMain(m *testing.M) {
	os.Exit(harness.Main(m, sandbox.Options{}, harness.Stamp{Version: stampVersion, Commit: stampCommit, Date: stampDate}))
}

// result is what one command printed and how it ended.
type result = harness.Result

// kubectl runs the real kubectl with args against the sandbox.
func kubectl(t *testing.T, args ...string) result {
	t.Helper()
	return harness.Run(t, "", nil, "kubectl", args...)
}

// run runs name with args in the sandbox environment plus extraEnv.
func run(t *testing.T, extraEnv []string, name string, args ...string) result {
	t.Helper()
	return harness.Run(t, "", extraEnv, name, args...)
}

// runInput is run with stdin.
func runInput(t *testing.T, stdin string, extraEnv []string, name string, args ...string) result {
	t.Helper()
	return harness.Run(t, stdin, extraEnv, name, args...)
}

// newNamespace creates a namespace with a unique name for one test and deletes it afterwards.
func newNamespace(t *testing.T) string {
	t.Helper()
	return harness.NewNamespace(t, kube(t))
}

// kube is an admin client of the sandbox, for checking outcomes through the API.
func kube(t *testing.T) kubernetes.Interface {
	t.Helper()
	c, err := kubernetes.NewForConfig(sandboxtest.Get(t).RESTConfig)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
