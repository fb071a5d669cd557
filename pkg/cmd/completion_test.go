package cmd

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/catalog"
)

// A kubeconfig with two clusters; "dead" points at a port nothing listens on, so requests fail at once.
const completionKubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: prod-eks
  cluster: {server: "https://127.0.0.1:1"}
- name: dead
  cluster: {server: "https://127.0.0.1:2"}
contexts:
- name: prod
  context: {cluster: prod-eks, user: admin, namespace: sdc}
- name: prod-readonly
  context: {cluster: prod-eks, user: viewer}
- name: dead
  context: {cluster: dead, user: admin}
users:
- name: admin
  user: {token: a}
- name: viewer
  user: {token: b}
current-context: dead
`

func writeCompletionKubeconfig(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, []byte(completionKubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// runRootForCompletion executes the root command in-process, the way main does, and returns its stdout and exit code.
func runRootForCompletion(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	streams, _, out, errOut := genericiooptions.NewTestIOStreams()
	code := Execute(streams, args)
	return out.String(), errOut.String(), code
}

func TestFlagCompletionFromKubeconfig(t *testing.T) {
	t.Parallel()
	kubeconfig := writeCompletionKubeconfig(t)
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"contexts", []string{"--context", ""}, []string{
			"dead\tcluster dead", "prod\tcluster prod-eks, namespace sdc", "prod-readonly\tcluster prod-eks", ":4"}},
		{"contexts by prefix", []string{"--context", "prod-"}, []string{"prod-readonly\tcluster prod-eks", ":4"}},
		{"contexts after a subcommand", []string{"version", "--context", "pr"}, []string{
			"prod\tcluster prod-eks, namespace sdc", "prod-readonly\tcluster prod-eks", ":4"}},
		{"clusters", []string{"--cluster", ""}, []string{
			"dead\thttps://127.0.0.1:2", "prod-eks\thttps://127.0.0.1:1", ":4"}},
		{"users", []string{"--user", "v"}, []string{"viewer", ":4"}},
		{"no match", []string{"--context", "staging"}, []string{":4"}},
		// Nothing listens on the cluster: the answer is empty, and it comes back rather than hanging.
		{"namespaces of an unreachable cluster", []string{"--context", "dead", "-n", ""}, []string{":4"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{cobra.ShellCompRequestCmd, "--kubeconfig", kubeconfig}, tc.args...)
			out, errOut, code := runRootForCompletion(t, args...)
			if code != 0 {
				t.Fatalf("exit code %d, stderr: %s", code, errOut)
			}
			got := strings.Split(strings.TrimSpace(out), "\n")
			if !slices.Equal(got, tc.want) {
				t.Errorf("kubectl-sdc %s\n got: %q\nwant: %q", strings.Join(args, " "), got, tc.want)
			}
		})
	}
}

func TestCompletionScripts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args    []string
		want    string // a line only that shell's script carries, naming the binary
		notWant string
	}{
		{[]string{"completion", "bash"}, "# bash completion V2 for kubectl-sdc", "__completeNoDesc"},
		{[]string{"completion", "bash", "--no-descriptions"}, "__completeNoDesc", ""},
		{[]string{"completion", "zsh"}, "#compdef kubectl-sdc", ""},
		{[]string{"completion", "fish"}, "complete -c kubectl-sdc", ""},
		{[]string{"completion", "powershell"}, "Register-ArgumentCompleter", ""},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			t.Parallel()
			out, errOut, code := runRootForCompletion(t, tc.args...)
			if code != 0 {
				t.Fatalf("exit code %d, stderr: %s", code, errOut)
			}
			if !strings.Contains(out, tc.want) {
				t.Errorf("output lacks %q; first lines:\n%s", tc.want, completionHead(out, 5))
			}
			if tc.notWant != "" && strings.Contains(out, tc.notWant) {
				t.Errorf("output has %q, which it should not", tc.notWant)
			}
		})
	}
}

func TestCompletionCommandErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"completion", "tcsh"}, `shell "tcsh" is not supported`},
		{[]string{"completion"}, "exactly one shell"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			t.Parallel()
			_, errOut, code := runRootForCompletion(t, tc.args...)
			if code != ExitFailure || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit code %d, stderr %q; want %d and %q", code, errOut, ExitFailure, tc.want)
			}
		})
	}
}

func TestCompletionHelpNamesThePlugin(t *testing.T) {
	t.Parallel()
	out, _, code := runRootForCompletion(t, "completion", "--help")
	if code != 0 {
		t.Fatalf("exit code %d", code)
	}
	for _, want := range []string{"kubectl sdc completion bash|zsh|fish|powershell", "kubectl_complete-sdc", "source <(kubectl sdc completion bash)"} {
		if !strings.Contains(out, want) {
			t.Errorf("completion --help lacks %q", want)
		}
	}
}

func TestGlobalFlagsHaveCompletions(t *testing.T) {
	t.Parallel()
	streams, _, _, _ := genericiooptions.NewTestIOStreams()
	root := NewRootCmd(streams)
	for _, flag := range []string{"namespace", "context", "cluster", "user"} {
		if _, ok := root.GetFlagCompletionFunc(flag); !ok {
			t.Errorf("--%s has no completion function", flag)
		}
	}
}

func TestWithPrefix(t *testing.T) {
	t.Parallel()
	choices := []choice{{name: "s3"}, {name: "sqs", desc: "Amazon SQS consumer"}, {name: "kinesis"}, {name: "s3-executor"}}
	tests := []struct {
		name       string
		toComplete string
		skip       map[string]bool
		want       []string
	}{
		{"all, sorted", "", nil, []string{"kinesis", "s3", "s3-executor", "sqs\tAmazon SQS consumer"}},
		{"prefix", "s3", nil, []string{"s3", "s3-executor"}},
		{"already given", "s", map[string]bool{"s3": true}, []string{"s3-executor", "sqs\tAmazon SQS consumer"}},
		{"none", "x", nil, []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := withPrefix(slices.Clone(choices), tc.toComplete, tc.skip)
			if !slices.Equal(got, tc.want) {
				t.Errorf("withPrefix(%q) = %q, want %q", tc.toComplete, got, tc.want)
			}
		})
	}
}

func TestAlreadyGiven(t *testing.T) {
	t.Parallel()
	c := &cobra.Command{Use: "bind"}
	c.Flags().StringArray("stage", nil, "")
	c.Flags().String("deployment", "", "")
	if err := c.ParseFlags([]string{"--stage", "s3", "--stage=sqs", "--deployment", "sdc"}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		flag string
		want []string
	}{
		{"stage", []string{"s3", "sqs"}},
		{"deployment", []string{"sdc"}},
		{"missing", nil},
	}
	for _, tc := range tests {
		got := alreadyGiven(c, tc.flag)
		if len(got) != len(tc.want) {
			t.Errorf("alreadyGiven(%s) = %v, want %v", tc.flag, got, tc.want)
		}
		for _, v := range tc.want {
			if !got[v] {
				t.Errorf("alreadyGiven(%s) lacks %q: %v", tc.flag, v, got)
			}
		}
	}
}

func completionHead(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}

func TestCompleteStagesFromTheCatalog(t *testing.T) {
	t.Parallel()
	cat, err := catalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	all := cat.StageNames()
	if len(all) < 2 {
		t.Fatalf("the built-in catalog has %d stages; this test needs at least two", len(all))
	}
	custom := filepath.Join(t.TempDir(), "plugins.yaml")
	tests := []struct {
		name       string
		flags      []string
		toComplete string
		want       []string
	}{
		{"every stage, sorted", nil, "", sortedCopy(all)},
		{"by prefix", nil, all[0][:1], sortedCopy(slices.DeleteFunc(slices.Clone(all), func(s string) bool { return !strings.HasPrefix(s, all[0][:1]) }))},
		{"without those given", []string{"--stage", all[0], "--stage", all[1]}, "", sortedCopy(all[2:])},
		{"a catalog that cannot be read offers nothing", []string{"--catalog", custom}, "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := &cobra.Command{Use: "bind"}
			c.Flags().StringArray("stage", nil, "")
			c.Flags().String("catalog", "", "")
			if err := c.ParseFlags(tc.flags); err != nil {
				t.Fatal(err)
			}
			got, directive := completeStages(&Globals{})(c, nil, tc.toComplete)
			names := make([]string, 0, len(got))
			for _, g := range got {
				name, desc, _ := strings.Cut(g, "\t")
				names = append(names, name)
				if st, ok := cat.Stage(name); ok && desc != st.Description {
					t.Errorf("%s described as %q, want the catalog's %q", name, desc, st.Description)
				}
			}
			if !slices.Equal(names, tc.want) && !(len(names) == 0 && len(tc.want) == 0) {
				t.Errorf("got %v, want %v", names, tc.want)
			}
			if directive != cobra.ShellCompDirectiveNoFileComp {
				t.Errorf("directive %v, want NoFileComp", directive)
			}
		})
	}
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}
