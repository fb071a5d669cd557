package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox/awsfront"
)

// results is everything one bench run measured; bench/results.json is this, indented.
type results struct {
	Date          string          `json:"date"`
	Mode          string          `json:"mode"` // "full" or "smoke"
	Machine       machine         `json:"machine"`
	Settings      settings        `json:"settings"`
	PluginVersion string          `json:"plugin_version"`
	Startup       []startupResult `json:"startup"`
	Binary        binaryReport    `json:"binary"`
	Bind          []bindRow       `json:"bind"`
	Unbind        []unbindRow     `json:"unbind"`
	Doctor        []doctorRow     `json:"doctor"`
	Fleet         []fleetRow      `json:"fleet"`
	Targets       []targetCheck   `json:"targets"`
	Shared        *sharedReport   `json:"shared_role,omitempty"`
	// RSSParts are the peaks of the processes around the plugin (doctor part only).
	RSSParts  *rssParts `json:"rss_parts,omitempty"`
	DurationS float64   `json:"duration_s"`
}

type settings struct {
	Runs            int      `json:"runs"`
	BindLatencies   []int    `json:"bind_latencies_ms"`
	DoctorLatencies []int    `json:"doctor_latencies_ms"`
	Sizes           []string `json:"sizes"`
	NaiveSubset     int      `json:"naive_subset"`
	StartupReps     int      `json:"startup_reps"`
	FleetSizes      []int    `json:"fleet_sizes"`
}

// machine is what the figures were measured on, and how busy it was (load averages from /proc/loadavg:
// above the core count, other work competed for the CPU).
type machine struct {
	CPU        string `json:"cpu"`
	Cores      int    `json:"cores"`
	OS         string `json:"os"`
	Kernel     string `json:"kernel"`
	Go         string `json:"go"`
	LoadBefore string `json:"load_before"`
	LoadAfter  string `json:"load_after"`
}

func readMachine() machine {
	m := machine{Cores: runtime.NumCPU(), Go: runtime.Version(), OS: runtime.GOOS}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/etc/os-release"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
				m.OS = strings.Trim(v, `"`)
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		// Major and minor only: the rest is the build of one particular machine.
		v := strings.SplitN(strings.TrimSpace(string(b)), ".", 3)
		m.Kernel = "Linux " + strings.Join(v[:min(2, len(v))], ".")
	}
	m.LoadBefore = loadAverage()
	return m
}

// loadAverage is the 1, 5 and 15 minute load averages.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// measured is what a row of runs of one command at one latency came to.
type measured struct {
	LatencyMS int       `json:"latency_ms"`
	Runs      int       `json:"runs"`
	WallMS    float64   `json:"wall_ms"` // median
	SamplesMS []float64 `json:"samples_ms"`
	// CPUMS is the median CPU time of the command (kubectl and the plugin): the rest of the wall time was
	// spent waiting, for AWS, the apiserver or the CPU.
	CPUMS float64 `json:"cpu_ms"`
	// AWS is the calls of the run that made the most (runs normally make the same); AWSPerRun all totals.
	AWS        awsfront.CallCounts `json:"aws"`
	AWSPerRun  []int               `json:"aws_per_run"`
	Kube       kubeSummary         `json:"kube"`
	KubePerRun []int               `json:"kube_per_run"`
	// RoundTrips is the median length of the longest chain of AWS calls made one after another, as laid
	// out in time by the front's log; RoundTripsEstimate is (wall − wall at 0 ms) / latency. Both only
	// with latency.
	RoundTrips         *int     `json:"sequential_aws_round_trips,omitempty"`
	RoundTripsEstimate *float64 `json:"sequential_aws_round_trips_estimate,omitempty"`
	// Chain is the calls of one longest chain in the median run, in order: where the round trips go.
	Chain []string `json:"sequential_aws_calls,omitempty"`
	// AWSCallMedianMS is how long the front took to answer a call (the latency included: at 0 ms it is
	// moto's own time); AWSInFlight is the calls in flight on average over the run (their summed time over
	// the wall time), which tells how much of the AWS work ran in parallel. Both from the median run.
	AWSCallMedianMS float64 `json:"aws_call_median_ms"`
	AWSInFlight     float64 `json:"aws_calls_in_flight"`
	// PeakRSS is the largest resident set of any run, in bytes: for a command through kubectl, the larger of
	// kubectl's and the plugin's (see peakRSS).
	PeakRSS int64 `json:"peak_rss_bytes"`
}

