package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox/sandboxtest"
)

// The doctor report as the issue defines its JSON: decoded strictly, so a renamed or extra field fails.
type docCheck struct {
	ID     string `json:"id"`
	Layer  string `json:"layer"`
	Status string `json:"status"`
	Title  string `json:"title"`
	Detail string `json:"detail"`
	Fix    string `json:"fix"`
}

type docTarget struct {
	Namespace              string     `json:"namespace"`
	ServiceAccount         string     `json:"serviceAccount"`
	Deployment             string     `json:"deployment"`
	RoleARN                string     `json:"roleArn"`
	PodIdentityAssociation string     `json:"podIdentityAssociation"`
	Checks                 []docCheck `json:"checks"`
}

type docReport struct {
	Checks  []docCheck  `json:"checks"`
	Targets []docTarget `json:"targets"`
	Summary struct {
		Pass int `json:"pass"`
		Warn int `json:"warn"`
		Fail int `json:"fail"`
		Skip int `json:"skip"`
	} `json:"summary"`
}

// doctorJSON runs `kubectl sdc doctor -o json ARGS` and decodes the report strictly.
func doctorJSON(t *testing.T, args ...string) (docReport, result) {
	t.Helper()
	r := kubectl(t, append([]string{"sdc", "doctor", "-o", "json"}, args...)...)
	var rep docReport
	dec := json.NewDecoder(strings.NewReader(r.Stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("doctor -o json %s: %v\n%s", strings.Join(args, " "), err, r)
	}
	return rep, r
}

// check is the result of id: cluster-wide, else of the first target.
func (rep docReport) check(t *testing.T, id string) docCheck {
	t.Helper()
	for _, c := range rep.Checks {
		if c.ID == id {
			return c
		}
	}
	if len(rep.Targets) > 0 {
		for _, c := range rep.Targets[0].Checks {
			if c.ID == id {
				return c
			}
		}
	}
	t.Fatalf("the report has no %s", id)
	return docCheck{}
}

func (rep docReport) all() []docCheck {
	out := append([]docCheck{}, rep.Checks...)
	for _, t := range rep.Targets {
		out = append(out, t.Checks...)
	}
	return out
}

func (rep docReport) String() string {
	var b strings.Builder
	for _, c := range rep.Checks {
		fmt.Fprintf(&b, "  %-24s %s  %s | %s\n", c.ID, c.Status, c.Title, c.Detail)
	}
	for _, t := range rep.Targets {
		fmt.Fprintf(&b, "%s/%s %s %s\n", t.Namespace, t.ServiceAccount, t.Deployment, t.RoleARN)
		for _, c := range t.Checks {
			fmt.Fprintf(&b, "  %-24s %s  %s | %s\n", c.ID, c.Status, c.Title, c.Detail)
		}
	}
	return b.String()
}

// bound is a healthy setup made by bind: namespace, bucket, role, and Deployment sdc with a mutated pod.
type bound struct {
	ns, bucket, role, roleName string
}

func newBound(t *testing.T) bound {
	t.Helper()
	ns := newNamespace(t)
	b := bound{ns: ns, bucket: newBucket(t), role: roleARN(t, ns, "sdc"), roleName: roleName(ns, "sdc")}
	mustBind(t, b.bindArgs()...)
	waitMutatedPod(t, ns, "sdc", b.role)
	return b
}

func (b bound) bindArgs() []string {
	return []string{"-n", b.ns, "--bucket", b.bucket, "--deployment", "sdc", "--create-deployment", "--image", sdcImage, "--yes"}
}

// fix is the bind command doctor must give for a bound setup: rebuilt from the role's tag.
func (b bound) fix() string {
	return "kubectl sdc bind -n " + b.ns + " --service-account sdc --deployment sdc --bucket " + b.bucket
}

// applyFix runs a fix doctor printed, through a shell as a person pastes it; bind gets --yes, since the
// test answers its question.
func applyFix(t *testing.T, fix string) {
	t.Helper()
	sb := sandboxtest.Get(t)
	line := strings.ReplaceAll(fix, "aws iam ", "aws --endpoint-url "+sb.AWSEndpoint+" iam ")
	if strings.HasPrefix(line, "kubectl sdc bind ") {
		line += " --yes"
	}
	if r := run(t, nil, "sh", "-c", line); r.Code != 0 {
		t.Fatalf("the fix failed: %s\n%s", line, r)
	}
}

func mustRun(t *testing.T, name string, args ...string) {
	t.Helper()
	if r := run(t, nil, name, args...); r.Code != 0 {
		t.Fatalf("%s %s: %s", name, strings.Join(args, " "), r)
	}
}

func issuerHost(t *testing.T) string {
	return strings.TrimPrefix(sandboxtest.Get(t).Issuer, "https://")
}

// webIdentityTrust is a trust policy with one web identity statement for provider and the conditions.
func webIdentityTrust(provider, conditions string) string {
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"` + provider +
		`"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":` + conditions + `}]}`
}

var accessKeyRE = regexp.MustCompile(`\b(AKIA|ASIA)[A-Z0-9]{16}\b`)

// A healthy setup made by bind passes every check, the probe included, in text, JSON and YAML.
func TestDoctorHealthyPassesEverything(t *testing.T) {
	t.Parallel()
	b := newBound(t)

	r := kubectl(t, "sdc", "doctor", "-n", b.ns, "--probe")
	if r.Code != 0 {
		t.Fatalf("doctor on a healthy setup: %s", r)
	}
	for _, bad := range []string{"✗ fail", "! warn", "- skip"} {
		if strings.Contains(r.Stdout, bad) {
			t.Errorf("a healthy setup has %q:\n%s", bad, r.Stdout)
		}
	}
	for _, want := range []string{"Cluster\n", "AWS\n", "IAM\n", "Kubernetes\n", "Probe\n",
		"ServiceAccount " + b.ns + "/sdc · Deployment sdc · role " + b.role, "✓ pass  probe.access", "✓ pass  aws.operator", "Summary: 23 pass, 0 warn, 0 fail, 0 skip."} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("text report lacks %q:\n%s", want, r.Stdout)
		}
	}

	rep, jr := doctorJSON(t, "-n", b.ns, "--probe", "--probe-write")
	if jr.Code != 0 {
		t.Fatalf("doctor --probe-write: %s", jr)
	}
	for _, c := range rep.all() {
		if c.Status != "pass" || c.Fix != "" {
			t.Errorf("%s: %s %s (fix %q)", c.ID, c.Status, c.Title, c.Fix)
		}
	}
	if len(rep.Targets) != 1 || rep.Targets[0].Namespace != b.ns || rep.Targets[0].ServiceAccount != "sdc" ||
		rep.Targets[0].Deployment != "sdc" || rep.Targets[0].RoleARN != b.role {
		t.Errorf("targets: %+v", rep.Targets)
	}
	marker := ".kubectl-sdc-doctor-probe"
	if d := rep.check(t, "probe.access").Detail; !strings.Contains(d, "PutObject s3://"+b.bucket+"/"+marker) {
		t.Errorf("probe.access with --probe-write: %s", d)
	}
	if _, err := awsAdmin(t).S3.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(b.bucket), Key: aws.String(marker)}); err != nil {
		t.Errorf("the marker object is not in the bucket: %v", err)
	}
	if key := accessKeyRE.FindString(jr.Stdout + jr.Stderr); key != "" {
		t.Errorf("doctor printed an access key: %s", key)
	}

	y := kubectl(t, "sdc", "doctor", "-n", b.ns, "-o", "yaml")
	var fromYAML docReport
	if err := yaml.UnmarshalStrict([]byte(y.Stdout), &fromYAML); err != nil || y.Code != 0 {
		t.Fatalf("doctor -o yaml: %v\n%s", err, y)
	}
	if len(fromYAML.all()) != 20 || fromYAML.Summary.Pass != 20 {
		t.Errorf("yaml report: %d checks, summary %+v", len(fromYAML.all()), fromYAML.Summary)
	}
}

