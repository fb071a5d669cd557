package e2e

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// onTerminal runs `kubectl <args>` on a pseudo-terminal (util-linux script), typing input.
func onTerminal(t *testing.T, input string, extraEnv []string, args ...string) result {
	t.Helper()
	if _, err := exec.LookPath("script"); err != nil {
		t.Fatal("these tests need a terminal: install util-linux's `script` (Debian package bsdutils)")
	}
	return runInput(t, input, append([]string{"TERM=xterm"}, extraEnv...), "script", "-qec", "kubectl "+strings.Join(args, " "), "/dev/null")
}

// On a terminal bind asks, and only "y" applies.
func TestBindAsksOnATerminal(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	bucket := newBucket(t)
	role := roleName(ns, "sdc")
	exists := func() bool {
		_, err := awsAdmin(t).IAM.GetRole(context.Background(), &iam.GetRoleInput{RoleName: aws.String(role)})
		return err == nil
	}
	r := onTerminal(t, "n\n", []string{"NO_COLOR=1"}, "sdc", "bind", "-n", ns, "--bucket", bucket)
	if r.Code != 1 || !strings.Contains(r.Stdout, "Apply these changes? [y/N]") || !strings.Contains(r.Stdout, "nothing changed: not confirmed") {
		t.Errorf("answer n: %s", r)
	}
	if exists() {
		t.Fatal("answer n created the role")
	}
	r = onTerminal(t, "y\n", []string{"NO_COLOR=1"}, "sdc", "bind", "-n", ns, "--bucket", bucket)
	if r.Code != 0 || !strings.Contains(r.Stdout, "Applied:") {
		t.Errorf("answer y: %s", r)
	}
	if !exists() {
		t.Error("answer y did not create the role")
	}
}

// Color is decided once: on a terminal unless NO_COLOR; --color=always and never win; never color alone.
func TestColor(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	bucket := newBucket(t)
	const esc = "\x1b["
	args := []string{"sdc", "bind", "-n", ns, "--bucket", bucket, "--dry-run"}
	cases := []struct {
		name     string
		terminal bool
		env      []string
		flag     string
		color    bool
	}{
		{"terminal", true, nil, "", true},
		{"terminal with NO_COLOR", true, []string{"NO_COLOR=1"}, "", false},
		{"terminal with --color=never", true, nil, "--color=never", false},
		{"pipe", false, nil, "", false},
		{"pipe with --color=always", false, nil, "--color=always", true},
		{"NO_COLOR with --color=always", false, []string{"NO_COLOR=1"}, "--color=always", true},
	}
	for _, c := range cases {
		a := args
		if c.flag != "" {
			a = append(append([]string{}, args...), c.flag)
		}
		var r result
		if c.terminal {
			r = onTerminal(t, "", c.env, a...)
		} else {
			r = run(t, c.env, "kubectl", a...)
		}
		if r.Code != 0 {
			t.Fatalf("%s: %s", c.name, r)
		}
		if got := strings.Contains(r.Stdout, esc); got != c.color {
			t.Errorf("%s: colored = %v, want %v", c.name, got, c.color)
		}
		if !strings.Contains(r.Stdout, "+ create") {
			t.Errorf("%s: the words are gone:\n%s", c.name, r.Stdout)
		}
	}
}