// summarize reduces runs to a row. chained says the command's AWS calls depend on each other in a few
// steps (bind, doctor on one target), so that the longest chain of one-after-another calls is its number
// of sequential round trips; for doctor -A, whose hundreds of calls are limited by how many are in flight,
// such a chain would count waves of parallel calls instead, and is left out.
func summarize(samples []sample, latency int, chained bool) measured {
	m := measured{LatencyMS: latency, Runs: len(samples)}
	var walls, cpus []time.Duration
	var chains []int
	for _, s := range samples {
		walls = append(walls, s.cmd.Wall)
		cpus = append(cpus, s.cmd.CPU)
		m.AWSPerRun = append(m.AWSPerRun, s.aws.Total)
		m.KubePerRun = append(m.KubePerRun, s.kube.Requests)
		if s.aws.Total >= m.AWS.Total {
			m.AWS = s.aws
		}
		if s.kube.Requests >= m.Kube.Requests {
			m.Kube = s.kube
		}
		m.PeakRSS = max(m.PeakRSS, s.cmd.PeakRSS)
		if latency > 0 && chained {
			chains = append(chains, sequentialRoundTrips(s.calls, time.Duration(latency)*time.Millisecond))
		}
	}
	m.WallMS, m.SamplesMS, m.CPUMS = ms(median(walls)), msAll(walls), ms(median(cpus))
	if mid := medianSample(samples); mid != nil && len(mid.calls) > 0 && latency > 0 && chained {
		for _, c := range sequentialChain(mid.calls, time.Duration(latency)*time.Millisecond) {
			m.Chain = append(m.Chain, c.Key)
		}
	}
	if mid := medianSample(samples); mid != nil && len(mid.calls) > 0 {
		var durs []time.Duration
		var sum time.Duration
		for _, c := range mid.calls {
			durs = append(durs, c.Duration)
			sum += c.Duration
		}
		m.AWSCallMedianMS = ms(median(durs))
		m.AWSInFlight = float64(sum) / float64(mid.cmd.Wall)
	}
	if len(chains) > 0 {
		c := medianInt(chains)
		m.RoundTrips = &c
	}
	return m
}

// estimateRoundTrips fills RoundTripsEstimate from the same command's row at 0 ms.
func (m *measured) estimateRoundTrips(zero *measured) {
	if m.LatencyMS == 0 || zero == nil {
		return
	}
	e := (m.WallMS - zero.WallMS) / float64(m.LatencyMS)
	m.RoundTripsEstimate = &e
}

// baseline is what a row's time is compared with.
type baseline struct {
	Name         string    `json:"name"`
	WallMS       float64   `json:"wall_ms"`
	SamplesMS    []float64 `json:"samples_ms,omitempty"`
	AWSCalls     int       `json:"aws_calls"`
	KubeRequests int       `json:"kube_requests"`
	// Extrapolated: not measured at this size, but linearly from MeasuredTargets targets.
	Extrapolated    bool `json:"extrapolated"`
	MeasuredTargets int  `json:"measured_targets,omitempty"`
}

func baselineOf(name string, samples []sample) baseline {
	m := summarize(samples, 0, false)
	return baseline{Name: name, WallMS: m.WallMS, SamplesMS: m.SamplesMS, AWSCalls: m.AWS.Total, KubeRequests: m.Kube.Requests}
}

type bindRow struct {
	Scenario   string `json:"scenario"`   // fresh or no-op
	Resolution string `json:"resolution"` // how the cluster's issuer was found
	Mechanism  string `json:"mechanism"`  // irsa or pod-identity
	measured
	Baseline baseline `json:"baseline"`
	Ratio    float64  `json:"ratio"`
}

// name is the row's name in the table.
func (b bindRow) name() string {
	if b.Mechanism == mechPodIdentity {
		return fmt.Sprintf("bind pod-identity %s (%s)", b.Scenario, b.Resolution)
	}
	return fmt.Sprintf("bind %s (%s)", b.Scenario, b.Resolution)
}

// what names the row's targets.
func (b bindRow) what() string { return fmt.Sprintf("%s at %d ms", b.name(), b.LatencyMS) }

// unbindRow is unbind's runs on what bind made at one latency ("unbind"), or run again ("unbind no-op"),
// beside bind's no-op run of the same resolution and latency.
type unbindRow struct {
	Scenario   string `json:"scenario"`
	Resolution string `json:"resolution"`
	measured
	// Changes is how many changes the plan made (each should cost one write); BindNoopReads the AWS reads
	// of bind's no-op run, which unbind should not exceed.
	Changes       int `json:"changes"`
	BindNoopReads int `json:"bind_noop_reads"`
}

type doctorRow struct {
	// Command is "doctor" or "list" (list -A reads what doctor -A reads; they are measured side by side).
	Command         string         `json:"command"`
	Scope           string         `json:"scope"`                // "one target" or "-A"
	Resolution      string         `json:"resolution,omitempty"` // for one target: how the cluster was found
	ServiceAccounts int            `json:"service_accounts"`
	Namespaces      int            `json:"namespaces"`
	Roles           int            `json:"roles"`
	Objects         map[string]int `json:"objects,omitempty"` // what doctor -A lists, in the whole cluster
	// Associations is how many ServiceAccounts also have an EKS Pod Identity association.
	Associations int `json:"pod_identity_associations,omitempty"`
	// PluginPeakRSS is the plugin's own peak resident set in bytes (with the exec credential plugin it
	// runs), measured without kubectl (-A only); PluginRSSPerSA is it per ServiceAccount.
	PluginPeakRSS  int64   `json:"plugin_peak_rss_bytes,omitempty"`
	PluginRSSPerSA float64 `json:"plugin_peak_rss_per_sa_bytes,omitempty"`
	// Floor is what the APIs took to hand over what the run reads, measured beside each run (-A only; see
	// floor.go); RatioToFloor is TIME over it.
	Floor        *floorRow `json:"floor,omitempty"`
	RatioToFloor float64   `json:"ratio_to_floor,omitempty"`
	measured
	Baseline baseline `json:"baseline"`
	Ratio    float64  `json:"ratio"`
}

