package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox/awsfront"
	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox/sandboxtest"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
)

// newBoundary creates a managed policy to serve as a permissions boundary, named after the test, and
// returns its ARN.
func newBoundary(t *testing.T, name, doc string) string {
	t.Helper()
	out, err := awsAdmin(t).IAM.CreatePolicy(context.Background(), &iam.CreatePolicyInput{PolicyName: aws.String(name), PolicyDocument: aws.String(doc)})
	if err != nil {
		t.Fatalf("creating boundary %s: %v", name, err)
	}
	return aws.ToString(out.Policy.Arn)
}

// allowEverything is a boundary that keeps nothing out; noPutObject one that keeps s3:PutObject out.
const (
	allowEverything = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`
	noPutObject     = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:ListBucket","sts:AssumeRole"],"Resource":"*"}]}`
)

// cliRole is what `aws iam get-role` prints of a role.
type cliRole struct {
	Role struct {
		Arn, Path, Description string
		MaxSessionDuration     int
		PermissionsBoundary    *struct{ PermissionsBoundaryArn, PermissionsBoundaryType string }
		Tags                   []struct{ Key, Value string }
	}
}

// getRole reads a role with the aws CLI, as a person checks what bind made.
func getRole(t *testing.T, name string, profile ...string) cliRole {
	t.Helper()
	args := append(append([]string{}, profile...), "iam", "get-role", "--role-name", name, "--output", "json")
	r := run(t, nil, "aws", args...)
	if r.Code != 0 {
		t.Fatalf("aws iam get-role %s: %s", name, r)
	}
	var out cliRole
	if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil {
		t.Fatalf("aws iam get-role %s printed %v:\n%s", name, err, r.Stdout)
	}
	return out
}

func (c cliRole) tags() map[string]string {
	m := map[string]string{}
	for _, tg := range c.Role.Tags {
		m[tg.Key] = tg.Value
	}
	return m
}

func (c cliRole) boundary() string {
	if c.Role.PermissionsBoundary == nil {
		return ""
	}
	return c.Role.PermissionsBoundary.PermissionsBoundaryArn
}

// cliTags reads the tags of a policy or an OIDC provider with the aws CLI.
func cliTags(t *testing.T, args ...string) map[string]string {
	t.Helper()
	r := run(t, nil, "aws", append(args, "--output", "json")...)
	if r.Code != 0 {
		t.Fatalf("aws %s: %s", strings.Join(args, " "), r)
	}
	var out struct{ Tags []struct{ Key, Value string } }
	if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, tg := range out.Tags {
		m[tg.Key] = tg.Value
	}
	return m
}

