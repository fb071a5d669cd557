// Package e2e drives the built kubectl-sdc binary the way a user does: `kubectl sdc ...` through the real
// kubectl on PATH, against one sandbox (real kube-apiserver, pod identity webhook, AWS front over moto).
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox"
	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox/sandboxtest"
)

// The version facts the e2e build is stamped with, so tests can see the Makefile's mechanism work.
const (
	stampVersion = "v9.9.9-e2e"
	stampCommit  = "e2ecommit"
	stampDate    = "2026-01-02T03:04:05Z"
)

// pluginDir holds kubectl-sdc and kubectl_complete-sdc; it goes first on PATH.
var pluginDir string

func TestMain(m *testing.M) {
	err := buildPlugin()
	code := 1
	if err == nil {
		code = sandboxtest.Run(m)
	} else {
		fmt.Fprintf(os.Stderr, "e2e: building the plugin: %v\n", err)
	}
	if pluginDir != "" {
		_ = os.RemoveAll(pluginDir)
	}
	os.Exit(code)
}

func buildPlugin() error {
	root, err := sandboxtest.ModuleRoot()
	if err != nil {
		return err
	}
	pluginDir, err = os.MkdirTemp("", "kubectl-sdc-e2e-bin-")
	if err != nil {
		return err
	}
	const pkg = "github.com/kubectl-sdc/kubectl-sdc/pkg/version"
	ldflags := fmt.Sprintf("-X %s.Version=%s -X %s.Commit=%s -X %s.Date=%s", pkg, stampVersion, pkg, stampCommit, pkg, stampDate)
	cmd := exec.Command("go", "build", "-ldflags", ldflags, "-o", filepath.Join(pluginDir, "kubectl-sdc"), "./cmd/kubectl-sdc")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	helper := filepath.Join(root, "hack", "kubectl_complete-sdc")
	if b, err := os.ReadFile(helper); err == nil {
		if err := os.WriteFile(filepath.Join(pluginDir, "kubectl_complete-sdc"), b, 0o755); err != nil {
			return err
		}
	}
	return nil
}

// result is what one command printed and how it ended.
type result struct {
	Stdout, Stderr string
	Code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout\n%s--- stderr\n%s", r.Code, r.Stdout, r.Stderr)
}

// env is the process environment commands run in: the caller's, minus anything that could point AWS or
// kubectl elsewhere or give the plugin defaults (KUBECTL_SDC_*: a test that wants one passes it in extra),
// plus the sandbox's, with the plugin first on PATH.
func env(sb *sandbox.Sandbox, extra ...string) []string {
	drop := map[string]bool{"KUBECONFIG": true, "NO_COLOR": true}
	for _, k := range sandbox.UnsetEnv {
		drop[k] = true
	}
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if drop[k] || strings.HasPrefix(k, "AWS_") || strings.HasPrefix(k, "KUBECTL_SDC_") || k == "PATH" {
			continue
		}
		out = append(out, kv)
	}
	// The plugin first; bin/ last, for a kubectl built by `make sandbox-bin` on machines without one.
	path := pluginDir + string(os.PathListSeparator) + os.Getenv("PATH")
	if bin, err := sandboxtest.BinDir(); err == nil {
		path += string(os.PathListSeparator) + bin
	}
	out = append(out, "PATH="+path)
	out = append(out, sb.Env()...)
	return append(out, extra...)
}

// kubectl runs the real kubectl with args against the sandbox.
func kubectl(t *testing.T, args ...string) result {
	t.Helper()
	return run(t, nil, "kubectl", args...)
}

// run runs name with args in the sandbox environment plus extraEnv.
func run(t *testing.T, extraEnv []string, name string, args ...string) result {
	t.Helper()
	return runInput(t, "", extraEnv, name, args...)
}

// runInput is run with stdin.
func runInput(t *testing.T, stdin string, extraEnv []string, name string, args ...string) result {
	t.Helper()
	sb := sandboxtest.Get(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if name == "aws" {
		// Explicitly as well as through AWS_ENDPOINT_URL: aws CLI versions before 2.13 (Debian's awscli, say)
		// ignore the variable and would talk to real AWS.
		args = append([]string{"--endpoint-url", sb.AWSEndpoint}, args...)
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env(sb, extraEnv...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{Stdout: stdout.String(), Stderr: stderr.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.Code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running %s %s: %v", name, strings.Join(args, " "), err)
	}
	return r
}

var nsCounter atomic.Int64

// newNamespace creates a namespace with a unique name for one test and deletes it afterwards.
func newNamespace(t *testing.T) string {
	t.Helper()
	name := fmt.Sprintf("e2e-%d-%d", time.Now().UnixNano()%1_000_000, nsCounter.Add(1))
	client := kube(t)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := client.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating namespace %s: %v", name, err)
	}
	t.Cleanup(func() {
		_ = client.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	return name
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