// floorRow is the floor's medians over the runs: the floor (the longest part of each run) and each part.
type floorRow struct {
	WallMS         float64   `json:"wall_ms"`
	SamplesMS      []float64 `json:"samples_ms"`
	KubeListsMS    float64   `json:"kube_lists_ms"`
	IAMPagesMS     float64   `json:"iam_pages_ms"`
	AssociationsMS float64   `json:"association_describes_ms,omitempty"`
	// TogetherMS is the parts started at once (see floor.go): what overlapping them reaches on a machine
	// whose cores the servers share with the client.
	TogetherMS float64 `json:"together_ms"`
}

func summarizeFloor(runs []floorRun) *floorRow {
	if len(runs) == 0 {
		return nil
	}
	var floors, kube, iamp, assoc, together []time.Duration
	for _, r := range runs {
		floors, kube, iamp, assoc = append(floors, r.floor()), append(kube, r.Kube), append(iamp, r.IAM), append(assoc, r.Associations)
		together = append(together, r.Together)
	}
	return &floorRow{WallMS: ms(median(floors)), SamplesMS: msAll(floors), KubeListsMS: ms(median(kube)), IAMPagesMS: ms(median(iamp)),
		AssociationsMS: ms(median(assoc)), TogetherMS: ms(median(together))}
}

func floorCell(r doctorRow) string {
	if r.Floor == nil {
		return "—"
	}
	parts := fmt.Sprintf("%s/%s", fmtDuration(r.Floor.KubeListsMS), fmtDuration(r.Floor.IAMPagesMS))
	if r.Floor.AssociationsMS > 0 {
		parts += "/" + fmtDuration(r.Floor.AssociationsMS)
	}
	return fmt.Sprintf("%s (%s; together %s) %s", fmtDuration(r.Floor.WallMS), parts, fmtDuration(r.Floor.TogetherMS), fmtRatio(r.RatioToFloor))
}

// targetCheck is one target of the issue, met or not. Correctness marks the count properties that are
// correctness, not speed (the smoke test fails on them); the others are reported, never enforced.
type targetCheck struct {
	What        string `json:"what"`
	Target      string `json:"target"`
	Value       string `json:"value"`
	Met         bool   `json:"met"`
	Correctness bool   `json:"correctness"`
}

func (t targetCheck) cell() string {
	mark := "✓"
	if !t.Met {
		mark = "✗ " + t.Value
	}
	return t.Target + " " + mark
}

// assemble turns the samples into rows, fills the round-trip estimates and checks the targets.
func assemble(res *results, bs *bindSamples, one *doctorOneSamples, all *doctorAllSamples, fl *fleetSamples, cfg config) {
	if bs != nil {
		for _, sc := range []string{"unbind", "unbind no-op"} {
			for _, r := range bindVariants() {
				var zero *measured
				for _, lat := range cfg.BindLatencies {
					s := bs.unbind[bindKey{sc, r.Name, lat, mechIRSA}]
					if len(s) == 0 {
						continue
					}
					row := unbindRow{Scenario: sc, Resolution: r.Name, measured: summarize(s, lat, true)}
					for _, x := range s {
						row.Changes = max(row.Changes, x.changes)
					}
					row.BindNoopReads = maxInt(noopReads(bs.bind[bindKey{"no-op", r.Name, lat, mechIRSA}]))
					if lat == 0 {
						zero = &row.measured
					}
					row.estimateRoundTrips(zero)
					res.Unbind = append(res.Unbind, row)
				}
			}
		}
		for _, mech := range mechanisms {
			for _, sc := range []string{"fresh", "no-op"} {
				for _, r := range variantsFor(mech) {
					var zero *measured
					for _, lat := range cfg.BindLatencies {
						s := bs.bind[bindKey{sc, r.Name, lat, mech}]
						if len(s) == 0 {
							continue
						}
						row := bindRow{Scenario: sc, Resolution: r.Name, Mechanism: mech, measured: summarize(s, lat, true),
							Baseline: baselineOf("guide.sh (fresh)", bs.guide[lat])}
						if mech == mechPodIdentity {
							// No guide does Pod Identity by hand: the same bind with IRSA is the yardstick.
							row.Baseline = baselineOf("bind "+sc+" with IRSA", bs.bind[bindKey{sc, r.Name, lat, mechIRSA}])
						}
						if lat == 0 {
							zero = &row.measured
						}
						row.estimateRoundTrips(zero)
						row.Ratio = ratio(row.WallMS, row.Baseline.WallMS)
						res.Bind = append(res.Bind, row)
					}
				}
			}
		}
	}
	if one != nil {
		for _, r := range resolutions {
			var zero *measured
			for _, lat := range cfg.DoctorLatencies {
				row := doctorRow{Command: "doctor", Scope: "one target", Resolution: r.Name, ServiceAccounts: 1, Namespaces: 1, Roles: 1,
					measured: summarize(one.doctor[resLatency{r.Name, lat}], lat, true),
					Baseline: baselineOf("naive walk, 1 target", one.naive[lat])}
				if lat == 0 {
					zero = &row.measured
				}
				row.estimateRoundTrips(zero)
				row.Ratio = ratio(row.WallMS, row.Baseline.WallMS)
				res.Doctor = append(res.Doctor, row)
			}
		}
	}
	if all != nil {
		res.RSSParts = &all.rss
		for _, z := range all.sizes {
			for _, lat := range cfg.DoctorLatencies {
				for _, command := range []string{"doctor", "list"} {
					samples := all.doctor
					if command == "list" {
						samples = all.list
					}
					row := doctorRow{Command: command, Scope: "-A", ServiceAccounts: z.SAs, Namespaces: z.Namespaces, Roles: z.Roles, Objects: z.Objects,
						measured: summarize(samples[doctorAllKey{z.SAs, lat}], lat, false), PluginPeakRSS: all.pluginRSS[command][z.SAs],
						Floor: summarizeFloor(all.floor[doctorAllKey{z.SAs, lat}])}
					row.PluginRSSPerSA = float64(row.PluginPeakRSS) / float64(z.SAs)
					if row.Floor != nil {
						row.RatioToFloor = ratio(row.WallMS, row.Floor.WallMS)
					}
					w, a, k := all.extrapolated(lat, z.SAs)
					row.Baseline = baseline{Name: fmt.Sprintf("naive walk, %d targets", z.SAs), WallMS: w, AWSCalls: a, KubeRequests: k,
						Extrapolated: z.SAs != all.subsetN, MeasuredTargets: all.subsetN}
					if !row.Baseline.Extrapolated {
						row.Baseline.SamplesMS = []float64{ms(all.subset[lat].s.cmd.Wall)}
					}
					row.Ratio = ratio(row.WallMS, row.Baseline.WallMS)
					res.Doctor = append(res.Doctor, row)
				}
			}
		}
		if len(all.pod) > 0 {
			z := all.sizes[len(all.sizes)-1]
			for _, lat := range cfg.DoctorLatencies {
				row := doctorRow{Command: "doctor", Scope: scopePodIdentity, ServiceAccounts: z.SAs, Namespaces: z.Namespaces, Roles: z.Roles, Objects: z.Objects,
					Associations: all.associations, measured: summarize(all.pod[lat], lat, false),
					// The same cluster without the associations is the yardstick: what Pod Identity adds.
					Baseline: baselineOf(fmt.Sprintf("doctor -A, %d SAs, IRSA only", z.SAs), all.doctor[doctorAllKey{z.SAs, lat}]),
					Floor:    summarizeFloor(all.podFloor[lat])}
				if row.Floor != nil {
					row.RatioToFloor = ratio(row.WallMS, row.Floor.WallMS)
				}
				row.Ratio = ratio(row.WallMS, row.Baseline.WallMS)
				res.Doctor = append(res.Doctor, row)
			}
		}
	}
	if fl != nil {
		res.Fleet = fl.rows(cfg)
	}
	res.Targets = checkTargets(res)
}