// bind with a boundary, a path and tags: the aws CLI shows each on the role (and the path and tags on the
// policy, the tags on the provider); the calls are those of a bind without guardrails; the rerun writes
// nothing; doctor names the boundary and --probe passes. Not parallel: it counts the sandbox's calls.
func TestBindGuardrailsShowInTheAWSCLI(t *testing.T) {
	sb := sandboxtest.Get(t)
	ns, plain := newNamespace(t), newNamespace(t)
	bucket := newBucket(t)
	boundary := newBoundary(t, "sdc-e2e-boundary-"+ns, allowEverything)
	// A bind first, so the provider exists (made by bind, with the tags below) for both fresh binds, which
	// then do the same work.
	mustBind(t, "-n", plain, "--bucket", bucket, "--tag", "cost-center=data-platform", "--tag", "owner=team a", "--yes")

	args := []string{"-n", ns, "--bucket", bucket, "--deployment", "sdc", "--create-deployment", "--image", sdcImage, "--yes",
		"--permissions-boundary", boundary, "--role-path", "/sdc/e2e/", "--tag", "cost-center=data-platform", "--tag", "owner=team a",
		"--max-session-duration", "2h", "--description", "SDC of team a"}
	other := newNamespace(t)
	sb.Front.ResetCalls()
	mustBind(t, "-n", other, "--bucket", bucket, "--deployment", "sdc", "--create-deployment", "--image", sdcImage, "--yes")
	without := calls(t)
	sb.Front.ResetCalls()
	r := mustBind(t, args...)
	with := calls(t)
	t.Logf("fresh bind with guardrails: %d AWS calls (%d writes) %v; without: %d (%d writes)", with.Total, with.Writes, with.ByAction, without.Total, without.Writes)
	// The check before writing asks once more with a boundary: CreateRole then carries iam:PermissionsBoundary,
	// a context of its own.
	simWith, simWithout := with.ByAction["iam:SimulatePrincipalPolicy"], without.ByAction["iam:SimulatePrincipalPolicy"]
	if simWith != simWithout+1 {
		t.Errorf("policy simulations: %d with guardrails, %d without; want one more with the boundary", simWith, simWithout)
	}
	if with.Total-simWith != without.Total-simWithout || with.Writes != without.Writes {
		t.Errorf("guardrails cost AWS calls: %d (%d writes) with, %d (%d writes) without\nwith: %v\nwithout: %v",
			with.Total, with.Writes, without.Total, without.Writes, with.ByAction, without.ByAction)
	}
	name := roleName(ns, "sdc")
	role := "arn:aws:iam::" + sb.AccountID + ":role/sdc/e2e/" + name
	policy := "arn:aws:iam::" + sb.AccountID + ":policy/sdc/e2e/" + name
	for _, want := range []string{"Guardrails  permissions boundary " + boundary + "; path /sdc/e2e/; tags cost-center=data-platform, owner=team a; maximum session 7200s",
		"+ create    IAM role " + role, "+ create    IAM policy " + policy} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("the plan lacks %q:\n%s", want, r.Stdout)
		}
	}

	got := getRole(t, name)
	if got.Role.Arn != role || got.Role.Path != "/sdc/e2e/" || got.boundary() != boundary || got.Role.PermissionsBoundary.PermissionsBoundaryType != "PermissionsBoundaryPolicy" ||
		got.Role.MaxSessionDuration != 7200 || got.Role.Description != "SDC of team a" {
		t.Errorf("aws iam get-role: %+v", got.Role)
	}
	tags := got.tags()
	if tags["cost-center"] != "data-platform" || tags["owner"] != "team a" || tags["app.kubernetes.io/managed-by"] != "kubectl-sdc" || tags["kubectl-sdc/namespace"] != ns {
		t.Errorf("role tags: %v", tags)
	}
	if pt := cliTags(t, "iam", "list-policy-tags", "--policy-arn", policy); pt["cost-center"] != "data-platform" || pt["owner"] != "team a" {
		t.Errorf("policy tags: %v", pt)
	}
	if pv := cliTags(t, "iam", "list-open-id-connect-provider-tags", "--open-id-connect-provider-arn", providerARN(t)); pv["cost-center"] != "data-platform" {
		t.Errorf("provider tags: %v (bind made it, so it gets the tags)", pv)
	}
	if lp := run(t, nil, "aws", "iam", "list-policies", "--scope", "Local", "--path-prefix", "/sdc/e2e/", "--output", "json"); !strings.Contains(lp.Stdout, `"Arn": "`+policy+`"`) {
		t.Errorf("aws iam list-policies --path-prefix /sdc/e2e/: %s", lp)
	}
	if got := attachedTo(t, name); !slices.Contains(got, policy) {
		t.Errorf("attached: %v", got)
	}
	sa, err := kube(t).CoreV1().ServiceAccounts(ns).Get(context.Background(), "sdc", metav1.GetOptions{})
	if err != nil || sa.Annotations["eks.amazonaws.com/role-arn"] != role {
		t.Errorf("annotation: %v %v", sa.Annotations, err)
	}

	// The rerun finds everything as it should be: no write to AWS or Kubernetes.
	before := len(kubeRequests(t))
	sb.Front.ResetCalls()
	again := mustBind(t, args...)
	c, kw := calls(t), writes(kubeRequests(t)[before:])
	if c.Writes != 0 || kw != 0 || !strings.Contains(again.Stdout, "No changes:") {
		t.Errorf("the rerun wrote: AWS %v, %d Kubernetes writes\n%s", c.ByAction, kw, again.Stdout)
	}

	waitMutatedPod(t, ns, "sdc", role)
	rep, dr := doctorJSON(t, "-n", ns, "--probe", "--probe-write")
	if dr.Code != 0 {
		t.Fatalf("doctor --probe: %s\n%s", dr, rep)
	}
	if b := rep.check(t, "iam.permissions-boundary"); b.Status != "pass" || !strings.Contains(b.Title, "has permissions boundary "+boundary) {
		t.Errorf("iam.permissions-boundary: %+v", b)
	}
	if p := rep.check(t, "iam.permissions"); !strings.Contains(p.Detail, "within permissions boundary "+boundary) {
		t.Errorf("iam.permissions: %+v", p)
	}
}

