package cmd

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// fleetKubeconfig has three contexts that cannot be checked, each its own way: an API server that refuses
// connections, one that accepts them and never answers (at blackhole), and an exec credential plugin naming
// an AWS profile that does not exist.
func fleetKubeconfig(t *testing.T, blackhole string) string {
	t.Helper()
	kc := `apiVersion: v1
kind: Config
clusters:
- name: refused
  cluster: {server: "https://127.0.0.1:1"}
- name: blackhole
  cluster: {server: "https://` + blackhole + `"}
contexts:
- name: down
  context: {cluster: refused, user: token, namespace: ns1}
- name: silent
  context: {cluster: blackhole, user: token, namespace: ns1}
- name: prod-eu
  context: {cluster: refused, user: exec, namespace: ns1}
current-context: down
users:
- name: token
  user: {token: t}
- name: exec
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: aws
      args: [--region, eu-west-1, eks, get-token, --cluster-name, prod]
      env: [{name: AWS_PROFILE, value: no-such-profile}]
      interactiveMode: Never
`
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// blackholeServer accepts connections and never answers, until the test ends.
func blackholeServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

func TestDoctorFleetBadInputExitsTwo(t *testing.T) {
	t.Parallel()
	kc := fleetKubeconfig(t, "127.0.0.1:2")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--contexts", "down", "--context", "down"}, `--context "down" picks one kube context and --contexts several: use one or the other`},
		{[]string{"--all-contexts", "--context", "down"}, `--context "down" picks one kube context and --all-contexts several`},
		{[]string{"--contexts", "prod-*,staging"}, `--contexts "staging": matches no context of the kubeconfig; its contexts are: down, prod-eu, silent`},
		{[]string{"--contexts", "prod-["}, `--contexts "prod-[": not a valid shell pattern`},
		{[]string{"--contexts", ""}, "--contexts: give context names or shell patterns"},
		{[]string{"--contexts", "down", "--all-contexts"}, "use one or the other"},
		{[]string{"--parallel", "2"}, "--parallel applies to several contexts: add --contexts NAMES or --all-contexts"},
		{[]string{"--ignore-unreachable"}, "--ignore-unreachable applies to several contexts"},
		{[]string{"--all-contexts", "--parallel", "0"}, "--parallel 0: give at least 1"},
		{[]string{"--all-contexts", "--eks-cluster", "prod"}, `--eks-cluster "prod" names one EKS cluster and --all-contexts several`},
		{[]string{"--all-contexts", "--cluster", "refused"}, `--cluster "refused" would put one kubeconfig cluster under every context`},
		{[]string{"--all-contexts", "--user", "token"}, `--user "token"`},
		{[]string{"--all-contexts", "--server", "https://x"}, `--server "https://x"`},
		{[]string{"--all-contexts", "--request-timeout", "soon"}, `--request-timeout "soon"`},
		{[]string{"--all-contexts", "-n", "Not_A_Namespace"}, `--namespace "Not_A_Namespace"`},
		{[]string{"--all-contexts", "-A", "--deployment", "sdc"}, "--deployment names one Deployment"},
	}
	for _, c := range cases {
		streams, _, out, errOut := genericiooptions.NewTestIOStreams()
		code := Execute(streams, append([]string{"doctor", "--kubeconfig", kc}, c.args...))
		if code != ExitCannotRun {
			t.Errorf("doctor %s: exit %d, want %d (stderr %s)", strings.Join(c.args, " "), code, ExitCannotRun, errOut)
		}
		if !strings.Contains(errOut.String(), c.want) {
			t.Errorf("doctor %s: stderr %q lacks %q", strings.Join(c.args, " "), errOut, c.want)
		}
		if out.Len() != 0 {
			t.Errorf("doctor %s: printed a report on bad input: %s", strings.Join(c.args, " "), out)
		}
	}
}