// guardrailsCost checks that bind fresh with guardrails made the AWS calls (and writes) of bind fresh
// without them, at the same latency.
func guardrailsCost(res *results, g bindRow, what string) targetCheck {
	// The check before writing asks once more with a permissions boundary (CreateRole's own context):
	// compared without its simulations.
	c := targetCheck{What: what, Target: "AWS calls as without guardrails, besides the check", Correctness: true}
	for _, b := range res.Bind {
		if b.Scenario == "fresh" && b.Resolution == "--eks-cluster" && b.LatencyMS == g.LatencyMS {
			gs, bs := g.AWS.ByAction[simulateAction], b.AWS.ByAction[simulateAction]
			c.Value = fmt.Sprintf("%d (%d w) vs %d (%d w)", maxInt(g.AWSPerRun)-gs, g.AWS.Writes, maxInt(b.AWSPerRun)-bs, b.AWS.Writes)
			c.Met = maxInt(g.AWSPerRun)-gs == maxInt(b.AWSPerRun)-bs && g.AWS.Writes == b.AWS.Writes
			return c
		}
	}
	c.Value = "no run without guardrails to compare with"
	return c
}

// scopePodIdentity is the scope of doctor -A's rows on ServiceAccounts that also have an association.
const scopePodIdentity = "-A, with EKS Pod Identity associations"

// podIdentityTargets are the costs of doctor -A over ServiceAccounts with associations: one paged list of
// the cluster's associations (EKS pages by 100), one describe of each, and the describes in parallel,
// never one after another per ServiceAccount.
func podIdentityTargets(d doctorRow) []targetCheck {
	what := fmt.Sprintf("doctor -A %d SAs with %d associations at %d ms", d.ServiceAccounts, d.Associations, d.LatencyMS)
	pages, describes := d.AWS.ByAction["eks:ListPodIdentityAssociations"], d.AWS.ByAction["eks:DescribePodIdentityAssociation"]
	wantPages := (d.Associations + 99) / 100
	out := []targetCheck{
		{What: what, Target: fmt.Sprintf("one paged list (%d pages)", wantPages), Value: strconv.Itoa(pages), Met: pages == wantPages, Correctness: true},
		{What: what, Target: "one describe per association", Value: strconv.Itoa(describes), Met: describes == d.Associations, Correctness: true},
	}
	if d.LatencyMS > 0 {
		sequential := float64(describes * d.LatencyMS)
		out = append(out, targetCheck{What: what, Target: "describes in parallel",
			Value: fmt.Sprintf("%s where one after another would take %s; %.1f calls in flight", fmtDuration(d.WallMS), fmtDuration(sequential), d.AWSInFlight),
			Met:   d.WallMS < sequential/4})
	}
	return out
}

