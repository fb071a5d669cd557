package workload

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox"
)

// A chain runs a plan from a seat's environment and reports the outcome.
type chain struct {
	name string
	run  func(t *testing.T, env []string, p plan) outcome
}

var chains = []chain{
	{"go-v2", runGo},
	{"aws-cli", runCLI},
	{"js-v3", runJS},
}

// runCmd runs name with args in exactly env; it fails the test when the program cannot run or exits
// non-zero (a refused call is reported in the outcome, not by the exit code).
func runCmd(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	out, stderr, err := tryCmd(env, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr)
	}
	return out
}

func tryCmd(env []string, name string, args ...string) (string, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

func decode(t *testing.T, who, js string) outcome {
	t.Helper()
	var o outcome
	if err := json.Unmarshal([]byte(js), &o); err != nil {
		t.Fatalf("%s printed no outcome: %v\n%s", who, err, js)
	}
	return o
}

// runGo runs aws-sdk-go-v2's chain in a process of its own: this test binary, as `go-seat`.
func runGo(t *testing.T, env []string, p plan) outcome {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(p)
	return decode(t, "the Go seat", runCmd(t, env, exe, goSeatArg, string(b)))
}

// runJS runs testdata/seat.js with node: the AWS SDK for JavaScript v3 from testdata/node_modules
// (make workload-deps).
func runJS(t *testing.T, env []string, p plan) outcome {
	script, err := filepath.Abs(filepath.Join("testdata", "seat.js"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join("testdata", "node_modules", "@aws-sdk", "credential-providers")); err != nil {
		t.Fatalf("the AWS SDK for JavaScript v3 is not installed in test/workload/testdata (run make workload-deps): %v", err)
	}
	b, _ := json.Marshal(p)
	return decode(t, "seat.js", runCmd(t, env, "node", script, string(b)))
}

var cliErrorCode = regexp.MustCompile(`An error occurred \(([^)]+)\)`)

// runCLI makes the plan's calls with the aws CLI (botocore's chain). Assume Another Role is
// `aws sts assume-role` with SDC's parameters; the S3 calls then run with the session's keys in the
// environment, which botocore's chain takes first.
func runCLI(t *testing.T, env []string, p plan) outcome {
	var out outcome
	aws := func(env []string, args ...string) (string, string) {
		stdout, stderr, err := tryCmd(env, "aws", append(args, "--output", "json")...)
		if err == nil {
			return stdout, "ok"
		}
		if m := cliErrorCode.FindStringSubmatch(stderr); m != nil {
			return stdout, m[1]
		}
		return stdout, strings.TrimSpace(stderr + " " + err.Error())
	}
	arn := func(js string) string {
		var id struct{ Arn string }
		_ = json.Unmarshal([]byte(js), &id)
		return id.Arn
	}
	js, res := aws(env, "sts", "get-caller-identity")
	if res != "ok" {
		out.Error = "get-caller-identity: " + res
		return out
	}
	out.Identity = arn(js)
	if p.AssumeRoleARN != "" {
		js, res := aws(env, "sts", "assume-role", "--role-arn", p.AssumeRoleARN, "--role-session-name", sessionName(),
			"--duration-seconds", fmt.Sprint(sessionSeconds), "--tags", "Key="+principalTag+",Value="+p.Principal)
		if res != "ok" {
			out.Error = "assume-role: " + res
			return out
		}
		var session struct {
			Credentials struct{ AccessKeyId, SecretAccessKey, SessionToken string }
		}
		if err := json.Unmarshal([]byte(js), &session); err != nil {
			t.Fatalf("aws sts assume-role: %v\n%s", err, js)
		}
		c := session.Credentials
		env = append(append([]string{}, env...), "AWS_ACCESS_KEY_ID="+c.AccessKeyId, "AWS_SECRET_ACCESS_KEY="+c.SecretAccessKey, "AWS_SESSION_TOKEN="+c.SessionToken)
		js, res = aws(env, "sts", "get-caller-identity")
		if res != "ok" {
			out.Error = "get-caller-identity after assume-role: " + res
			return out
		}
		out.Assumed = arn(js)
	}
	dir := t.TempDir()
	body, got := filepath.Join(dir, "body"), filepath.Join(dir, "got")
	if err := os.WriteFile(body, []byte(objectBody), 0o600); err != nil {
		t.Fatal(err)
	}
	steps := map[string]func() string{
		"PutObject": func() string {
			_, r := aws(env, "s3api", "put-object", "--bucket", p.Bucket, "--key", p.Key, "--body", body)
			return r
		},
		"GetObject": func() string {
			_, r := aws(env, "s3api", "get-object", "--bucket", p.Bucket, "--key", p.Key, got)
			if b, err := os.ReadFile(got); r == "ok" && (err != nil || string(b) != objectBody) {
				r = fmt.Sprintf("read %q back (%v)", b, err)
			}
			return r
		},
		"ListBucket": func() string {
			js, r := aws(env, "s3api", "list-objects-v2", "--bucket", p.Bucket, "--prefix", p.Key)
			var l struct{ Contents []struct{ Key string } }
			if r == "ok" && (json.Unmarshal([]byte(js), &l) != nil || len(l.Contents) != 1) {
				r = "listed " + js
			}
			return r
		},
		"DeleteObject": func() string {
			_, r := aws(env, "s3api", "delete-object", "--bucket", p.Bucket, "--key", p.Key)
			return r
		},
		"DeleteBucket": func() string {
			_, r := aws(env, "s3api", "delete-bucket", "--bucket", p.Bucket)
			return r
		},
	}
	for _, name := range append(append([]string{}, granted...), refused...) {
		out.Calls = append(out.Calls, call{name, steps[name]()})
	}
	return out
}

// checkOutcome asserts the calls' results and what GetCallerIdentity showed: a session of the binding's
// role (with Pod Identity one EKS Auth named, eks-<cluster>-<pod>-..., so the container provider found
// it; with IRSA one the SDK named), then with Assume Another Role a session of the target.
func checkOutcome(t *testing.T, o outcome, mechanism, role, target string) {
	t.Helper()
	if o.Error != "" {
		t.Errorf("the chain stopped: %s", o.Error)
		return
	}
	session := ":assumed-role/" + role + "/"
	eks := session + "eks-" + sandbox.ClusterName + "-"
	if !strings.Contains(o.Identity, session) || (mechanism == "pod-identity") != strings.Contains(o.Identity, eks) {
		t.Errorf("the chain's identity is %q; want a session of role %s made by %s", o.Identity, role, mechanism)
	}
	if target != "" && !strings.Contains(o.Assumed, ":assumed-role/"+target+"/") {
		t.Errorf("after Assume Another Role the identity is %q; want a session of role %s", o.Assumed, target)
	}
	want := map[string]string{}
	for _, c := range granted {
		want[c] = "ok"
	}
	for _, c := range refused {
		want[c] = "AccessDenied"
	}
	if len(o.Calls) != len(want) {
		t.Errorf("calls %v; want %d", o.Calls, len(want))
	}
	for _, c := range o.Calls {
		if c.Result != want[c.Call] {
			t.Errorf("%s: %s; want %s", c.Call, c.Result, want[c.Call])
		}
	}
}

// cellText is a table cell: the calls that worked, then those refused with their code.
func cellText(o outcome) string {
	if o.Error != "" {
		return "stopped: " + o.Error
	}
	var ok, no []string
	for _, c := range o.Calls {
		if c.Result == "ok" {
			ok = append(ok, c.Call)
		} else {
			no = append(no, c.Call+" ("+c.Result+")")
		}
	}
	return "works: " + strings.Join(ok, ", ") + " | refused: " + strings.Join(no, ", ")
}
