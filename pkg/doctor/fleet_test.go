package doctor

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/fleet"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
)

// What kept doctor from examining a context, in the order everything else depends on it.
func TestBlocked(t *testing.T) {
	t.Parallel()
	refused := errors.New(`Get "https://10.0.0.1:443/version": dial tcp 10.0.0.1:443: connect: connection refused`)
	cases := []struct {
		name   string
		change func(f *Facts)
		reason string
		check  string
	}{
		{name: "healthy"},
		{"API server down", func(f *Facts) { f.KubeErr = refused }, "API server does not answer", "kube.context"},
		{"kube credentials refused", func(f *Facts) { f.KubeErr = apierrors.NewUnauthorized("Unauthorized") }, "kube credentials refused", "kube.context"},
		{"kube access forbidden", func(f *Facts) {
			f.KubeErr = apierrors.NewForbidden(schema.GroupResource{}, "version", errors.New("no"))
		}, "kube access forbidden", "kube.context"},
		{"exec plugin failed", func(f *Facts) {
			f.KubeErr = errors.New(`Get "https://10.0.0.1/version": getting credentials: exec: executable aws failed with exit code 255`)
		}, "kube credential plugin failed", "kube.context"},
		{"the API server before the rest", func(f *Facts) {
			f.KubeErr, f.IdentityErr, f.ClusterErr = refused, errors.New("expired"), errors.New("no issuer")
		}, "API server does not answer", "kube.context"},
		{"AWS credentials", func(f *Facts) {
			f.IdentityErr, f.Identity = errors.New("InvalidClientTokenId: The security token included in the request is invalid"), nil
		}, "AWS credentials do not work", "aws.identity"},
		{"no issuer", func(f *Facts) { f.ClusterErr, f.Cluster = errors.New("could not find the OIDC issuer"), nil }, "OIDC issuer not found", "cluster.issuer"},
		// Wrong account is a diagnosis (a failed check with its fix), not an unreachable context.
		{"another account", func(f *Facts) { f.Identity.Account = "999999999999" }, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := fixture(t)
			if c.change != nil {
				c.change(f)
			}
			rep := run(f)
			if c.reason == "" {
				if rep.Blocked != nil || rep.Unreachable() != nil {
					t.Fatalf("blocked: %+v", rep.Blocked)
				}
				return
			}
			if rep.Blocked == nil {
				t.Fatal("not blocked")
			}
			if rep.Blocked.Reason != c.reason || rep.Blocked.Result.ID != c.check || rep.Blocked.Result.Status != Fail {
				t.Errorf("blocked by %s (%s, %s), want %s (%s)", rep.Blocked.Result.ID, rep.Blocked.Reason, rep.Blocked.Result.Status, c.check, c.reason)
			}
			err := rep.Unreachable()
			if fleet.Reason(err) != c.reason || !strings.Contains(err.Error(), rep.Blocked.Result.Detail) || !strings.Contains(err.Error(), "(fix: ") {
				t.Errorf("the fleet's error: %q (reason %q)", err, fleet.Reason(err))
			}
		})
	}
}

func TestReportIdentity(t *testing.T) {
	t.Parallel()
	rep := run(fixture(t))
	if rep.Cluster != "demo" || rep.Account != fxAccount || rep.Region != "us-west-2" {
		t.Errorf("identity %q %q %q", rep.Cluster, rep.Account, rep.Region)
	}
	// The single-context JSON keeps its shape.
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(b, &keys); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 3 || keys["checks"] == nil || keys["targets"] == nil || keys["summary"] == nil {
		t.Errorf("single-context JSON keys changed: %s", b)
	}
}

// The fleet's JSON, exactly as the issue gives it, decoded strictly.
type fleetJSON struct {
	Contexts []struct {
		Context string            `json:"context"`
		Cluster string            `json:"cluster"`
		Account string            `json:"account"`
		Region  string            `json:"region"`
		Error   string            `json:"error"`
		Checks  []json.RawMessage `json:"checks"`
		Targets []json.RawMessage `json:"targets"`
		Summary Summary           `json:"summary"`
	} `json:"contexts"`
	Summary struct {
		Pass   int `json:"pass"`
		Warn   int `json:"warn"`
		Fail   int `json:"fail"`
		Skip   int `json:"skip"`
		Errors int `json:"errors"`
	} `json:"summary"`
}

func TestFleetReport(t *testing.T) {
	t.Parallel()
	healthy := run(fixture(t))
	broken := fixture(t)
	broken.Roles[fxRole].Trust = iampolicy.NewPolicy(iampolicy.WebIdentityStatement(fxProvider, fxHost, "other-namespace", "sdc", ""))
	failing := run(broken)
	down := fixture(t)
	down.KubeErr = errors.New("connection refused")
	downRep := run(down)
	results := []fleet.Result[*Report]{
		{Context: fleet.Context{Name: "prod"}, Identity: fleet.Identity{Cluster: "demo", Account: fxAccount, Region: "us-west-2"}, Report: healthy, Elapsed: time.Second},
		{Context: fleet.Context{Name: "staging"}, Identity: fleet.Identity{Cluster: "demo", Account: fxAccount, Region: "us-west-2"}, Report: failing},
		{Context: fleet.Context{Name: "dr"}, Identity: fleet.Identity{Account: fxAccount, Region: "eu-west-1"}, Report: downRep, Err: downRep.Unreachable()},
	}
	fr := NewFleetReport(results)
	want := FleetSummary{
		Pass: healthy.Summary.Pass + failing.Summary.Pass, Warn: healthy.Summary.Warn + failing.Summary.Warn,
		Fail: failing.Summary.Fail, Skip: healthy.Summary.Skip + failing.Summary.Skip, Errors: 1,
	}
	if fr.Summary != want || want.Fail == 0 {
		t.Errorf("summary %+v, want %+v (the unreachable context's checks are not counted)", fr.Summary, want)
	}
	if dr := fr.Contexts[2]; dr.Reason != "API server does not answer" || !strings.HasPrefix(dr.Fix, "kubectl --context") || len(dr.Checks) != 0 || dr.Summary != (Summary{}) {
		t.Errorf("the unreachable context: %+v", dr)
	}
	for _, c := range []struct {
		strict, ignore, want bool
	}{{false, false, true}, {false, true, true}} {
		if got := fr.Failed(c.strict, c.ignore); got != c.want {
			t.Errorf("Failed(strict=%v, ignore=%v) = %v", c.strict, c.ignore, got)
		}
	}
	onlyDown := NewFleetReport([]fleet.Result[*Report]{results[0], results[2]})
	if !onlyDown.Failed(false, false) || onlyDown.Failed(false, true) {
		t.Error("an unreachable context must fail the fleet unless --ignore-unreachable")
	}

	b, err := json.Marshal(fr)
	if err != nil {
		t.Fatal(err)
	}
	var got fleetJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if len(got.Contexts) != 3 || got.Contexts[0].Context != "prod" || got.Contexts[0].Error != "" || len(got.Contexts[0].Checks) == 0 ||
		got.Contexts[2].Error == "" || got.Contexts[2].Checks == nil || got.Contexts[2].Region != "eu-west-1" || got.Summary.Errors != 1 {
		t.Errorf("JSON: %s", b)
	}
	// Every key is there, empty or not, in the order.
	if !strings.HasPrefix(string(b), `{"contexts":[{"context":"prod","cluster":"demo","account":"123456789012","region":"us-west-2","error":"","checks":[`) {
		t.Errorf("JSON key order: %.160s", b)
	}
}
