package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox/awsfront"
)

// TestSmoke runs the whole harness in its smoke mode against a real sandbox, as `make bench-smoke` does. It
// fails when the harness breaks or a count that is a correctness property does (a no-op bind that writes,
// doctor -A asking Kubernetes more as the cluster grows); it never looks at a time.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a sandbox and drives the plugin through kubectl; -short runs unit tests only")
	}
	cfg := smokeConfig()
	cfg.Out = filepath.Join(t.TempDir(), "results.json")
	cfg.Log = testLog{t}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	res, err := run(ctx, cfg)
	if err != nil {
		t.Fatalf("the benchmark harness failed: %v", err)
	}
	for _, c := range res.Targets {
		if c.Correctness && !c.Met {
			t.Errorf("%s: %s, got %s", c.What, c.Target, c.Value)
		}
	}
	// Every measurement is there: 2 scenarios × (2 resolutions + guardrails) × latencies of bind with IRSA
	// and 2 × 2 with EKS Pod Identity; doctor on one target (both resolutions), -A at each size, and -A with
	// Pod Identity associations, at each latency.
	if want := 10 * len(cfg.BindLatencies); len(res.Bind) != want {
		t.Errorf("%d bind rows, want %d", len(res.Bind), want)
	}
	if want := 6 * len(cfg.BindLatencies); len(res.Unbind) != want {
		t.Errorf("%d unbind rows, want %d", len(res.Unbind), want)
	}
	// doctor on one target (both resolutions), doctor -A and list -A at each size, and doctor -A with Pod
	// Identity associations.
	if want := (len(resolutions) + 2*len(cfg.Sizes) + 1) * len(cfg.DoctorLatencies); len(res.Doctor) != want {
		t.Errorf("%d doctor and list rows, want %d", len(res.Doctor), want)
	}
	for _, u := range res.Unbind {
		if u.Scenario == "unbind" && (u.AWS.Writes == 0 || u.Changes == 0) {
			t.Errorf("unbind (%s) wrote nothing to AWS: it found nothing bound", u.Resolution)
		}
	}
	if want := len(cfg.FleetSizes) * len(cfg.DoctorLatencies); len(res.Fleet) != want {
		t.Errorf("%d fleet rows, want %d", len(res.Fleet), want)
	}
	for _, f := range res.Fleet {
		if f.AWS.Total == 0 || f.Kube.Requests == 0 || f.Baseline.WallMS == 0 || len(f.SinglesMS) != f.Contexts {
			t.Errorf("fleet of %d: %d AWS calls, %d Kubernetes requests, single runs %v: the fleet measurement is broken", f.Contexts, f.AWS.Total, f.Kube.Requests, f.SinglesMS)
		}
	}
	for _, d := range res.Doctor {
		if d.Scope == scopePodIdentity && (d.Associations != min(cfg.Sizes[len(cfg.Sizes)-1].SAs, benchAssociations) || d.AWS.ByAction["eks:DescribePodIdentityAssociation"] != d.Associations) {
			t.Errorf("doctor -A with associations: %d associations, calls %v", d.Associations, d.AWS.ByAction)
		}
	}
	// A bind into a shared role edits its trust and policy under their Leases: a get, a take and a release
	// each at least, for the trust.
	if res.Shared == nil || len(res.Shared.Join) == 0 {
		t.Error("no bind into a shared role was measured")
	} else if j := res.Shared.Join[0]; j.Leases < 3 || j.KubeRequests <= j.Leases {
		t.Errorf("a bind into a shared role: %d Lease requests of %d Kubernetes requests; want the trust's Lease taken and released", j.Leases, j.KubeRequests)
	}
	for _, b := range res.Bind {
		if b.Scenario == "fresh" && b.AWS.Writes == 0 {
			t.Errorf("bind fresh (%s) made no AWS writes: the run was not fresh", b.Resolution)
		}
		if b.Baseline.WallMS == 0 || b.Baseline.AWSCalls == 0 {
			t.Errorf("bind %s (%s) has no baseline measured: %+v", b.Scenario, b.Resolution, b.Baseline)
		}
	}
	for _, d := range res.Doctor {
		if d.AWS.Total == 0 || d.Kube.Requests == 0 {
			t.Errorf("%s %s on %d SAs: %d AWS calls and %d Kubernetes requests counted; the counting is broken", d.Command, d.Scope, d.ServiceAccounts, d.AWS.Total, d.Kube.Requests)
		}
		if runtime.GOOS == "linux" && (d.PeakRSS == 0 || d.Scope == "-A" && d.PluginPeakRSS == 0) {
			t.Errorf("%s %s on %d SAs: no peak RSS measured", d.Command, d.Scope, d.ServiceAccounts)
		}
		if d.Scope != "one target" && (d.Floor == nil || d.Floor.KubeListsMS == 0 || d.Floor.IAMPagesMS == 0 || d.Floor.TogetherMS == 0 ||
			d.Scope == scopePodIdentity && d.Floor.AssociationsMS == 0) {
			t.Errorf("%s %s on %d SAs: the floor was not measured: %+v", d.Command, d.Scope, d.ServiceAccounts, d.Floor)
		}
	}
	if len(res.Startup) != len(startupCases)+1 || res.Binary.StrippedBytes == 0 || len(res.Binary.TopPackages) == 0 {
		t.Errorf("start-up or binary figures missing: %+v %+v", res.Startup, res.Binary)
	}
	b, err := os.ReadFile(cfg.Out)
	if err != nil {
		t.Fatal(err)
	}
	var back results
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("results.json does not parse: %v", err)
	}
	if back.Machine.Cores == 0 || back.Date == "" || back.Mode != "smoke" {
		t.Errorf("results.json lacks the date, machine or mode: %+v", back.Machine)
	}
}

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func TestSequentialRoundTrips(t *testing.T) {
	t.Parallel()
	at := func(startMS, durMS float64) awsCall {
		base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		return awsCall{Start: base.Add(time.Duration(startMS * float64(time.Millisecond))), Duration: time.Duration(durMS * float64(time.Millisecond))}
	}
	const lat = 100 * time.Millisecond
	cases := []struct {
		name  string
		calls []awsCall
		want  int
	}{
		{"none", nil, 0},
		{"one", []awsCall{at(0, 100)}, 1},
		{"one after another", []awsCall{at(0, 100), at(101, 100), at(203, 100)}, 3},
		{"all at once", []awsCall{at(0, 100), at(1, 100), at(2, 102), at(3, 100)}, 1},
		// identity and cluster together, then three reads together, then three creates, then the attachment
		{"bind's shape", []awsCall{at(0, 100), at(0, 101), at(102, 100), at(102, 100), at(103, 100), at(205, 100), at(205, 101), at(206, 100), at(310, 100)}, 4},
		// the front logs a moment after it answered, so the next call may start just before the logged end
		{"log lag", []awsCall{at(0, 100), at(99, 100), at(198, 100)}, 3},
		{"given in any order", []awsCall{at(203, 100), at(0, 100), at(101, 100)}, 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := sequentialRoundTrips(c.calls, lat); got != c.want {
				t.Errorf("got %d round trips, want %d", got, c.want)
			}
		})
	}
}