// A boundary without s3:PutObject: doctor's iam.permissions fails and names it, and the probe agrees (the
// sandbox's S3 applies boundaries as IAM does).
func TestDoctorBoundaryWithoutPutObject(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	bucket := newBucket(t)
	boundary := newBoundary(t, "sdc-e2e-noput-"+ns, noPutObject)
	mustBind(t, "-n", ns, "--bucket", bucket, "--deployment", "sdc", "--create-deployment", "--image", sdcImage, "--yes", "--permissions-boundary", boundary)
	waitMutatedPod(t, ns, "sdc", roleARN(t, ns, "sdc"))

	rep, r := doctorJSON(t, "-n", ns, "--probe", "--probe-write")
	if r.Code != 1 {
		t.Errorf("doctor: exit %d, want 1 (a check failed)", r.Code)
	}
	p := rep.check(t, "iam.permissions")
	if p.Status != "fail" || !strings.Contains(p.Detail, "s3:PutObject on arn:aws:s3:::"+bucket+"/<object> (not allowed by permissions boundary "+boundary+")") ||
		!strings.Contains(p.Fix, "ask the owners of permissions boundary "+boundary+" to allow s3:PutObject") {
		t.Errorf("iam.permissions: %+v", p)
	}
	a := rep.check(t, "probe.access")
	if a.Status != "fail" || !strings.Contains(a.Detail, "PutObject s3://"+bucket+"/.kubectl-sdc-doctor-probe: AccessDenied") ||
		!strings.Contains(a.Detail, "because no permissions boundary allows the s3:PutObject action") {
		t.Errorf("probe.access: %+v", a)
	}
	if b := rep.check(t, "iam.permissions-boundary"); b.Status != "pass" {
		t.Errorf("iam.permissions-boundary: %+v", b)
	}
}

