// Package e2efleet drives the built plugin across a fleet: a sandbox of two clusters (sandbox in us-west-2,
// sandbox-2 in eu-west-1), one kubeconfig with a context each whose exec credential plugin names the
// cluster's AWS profile.
package e2efleet

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox"
	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox/sandboxtest"
	"github.com/kubectl-sdc/kubectl-sdc/test/harness"
)

func TestMain(m *testing.M) {
	os.Exit(harness.Main(m, sandbox.Options{Clusters: 2}, harness.Stamp{Version: "v9.9.9-e2efleet", Commit: "e2efleet", Date: "2026-01-02T03:04:05Z"}))
}

const sdcImage = "streamsets/datacollector:5.11.0"

// The fleet report as the issue defines its JSON, decoded strictly: a renamed or extra field fails.
type fleetReport struct {
	Contexts []contextReport `json:"contexts"`
	Summary  struct {
		Pass   int `json:"pass"`
		Warn   int `json:"warn"`
		Fail   int `json:"fail"`
		Skip   int `json:"skip"`
		Errors int `json:"errors"`
	} `json:"summary"`
}

type contextReport struct {
	Context string  `json:"context"`
	Cluster string  `json:"cluster"`
	Account string  `json:"account"`
	Region  string  `json:"region"`
	Error   string  `json:"error"`
	Checks  []check `json:"checks"`
	Targets []struct {
		Namespace      string  `json:"namespace"`
		ServiceAccount string  `json:"serviceAccount"`
		Deployment     string  `json:"deployment"`
		RoleARN        string  `json:"roleArn"`
		Checks         []check `json:"checks"`
	} `json:"targets"`
	Summary struct {
		Pass int `json:"pass"`
		Warn int `json:"warn"`
		Fail int `json:"fail"`
		Skip int `json:"skip"`
	} `json:"summary"`
}

type check struct {
	ID     string `json:"id"`
	Layer  string `json:"layer"`
	Status string `json:"status"`
	Title  string `json:"title"`
	Detail string `json:"detail"`
	Fix    string `json:"fix"`
}

func (c contextReport) check(t *testing.T, id string) check {
	t.Helper()
	all := slices.Clone(c.Checks)
	for _, tg := range c.Targets {
		all = append(all, tg.Checks...)
	}
	for _, ch := range all {
		if ch.ID == id {
			return ch
		}
	}
	t.Fatalf("context %s has no %s: %+v", c.Context, id, c)
	return check{}
}

func (r fleetReport) context(t *testing.T, name string) contextReport {
	t.Helper()
	for _, c := range r.Contexts {
		if c.Context == name {
			return c
		}
	}
	t.Fatalf("the fleet report has no context %s", name)
	return contextReport{}
}