func TestSequentialChainNamesTheCallsInOrder(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	call := func(key string, startMS int) awsCall {
		return awsCall{Key: key, Start: base.Add(time.Duration(startMS) * time.Millisecond), Duration: 50 * time.Millisecond}
	}
	calls := []awsCall{
		call("iam:AttachRolePolicy", 153), call("sts:GetCallerIdentity", 0), call("eks:DescribeCluster", 1),
		call("iam:GetRole", 51), call("iam:GetPolicy", 52), call("iam:CreateRole", 102), call("iam:CreatePolicy", 103),
	}
	var got []string
	for _, c := range sequentialChain(calls, 50*time.Millisecond) {
		got = append(got, c.Key)
	}
	// Of the calls made together, the one that started last is named: the latest cause of the next step.
	want := []string{"eks:DescribeCluster", "iam:GetPolicy", "iam:CreatePolicy", "iam:AttachRolePolicy"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("chain %v, want %v", got, want)
	}
}

func TestParseFrontLine(t *testing.T) {
	t.Parallel()
	cases := []struct {
		line string
		key  string
		dur  time.Duration
		ok   bool
	}{
		{"2026-11-27T01:58:56.456736277Z iam:ListOpenIDConnectProviders POST / -> 200 in 4.431ms", "iam:ListOpenIDConnectProviders", 4431 * time.Microsecond, true},
		// moto's request log wrote half a line first
		{`127.0.0.1 - - [27/Nov/2026 01:58:56] "2026-11-27T01:58:56.913444272Z iam:GetOpenIDConnectProvider POST / -> 404 in 51.816ms`, "iam:GetOpenIDConnectProvider", 51816 * time.Microsecond, true},
		{"2026-11-27T01:58:56.911325507Z eks:DescribeCluster GET /clusters/sandbox -> 200 in 59µs", "eks:DescribeCluster", 59 * time.Microsecond, true},
		{"01:59:48 pod-identity-webhook: mutated pod bench-ns-002/sdc-0007 (ServiceAccount sdc-0007)", "", 0, false},
	}
	for _, c := range cases {
		got, ok := parseFrontLine(c.line)
		if ok != c.ok || got.Key != c.key || got.Duration != c.dur {
			t.Errorf("parseFrontLine(%q) = %+v, %v; want key %q duration %s, %v", c.line, got, ok, c.key, c.dur, c.ok)
		}
	}
}