// KUBECTL_SDC_PERMISSIONS_BOUNDARY, KUBECTL_SDC_ROLE_PATH and KUBECTL_SDC_TAGS apply when no flag is given;
// a flag wins (a --tag over the variable's tag of the same key, the variable's others staying). doctor
// warns about a role without the boundary the variable names. Bad values in them are flag errors that say
// where they came from, before any call.
func TestGuardrailEnvironmentDefaults(t *testing.T) {
	sb := sandboxtest.Get(t)
	envNS, flagNS, bareNS := newNamespace(t), newNamespace(t), newNamespace(t)
	bucket := newBucket(t)
	fromEnv := newBoundary(t, "sdc-e2e-env-"+envNS, allowEverything)
	fromFlag := newBoundary(t, "sdc-e2e-flag-"+envNS, allowEverything)
	envs := []string{"KUBECTL_SDC_PERMISSIONS_BOUNDARY=" + fromEnv, "KUBECTL_SDC_ROLE_PATH=/platform/", "KUBECTL_SDC_TAGS=cost-center=env,team=platform"}
	bind := func(extra []string, args ...string) result {
		t.Helper()
		r := run(t, extra, "kubectl", append([]string{"sdc", "bind", "--bucket", bucket, "--yes"}, args...)...)
		if r.Code != 0 {
			t.Fatalf("bind %v with %v: %s", args, extra, r)
		}
		return r
	}

	bind(envs, "-n", envNS)
	got := getRole(t, roleName(envNS, "sdc"))
	if got.boundary() != fromEnv || got.Role.Path != "/platform/" || got.tags()["cost-center"] != "env" || got.tags()["team"] != "platform" {
		t.Errorf("from the environment: %+v", got.Role)
	}

	bind(envs, "-n", flagNS, "--permissions-boundary", fromFlag, "--role-path", "/flag/", "--tag", "cost-center=flag")
	got = getRole(t, roleName(flagNS, "sdc"))
	if got.boundary() != fromFlag || got.Role.Path != "/flag/" || got.tags()["cost-center"] != "flag" || got.tags()["team"] != "platform" {
		t.Errorf("flags over the environment: %+v", got.Role)
	}

	// A role made without the boundary, then doctor in an environment that asks for one.
	bind(nil, "-n", bareNS)
	rep, _ := doctorJSON(t, "-n", bareNS)
	if b := rep.check(t, "iam.permissions-boundary"); b.Status != "pass" {
		t.Errorf("no boundary asked for: %+v", b)
	}
	r := run(t, envs, "kubectl", "sdc", "doctor", "-n", bareNS, "-o", "json")
	var warned docReport
	if err := json.Unmarshal([]byte(r.Stdout), &warned); err != nil {
		t.Fatalf("%v: %s", err, r)
	}
	if b := warned.check(t, "iam.permissions-boundary"); b.Status != "warn" || !strings.Contains(b.Title, "asks for one") ||
		!strings.Contains(b.Fix, "--permissions-boundary "+fromEnv) {
		t.Errorf("a boundary asked for and missing: %+v", b)
	}
	// The fix doctor gives puts it on: bind's PutRolePermissionsBoundary on a role it made.
	applyFix(t, warned.check(t, "iam.permissions-boundary").Fix)
	if got := getRole(t, roleName(bareNS, "sdc")); got.boundary() != fromEnv || got.Role.Path != "/" {
		t.Errorf("after the fix: %+v", got.Role)
	}

	sb.Front.ResetCalls()
	for env, words := range map[string]string{
		"KUBECTL_SDC_ROLE_PATH=platform":                         `--role-path (from KUBECTL_SDC_ROLE_PATH) "platform": an IAM path starts and ends with /`,
		"KUBECTL_SDC_PERMISSIONS_BOUNDARY=sdc-boundary":          `--permissions-boundary (from KUBECTL_SDC_PERMISSIONS_BOUNDARY) "sdc-boundary": not a managed policy ARN`,
		"KUBECTL_SDC_TAGS=cost-center":                           `KUBECTL_SDC_TAGS "cost-center": want KEY=VALUE`,
		"KUBECTL_SDC_TAGS=aws:createdBy=me":                      "tag keys starting with aws: are reserved for AWS",
		"KUBECTL_SDC_PERMISSIONS_BOUNDARY=arn:aws:iam::1:role/x": "not a managed policy ARN",
	} {
		r := run(t, []string{env}, "kubectl", "sdc", "bind", "-n", envNS, "--bucket", bucket, "--yes")
		msg := strings.TrimSpace(r.Stderr)
		if r.Code != 1 || strings.Contains(msg, "\n") || !strings.Contains(msg, words) {
			t.Errorf("%s: want exit 1 and one line with %q, got %s", env, words, r)
		}
	}
	if c := calls(t); c.Total != 0 {
		t.Errorf("bad defaults reached AWS: %v", c.ByAction)
	}
}