// The JSON shape of the issue, key by key, for one target and for -A alike, and the summary adds up.
func TestDoctorJSONShape(t *testing.T) {
	t.Parallel()
	b := newBound(t)
	for _, args := range [][]string{{"-n", b.ns}, {"-A"}} {
		r := kubectl(t, append([]string{"sdc", "doctor", "-o", "json"}, args...)...)
		var raw map[string]json.RawMessage
		if err := json.Unmarshal([]byte(r.Stdout), &raw); err != nil {
			t.Fatalf("doctor %v -o json: %v\n%s", args, err, r)
		}
		keysOf := func(m map[string]json.RawMessage) []string {
			var k []string
			for key := range m {
				k = append(k, key)
			}
			slices.Sort(k)
			return k
		}
		if got := keysOf(raw); !slices.Equal(got, []string{"checks", "summary", "targets"}) {
			t.Errorf("doctor %v: top-level keys %v", args, got)
		}
		var checks []map[string]json.RawMessage
		var targets []map[string]json.RawMessage
		var summary map[string]json.RawMessage
		_ = json.Unmarshal(raw["checks"], &checks)
		_ = json.Unmarshal(raw["targets"], &targets)
		_ = json.Unmarshal(raw["summary"], &summary)
		if got := keysOf(summary); !slices.Equal(got, []string{"fail", "pass", "skip", "warn"}) {
			t.Errorf("summary keys %v", got)
		}
		for _, tg := range targets {
			// podIdentityAssociation is there only for a ServiceAccount with an EKS Pod Identity association
			// (other tests' targets, with -A).
			delete(tg, "podIdentityAssociation")
			if got := keysOf(tg); !slices.Equal(got, []string{"checks", "deployment", "namespace", "roleArn", "serviceAccount"}) {
				t.Errorf("target keys %v", got)
			}
			var tc []map[string]json.RawMessage
			_ = json.Unmarshal(tg["checks"], &tc)
			checks = append(checks, tc...)
		}
		if len(checks) == 0 || len(targets) == 0 {
			t.Fatalf("doctor %v: %d checks, %d targets", args, len(checks), len(targets))
		}
		counts := map[string]int{}
		for _, c := range checks {
			if got := keysOf(c); !slices.Equal(got, []string{"detail", "fix", "id", "layer", "status", "title"}) {
				t.Errorf("check keys %v", got)
			}
			var status, layer string
			_ = json.Unmarshal(c["status"], &status)
			_ = json.Unmarshal(c["layer"], &layer)
			counts[status]++
			if !slices.Contains([]string{"cluster", "aws", "iam", "kubernetes", "probe"}, layer) {
				t.Errorf("layer %q", layer)
			}
		}
		var rep docReport
		if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
			t.Fatal(err)
		}
		if s := rep.Summary; s.Pass != counts["pass"] || s.Warn != counts["warn"] || s.Fail != counts["fail"] || s.Skip != counts["skip"] {
			t.Errorf("doctor %v: summary %+v, counted %v", args, s, counts)
		}
	}
}