// doctorFleet runs `kubectl sdc doctor -o json ARGS` with extraEnv and decodes the report strictly.
func doctorFleet(t *testing.T, extraEnv []string, args ...string) (fleetReport, harness.Result) {
	t.Helper()
	r := harness.Run(t, "", extraEnv, "kubectl", append([]string{"sdc", "doctor", "-o", "json"}, args...)...)
	var rep fleetReport
	dec := json.NewDecoder(strings.NewReader(r.Stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("doctor -o json %s: %v\n%s", strings.Join(args, " "), err, r)
	}
	return rep, r
}

func client(t *testing.T, c *sandbox.Cluster) kubernetes.Interface {
	t.Helper()
	k, err := kubernetes.NewForConfig(c.RESTConfig)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// bind binds ServiceAccount sdc in ns of cluster c, with its own profile and region (what a user types to
// bind one cluster of a fleet), and waits for the Deployment's pod to carry the role. It returns the role.
func bind(t *testing.T, c *sandbox.Cluster, ns string) string {
	t.Helper()
	r := harness.Run(t, "", nil, "kubectl", "sdc", "bind", "--context", c.Context, "--profile", c.Profile, "--region", c.Region,
		"-n", ns, "--bucket", "sdc-fleet-e2e", "--deployment", "sdc", "--create-deployment", "--image", sdcImage, "--yes", "-o", "json")
	if r.Code != 0 {
		t.Fatalf("bind in %s: %s", c.Context, r)
	}
	var out struct {
		RoleARN string `json:"roleArn"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil || out.RoleARN == "" {
		t.Fatalf("bind -o json in %s: %v\n%s", c.Context, err, r)
	}
	k := client(t, c)
	deadline := time.Now().Add(30 * time.Second)
	for {
		pods, err := k.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=sdc"})
		if err != nil {
			t.Fatal(err)
		}
		if slices.ContainsFunc(pods.Items, func(p corev1.Pod) bool {
			return slices.ContainsFunc(p.Spec.Containers[0].Env, func(e corev1.EnvVar) bool { return e.Name == "AWS_ROLE_ARN" && e.Value == out.RoleARN })
		}) {
			return out.RoleARN
		}
		if time.Now().After(deadline) {
			t.Fatalf("no pod of %s/sdc in %s carries role %s after 30s", ns, c.Context, out.RoleARN)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// credentialsWithWrongKeys writes a copy of the sandbox's AWS credentials file in which profile's keys are
// ones AWS never issued, and returns the environment that points the plugin (and kubectl's exec plugin) at it.
func credentialsWithWrongKeys(t *testing.T, sb *sandbox.Sandbox, profile string) []string {
	t.Helper()
	b, err := os.ReadFile(sb.AWSCredentialsPath)
	if err != nil {
		t.Fatal(err)
	}
	c := sb.Cluster(profile)
	wrong := bytes.ReplaceAll(b, []byte(c.AccessKeyID), []byte("AKIAWRONGWRONGWRONG1"))
	if bytes.Equal(wrong, b) {
		t.Fatalf("profile %s's key %s is not in %s", profile, c.AccessKeyID, sb.AWSCredentialsPath)
	}
	path := filepath.Join(t.TempDir(), "credentials")
	if err := os.WriteFile(path, wrong, 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{"AWS_SHARED_CREDENTIALS_FILE=" + path}
}

// One role bound from two clusters of the fleet: the second bind edits a trust that already serves the
// first cluster's binding, which the Lease of one cluster cannot serialise, and says so.
// It runs before TestDoctorAndListAcrossAFleet, which stops one cluster's API server.
func TestBindWarnsOfARoleSharedAcrossTheFleet(t *testing.T) {
	sb := sandboxtest.Get(t)
	ns := fmt.Sprintf("fleet-shared-%d", time.Now().UnixNano()%1_000_000)
	role := "sdc-fleet-shared-" + ns
	var outs []harness.Result
	for _, c := range sb.Clusters {
		harness.CreateNamespace(t, client(t, c), ns)
		r := harness.Run(t, "", nil, "kubectl", "sdc", "bind", "--context", c.Context, "--profile", c.Profile, "--region", c.Region,
			"-n", ns, "--bucket", "sdc-fleet-e2e", "--role-name", role, "--yes")
		if r.Code != 0 {
			t.Fatalf("bind in %s: %s", c.Context, r)
		}
		outs = append(outs, r)
	}
	const warning = "is shared with bindings of"
	if strings.Contains(outs[0].Stdout+outs[0].Stderr, warning) {
		t.Errorf("the first bind (a new role) warned: %s", outs[0])
	}
	if all := outs[1].Stdout + outs[1].Stderr; !strings.Contains(all, "warning: IAM role arn:aws:iam::") || !strings.Contains(all, warning) {
		t.Errorf("the second cluster's bind into the same role: want the warning, got %s", outs[1])
	}
}

// One scenario in order, because its last step stops a cluster for good: two clusters bound, doctor
// across both passes and list shows each binding under its context; one cluster's binding broken by hand
// fails that context only; one profile with wrong keys makes that context an error only; one API server
// stopped makes that context an error with the reason while the other is still reported, by doctor and by
// list.
func TestDoctorAndListAcrossAFleet(t *testing.T) {
	sb := sandboxtest.Get(t)
	first, second := sb.Clusters[0], sb.Clusters[1]
	ns := fmt.Sprintf("fleet-%d", time.Now().UnixNano()%1_000_000)
	roles := map[string]string{}
	for _, c := range sb.Clusters {
		harness.CreateNamespace(t, client(t, c), ns)
		roles[c.Context] = bind(t, c, ns)
	}

	t.Run("every context passes, each read with its own profile and region", func(t *testing.T) {
		// DIR/env's AWS_REGION (us-west-2) and sandbox-admin's keys are in the environment: neither may be
		// forced on sandbox-2, which is read in eu-west-1 with its profile's own user.
		rep, r := doctorFleet(t, nil, "--all-contexts", "-n", ns, "-v")
		if r.Code != 0 {
			t.Fatalf("want exit 0: %s", r)
		}
		if len(rep.Contexts) != 2 || rep.Summary.Fail != 0 || rep.Summary.Errors != 0 || rep.Summary.Pass == 0 {
			t.Fatalf("%+v\n%s", rep.Summary, r)
		}
		for _, c := range sb.Clusters {
			got := rep.context(t, c.Context)
			if got.Cluster != c.Name || got.Account != c.AccountID || got.Region != c.Region || got.Error != "" {
				t.Errorf("%s: cluster %q account %q region %q error %q; want %s, %s, %s", c.Context, got.Cluster, got.Account, got.Region, got.Error, c.Name, c.AccountID, c.Region)
			}
			if len(got.Targets) != 1 || got.Targets[0].RoleARN != roles[c.Context] || got.Summary.Fail != 0 {
				t.Errorf("%s: %+v", c.Context, got)
			}
			if id := got.check(t, "aws.identity"); !strings.Contains(id.Title, c.UserARN) {
				t.Errorf("%s was read as %q, want its profile's user %s", c.Context, id.Title, c.UserARN)
			}
			want := fmt.Sprintf("note: context %s: AWS profile %s (from the context's exec plugin (AWS_PROFILE in its env)); region %s (from the context's exec plugin (--region in its args))", c.Context, c.Profile, c.Region)
			if !strings.Contains(r.Stderr, want) {
				t.Errorf("-v does not say %q:\n%s", want, r.Stderr)
			}
		}
		// The same in text: a section per context, then the fleet table.
		tr := harness.Run(t, "", nil, "kubectl", "sdc", "doctor", "--contexts", "sandbox*", "-n", ns)
		if tr.Code != 0 {
			t.Fatalf("text: %s", tr)
		}
		for _, w := range []string{
			"=== Context sandbox · cluster sandbox · account 123456789012 · us-west-2",
			"=== Context sandbox-2 · cluster sandbox-2 · account 123456789012 · eu-west-1",
			"CONTEXT     CLUSTER     ACCOUNT        REGION      TARGETS   PASS",
			"Fleet: 2 contexts; ",
		} {
			if !strings.Contains(tr.Stdout, w) {
				t.Errorf("text output lacks %q:\n%s", w, tr.Stdout)
			}
		}
	})

	t.Run("list shows each binding under its own context", func(t *testing.T) {
		listAcrossAFleet(t, sb.Clusters, ns, roles)
	})

	t.Run("a binding broken by hand fails that context only", func(t *testing.T) {
		// Another namespace's ServiceAccount in the trust: what a copy-paste from the guide does.
		role := roles[second.Context]
		name := role[strings.LastIndex(role, "/")+1:]
		trust := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::%s:oidc-provider/%s"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"%s:sub":"system:serviceaccount:other:sdc","%s:aud":"sts.amazonaws.com"}}}]}`,
			second.AccountID, strings.TrimPrefix(second.Issuer, "https://"), strings.TrimPrefix(second.Issuer, "https://"), strings.TrimPrefix(second.Issuer, "https://"))
		if r := harness.Run(t, "", nil, "aws", "iam", "update-assume-role-policy", "--role-name", name, "--policy-document", trust); r.Code != 0 {
			t.Fatal(r)
		}
		rep, r := doctorFleet(t, nil, "--all-contexts", "-n", ns)
		if r.Code != 1 {
			t.Errorf("want exit 1: %s", r)
		}
		if got := rep.context(t, first.Context); got.Summary.Fail != 0 || got.Error != "" {
			t.Errorf("%s must still pass: %+v", first.Context, got)
		}
		got := rep.context(t, second.Context)
		if tr := got.check(t, "iam.trust"); tr.Status != "fail" || got.Error != "" || rep.Summary.Errors != 0 || rep.Summary.Fail != got.Summary.Fail {
			t.Errorf("%s: iam.trust %+v, error %q, fleet %+v", second.Context, tr, got.Error, rep.Summary)
		}
		// The fix doctor gives, run as given in that context, heals it.
		bind(t, second, ns)
		if _, r := doctorFleet(t, nil, "--all-contexts", "-n", ns); r.Code != 0 {
			t.Errorf("after bind again: %s", r)
		}
	})

	t.Run("a profile with wrong keys makes that context an error only", func(t *testing.T) {
		env := credentialsWithWrongKeys(t, sb, second.Profile)
		rep, r := doctorFleet(t, env, "--all-contexts", "-n", ns)
		if r.Code != 1 {
			t.Errorf("want exit 1: %s", r)
		}
		if got := rep.context(t, first.Context); got.Error != "" || got.Summary.Fail != 0 || got.Summary.Pass == 0 {
			t.Errorf("%s must still pass: %+v", first.Context, got)
		}
		got := rep.context(t, second.Context)
		if !strings.Contains(got.Error, "the AWS credentials do not work") || !strings.Contains(got.Error, "InvalidClientTokenId") || len(got.Checks) != 0 {
			t.Errorf("%s: error %q", second.Context, got.Error)
		}
		if rep.Summary.Errors != 1 || rep.Summary.Fail != 0 {
			t.Errorf("fleet summary %+v", rep.Summary)
		}
		if _, r := doctorFleet(t, env, "--all-contexts", "-n", ns, "--ignore-unreachable"); r.Code != 0 {
			t.Errorf("--ignore-unreachable: want exit 0: %s", r)
		}
		// --profile names the profile of every context: the good one reads both.
		if _, r := doctorFleet(t, env, "--all-contexts", "-n", ns, "--profile", first.Profile); r.Code != 0 {
			t.Errorf("--profile %s: want exit 0: %s", first.Profile, r)
		}
		// Without keys in the environment, kubectl's exec plugin uses the profile too: the API server refuses
		// its token, and that is the context's error.
		noKeys := append([]string{"AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY="}, env...)
		rep, r = doctorFleet(t, noKeys, "--all-contexts", "-n", ns)
		if got := rep.context(t, second.Context); r.Code != 1 || !strings.Contains(got.Error, `the API server of kube context "sandbox-2" refuses its credentials (401 Unauthorized)`) {
			t.Errorf("without keys in the environment: %s: %q\n%s", second.Context, got.Error, r)
		}
		if got := rep.context(t, first.Context); got.Error != "" || got.Summary.Fail != 0 {
			t.Errorf("without keys in the environment, %s must still pass: %+v", first.Context, got)
		}
	})

	t.Run("a stopped API server is that context's error; the other is still reported", func(t *testing.T) {
		second.StopAPIServer()
		rep, r := doctorFleet(t, nil, "--all-contexts", "-n", ns, "--request-timeout", "20s")
		if r.Code != 1 {
			t.Errorf("want exit 1: %s", r)
		}
		got := rep.context(t, second.Context)
		if !strings.Contains(got.Error, `the API server of kube context "sandbox-2" does not answer`) || !strings.Contains(got.Error, "connection refused") {
			t.Errorf("%s: error %q", second.Context, got.Error)
		}
		if got.Region != second.Region || got.Account != second.AccountID {
			t.Errorf("%s: what is known of it is kept: region %q account %q", second.Context, got.Region, got.Account)
		}
		if ok := rep.context(t, first.Context); ok.Error != "" || ok.Summary.Fail != 0 || len(ok.Targets) != 1 {
			t.Errorf("%s must still be reported, passing: %+v", first.Context, ok)
		}
		tr := harness.Run(t, "", nil, "kubectl", "sdc", "doctor", "--all-contexts", "-n", ns, "--ignore-unreachable")
		if tr.Code != 0 || !strings.Contains(tr.Stdout, "✗ error  API server does not answer") || !strings.Contains(tr.Stdout, "Fleet: 2 contexts, 1 could not be examined;") {
			t.Errorf("text, --ignore-unreachable: %s", tr)
		}
		listWithAStoppedAPIServer(t, first, second, ns, roles)
	})
}
