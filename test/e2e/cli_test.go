package e2e

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestVersionThroughKubectl(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"sdc", "version"},
		{"sdc", "--context", "sandbox", "-n", "ns1", "version"},
		{"sdc", "version", "--context=sandbox", "--namespace", "ns1", "--request-timeout=5s"},
	} {
		r := kubectl(t, args...)
		if r.Code != 0 {
			t.Fatalf("kubectl %s: %s", strings.Join(args, " "), r)
		}
		for _, want := range []string{stampVersion, stampCommit, stampDate} {
			if !strings.Contains(r.Stdout, want) {
				t.Errorf("kubectl %s: output lacks %q: %s", strings.Join(args, " "), want, r.Stdout)
			}
		}
	}
}

func TestVersionJSON(t *testing.T) {
	t.Parallel()
	r := kubectl(t, "sdc", "version", "-o", "json")
	if r.Code != 0 {
		t.Fatal(r)
	}
	var v struct{ Version, Commit, BuildDate string }
	if err := json.Unmarshal([]byte(r.Stdout), &v); err != nil {
		t.Fatalf("version -o json: %v: %s", err, r.Stdout)
	}
	if v.Version != stampVersion || v.Commit != stampCommit || v.BuildDate != stampDate {
		t.Errorf("version -o json = %+v", v)
	}
	if r := kubectl(t, "sdc", "version", "-o", "xml"); r.Code != 1 || !strings.Contains(r.Stderr, `--output "xml"`) {
		t.Errorf("version -o xml: want exit 1 naming the flag, got %s", r)
	}
}

func TestHelpShowsKubectlSdcAndKubectlFlags(t *testing.T) {
	t.Parallel()
	r := kubectl(t, "sdc", "--help")
	if r.Code != 0 {
		t.Fatal(r)
	}
	for _, want := range []string{"kubectl sdc [command]", "--context", "--namespace", "--kubeconfig", "--as ", "--request-timeout", "--color", "Exit codes"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("--help lacks %q", want)
		}
	}
	if strings.Contains(r.Stdout, "kubectl-sdc [command]") {
		t.Error("--help shows the binary name instead of `kubectl sdc`")
	}
}

func TestUnknownFlagIsAnError(t *testing.T) {
	t.Parallel()
	r := kubectl(t, "sdc", "version", "--no-such-flag")
	if r.Code == 0 || !strings.Contains(r.Stderr, "unknown flag: --no-such-flag") {
		t.Errorf("want a clear unknown-flag error, got %s", r)
	}
}