// doctorCase breaks one thing of a healthy setup the way a person does, with the aws CLI or kubectl.
type doctorCase struct {
	name   string
	break_ func(t *testing.T, b bound)
	args   []string // more doctor flags
	id     string
	status string
	detail []string // substrings of title + detail
	fix    string   // substring of the fix; "bind" means the exact bind command of the setup
	code   int
	// others are statuses other checks must have, to show the rest stays sensible.
	others map[string]string
	// fixed: running the fix makes the check pass.
	fixed bool
}

func TestDoctorFindsEachBreak(t *testing.T) {
	t.Parallel()
	cases := []doctorCase{
		{name: "annotation removed", id: "kube.role-annotation", status: "fail", code: 1, fix: "bind", fixed: true,
			break_: func(t *testing.T, b bound) {
				mustRun(t, "kubectl", "annotate", "serviceaccount", "sdc", "-n", b.ns, "eks.amazonaws.com/role-arn-")
			},
			detail: []string{"has no eks.amazonaws.com/role-arn annotation", "exists (bind's name for this ServiceAccount)"},
			others: map[string]string{"iam.role": "skip", "iam.trust": "skip", "kube.pod-env": "skip", "kube.deployment": "pass"}},
		{name: "annotation malformed", id: "kube.role-annotation", status: "fail", code: 1, fix: "bind", fixed: true,
			break_: func(t *testing.T, b bound) {
				mustRun(t, "kubectl", "annotate", "serviceaccount", "sdc", "-n", b.ns, "--overwrite", "eks.amazonaws.com/role-arn=arn:aws:iam::123456789012:role")
			},
			detail: []string{`"arn:aws:iam::123456789012:role" is not a role ARN`}},
		{name: "role deleted", id: "iam.role", status: "fail", code: 1, args: []string{"--probe"},
			break_: func(t *testing.T, b bound) {
				mustRun(t, "aws", "iam", "detach-role-policy", "--role-name", b.roleName, "--policy-arn", policyARN(t, b.ns, "sdc"))
				mustRun(t, "aws", "iam", "delete-role", "--role-name", b.roleName)
			},
			detail: []string{"does not exist", "has no role " + "sdc-sandbox."},
			fix:    "--stage <STAGE>", // the tag went with the role: the stages are not known any more
			others: map[string]string{"iam.trust": "skip", "iam.permissions": "skip", "probe.assume-role": "fail"}},
		{name: "role deleted, stages from the flags", id: "iam.role", status: "fail", code: 1, fix: "bind", fixed: true,
			break_: func(t *testing.T, b bound) {
				mustRun(t, "aws", "iam", "detach-role-policy", "--role-name", b.roleName, "--policy-arn", policyARN(t, b.ns, "sdc"))
				mustRun(t, "aws", "iam", "delete-role", "--role-name", b.roleName)
			},
			args: []string{"--bucket", "{bucket}"}},
		{name: "trust for another namespace, refused by STS", id: "iam.trust", status: "fail", code: 1, fix: "bind", fixed: true, args: []string{"--probe"},
			break_: func(t *testing.T, b bound) {
				h := issuerHost(t)
				mustRun(t, "aws", "iam", "update-assume-role-policy", "--role-name", b.roleName, "--policy-document",
					webIdentityTrust(providerARN(t), `{"StringEquals":{"`+h+`:sub":"system:serviceaccount:elsewhere:sdc","`+h+`:aud":"sts.amazonaws.com"}}`))
			},
			detail: []string{"it trusts ServiceAccount elsewhere/sdc of another namespace", "in namespace elsewhere; this one is {ns}/sdc"},
			others: map[string]string{"iam.trust-scope": "skip", "iam.permissions": "pass", "probe.assume-role": "fail", "probe.access": "skip"}},
		{name: "trust for another ServiceAccount", id: "iam.trust", status: "fail", code: 1, fix: "bind", fixed: true,
			break_: func(t *testing.T, b bound) {
				h := issuerHost(t)
				mustRun(t, "aws", "iam", "update-assume-role-policy", "--role-name", b.roleName, "--policy-document",
					webIdentityTrust(providerARN(t), `{"StringEquals":{"`+h+`:sub":"system:serviceaccount:`+b.ns+`:web","`+h+`:aud":"sts.amazonaws.com"}}`))
			},
			detail: []string{"it trusts another ServiceAccount, {ns}/web"}},
		{name: "trust for another region's provider", id: "iam.trust", status: "fail", code: 1, fix: "bind", fixed: true, args: []string{"--probe"},
			break_: func(t *testing.T, b bound) {
				// A provider that exists (IAM refuses a trust naming one that does not), of a cluster elsewhere.
				other := fmt.Sprintf("oidc.eks.eu-west-1.amazonaws.com/id/%X", time.Now().UnixNano())
				mustRun(t, "aws", "iam", "create-open-id-connect-provider", "--url", "https://"+other,
					"--client-id-list", "sts.amazonaws.com", "--thumbprint-list", "9e99a48a9960b14926bb7f3b02e22da2b0ab7280")
				prov := "arn:aws:iam::" + sandboxtest.Get(t).AccountID + ":oidc-provider/" + other
				mustRun(t, "aws", "iam", "update-assume-role-policy", "--role-name", b.roleName, "--policy-document",
					webIdentityTrust(prov, `{"StringEquals":{"`+other+`:sub":"system:serviceaccount:`+b.ns+`:sdc","`+other+`:aud":"sts.amazonaws.com"}}`))
			},
			detail: []string{"another cluster's or region's OIDC provider", "oidc.eks.eu-west-1.amazonaws.com/id/", "this cluster's provider is " + "arn:aws:iam::"},
			others: map[string]string{"probe.assume-role": "fail"}},
		{name: "subject under the aud key", id: "iam.trust", status: "fail", code: 1, fix: "bind", fixed: true,
			break_: func(t *testing.T, b bound) {
				h := issuerHost(t)
				mustRun(t, "aws", "iam", "update-assume-role-policy", "--role-name", b.roleName, "--policy-document",
					webIdentityTrust(providerARN(t), `{"StringEquals":{"`+h+`:aud":"system:serviceaccount:`+b.ns+`:sdc"}}`))
			},
			detail: []string{"the subject is under the :aud key", "it belongs under " + "127.0.0.1"}},
		{name: "no sub condition", id: "iam.trust-scope", status: "warn", code: 0, fix: "aws iam update-assume-role-policy", fixed: true,
			break_: func(t *testing.T, b bound) {
				h := issuerHost(t)
				mustRun(t, "aws", "iam", "update-assume-role-policy", "--role-name", b.roleName, "--policy-document",
					webIdentityTrust(providerARN(t), `{"StringEquals":{"`+h+`:aud":"sts.amazonaws.com"}}`))
			},
			detail: []string{"has no " + "127.0.0.1", ":sub condition: every ServiceAccount of the cluster can assume the role"},
			others: map[string]string{"iam.trust": "pass"}},
		{name: "no sub condition is a failure with --strict", id: "iam.trust-scope", status: "warn", code: 1, args: []string{"--strict"},
			break_: func(t *testing.T, b bound) {
				h := issuerHost(t)
				mustRun(t, "aws", "iam", "update-assume-role-policy", "--role-name", b.roleName, "--policy-document",
					webIdentityTrust(providerARN(t), `{"StringEquals":{"`+h+`:aud":"sts.amazonaws.com"}}`))
			}},
		{name: "StringLike wildcard", id: "iam.trust-scope", status: "warn", code: 0, fix: "aws iam update-assume-role-policy", fixed: true,
			break_: func(t *testing.T, b bound) {
				h := issuerHost(t)
				mustRun(t, "aws", "iam", "update-assume-role-policy", "--role-name", b.roleName, "--policy-document",
					webIdentityTrust(providerARN(t), `{"StringLike":{"`+h+`:sub":"system:serviceaccount:`+b.ns+`:*"},"StringEquals":{"`+h+`:aud":"sts.amazonaws.com"}}`))
			},
			detail: []string{"StringLike", ":sub = system:serviceaccount:{ns}:* also admits other ServiceAccounts"}},
		{name: "policy detached", id: "iam.permissions", status: "fail", code: 1, fix: "bind", fixed: true, args: []string{"--probe"},
			break_: func(t *testing.T, b bound) {
				mustRun(t, "aws", "iam", "detach-role-policy", "--role-name", b.roleName, "--policy-arn", policyARN(t, b.ns, "sdc"))
			},
			detail: []string{"lacks 3 of the 3 permissions", "the role has no attached or inline policies"},
			others: map[string]string{"probe.assume-role": "pass", "probe.access": "fail"}},
		{name: "policy too narrow", id: "iam.permissions", status: "fail", code: 1, fix: "bind", fixed: true,
			break_: func(t *testing.T, b bound) {
				mustRun(t, "aws", "iam", "create-policy-version", "--policy-arn", policyARN(t, b.ns, "sdc"), "--set-as-default", "--policy-document",
					`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::`+b.bucket+`","arn:aws:s3:::`+b.bucket+`/*"]}]}`)
			},
			detail: []string{"lacks 1 of the 3", "missing: s3:PutObject on arn:aws:s3:::{bucket}/<object>;"}},
		{name: "star action", id: "iam.permissions", status: "warn", code: 0, fix: "bind", fixed: true,
			break_: func(t *testing.T, b bound) {
				mustRun(t, "aws", "iam", "create-policy-version", "--policy-arn", policyARN(t, b.ns, "sdc"), "--set-as-default", "--policy-document",
					`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`)
			},
			detail: []string{"grant `*` beyond what its stages need", "statement 1: Action *, Resource *"}},
		{name: "Deployment under another ServiceAccount", id: "kube.deployment", status: "fail", code: 1, fix: "bind", fixed: true,
			args: []string{"--deployment", "sdc", "--service-account", "sdc"},
			break_: func(t *testing.T, b bound) {
				mustRun(t, "kubectl", "set", "serviceaccount", "deployment/sdc", "default", "-n", b.ns)
			},
			detail: []string{"Deployment {ns}/sdc runs under ServiceAccount default, not sdc", "no role annotation"},
			others: map[string]string{"kube.pod-env": "skip", "kube.static-credentials": "skip", "iam.trust": "pass"}},
		{name: "no Deployment under the ServiceAccount", id: "kube.deployment", status: "warn", code: 0,
			break_: func(t *testing.T, b bound) {
				mustRun(t, "kubectl", "set", "serviceaccount", "deployment/sdc", "default", "-n", b.ns)
			},
			detail: []string{"no Deployment in {ns} runs under ServiceAccount sdc", "Deployments in {ns}: sdc (ServiceAccount default)"},
			fix:    "--deployment <DEPLOYMENT>"},
		{name: "no fsGroup, containers as different users", id: "kube.fs-group", status: "warn", code: 0, fix: "bind", fixed: true,
			break_: func(t *testing.T, b bound) {
				mustRun(t, "kubectl", "patch", "deployment", "sdc", "-n", b.ns, "--type=json", "-p", `[
					{"op":"remove","path":"/spec/template/spec/securityContext/fsGroup"},
					{"op":"add","path":"/spec/template/spec/containers/0/securityContext","value":{"runAsUser":20159}},
					{"op":"add","path":"/spec/template/spec/containers/-","value":{"name":"sidecar","image":"busybox:1.36","securityContext":{"runAsUser":1000}}}]`)
			},
			detail: []string{"sets no fsGroup", "sdc (uid 20159), sidecar (uid 1000)"},
			others: map[string]string{"kube.pod-env": "pass"}},
		{name: "static keys in the environment", id: "kube.static-credentials", status: "fail", code: 1, fixed: true,
			break_: func(t *testing.T, b bound) {
				mustRun(t, "kubectl", "set", "env", "deployment/sdc", "-n", b.ns, "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE", "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
			},
			detail: []string{"container sdc: AWS_ACCESS_KEY_ID set directly", "SDC's AWS SDK takes these before the web identity token"},
			fix:    "kubectl set env deployment/sdc -n {ns} -c sdc AWS_ACCESS_KEY_ID- AWS_SECRET_ACCESS_KEY-"},
		{name: "static keys from a Secret, by kubectl set env --from", id: "kube.static-credentials", status: "fail", code: 1, fixed: true,
			break_: func(t *testing.T, b bound) {
				mustRun(t, "kubectl", "create", "secret", "generic", "aws-creds", "-n", b.ns, "--from-literal=AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE", "--from-literal=AWS_SECRET_ACCESS_KEY=x")
				mustRun(t, "kubectl", "set", "env", "deployment/sdc", "-n", b.ns, "--from=secret/aws-creds")
			},
			detail: []string{"AWS_ACCESS_KEY_ID set from Secret aws-creds key AWS_ACCESS_KEY_ID"}},
		{name: "static keys through envFrom", id: "kube.static-credentials", status: "fail", code: 1, fixed: true,
			break_: func(t *testing.T, b bound) {
				mustRun(t, "kubectl", "create", "secret", "generic", "aws-creds", "-n", b.ns, "--from-literal=AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE", "--from-literal=AWS_SECRET_ACCESS_KEY=x")
				mustRun(t, "kubectl", "patch", "deployment", "sdc", "-n", b.ns, "--type=json", "-p",
					`[{"op":"add","path":"/spec/template/spec/containers/0/envFrom","value":[{"secretRef":{"name":"aws-creds"}}]}]`)
			},
			detail: []string{"AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY through envFrom Secret aws-creds"},
			fix:    `kubectl patch deployment sdc -n {ns} --type=json -p '[{"op":"remove","path":"/spec/template/spec/containers/0/envFrom/0"}]'`},
		{name: "SDC older than the stage library's minimum", id: "sdc.version", status: "fail", code: 1, fixed: true,
			break_: func(t *testing.T, b bound) {
				mustRun(t, "kubectl", "set", "image", "deployment/sdc", "-n", b.ns, "sdc=streamsets/datacollector:3.16.0")
			},
			detail: []string{"SDC 3.16.0 is older than 3.17.0, the first whose aws-lib can use IRSA"},
			fix:    "kubectl set image deployment/sdc -n {ns} sdc=streamsets/datacollector:3.17.0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b := newBound(t)
			c.break_(t, b)
			expand := func(s string) string {
				return strings.NewReplacer("{ns}", b.ns, "{bucket}", b.bucket).Replace(s)
			}
			args := []string{"-n", b.ns}
			for _, a := range c.args {
				args = append(args, expand(a))
			}
			rep, r := doctorJSON(t, args...)
			if r.Code != c.code {
				t.Errorf("exit %d, want %d\n%s", r.Code, c.code, rep)
			}
			got := rep.check(t, c.id)
			if got.Status != c.status {
				t.Fatalf("%s = %s, want %s\n%s", c.id, got.Status, c.status, rep)
			}
			for _, d := range c.detail {
				if text := got.Title + " " + got.Detail; !strings.Contains(text, expand(d)) {
					t.Errorf("%s lacks %q:\n%s", c.id, expand(d), text)
				}
			}
			want := expand(c.fix)
			if c.fix == "bind" {
				want = b.fix()
				if got.Fix != want {
					t.Errorf("%s fix:\n got  %s\n want %s", c.id, got.Fix, want)
				}
			} else if !strings.Contains(got.Fix, want) {
				t.Errorf("%s fix:\n got  %s\n want %s", c.id, got.Fix, want)
			}
			for id, want := range c.others {
				if o := rep.check(t, id); o.Status != want {
					t.Errorf("%s = %s (%s | %s), want %s", id, o.Status, o.Title, o.Detail, want)
				}
			}
			for _, x := range rep.all() {
				if (x.Status == "warn" || x.Status == "fail") && x.Fix == "" {
					t.Errorf("%s %s without a fix", x.ID, x.Status)
				}
			}
			if !c.fixed {
				return
			}
			applyFix(t, got.Fix)
			after, _ := doctorJSON(t, args...)
			if a := after.check(t, c.id); a.Status != "pass" {
				t.Errorf("after the fix %q, %s = %s: %s | %s", got.Fix, c.id, a.Status, a.Title, a.Detail)
			}
		})
	}
}