func TestCallLogKeepsCallsAcrossSplitWrites(t *testing.T) {
	t.Parallel()
	var l callLog
	line := "2026-11-27T01:58:56.456736277Z iam:GetRole POST / -> 200 in 4ms\n"
	l.Write([]byte("unrelated\n" + line[:20]))
	l.Write([]byte(line[20:] + line))
	calls, err := l.since(context.Background(), 0, 2)
	if err != nil || len(calls) != 2 || calls[0].Key != "iam:GetRole" {
		t.Fatalf("got %+v, %v; want two iam:GetRole calls", calls, err)
	}
}

func TestSymbolPackage(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"k8s.io/api/core/v1.(*Pod).Marshal":                                    "k8s.io/api/core/v1",
		"fmt.(*pp).printValue":                                                 "fmt",
		"runtime.memmove.abi0":                                                 "runtime",
		"github.com/aws/aws-sdk-go-v2/service/s3.resolveResult":                "github.com/aws/aws-sdk-go-v2/service/s3",
		"sigs.k8s.io/kustomize/kyaml/openapi/kubernetesapi/v1_21_2..gobytes.1": "sigs.k8s.io/kustomize/kyaml/openapi/kubernetesapi/v1_21_2",
		"slices.SortFunc[go.shape.[]string,go.shape.string]":                   "slices",
		"k8s.io/client-go/rest.(*Request).Do.func1":                            "k8s.io/client-go/rest",
		"type:*k8s.io/api/core/v1.Pod":                                         "k8s.io/api/core/v1",
		"type:.eq.github.com/charmbracelet/lipgloss.Border":                    "github.com/charmbracelet/lipgloss",
		"type:map[string]interface {}":                                         "(type descriptors of composite types)",
		"type:.eq.[45]vendor/golang.org/x/sys/cpu.option":                      "(type descriptors of composite types)",
		"go:func.*": "(go: funcdata, strings, itabs)",
		"vendor/golang.org/x/crypto/chacha20poly1305.chacha20Poly1305Seal.abi0": "vendor/golang.org/x/crypto/chacha20poly1305",
		"aeshashbody": "(no package)",
	}
	for sym, want := range cases {
		if got := symbolPackage(sym); got != want {
			t.Errorf("symbolPackage(%q) = %q, want %q", sym, got, want)
		}
	}
}

func TestParseNMLine(t *testing.T) {
	t.Parallel()
	addr, size, kind, name, ok := parseNMLine(" 3955220     321028 d type:map[string]interface {}")
	if !ok || addr != 0x3955220 || size != 321028 || kind != "d" || name != "type:map[string]interface {}" {
		t.Errorf("got %x %d %q %q %v", addr, size, kind, name, ok)
	}
	if _, _, _, _, ok := parseNMLine("  U runtime.x"); ok {
		t.Error("an undefined symbol without address parsed")
	}
}