// Bad guardrail and cross-account input: one line naming the flag, exit 1, nothing read or written.
func TestBindGuardrailsBadInput(t *testing.T) {
	var many []string
	for i := range 44 {
		many = append(many, "--tag", fmt.Sprintf("k%d=v", i))
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"boundary not a policy", []string{"--permissions-boundary", "arn:aws:iam::123456789012:role/b"}, `--permissions-boundary "arn:aws:iam::123456789012:role/b": not a managed policy ARN`},
		{"path without slashes", []string{"--role-path", "sdc"}, `--role-path "sdc": an IAM path starts and ends with /`},
		{"path with a space", []string{"--role-path", "/my team/"}, "printable ASCII characters, without spaces"},
		{"path too long", []string{"--role-path", "/" + strings.Repeat("p", 512) + "/"}, "at most 512 characters"},
		{"tag key too long", []string{"--tag", strings.Repeat("k", 129) + "=v"}, "at most 128 characters"},
		{"tag value too long", []string{"--tag", "k=" + strings.Repeat("v", 257)}, "at most 256 characters"},
		{"aws: tag", []string{"--tag", "aws:owner=me"}, "reserved for AWS"},
		{"bind's own tag", []string{"--tag", "kubectl-sdc/stages=x"}, "kubectl-sdc writes"},
		{"tag without value", []string{"--tag", "owner"}, `--tag "owner": want KEY=VALUE`},
		{"too many tags", many, "at most 43 may be added"},
		{"session too short", []string{"--max-session-duration", "30m"}, `--max-session-duration "30m": IAM allows a role's maximum session duration from 1h to 12h`},
		{"session too long", []string{"--max-session-duration", "43201"}, "from 1h to 12h"},
		{"session not a duration", []string{"--max-session-duration", "long"}, "want a duration like 2h"},
		{"target not a role", []string{"--assume-role-arn", "arn:aws:s3:::data"}, `--assume-role-arn "arn:aws:s3:::data": not an IAM role ARN`},
		{"target profile alone", []string{"--target-profile", "data"}, "--target-profile \"data\": needs --assume-role-arn"},
	}
	sb := sandboxtest.Get(t)
	before := len(kubeRequests(t))
	sb.Front.ResetCalls()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := kubectl(t, append([]string{"sdc", "bind", "-n", "guard", "--bucket", "b-ok", "--yes"}, c.args...)...)
			msg := strings.TrimSpace(r.Stderr)
			if r.Code != 1 || !strings.HasPrefix(msg, "error: ") || strings.Contains(msg, "\n") || !strings.Contains(msg, c.want) {
				t.Errorf("want exit 1 and one line with %q, got %s", c.want, r)
			}
		})
	}
	if c := calls(t); c.Total != 0 {
		t.Errorf("bad input reached AWS: %v", c.ByAction)
	}
	if ev := kubeRequests(t)[before:]; len(ev) != 0 {
		t.Errorf("bad input reached Kubernetes: %d requests", len(ev))
	}
}

