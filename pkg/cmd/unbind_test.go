package cmd

import (
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// Bad input is a one-line error naming the flag, exit 1, before anything is read: the kubeconfig's only
// cluster listens nowhere, so a read would fail with another error.
func TestUnbindAndListBadInput(t *testing.T) {
	t.Parallel()
	kubeconfig := writeCompletionKubeconfig(t)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"unbind", "-n", "Bad_NS"}, "--namespace"},
		{[]string{"unbind", "--service-account", "no/slash"}, "--service-account"},
		{[]string{"unbind", "--role-name", "has space"}, "--role-name"},
		{[]string{"unbind", "--role-name", strings.Repeat("r", 65)}, "--role-name"},
		{[]string{"unbind", "--exit-code"}, "--exit-code needs --dry-run"},
		{[]string{"unbind", "--mechanism", "both"}, "--mechanism"},
		{[]string{"unbind", "-o", "wide"}, `--output "wide"`},
		{[]string{"list", "-n", "Bad_NS"}, "--namespace"},
		{[]string{"list", "-o", "table"}, `--output "table"`},
		{[]string{"list", "-o", "json", "--no-headers"}, "--no-headers"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			t.Parallel()
			_, errOut, code := runRootForCompletion(t, append(tc.args, "--kubeconfig", kubeconfig, "--context", "dead")...)
			if code != ExitFailure || !strings.Contains(errOut, tc.want) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
				t.Errorf("exit %d, stderr %q; want exit 1 and one line naming %s", code, errOut, tc.want)
			}
			if strings.Contains(errOut, "127.0.0.1:2") || strings.Contains(errOut, "connection refused") {
				t.Errorf("something was read before the input was checked: %s", errOut)
			}
		})
	}
}

// The new commands' flags complete: -o with what each accepts, --service-account from the cluster, and
// nothing (not file names) for free text.
func TestUnbindAndListFlagCompletions(t *testing.T) {
	t.Parallel()
	kubeconfig := writeCompletionKubeconfig(t)
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"list", "-o", ""}, []string{"json", "yaml", "wide", ":4"}},
		{[]string{"unbind", "-o", ""}, []string{"json", "yaml", ":4"}},
		{[]string{"unbind", "--role-name", ""}, []string{":4"}},
		{[]string{"unbind", "--mechanism", ""}, []string{"irsa", "pod-identity", ":4"}},
		// The namespace's ServiceAccounts: the cluster is unreachable here, so none, and no file names.
		{[]string{"unbind", "--service-account", ""}, []string{":4"}},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			t.Parallel()
			args := append([]string{cobra.ShellCompRequestCmd, "--kubeconfig", kubeconfig}, tc.args...)
			out, errOut, code := runRootForCompletion(t, args...)
			if code != 0 {
				t.Fatalf("exit code %d, stderr: %s", code, errOut)
			}
			if got := strings.Split(strings.TrimSpace(out), "\n"); !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	// And the flags that name a ServiceAccount have the cluster's completion.
	streams, _, _, _ := genericiooptions.NewTestIOStreams()
	root := NewRootCmd(streams)
	unbind, _, err := root.Find([]string{"unbind"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := unbind.GetFlagCompletionFunc("service-account"); !ok {
		t.Error("unbind --service-account has no completion")
	}
}