// Contexts that cannot be checked are each that context's error, with its reason, and the run ends: no
// crash, no hang past --request-timeout. The exit code is 1, or 0 with --ignore-unreachable.
func TestDoctorFleetOfUnreachableContexts(t *testing.T) {
	t.Parallel()
	kc := fleetKubeconfig(t, blackholeServer(t))
	args := []string{"doctor", "--kubeconfig", kc, "--all-contexts", "--request-timeout", "500ms", "-o", "json", "-v"}
	streams, _, out, errOut := genericiooptions.NewTestIOStreams()
	if code := Execute(streams, args); code != ExitFailure {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, ExitFailure, out, errOut)
	}
	var got struct {
		Contexts []struct {
			Context, Cluster, Account, Region, Error string
			Checks, Targets                          []json.RawMessage
		} `json:"contexts"`
		Summary struct{ Pass, Warn, Fail, Skip, Errors int } `json:"summary"`
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(got.Contexts) != 3 || got.Summary.Errors != 3 || got.Summary.Pass+got.Summary.Fail != 0 {
		t.Fatalf("%s", out)
	}
	want := map[string][]string{
		"down":    {`the API server of kube context "down" does not answer`, "connection refused", "(fix: kubectl --context down cluster-info"},
		"prod-eu": {`kube context "prod-eu", AWS profile no-such-profile (from the context's exec plugin (AWS_PROFILE in its env))`},
		"silent":  {`kube context "silent" did not finish within 500ms (--request-timeout 500ms)`},
	}
	for _, c := range got.Contexts {
		for _, w := range want[c.Context] {
			if !strings.Contains(c.Error, w) {
				t.Errorf("%s: error %q lacks %q", c.Context, c.Error, w)
			}
		}
		if c.Checks == nil || c.Targets == nil {
			t.Errorf("%s: checks and targets must be [] for scripts, got %s", c.Context, out)
		}
	}
	if got.Contexts[1].Region != "eu-west-1" {
		t.Errorf("prod-eu: region %q, want the exec plugin's eu-west-1", got.Contexts[1].Region)
	}
	// -v with -o json says on standard error which AWS profile each context was read with.
	if !strings.Contains(errOut.String(), "note: context prod-eu: AWS profile no-such-profile (from the context's exec plugin (AWS_PROFILE in its env)); region eu-west-1 (from the context's exec plugin (--region in its args))") {
		t.Errorf("stderr: %s", errOut)
	}

	streams, _, out, errOut = genericiooptions.NewTestIOStreams()
	if code := Execute(streams, []string{"doctor", "--kubeconfig", kc, "--contexts", "down,prod-*", "--ignore-unreachable", "--parallel", "1"}); code != ExitOK {
		t.Fatalf("--ignore-unreachable: exit %d\n%s\n%s", code, out, errOut)
	}
	text := out.String()
	for _, w := range []string{"=== Context down", "✗ error  API server does not answer", "=== Context prod-eu · eu-west-1", "✗ error  cannot load its configuration",
		"CONTEXT   CLUSTER   ACCOUNT   REGION", "Fleet: 2 contexts, 2 could not be examined; 0 pass, 0 warn, 0 fail, 0 skip."} {
		if !strings.Contains(text, w) {
			t.Errorf("text output lacks %q:\n%s", w, text)
		}
	}
	if strings.Index(text, "=== Context down") > strings.Index(text, "=== Context prod-eu") {
		t.Errorf("contexts out of the --contexts order:\n%s", text)
	}

	streams, _, out, _ = genericiooptions.NewTestIOStreams()
	Execute(streams, []string{"doctor", "--kubeconfig", kc, "--contexts", "down", "-o", "yaml"})
	for _, w := range []string{"contexts:\n- account: \"\"\n  checks: []\n  cluster: \"\"\n  context: down\n  error: ", "summary:\n  errors: 1\n"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("-o yaml lacks %q:\n%s", w, out)
		}
	}
}

func TestContextsCompletion(t *testing.T) {
	t.Parallel()
	kc := fleetKubeconfig(t, "127.0.0.1:2")
	streams, _, out, _ := genericiooptions.NewTestIOStreams()
	Execute(streams, []string{"__complete", "doctor", "--kubeconfig", kc, "--contexts", "down,p"})
	if !strings.Contains(out.String(), "down,prod-eu\t") || strings.Contains(out.String(), "silent") {
		t.Errorf("completion of --contexts down,p: %s", out)
	}
	// No file names, and no space after a name: a comma may follow.
	if !strings.Contains(out.String(), "\n:6\n") {
		t.Errorf("completion directive: %s", out)
	}
}

// list takes doctor's fleet flags, refused the same way, in one line, before anything is read; list's bad
// input exits 1.
func TestListFleetBadInput(t *testing.T) {
	t.Parallel()
	kc := fleetKubeconfig(t, "127.0.0.1:2")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--contexts", "down", "--context", "down"}, `--context "down" picks one kube context and --contexts several: use one or the other`},
		{[]string{"--contexts", "prod-*,staging"}, `--contexts "staging": matches no context of the kubeconfig; its contexts are: down, prod-eu, silent`},
		{[]string{"--contexts", ""}, "--contexts: give context names or shell patterns"},
		{[]string{"--contexts", "down", "--all-contexts"}, "use one or the other"},
		{[]string{"--parallel", "2"}, "--parallel applies to several contexts: add --contexts NAMES or --all-contexts"},
		{[]string{"--ignore-unreachable"}, "--ignore-unreachable applies to several contexts"},
		{[]string{"--all-contexts", "--parallel", "0"}, "--parallel 0: give at least 1"},
		{[]string{"--all-contexts", "--eks-cluster", "prod"}, `--eks-cluster "prod" names one EKS cluster and --all-contexts several`},
		{[]string{"--all-contexts", "--cluster", "refused"}, `--cluster "refused" would put one kubeconfig cluster under every context`},
		{[]string{"--all-contexts", "-n", "Not_A_Namespace"}, `--namespace "Not_A_Namespace"`},
		{[]string{"--all-contexts", "-o", "json", "--no-headers"}, "--no-headers is for the table"},
	}
	for _, c := range cases {
		streams, _, out, errOut := genericiooptions.NewTestIOStreams()
		code := Execute(streams, append([]string{"list", "--kubeconfig", kc}, c.args...))
		if code != ExitFailure {
			t.Errorf("list %s: exit %d, want %d (stderr %s)", strings.Join(c.args, " "), code, ExitFailure, errOut)
		}
		if !strings.Contains(errOut.String(), c.want) || strings.Count(strings.TrimSpace(errOut.String()), "\n") > 0 {
			t.Errorf("list %s: stderr %q, want one line with %q", strings.Join(c.args, " "), errOut, c.want)
		}
		if out.Len() != 0 {
			t.Errorf("list %s: printed a list on bad input: %s", strings.Join(c.args, " "), out)
		}
	}
}