// Pods that started before the annotation have no AWS identity: the fix is a rollout restart.
func TestDoctorPodsPredatingTheAnnotation(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	bucket := newBucket(t)
	mustRun(t, "kubectl", "create", "serviceaccount", "sdc", "-n", ns)
	mustRun(t, "kubectl", "create", "deployment", "sdc", "-n", ns, "--image", sdcImage)
	mustRun(t, "kubectl", "set", "serviceaccount", "deployment/sdc", "sdc", "-n", ns)
	waitPods(t, ns, "sdc", func(p corev1.Pod) bool { return p.Spec.ServiceAccountName == "sdc" })
	mustBind(t, "-n", ns, "--bucket", bucket, "--yes") // the ServiceAccount only: nothing restarts the pods

	rep, r := doctorJSON(t, "-n", ns)
	if r.Code != 1 {
		t.Errorf("exit %d, want 1\n%s", r.Code, rep)
	}
	got := rep.check(t, "kube.pod-env")
	if got.Status != "fail" || !strings.Contains(got.Title, "pods predate the role annotation") ||
		!strings.Contains(got.Detail, "started before the role annotation") || !strings.Contains(got.Detail, "Pending") {
		t.Errorf("kube.pod-env: %+v", got)
	}
	if want := "kubectl rollout restart deployment/sdc -n " + ns; got.Fix != want {
		t.Errorf("fix %q, want %q", got.Fix, want)
	}
	for _, id := range []string{"iam.trust", "iam.permissions", "kube.deployment", "kube.static-credentials", "sdc.version"} {
		if c := rep.check(t, id); c.Status != "pass" {
			t.Errorf("%s = %s: %s | %s", id, c.Status, c.Title, c.Detail)
		}
	}
}

// waitPods waits until the Deployment's pods include one that ok accepts.
func waitPods(t *testing.T, ns, app string, ok func(corev1.Pod) bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		pods, err := kube(t).CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + app})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pods.Items {
			if ok(p) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no matching pod of %s/%s after 30s (%d pods)", ns, app, len(pods.Items))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Bad input never reaches the cluster: exit 2, the message on standard error, nothing on standard output.
func TestDoctorCannotRunExitsTwo(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"-o", "xml"}, {"--no-such-flag"}, {"--probe-write"}, {"-A", "--deployment", "sdc"}, {"--stage", "nope"}} {
		r := kubectl(t, append([]string{"sdc", "doctor"}, args...)...)
		if r.Code != 2 || r.Stdout != "" || !strings.Contains(r.Stderr, "error: ") {
			t.Errorf("doctor %s: want exit 2 with an error, got %s", strings.Join(args, " "), r)
		}
	}
}
