// Package harness is what the end-to-end test packages share: it builds the plugin once per package, starts
// the package's sandbox (one cluster or a fleet), and drives the built kubectl-sdc the way a user does,
// `kubectl sdc ...` through the real kubectl on PATH (the aws CLI as a real client too), in the sandbox's
// environment and nothing of the developer's.
package harness

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

// Stamp is the version facts the plugin is built with (-ldflags -X), so tests can see the mechanism work.
type Stamp struct {
	Version, Commit, Date string
}

// pluginDir holds kubectl-sdc and kubectl_complete-sdc; it goes first on PATH.
var pluginDir string

// PluginDir is where Main built the plugin.
func PluginDir() string { return pluginDir }

// Main builds the plugin, starts the package's sandbox with opts (sandboxtest.RunWith), runs the tests,
// stops the sandbox and removes the build; it returns the exit code. Call it from TestMain:
// os.Exit(harness.Main(m, sandbox.Options{Clusters: 2}, stamp)).
func Main(m *testing.M, opts sandbox.Options, stamp Stamp) int {
	code := 1
	if err := build(stamp); err == nil {
		code = sandboxtest.RunWith(m, opts)
	} else {
		fmt.Fprintf(os.Stderr, "e2e: building the plugin: %v\n", err)
	}
	if pluginDir != "" {
		_ = os.RemoveAll(pluginDir)
	}
	return code
}

func build(stamp Stamp) error {
	root, err := sandboxtest.ModuleRoot()
	if err != nil {
		return err
	}
	pluginDir, err = os.MkdirTemp("", "kubectl-sdc-e2e-bin-")
	if err != nil {
		return err
	}
	const pkg = "github.com/kubectl-sdc/kubectl-sdc/pkg/version"
	ldflags := fmt.Sprintf("-X %s.Version=%s -X %s.Commit=%s -X %s.Date=%s", pkg, stamp.Version, pkg, stamp.Commit, pkg, stamp.Date)
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

// Result is what one command printed and how it ended.
type Result struct {
	Stdout, Stderr string
	Code           int
}

func (r Result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout\n%s--- stderr\n%s", r.Code, r.Stdout, r.Stderr)
}

// Env is the process environment commands run in: the caller's, minus anything that could point AWS or
// kubectl elsewhere or give the plugin defaults (KUBECTL_SDC_*: a test that wants one passes it in extra),
// plus the sandbox's, with the plugin first on PATH, then extra (which wins).
func Env(sb *sandbox.Sandbox, extra ...string) []string {
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

// Run runs name with args and stdin in the package sandbox's environment plus extraEnv. For the aws CLI it
// adds --endpoint-url.
func Run(t testing.TB, stdin string, extraEnv []string, name string, args ...string) Result {
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
	cmd.Env = Env(sb, extraEnv...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := Result{Stdout: stdout.String(), Stderr: stderr.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.Code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running %s %s: %v", name, strings.Join(args, " "), err)
	}
	return r
}

var nsCounter atomic.Int64

// NewNamespace creates a namespace with a unique name through client and deletes it when the test ends.
func NewNamespace(t testing.TB, client kubernetes.Interface) string {
	t.Helper()
	name := fmt.Sprintf("e2e-%d-%d", time.Now().UnixNano()%1_000_000, nsCounter.Add(1))
	CreateNamespace(t, client, name)
	return name
}

// CreateNamespace creates the namespace name through client and deletes it when the test ends: the same
// name in several clusters of a fleet.
func CreateNamespace(t testing.TB, client kubernetes.Interface, name string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := client.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating namespace %s: %v", name, err)
	}
	t.Cleanup(func() {
		_ = client.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
}

// ListItem is one binding of `list -o json`, decoded strictly: a renamed or extra field fails.
type ListItem struct {
	Namespace      string   `json:"namespace"`
	ServiceAccount string   `json:"serviceAccount"`
	Mechanism      string   `json:"mechanism"`
	RoleARN        string   `json:"roleArn"`
	TargetRoleARN  string   `json:"targetRoleArn,omitempty"`
	SubjectPattern string   `json:"subjectPattern,omitempty"`
	Stages         []string `json:"stages"`
	Deployments    []string `json:"deployments"`
	Pods           struct {
		Total        int `json:"total"`
		WithIdentity int `json:"withIdentity"`
	} `json:"pods"`
	Status   string   `json:"status"`
	Problems []string `json:"problems"`
}