// A context list cannot look at is that context's error, as doctor's: the run ends with every context
// reported, exit 1, or 0 with --ignore-unreachable; -o json|yaml has every key, items [] for scripts.
func TestListFleetOfUnreachableContexts(t *testing.T) {
	t.Parallel()
	kc := fleetKubeconfig(t, blackholeServer(t))
	streams, _, out, errOut := genericiooptions.NewTestIOStreams()
	if code := Execute(streams, []string{"list", "--kubeconfig", kc, "--all-contexts", "-A", "--request-timeout", "500ms", "-o", "json"}); code != ExitFailure {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, ExitFailure, out, errOut)
	}
	var got struct {
		Contexts []struct {
			Context, Cluster, Account, Region, Error string
			Items                                    []json.RawMessage
		} `json:"contexts"`
		Summary map[string]int `json:"summary"`
	}
	dec := json.NewDecoder(strings.NewReader(out.String()))
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(got.Contexts) != 3 || !reflect.DeepEqual(got.Summary, map[string]int{"items": 0, "ok": 0, "warn": 0, "fail": 0, "errors": 3}) {
		t.Fatalf("%s", out)
	}
	want := map[string]string{
		"down":    `the API server of kube context "down" does not answer`,
		"prod-eu": `kube context "prod-eu", AWS profile no-such-profile (from the context's exec plugin (AWS_PROFILE in its env))`,
		"silent":  `kube context "silent" did not finish within 500ms (--request-timeout 500ms)`,
	}
	for _, c := range got.Contexts {
		if !strings.Contains(c.Error, want[c.Context]) || c.Items == nil || len(c.Items) != 0 {
			t.Errorf("%s: error %q (want %q), items %v (want [])", c.Context, c.Error, want[c.Context], c.Items)
		}
	}
	if got.Contexts[1].Region != "eu-west-1" {
		t.Errorf("prod-eu: region %q, want the exec plugin's eu-west-1", got.Contexts[1].Region)
	}

	streams, _, out, errOut = genericiooptions.NewTestIOStreams()
	if code := Execute(streams, []string{"list", "--kubeconfig", kc, "--contexts", "down,prod-*", "--ignore-unreachable", "--parallel", "1"}); code != ExitOK {
		t.Fatalf("--ignore-unreachable: exit %d\n%s\n%s", code, out, errOut)
	}
	text := out.String()
	for _, w := range []string{"=== Context down\n✗ error  API server does not answer", "fix: kubectl --context down cluster-info",
		"=== Context prod-eu · eu-west-1\n✗ error  cannot load its configuration", "Fleet: 2 contexts, 2 could not be listed; 0 bindings: 0 ok, 0 warn, 0 fail."} {
		if !strings.Contains(text, w) {
			t.Errorf("text output lacks %q:\n%s", w, text)
		}
	}
	if strings.Index(text, "=== Context down") > strings.Index(text, "=== Context prod-eu") {
		t.Errorf("contexts out of the --contexts order:\n%s", text)
	}

	// --orphans over a fleet: the same entries, and a summary without statuses.
	streams, _, out, _ = genericiooptions.NewTestIOStreams()
	if code := Execute(streams, []string{"list", "--kubeconfig", kc, "--contexts", "down", "--orphans", "-o", "yaml"}); code != ExitFailure {
		t.Errorf("--orphans over an unreachable context: exit %d", code)
	}
	for _, w := range []string{"contexts:\n- account: \"\"\n  cluster: \"\"\n  context: down\n  error: ", "  items: []\n", "summary:\n  errors: 1\n  items: 0\n"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("--orphans -o yaml lacks %q:\n%s", w, out)
		}
	}
}

// A single-context list of a context it cannot look at is an error (exit 1), not an empty list: an
// unreachable API server must never read as "No bindings found", nor make every role an orphan.
func TestListOfAnUnreachableContextIsAnError(t *testing.T) {
	t.Parallel()
	kc := fleetKubeconfig(t, "127.0.0.1:2")
	for _, args := range [][]string{{"-A"}, {"-A", "--orphans"}, {"-n", "ns1", "-o", "json"}} {
		streams, _, out, errOut := genericiooptions.NewTestIOStreams()
		code := Execute(streams, append([]string{"list", "--kubeconfig", kc, "--context", "down", "--region", "us-west-2"}, args...))
		if code != ExitFailure || out.Len() != 0 || !strings.Contains(errOut.String(), `kube context "down"`) {
			t.Errorf("list %v: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
}
