package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox"
	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox/sandboxtest"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/catalog"
)

// completion is what `kubectl __complete sdc ...` answered: the candidates' names (descriptions cut off)
// and cobra's directive line.
type completion struct {
	names     []string
	lines     []string // as printed: name, then a tab and the description when there is one
	directive string
}

// complete asks kubectl for completions of `kubectl sdc args...`, the path kubectl >= 1.26 takes on TAB:
// kubectl finds kubectl_complete-sdc on PATH, which asks kubectl-sdc __complete.
func complete(t *testing.T, extraEnv []string, args ...string) completion {
	t.Helper()
	r := run(t, extraEnv, "kubectl", append([]string{"__complete", "sdc"}, args...)...)
	if r.Code != 0 {
		t.Fatalf("kubectl __complete sdc %s: %s", strings.Join(args, " "), r)
	}
	var c completion
	for _, line := range strings.Split(strings.TrimRight(r.Stdout, "\n"), "\n") {
		if strings.HasPrefix(line, ":") {
			c.directive = line
			continue
		}
		if line != "" {
			c.lines = append(c.lines, line)
			name, _, _ := strings.Cut(line, "\t")
			c.names = append(c.names, name)
		}
	}
	return c
}

// The kubeconfig of the sandbox plus a context "dead" whose cluster nothing listens on and a context
// "other-ns" that defaults to another namespace; written to a file of the test's own.
func extendedKubeconfig(t *testing.T, namespace string) string {
	t.Helper()
	sb := sandboxtest.Get(t)
	cfg, err := clientcmd.LoadFromFile(sb.KubeconfigPath)
	if err != nil {
		t.Fatal(err)
	}
	sandboxCtx := cfg.Contexts[sandbox.ContextName]
	if sandboxCtx == nil {
		t.Fatalf("the sandbox kubeconfig has no context %q", sandbox.ContextName)
	}
	cfg.Clusters["dead"] = &clientcmdapi.Cluster{Server: "https://127.0.0.1:1", InsecureSkipTLSVerify: true}
	cfg.Contexts["dead"] = &clientcmdapi.Context{Cluster: "dead", AuthInfo: sandboxCtx.AuthInfo}
	cfg.Contexts["other-ns"] = &clientcmdapi.Context{Cluster: sandboxCtx.Cluster, AuthInfo: sandboxCtx.AuthInfo, Namespace: namespace}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCompleteNamespacesFromTheCluster(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	for _, args := range [][]string{
		{"-n", ""},
		{"--namespace", ""},
		{"version", "-n", ""}, // flags after a subcommand, as kubectl requires of plugins
		{"--context", sandbox.ContextName, "-n", ""},
	} {
		c := complete(t, nil, args...)
		for _, want := range []string{"default", "kube-system", ns} {
			if !slices.Contains(c.names, want) {
				t.Errorf("kubectl __complete sdc %s: %v lacks namespace %q", strings.Join(args, " "), c.names, want)
			}
		}
		if c.directive != ":4" {
			t.Errorf("directive %q, want :4 (no file completion)", c.directive)
		}
	}
	c := complete(t, nil, "-n", ns)
	if !slices.Contains(c.names, ns) || slices.ContainsFunc(c.names, func(n string) bool { return !strings.HasPrefix(n, ns) }) {
		t.Errorf("-n %s completed to %v, want %s and only names that start with it", ns, c.names, ns)
	}
}

func TestCompleteHonoursKubectlFlags(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	kubeconfig := extendedKubeconfig(t, ns)
	tests := []struct {
		name     string
		env      []string
		args     []string
		want     []string // must all be offered
		wantNone bool     // nothing may be offered
	}{
		{"contexts of KUBECONFIG", []string{"KUBECONFIG=" + kubeconfig}, []string{"--context", ""},
			[]string{"dead", "other-ns", sandbox.ContextName}, false},
		{"contexts of --kubeconfig", nil, []string{"--kubeconfig", kubeconfig, "--context", "o"},
			[]string{"other-ns"}, false},
		{"clusters of --kubeconfig", nil, []string{"--kubeconfig", kubeconfig, "--cluster", ""},
			[]string{"dead"}, false},
		{"--context picks the cluster asked", nil, []string{"--kubeconfig", kubeconfig, "--context", "other-ns", "-n", ""},
			[]string{ns, "default"}, false},
		{"--context of an unreachable cluster", nil, []string{"--kubeconfig", kubeconfig, "--context", "dead", "-n", ""},
			nil, true},
		// The admin may list namespaces; a user impersonated with --as, who has no RBAC, may not.
		{"--as", nil, []string{"--as", "nobody@example.com", "-n", ""}, nil, true},
		{"--as with a group that may", nil, []string{"--as", "someone", "--as-group", "system:masters", "-n", ""},
			[]string{"default", ns}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := complete(t, tc.env, tc.args...)
			for _, want := range tc.want {
				if !slices.Contains(c.names, want) {
					t.Errorf("%v lacks %q", c.names, want)
				}
			}
			if tc.wantNone && len(c.names) != 0 {
				t.Errorf("offered %v, want nothing", c.names)
			}
			if c.directive != ":4" {
				t.Errorf("directive %q, want :4", c.directive)
			}
		})
	}
}