// The targets.
const (
	targetFreshAWSCalls = 10
	targetFreshKube     = 8
	// targetCheckSimulations bounds the policy simulator's requests of a fresh bind's check: one per set of
	// condition keys (the provider's, the policy's and the role's tags; the policy an attach names).
	targetCheckSimulations = 4
	// simulateAction is the check's AWS call.
	simulateAction        = "iam:SimulatePrincipalPolicy"
	targetBindAt100MS     = 800.0
	targetDoctorAllMS     = 5000.0
	targetDoctorAllSAs    = 1000
	targetStartupMS       = 50.0
	targetBindLatencyMS   = 100
	targetDoctorLatencyMS = 0
	// At 10,000 ServiceAccounts and 3,000 roles, doctor -A and list -A alike.
	targetLargeSAs      = 10000
	targetLargeMS       = 3000.0
	targetLargeAWSCalls = 15
	targetLargeRSS      = 200 << 20
	// targetFloorRatio: doctor -A and list -A within this of the floor the APIs set (from 10,000 on).
	targetFloorRatio = 1.3
)

func checkTargets(res *results) []targetCheck {
	var out []targetCheck
	for _, s := range res.Startup {
		if s.Name == "kubectl sdc version (through kubectl)" {
			continue // the target is the plugin's own start; through kubectl adds kubectl's
		}
		out = append(out, targetCheck{What: "startup " + s.Name, Target: "≤ 50 ms", Value: fmtDuration(s.MedianMS), Met: s.MedianMS <= targetStartupMS})
	}
	for _, b := range res.Bind {
		what := b.what()
		if b.Mechanism == mechPodIdentity {
			// The call and time targets are IRSA's; Pod Identity's are reported. Correctness holds
			// for both: a no-op writes nothing, and Pod Identity touches no OIDC provider.
			oidc := 0
			for a, n := range b.AWS.ByAction {
				if strings.Contains(a, "OpenIDConnectProvider") {
					oidc += n
				}
			}
			out = append(out, targetCheck{What: what, Target: "no OIDC provider call", Value: strconv.Itoa(oidc), Met: oidc == 0, Correctness: true})
			if b.Scenario == "no-op" {
				out = append(out, targetCheck{What: what, Target: "0 writes", Value: fmt.Sprintf("%d AWS + %d kube writes", b.AWS.Writes, b.Kube.Writes),
					Met: b.AWS.Writes+b.Kube.Writes == 0, Correctness: true})
			}
			continue
		}
		// The check before writing (pkg/bind/preflight.go) is counted apart: IAM's policy simulator and
		// Kubernetes' access reviews.
		simulations, reviews := b.AWS.ByAction[simulateAction], b.Kube.ByVerb["create selfsubjectaccessreviews"]
		maxSimulations := targetCheckSimulations
		if b.Resolution == guardrails.Name {
			maxSimulations++ // the boundary is CreateRole's own context
		}
		if b.Scenario == "fresh" {
			out = append(out,
				targetCheck{What: what, Target: "≤ 10 AWS calls besides the check", Value: fmt.Sprintf("%d (+%d simulations)", maxInt(b.AWSPerRun)-simulations, simulations),
					Met: maxInt(b.AWSPerRun)-simulations <= targetFreshAWSCalls},
				targetCheck{What: what, Target: "≤ 8 kube requests besides the check", Value: fmt.Sprintf("%d (+%d access reviews)", maxInt(b.KubePerRun)-reviews, reviews),
					Met: maxInt(b.KubePerRun)-reviews <= targetFreshKube},
				targetCheck{What: what, Target: fmt.Sprintf("writes checked first (1–%d simulations)", maxSimulations), Value: strconv.Itoa(simulations),
					Met: simulations >= 1 && simulations <= maxSimulations, Correctness: true})
			if b.Resolution == guardrails.Name {
				out = append(out, guardrailsCost(res, b, what))
			}
		} else {
			w := b.AWS.Writes + b.Kube.Writes
			out = append(out, targetCheck{What: what, Target: "0 writes", Value: fmt.Sprintf("%d AWS + %d kube writes", b.AWS.Writes, b.Kube.Writes),
				Met: w == 0, Correctness: true},
				targetCheck{What: what, Target: "no check (nothing to write)", Value: fmt.Sprintf("%d simulations, %d access reviews", simulations, reviews),
					Met: simulations+reviews == 0, Correctness: true})
		}
		if b.LatencyMS == targetBindLatencyMS {
			out = append(out, targetCheck{What: what, Target: "≤ 0.8 s", Value: fmtDuration(b.WallMS), Met: b.WallMS <= targetBindAt100MS})
		}
	}
	for _, u := range res.Unbind {
		what := fmt.Sprintf("%s (%s) at %d ms", u.Scenario, u.Resolution, u.LatencyMS)
		reads := u.AWS.Reads - u.AWS.ByAction[simulateAction] // the check before writing apart
		out = append(out, targetCheck{What: what, Target: "≤ bind no-op's reads, besides the check", Value: fmt.Sprintf("%d reads (bind no-op %d)", reads, u.BindNoopReads),
			Met: reads <= u.BindNoopReads})
		if u.Scenario == "unbind" {
			w := u.AWS.Writes + u.Kube.Writes
			out = append(out, targetCheck{What: what, Target: "one write per thing removed", Value: fmt.Sprintf("%d AWS + %d kube writes for %d changes", u.AWS.Writes, u.Kube.Writes, u.Changes),
				Met: w == u.Changes, Correctness: true})
		} else {
			out = append(out, targetCheck{What: what, Target: "0 writes", Value: fmt.Sprintf("%d AWS + %d kube writes", u.AWS.Writes, u.Kube.Writes),
				Met: u.AWS.Writes+u.Kube.Writes == 0, Correctness: true})
		}
	}
	base := map[string]doctorRow{}
	large := map[string]doctorRow{} // the 10,000-ServiceAccount rows at 0 ms, by command
	for _, d := range res.Doctor {
		if d.Scope == scopePodIdentity {
			out = append(out, podIdentityTargets(d)...)
			continue
		}
		if d.Scope != "-A" {
			continue
		}
		what := fmt.Sprintf("%s -A %d SAs/%d roles at %d ms", d.Command, d.ServiceAccounts, d.Roles, d.LatencyMS)
		bk := fmt.Sprintf("%s %d", d.Command, d.LatencyMS)
		b, ok := base[bk]
		if !ok {
			base[bk] = d
		} else {
			// Lists, not per-object gets: going from b to d adds d.SAs-b.SAs ServiceAccounts with their
			// Deployments and pods; list pages may add a request per few hundred objects, a get per object
			// would add at least one per ServiceAccount.
			grow := maxInt(d.KubePerRun) - maxInt(b.KubePerRun)
			allowed := (d.ServiceAccounts - b.ServiceAccounts) / 10
			out = append(out, targetCheck{What: what, Target: fmt.Sprintf("kube requests constant (vs %d SAs)", b.ServiceAccounts),
				Value: fmt.Sprintf("%d → %d", maxInt(b.KubePerRun), maxInt(d.KubePerRun)), Met: grow <= allowed, Correctness: true})
		}
		// Either each distinct role is read once, or (with many roles) the whole account in one batch read
		// (iam:GetAccountAuthorizationDetails) and no role on its own.
		batch := d.AWS.ByAction["iam:GetAccountAuthorizationDetails"]
		perRole := d.AWS.ByAction["iam:GetRole"]
		reads := (perRole == d.Roles || (batch > 0 && perRole == 0)) &&
			d.AWS.ByAction["iam:GetOpenIDConnectProvider"] <= 1 && d.AWS.ByAction["iam:GetPolicy"] <= d.Roles
		out = append(out, targetCheck{What: what, Target: "one read per distinct role/policy/provider",
			Value: fmt.Sprintf("GetRole %d, GetAccountAuthorizationDetails %d, GetPolicy %d, GetOpenIDConnectProvider %d for %d roles",
				perRole, batch, d.AWS.ByAction["iam:GetPolicy"], d.AWS.ByAction["iam:GetOpenIDConnectProvider"], d.Roles),
			Met: reads})
		if d.Command == "doctor" && d.ServiceAccounts == targetDoctorAllSAs && d.LatencyMS == targetDoctorLatencyMS {
			out = append(out, targetCheck{What: what, Target: "≤ 5 s", Value: fmtDuration(d.WallMS), Met: d.WallMS <= targetDoctorAllMS})
		}
		if d.ServiceAccounts >= targetLargeSAs && d.LatencyMS == targetDoctorLatencyMS && d.Floor != nil {
			out = append(out, targetCheck{What: what, Target: fmt.Sprintf("≤ %.1f× floor", targetFloorRatio), Value: fmtRatio(d.RatioToFloor),
				Met: d.RatioToFloor <= targetFloorRatio})
		}
		if d.ServiceAccounts == targetLargeSAs && d.LatencyMS == targetDoctorLatencyMS {
			// At most 3 s where the floor allows it: when the floor itself is within 3 s / 1.3.
			if d.Floor == nil || d.Floor.WallMS*targetFloorRatio <= targetLargeMS {
				out = append(out, targetCheck{What: what, Target: "≤ 3 s", Value: fmtDuration(d.WallMS), Met: d.WallMS <= targetLargeMS})
			}
			out = append(out,
				targetCheck{What: what, Target: "≤ 15 AWS calls", Value: strconv.Itoa(maxInt(d.AWSPerRun)), Met: maxInt(d.AWSPerRun) <= targetLargeAWSCalls},
				targetCheck{What: what, Target: "plugin ≤ 200 MiB", Value: fmtBytes(d.PluginPeakRSS), Met: d.PluginPeakRSS <= targetLargeRSS})
			large[d.Command] = d
		}
	}
	// Memory per ServiceAccount does not grow past 10,000.
	for _, d := range res.Doctor {
		b, ok := large[d.Command]
		if d.Scope != "-A" || !ok || d.ServiceAccounts <= b.ServiceAccounts || d.LatencyMS != targetDoctorLatencyMS || d.PluginPeakRSS == 0 {
			continue
		}
		out = append(out, targetCheck{What: fmt.Sprintf("%s -A %d SAs/%d roles at %d ms", d.Command, d.ServiceAccounts, d.Roles, d.LatencyMS),
			Target: fmt.Sprintf("RSS per SA ≤ at %d SAs", b.ServiceAccounts),
			Value:  fmt.Sprintf("%.1f KiB vs %.1f KiB", d.PluginRSSPerSA/1024, b.PluginRSSPerSA/1024), Met: d.PluginRSSPerSA <= b.PluginRSSPerSA})
	}
	return append(out, fleetTargets(res.Fleet)...)
}