// Every AWS call bind makes with --permissions-boundary (fresh at a path with tags, a boundary put on a
// role it made, its settings and tags changed) is allowed by docs/permissions/bind-policy-boundary.json,
// with the boundary bind really set as iam:PermissionsBoundary; a bind without it would be refused. Not
// parallel: it reads the sandbox's call counts.
func TestBindPolicyWithBoundaryCoversEveryCall(t *testing.T) {
	sb := sandboxtest.Get(t)
	doc := readPolicy(t, "bind-policy-boundary.json")
	// The boundary the document names (its account is a wildcard there).
	boundary := "arn:aws:iam::" + sb.AccountID + ":policy/SDCWorkloadBoundary"
	if _, err := awsAdmin(t).IAM.GetPolicy(context.Background(), &iam.GetPolicyInput{PolicyArn: aws.String(boundary)}); err != nil {
		newBoundary(t, "SDCWorkloadBoundary", allowEverything)
	}
	fresh, later := newNamespace(t), newNamespace(t)
	bucket := newBucket(t)
	seen := map[string]bool{}
	record := func(c awsfront.CallCounts) {
		for a := range c.ByAction {
			if !strings.HasPrefix(a, "s3:") {
				seen[a] = true
			}
		}
	}
	guard := []string{"--permissions-boundary", boundary}
	// A role made without the boundary, which the last bind below puts on: not one of the calls judged.
	mustBind(t, "-n", later, "--bucket", bucket, "--yes")
	for _, args := range [][]string{
		append([]string{"-n", fresh, "--bucket", bucket, "--role-path", "/sdc/", "--tag", "team=a", "--yes"}, guard...),
		append([]string{"-n", fresh, "--bucket", bucket, "--role-path", "/sdc/", "--tag", "team=b", "--max-session-duration", "3h", "--yes"}, guard...),
		append([]string{"-n", later, "--stage", "s3-destination", "--bucket", bucket, "--yes"}, guard...),
	} {
		sb.Front.ResetCalls()
		mustBind(t, args...)
		record(calls(t))
	}
	for _, a := range []string{"iam:CreateRole", "iam:PutRolePermissionsBoundary", "iam:UpdateRole", "iam:TagRole", "iam:TagPolicy", "iam:CreatePolicyVersion"} {
		if !seen[a] {
			t.Errorf("the binds made no %s call, which this test means to cover", a)
		}
	}
	for _, ns := range []string{fresh, later} {
		if got := getRole(t, roleName(ns, "sdc")).boundary(); got != boundary {
			t.Errorf("role of %s: boundary %q, want %s", ns, got, boundary)
		}
	}
	actions := make([]string, 0, len(seen))
	for a := range seen {
		actions = append(actions, a)
	}
	sort.Strings(actions)
	t.Logf("bind called: %v", actions)
	withBoundary := map[string][]string{"iam:PermissionsBoundary": {getRole(t, roleName(fresh, "sdc")).boundary()}}
	for _, a := range actions {
		res, ctx := representative(a)
		res = strings.Replace(res, ":role/sdc-", ":role/sdc/sdc-", 1)
		if a == "iam:CreateRole" || a == "iam:PutRolePermissionsBoundary" {
			ctx = withBoundary
		}
		if d := iampolicy.Evaluate(iampolicy.Request{Action: a, Resource: res, Context: ctx}, doc); !d.Allowed() {
			t.Errorf("bind calls %s (on %s) but docs/permissions/bind-policy-boundary.json does not allow it: %v", a, res, d)
		}
	}
	res, _ := representative("iam:CreateRole")
	if d := iampolicy.Evaluate(iampolicy.Request{Action: "iam:CreateRole", Resource: res}, doc); d.Allowed() {
		t.Errorf("bind-policy-boundary.json allows a CreateRole without the boundary: %v", d)
	}
}

// A role (and its policy) made before --role-path is found where it is, used there, and reported, not
// moved; nothing is written for it.
func TestBindRoleAtAnotherPathIsReportedNotMoved(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	bucket := newBucket(t)
	mustBind(t, "-n", ns, "--bucket", bucket, "--yes")
	r := mustBind(t, "-n", ns, "--bucket", bucket, "--role-path", "/sdc/", "--yes")
	role, policy := roleARN(t, ns, "sdc"), policyARN(t, ns, "sdc")
	for _, want := range []string{
		"warning: IAM role " + role + " is at path /, not /sdc/ (--role-path): IAM fixes a role's path when it is created, so bind keeps using it where it is",
		"warning: IAM policy " + policy + " is at path /, not /sdc/ (--role-path): bind keeps using it where it is",
		"No changes:",
	} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("bind --role-path on a role at / lacks %q:\n%s", want, r.Stdout)
		}
	}
	if got := getRole(t, roleName(ns, "sdc")); got.Role.Arn != role || got.Role.Path != "/" {
		t.Errorf("the role moved: %+v", got.Role)
	}
	if lp := run(t, nil, "aws", "iam", "list-policies", "--scope", "Local", "--path-prefix", "/sdc/", "--output", "json"); strings.Contains(lp.Stdout, roleName(ns, "sdc")) {
		t.Errorf("a second policy was made at /sdc/: %s", lp.Stdout)
	}
}