func TestCompleteSubcommands(t *testing.T) {
	t.Parallel()
	c := complete(t, nil, "")
	for _, want := range []string{"version", "completion", "manifest"} {
		if !slices.Contains(c.names, want) {
			t.Errorf("kubectl __complete sdc \"\" = %v, lacks %q", c.names, want)
		}
	}
	if c := complete(t, nil, "completion", ""); !slices.Equal(c.names, []string{"bash", "zsh", "fish", "powershell"}) {
		t.Errorf("kubectl __complete sdc completion \"\" = %v", c.names)
	}
}

// Completion's requests identify themselves like every other request of the plugin.
func TestCompletionRequestsCarryTheUserAgent(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	complete(t, nil, "-n", ns)
	sb := sandboxtest.Get(t)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if agent := namespaceListAgent(t, sb.AuditLogPath()); strings.HasPrefix(agent, "kubectl-sdc/") {
			return
		} else if time.Now().After(deadline) {
			t.Fatalf("no namespace list by kubectl-sdc/ in the audit log within 30s; last list by %q", agent)
		}
		time.Sleep(200 * time.Millisecond) // polling the audit log, which the apiserver writes on its own time
	}
}

// namespaceListAgent returns the user agent of the last namespace list in the audit log made by the
// plugin, else of the last namespace list at all.
func namespaceListAgent(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var last string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var ev struct {
			Verb      string `json:"verb"`
			UserAgent string `json:"userAgent"`
			ObjectRef *struct {
				Resource string `json:"resource"`
			} `json:"objectRef"`
		}
		if json.Unmarshal(sc.Bytes(), &ev) != nil || ev.Verb != "list" || ev.ObjectRef == nil || ev.ObjectRef.Resource != "namespaces" {
			continue
		}
		if strings.HasPrefix(ev.UserAgent, "kubectl-sdc/") {
			return ev.UserAgent
		}
		last = ev.UserAgent
	}
	return last
}

// bind's and doctor's --service-account and --deployment complete from the namespace selected by -n, else
// by the context; --stage from the catalog, without the stages already given.
func TestCompleteBindAndDoctorFlags(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	ctx := context.Background()
	client := kube(t)
	const roleARN = "arn:aws:iam::123456789012:role/sdc-sandbox-e2e-sdc"
	for _, sa := range []*corev1.ServiceAccount{
		{ObjectMeta: metav1.ObjectMeta{Name: "sdc", Annotations: map[string]string{"eks.amazonaws.com/role-arn": roleARN}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "sdc-batch"}},
	} {
		if _, err := client.CoreV1().ServiceAccounts(ns).Create(ctx, sa, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	labels := map[string]string{"app": "datacollector"}
	deploy := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "datacollector"},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "sdc", Image: "streamsets/datacollector:5.11.0"}}},
			},
		},
	}
	if _, err := client.AppsV1().Deployments(ns).Create(ctx, deploy, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	stages := cat.StageNames()
	kubeconfig := extendedKubeconfig(t, ns)

	tests := []struct {
		name      string
		env       []string
		args      []string
		want      []string // offered
		wantLines []string // printed exactly so (name and description)
		notWant   []string
	}{
		{"service accounts of -n", nil, []string{"-n", ns, "--service-account", ""},
			[]string{"sdc", "sdc-batch"}, []string{"sdc\trole " + roleARN}, nil},
		{"service accounts by prefix", nil, []string{"-n", ns, "--service-account", "sdc-"},
			[]string{"sdc-batch"}, nil, []string{"sdc"}},
		{"service accounts of the context's namespace", []string{"KUBECONFIG=" + kubeconfig},
			[]string{"--context", "other-ns", "--service-account", ""}, []string{"sdc", "sdc-batch"}, nil, nil},
		{"service accounts of another namespace", nil, []string{"-n", "default", "--service-account", ""},
			nil, nil, []string{"sdc", "sdc-batch"}},
		{"deployments", nil, []string{"-n", ns, "--deployment", ""},
			[]string{"datacollector"}, []string{"datacollector\tstreamsets/datacollector:5.11.0"}, nil},
		{"stages", nil, []string{"--stage", ""}, stages, nil, nil},
		{"stages not given yet", nil, []string{"--stage", stages[0], "--stage", ""}, stages[1:], nil, stages[:1]},
	}
	for _, command := range []string{"bind", "doctor"} {
		for _, tc := range tests {
			t.Run(command+" "+tc.name, func(t *testing.T) {
				t.Parallel()
				args := append([]string{command}, tc.args...)
				c := complete(t, tc.env, args...)
				for _, want := range tc.want {
					if !slices.Contains(c.names, want) {
						t.Errorf("kubectl __complete sdc %s: %v lacks %q", strings.Join(args, " "), c.names, want)
					}
				}
				for _, want := range tc.wantLines {
					if !slices.Contains(c.lines, want) {
						t.Errorf("kubectl __complete sdc %s: %q lacks the line %q", strings.Join(args, " "), c.lines, want)
					}
				}
				for _, not := range tc.notWant {
					if slices.Contains(c.names, not) {
						t.Errorf("kubectl __complete sdc %s: %v offers %q", strings.Join(args, " "), c.names, not)
					}
				}
				if c.directive != ":4" {
					t.Errorf("directive %q, want :4", c.directive)
				}
			})
		}
	}
}