// printTable writes the one table and, under it, what the binary is made of and how to read it all.
func printTable(w io.Writer, res *results) {
	m := res.Machine
	fmt.Fprintf(w, "kubectl-sdc benchmarks · %s · %s · %s, %d cores, %s · %s · load %s → %s\n",
		res.Date, res.PluginVersion, m.CPU, m.Cores, m.OS, res.Mode, m.LoadBefore, m.LoadAfter)
	fmt.Fprintf(w, "times are medians of %d runs; AWS latency is added by the sandbox's AWS front to every call\n\n", res.Settings.Runs)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MEASUREMENT\tAWS LATENCY\tAWS CALLS (R/W)\tKUBE REQ\tSEQ. AWS ROUND TRIPS\tTIME\tFLOOR (LISTS/IAM/EKS; TOGETHER)\tPEAK RSS\tBASELINE\tBASELINE TIME\tRATIO\tTARGETS")
	targets := map[string][]targetCheck{}
	for _, t := range res.Targets {
		targets[t.What] = append(targets[t.What], t)
	}
	cells := func(what string) string {
		var c []string
		for _, t := range targets[what] {
			c = append(c, t.cell())
		}
		return strings.Join(c, "; ")
	}
	for _, s := range res.Startup {
		fmt.Fprintf(tw, "startup: %s\t—\t—\t—\t—\t%s\t—\t—\t%s\t%s\t%s\t%s\n", s.Name, fmtDuration(s.MedianMS), s.Baseline,
			fmtDuration(s.BaselineMedianMS), fmtRatio(s.Ratio), cells("startup "+s.Name))
	}
	b := res.Binary
	if b.StrippedBytes > 0 { // -parts without startup measures no binary
		fmt.Fprintf(tw, "binary: stripped %s\t—\t—\t—\t—\t%s\t—\t—\tkubectl binary\t%s\t%s\t\n", b.Target, fmtBytes(b.StrippedBytes), fmtBytes(b.KubectlBytes),
			fmtRatio(ratio(float64(b.StrippedBytes), float64(b.KubectlBytes))))
	}
	for _, r := range res.Bind {
		fmt.Fprintf(tw, "%s\t%d ms\t%s\t%s\t%s\t%s\t—\t%s\t%s\t%s\t%s\t%s\n", r.name(), r.LatencyMS,
			awsCell(r.measured), kubeCell(r.measured), roundTripCell(r.measured), fmtDuration(r.WallMS), rssCell(r.measured),
			r.Baseline.Name, fmtDuration(r.Baseline.WallMS), fmtRatio(r.Ratio), cells(r.what()))
	}
	for _, r := range res.Unbind {
		what := fmt.Sprintf("%s (%s) at %d ms", r.Scenario, r.Resolution, r.LatencyMS)
		fmt.Fprintf(tw, "%s (%s)\t%d ms\t%s\t%s\t%s\t%s\t—\t%s\t—\t—\t—\t%s\n", r.Scenario, r.Resolution, r.LatencyMS,
			awsCell(r.measured), kubeCell(r.measured), roundTripCell(r.measured), fmtDuration(r.WallMS), rssCell(r.measured), cells(what))
	}
	for _, r := range res.Doctor {
		name, what := "doctor, one target ("+r.Resolution+")", ""
		switch r.Scope {
		case "-A":
			name = fmt.Sprintf("%s -A, %d SAs/%d ns/%d roles", r.Command, r.ServiceAccounts, r.Namespaces, r.Roles)
			what = fmt.Sprintf("%s -A %d SAs/%d roles at %d ms", r.Command, r.ServiceAccounts, r.Roles, r.LatencyMS)
		case scopePodIdentity:
			name = fmt.Sprintf("doctor -A, %d SAs + Pod Identity associations", r.ServiceAccounts)
			what = fmt.Sprintf("doctor -A %d SAs with %d associations at %d ms", r.ServiceAccounts, r.Associations, r.LatencyMS)
		}
		bname := r.Baseline.Name
		if r.Baseline.Extrapolated {
			bname += fmt.Sprintf(" (extrapolated from %d)", r.Baseline.MeasuredTargets)
		}
		rss := rssCell(r.measured)
		if r.PluginPeakRSS > 0 {
			rss = fmt.Sprintf("%.0f MiB (%.1f KiB/SA)", float64(r.PluginPeakRSS)/(1<<20), r.PluginRSSPerSA/1024)
		}
		fmt.Fprintf(tw, "%s\t%d ms\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", name, r.LatencyMS, awsCell(r.measured), kubeCell(r.measured),
			roundTripCell(r.measured), fmtDuration(r.WallMS), floorCell(r), rss, bname, fmtDuration(r.Baseline.WallMS), fmtRatio(r.Ratio), cells(what))
	}
	for _, r := range res.Fleet {
		fmt.Fprintf(tw, "doctor -A --contexts, %d clusters\t%d ms\t%s\t%s\t%s\t%s\t—\t%s\t%s (slowest %s, %s)\t%s\t%s\t%s\n", r.Contexts, r.LatencyMS,
			awsCell(r.measured), kubeCell(r.measured), roundTripCell(r.measured), fmtDuration(r.WallMS), rssCell(r.measured),
			r.Baseline.Name, fmtDuration(r.SlowestSingleMS), fmtRatio(r.RatioToSlowest), fmtDuration(r.Baseline.WallMS), fmtRatio(r.Ratio), cells(fleetWhat(r)))
	}
	tw.Flush()
	if b.StrippedBytes > 0 {
		printBinary(w, b)
	}
	printShared(w, res.Shared)
	if p := res.RSSParts; p != nil {
		fmt.Fprintf(w, "peak RSS is per command, of its own processes (see bench/internal/rusage); doctor -A and list -A rows show the plugin's own, run without kubectl.\n"+
			"  around it: kubectl sdc version through kubectl (kubectl's own) %s, the sandbox's exec credential plugin alone %s, true through the helper (the least a command can show) %s\n",
			fmtBytes(p.Kubectl), fmtBytes(p.ExecCredential), fmtBytes(p.Helper))
	}
	var failed []string
	for _, t := range res.Targets {
		if !t.Met {
			failed = append(failed, t.What+": "+t.Target+" (got "+t.Value+")")
		}
	}
	if len(failed) > 0 {
		fmt.Fprintf(w, "targets missed (%d):\n  %s\n", len(failed), strings.Join(failed, "\n  "))
	}
}

