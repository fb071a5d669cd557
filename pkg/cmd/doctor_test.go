package cmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// A kubeconfig whose context names a namespace and a server nobody listens on: flag errors must be
// reported before anything is dialled.
const offlineKubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "https://127.0.0.1:1"}
contexts:
- name: x
  context: {cluster: c, user: u, namespace: ns1}
current-context: x
users:
- name: u
  user: {token: t}
`

func TestDoctorBadInputExitsTwo(t *testing.T) {
	t.Parallel()
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kc, []byte(offlineKubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--no-such-flag"}, "unknown flag: --no-such-flag"},
		{[]string{"--probe=maybe"}, `invalid argument "maybe" for "--probe"`},
		{[]string{"-o", "xml"}, `--output "xml" is not supported: use json or yaml`},
		{[]string{"--probe-write"}, "--probe-write needs --probe"},
		{[]string{"--probe-principal", "alice"}, "--probe-principal needs --probe"},
		{[]string{"--probe", "--probe-principal", "a,b"}, `--probe-principal "a,b": STS takes a session tag value`},
		{[]string{"-A", "--deployment", "sdc"}, "--deployment names one Deployment"},
		{[]string{"-A", "--service-account", "sdc"}, "--service-account names one ServiceAccount"},
		{[]string{"--stage", "no-such-stage"}, `--stage "no-such-stage": unknown stage`},
		{[]string{"--set", "bucket"}, `--set "bucket": want key=value`},
		{[]string{"--prefix", "in/"}, "--set and --prefix need a --stage"},
		{[]string{"-n", "Not_A_Namespace"}, `--namespace "Not_A_Namespace"`},
		{[]string{"--service-account", "Bad!"}, `--service-account "Bad!"`},
		{[]string{"--catalog", "/no/such/file.yaml"}, "/no/such/file.yaml"},
		{[]string{"extra"}, "doctor takes no arguments"},
		{[]string{"--assume-role-arn", "arn:aws:s3:::data"}, `--assume-role-arn "arn:aws:s3:::data": not an IAM role ARN`},
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

func TestDoctorHelpListsTheFlags(t *testing.T) {
	t.Parallel()
	streams, _, out, _ := genericiooptions.NewTestIOStreams()
	if code := Execute(streams, []string{"doctor", "--help"}); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"--probe", "--probe-write", "--strict", "-A, --all-namespaces", "--service-account", "--deployment",
		"--stage", "--bucket", "--eks-cluster", "Exit codes: 0 no check failed, 1 a check failed"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("doctor --help lacks %q", want)
		}
	}
}