func TestModuleOf(t *testing.T) {
	t.Parallel()
	mods := []string{"github.com/aws/aws-sdk-go-v2/service/iam", "github.com/aws/aws-sdk-go-v2", "k8s.io/api"}
	cases := map[string]string{
		"github.com/aws/aws-sdk-go-v2/service/iam/types": "github.com/aws/aws-sdk-go-v2/service/iam",
		"github.com/aws/aws-sdk-go-v2/aws/retry":         "github.com/aws/aws-sdk-go-v2",
		"k8s.io/api/core/v1":                             "k8s.io/api",
		"k8s.io/apimachinery/pkg/runtime":                "std", // not in the list given
		"net/http":                                       "std",
		"(go: funcdata, strings, itabs)":                 "(go: funcdata, strings, itabs)",
	}
	for pkg, want := range cases {
		if got := moduleOf(pkg, mods); got != want {
			t.Errorf("moduleOf(%q) = %q, want %q", pkg, got, want)
		}
	}
}

func TestSeederLayoutGivesEachSizeItsNamespacesAndRoles(t *testing.T) {
	t.Parallel()
	for _, sizes := range [][]clusterSize{fullConfig().Sizes, smokeConfig().Sizes} {
		s := &seeder{sizes: sizes}
		for _, z := range sizes {
			ns, roles := s.layout(z.SAs)
			if ns != z.Namespaces || roles != z.Roles {
				t.Errorf("size %s lays out %d namespaces and %d roles", z, ns, roles)
			}
		}
	}
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	for _, c := range []config{fullConfig(), smokeConfig()} {
		if err := c.validate(); err != nil {
			t.Errorf("a built-in config is invalid: %v", err)
		}
	}
	bad := map[string]func(*config){
		"no runs":          func(c *config) { c.Runs = 0 },
		"negative latency": func(c *config) { c.BindLatencies = []int{-1} },
		"shrinking sizes":  func(c *config) { c.Sizes = []clusterSize{{300, 100, 100}, {100, 50, 30}} },
		"more roles than SAs": func(c *config) {
			c.Sizes = []clusterSize{{10, 5, 20}}
		},
		"an unknown part":   func(c *config) { c.Parts = []string{"bind", "everything"} },
		"a fleet of one":    func(c *config) { c.FleetSizes = []int{1, 2} },
		"a fleet too large": func(c *config) { c.FleetSizes = []int{2, 9} },
		"shrinking fleets":  func(c *config) { c.FleetSizes = []int{4, 2} },
		"no fleet":          func(c *config) { c.FleetSizes = nil },
	}
	for name, mutate := range bad {
		c := fullConfig()
		mutate(&c)
		if err := c.validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if got, err := parseSizes("100/50/30, 300/100/100"); err != nil || len(got) != 2 || got[1] != (clusterSize{300, 100, 100}) {
		t.Errorf("parseSizes = %v, %v", got, err)
	}
	for _, s := range []string{"100/50", "a/b/c"} {
		if _, err := parseSizes(s); err == nil {
			t.Errorf("parseSizes(%q) accepted", s)
		}
	}
}

func TestExtrapolation(t *testing.T) {
	t.Parallel()
	run := func(targets int, wall time.Duration, awsCalls, kube int) naiveRun {
		return naiveRun{targets: targets, s: sample{cmd: cmdResult{Wall: wall}, aws: awsfront.CallCounts{Total: awsCalls}, kube: kubeSummary{Requests: kube}}}
	}
	d := &doctorAllSamples{fixed: map[int]naiveRun{0: run(0, 2*time.Second, 3, 1)}, subset: map[int]naiveRun{0: run(20, 52*time.Second, 103, 61)}}
	w, a, k := d.extrapolated(0, 1000)
	if w != 2000+2500*1000 || a != 3+5*1000 || k != 1+3*1000 {
		t.Errorf("extrapolated to 1000: %v ms, %d calls, %d requests", w, a, k)
	}
}

func TestCorrectnessTargets(t *testing.T) {
	t.Parallel()
	fleet := func(n, awsCalls, kube, singleAWS, singleKube int) fleetRow {
		return fleetRow{Contexts: n, measured: measured{AWSPerRun: []int{awsCalls}, KubePerRun: []int{kube}},
			Baseline: baseline{AWSCalls: singleAWS, KubeRequests: singleKube}}
	}
	row := func(sas, requests int) doctorRow {
		return doctorRow{Command: "doctor", Scope: "-A", ServiceAccounts: sas, Roles: 1, measured: measured{KubePerRun: []int{requests}, Kube: kubeSummary{Requests: requests}}}
	}
	find := func(ts []targetCheck, target string) (targetCheck, bool) {
		for _, c := range ts {
			if strings.HasPrefix(c.Target, target) {
				return c, true
			}
		}
		return targetCheck{}, false
	}
	cases := []struct {
		name   string
		res    results
		target string
		met    bool
	}{
		{"no-op without writes", results{Bind: []bindRow{{Scenario: "no-op"}}}, "0 writes", true},
		{"no-op writing to AWS", results{Bind: []bindRow{{Scenario: "no-op", measured: measured{AWS: awsfront.CallCounts{Writes: 1}}}}}, "0 writes", false},
		{"no-op writing to Kubernetes", results{Bind: []bindRow{{Scenario: "no-op", measured: measured{Kube: kubeSummary{Writes: 1}}}}}, "0 writes", false},
		{"lists only", results{Doctor: []doctorRow{row(100, 5), row(1000, 5)}}, "kube requests constant", true},
		{"list pages", results{Doctor: []doctorRow{row(100, 5), row(1000, 8)}}, "kube requests constant", true},
		{"a get per ServiceAccount", results{Doctor: []doctorRow{row(100, 105), row(1000, 1005)}}, "kube requests constant", false},
		{"a get per ServiceAccount, small sizes", results{Doctor: []doctorRow{row(10, 15), row(20, 25)}}, "kube requests constant", false},
		{"unbind: a write per change", results{Unbind: []unbindRow{{Scenario: "unbind", Changes: 4,
			measured: measured{AWS: awsfront.CallCounts{Writes: 3}, Kube: kubeSummary{Writes: 1}}}}}, "one write per thing removed", true},
		{"unbind: a write too many", results{Unbind: []unbindRow{{Scenario: "unbind", Changes: 4,
			measured: measured{AWS: awsfront.CallCounts{Writes: 4}, Kube: kubeSummary{Writes: 1}}}}}, "one write per thing removed", false},
		{"unbind run again writes nothing", results{Unbind: []unbindRow{{Scenario: "unbind no-op"}}}, "0 writes", true},
		{"unbind run again writing", results{Unbind: []unbindRow{{Scenario: "unbind no-op", measured: measured{Kube: kubeSummary{Writes: 1}}}}}, "0 writes", false},
		{"a fleet reads each context as alone", results{Fleet: []fleetRow{fleet(2, 20, 10, 20, 10)}}, "AWS calls and kube requests = the single runs'", true},
		{"a fleet that skips a read", results{Fleet: []fleetRow{fleet(2, 19, 10, 20, 10)}}, "AWS calls and kube requests = the single runs'", false},
		{"a fleet that asks Kubernetes more", results{Fleet: []fleetRow{fleet(2, 20, 12, 20, 10)}}, "AWS calls and kube requests = the single runs'", false},
	}
	for _, c := range cases {
		got, ok := find(checkTargets(&c.res), c.target)
		if !ok || got.Met != c.met || !got.Correctness {
			t.Errorf("%s: %+v (found %v), want met=%v and a correctness target", c.name, got, ok, c.met)
		}
	}
}

func TestMedian(t *testing.T) {
	t.Parallel()
	if got := median([]time.Duration{3, 1, 2}); got != 2 {
		t.Errorf("median of 3,1,2 = %v", got)
	}
	if got := median([]time.Duration{4, 1, 3, 2}); got != 2 {
		t.Errorf("median of 4,1,3,2 = %v (the mean of the middle two, truncated)", got)
	}
	if got := spread([]int{10, 10}); got != "10" {
		t.Errorf("spread of equal runs = %q", got)
	}
	if got := spread([]int{9, 11, 10}); got != "9–11" {
		t.Errorf("spread = %q", got)
	}
}