// printBinary writes what the binary is made of.
func printBinary(w io.Writer, b binaryReport) {
	fmt.Fprintf(w, "\nbinary %s stripped: %s of code, %s read-only data, %s line tables (.gopclntab), %s data; heaviest modules:",
		b.Target, fmtBytes(int64(b.Sections[".text"])), fmtBytes(int64(b.Sections[".rodata"])), fmtBytes(int64(b.Sections[".gopclntab"])),
		fmtBytes(int64(b.Sections[".data+.noptrdata"])))
	for i, p := range b.TopModules {
		if i == 8 {
			break
		}
		fmt.Fprintf(w, " %s %s;", p.Name, fmtBytes(int64(p.Bytes)))
	}
	fmt.Fprint(w, "\nheaviest packages:")
	for i, p := range b.TopPackages {
		if i == 10 {
			break
		}
		fmt.Fprintf(w, " %s %s;", p.Name, fmtBytes(int64(p.Bytes)))
	}
	fmt.Fprintln(w)
}

func awsCell(m measured) string {
	return fmt.Sprintf("%s (%d/%d)", spread(m.AWSPerRun), m.AWS.Reads, m.AWS.Writes)
}

func kubeCell(m measured) string {
	s := spread(m.KubePerRun)
	if m.Kube.Writes > 0 {
		s += fmt.Sprintf(" (%d w)", m.Kube.Writes)
	}
	return s
}

