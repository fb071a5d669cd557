package doctor

import (
	"context"
	"slices"
	"strings"
	"testing"
)

// The check IDs are a contract scripts depend on: this list changes only by adding.
var stableIDs = []string{
	"kube.context", "cluster.issuer", "aws.identity", "iam.oidc-provider", "iam.oidc-audience", "kube.webhook",
	"kube.service-account", "kube.role-annotation", "iam.role", "iam.trust", "iam.trust-scope", "iam.permissions",
	"kube.deployment", "kube.fs-group", "kube.pod-env", "kube.static-credentials", "sdc.version",
	"probe.assume-role", "probe.access",
}

func TestRegistry(t *testing.T) {
	t.Parallel()
	var ids []string
	seen := map[string]Check{}
	for _, c := range Checks() {
		ids = append(ids, c.ID)
		if _, dup := seen[c.ID]; dup {
			t.Errorf("%s registered twice", c.ID)
		}
		if c.Run == nil || !slices.Contains(Layers, c.Layer) {
			t.Errorf("%s: no Run, or layer %q is not one of %v", c.ID, c.Layer, Layers)
		}
		for _, n := range c.Needs {
			need, ok := seen[n]
			switch {
			case !ok:
				t.Errorf("%s needs %s, which does not run before it", c.ID, n)
			case c.Scope == ClusterScope && need.Scope == TargetScope:
				t.Errorf("cluster-wide %s needs per-target %s", c.ID, n)
			case need.Probe && !c.Probe:
				t.Errorf("%s needs probe %s, which runs only with --probe", c.ID, n)
			}
		}
		if c.Probe != (c.Layer == LayerProbe) {
			t.Errorf("%s: probes and the probe layer must coincide", c.ID)
		}
		seen[c.ID] = c
	}
	for _, id := range stableIDs {
		if !slices.Contains(ids, id) {
			t.Errorf("check %s disappeared: IDs are stable, add new ones instead", id)
		}
	}
}

func TestNeedsSkipWithTheReason(t *testing.T) {
	t.Parallel()
	ran := map[string]bool{}
	mk := func(id string, status Status, needs ...string) Check {
		return Check{ID: id, Layer: LayerIAM, Scope: ClusterScope, Needs: needs, Run: func(context.Context, *Facts, *Target) Result {
			ran[id] = true
			return Result{Status: status, Title: id, Fix: "fix " + id}
		}}
	}
	rep := runChecks(context.Background(), &Facts{}, []Check{
		mk("a", Fail), mk("b", Warn), mk("c", Pass, "a"), mk("d", Pass, "b"), mk("e", Pass, "c"), mk("f", Pass, "missing"), mk("g", Pass),
	}, nil)
	want := map[string]struct {
		status Status
		title  string
	}{
		"a": {Fail, "a"}, "b": {Warn, "b"}, "c": {Skip, "skipped: a failed"}, "d": {Pass, "d"},
		"e": {Skip, "skipped: c was skipped"}, "f": {Skip, "skipped: missing did not run"}, "g": {Pass, "g"},
	}
	for _, r := range rep.Checks {
		w := want[r.ID]
		if r.Status != w.status || r.Title != w.title {
			t.Errorf("%s = %s %q, want %s %q", r.ID, r.Status, r.Title, w.status, w.title)
		}
		if (r.Status == Pass || r.Status == Skip) && r.Fix != "" {
			t.Errorf("%s: a %s keeps no fix", r.ID, r.Status)
		}
	}
	if ran["c"] || ran["e"] || ran["f"] {
		t.Error("a check ran although what it needs failed or was skipped")
	}
	if rep.Summary != (Summary{Pass: 2, Warn: 1, Fail: 1, Skip: 3}) {
		t.Errorf("summary %+v", rep.Summary)
	}
	if !rep.Failed(false) || !(&Report{Summary: Summary{Warn: 1}}).Failed(true) || (&Report{Summary: Summary{Warn: 1}}).Failed(false) {
		t.Error("Failed: a fail always fails; a warn only with strict")
	}
}

func TestOptionsValidate(t *testing.T) {
	t.Parallel()
	ok := Options{Namespace: "ns1", ServiceAccount: "sdc"}
	cases := []struct {
		name string
		o    Options
		want string
	}{
		{"fine", ok, ""},
		{"-A with --deployment", Options{AllNamespaces: true, Deployment: "sdc"}, "--deployment names one Deployment"},
		{"-A with --service-account", Options{AllNamespaces: true, ServiceAccount: "sdc", ServiceAccountSet: true}, "--service-account names one"},
		{"--probe-write alone", Options{Namespace: "ns1", ServiceAccount: "sdc", ProbeWrite: true}, "--probe-write needs --probe"},
		{"bad namespace", Options{Namespace: "NS_1", ServiceAccount: "sdc"}, `--namespace "NS_1"`},
		{"bad ServiceAccount", Options{Namespace: "ns1", ServiceAccount: "Sdc!"}, `--service-account "Sdc!"`},
		{"bad Deployment", Options{Namespace: "ns1", ServiceAccount: "sdc", Deployment: "-x"}, `--deployment "-x"`},
	}
	for _, c := range cases {
		err := c.o.Validate()
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: got %v, want an error with %q", c.name, err, c.want)
		}
	}
}