func roundTripCell(m measured) string {
	if m.RoundTrips == nil {
		if m.LatencyMS > 0 && m.AWSInFlight > 0 {
			return fmt.Sprintf("— (%.1f calls in flight)", m.AWSInFlight)
		}
		return "—"
	}
	if m.RoundTripsEstimate == nil {
		return strconv.Itoa(*m.RoundTrips)
	}
	return fmt.Sprintf("%d (est %.1f)", *m.RoundTrips, *m.RoundTripsEstimate)
}

func rssCell(m measured) string {
	if m.PeakRSS == 0 {
		return "—"
	}
	return fmt.Sprintf("%.0f MiB", float64(m.PeakRSS)/(1<<20))
}

// noopReads are the AWS reads of each run.
func noopReads(samples []sample) []int {
	out := make([]int, 0, len(samples))
	for _, s := range samples {
		out = append(out, s.aws.Reads)
	}
	return out
}

// spread is "n" when every run had n, else "min–max".
func spread(v []int) string {
	if len(v) == 0 {
		return "—"
	}
	lo, hi := v[0], v[0]
	for _, x := range v {
		lo, hi = min(lo, x), max(hi, x)
	}
	if lo == hi {
		return strconv.Itoa(lo)
	}
	return fmt.Sprintf("%d–%d", lo, hi)
}

func writeJSON(path string, res *results) error {
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// Small arithmetic on samples.

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// medianSample is the run whose wall time is the median (the lower middle one of an even count).
func medianSample(samples []sample) *sample {
	if len(samples) == 0 {
		return nil
	}
	idx := make([]int, len(samples))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return samples[idx[a]].cmd.Wall < samples[idx[b]].cmd.Wall })
	return &samples[idx[(len(idx)-1)/2]]
}

func medianInt(v []int) int {
	s := append([]int(nil), v...)
	sort.Ints(s)
	return s[len(s)/2]
}

func maxInt(v []int) int {
	m := 0
	for _, x := range v {
		m = max(m, x)
	}
	return m
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func msAll(d []time.Duration) []float64 {
	out := make([]float64, len(d))
	for i, x := range d {
		out[i] = ms(x)
	}
	return out
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func fmtDuration(ms float64) string {
	switch {
	case ms < 10:
		return fmt.Sprintf("%.1f ms", ms)
	case ms < 1000:
		return fmt.Sprintf("%.0f ms", ms)
	default:
		return fmt.Sprintf("%.2f s", ms/1000)
	}
}

func fmtRatio(r float64) string {
	switch {
	case r == 0:
		return "—"
	case r < 0.1:
		return fmt.Sprintf("%.3f×", r)
	case r < 10:
		return fmt.Sprintf("%.2f×", r)
	default:
		return fmt.Sprintf("%.0f×", r)
	}
}

func fmtBytes(n int64) string {
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}
