package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox"
)

// The fleet benchmark: doctor -A over N contexts in one command (`--contexts`), against the N single runs a
// user makes today, one per context with its profile and region, measured on one sandbox of the largest N's
// clusters, interleaved run by run. Each cluster holds one binding, bind's.

const fleetNamespace = "bench-fleet"

// fleetSamples are the runs: each context's single run and each fleet size's run, by latency.
type fleetSamples struct {
	clusters []*sandbox.Cluster
	single   map[fleetKey][]sample // key: context index, latency
	fleet    map[fleetKey][]sample // key: fleet size, latency
}

type fleetKey struct{ n, latency int }

// singleArgs is doctor -A on one context as a user runs it alone: the context, its profile and region.
func singleArgs(c *sandbox.Cluster) []string {
	return []string{"sdc", "doctor", "-A", "-o", "json", "--context", c.Context, "--profile", c.Profile, "--region", c.Region}
}

// fleetArgs is doctor -A over the first n contexts in one command.
func fleetArgs(clusters []*sandbox.Cluster, n int) []string {
	names := make([]string, n)
	for i, c := range clusters[:n] {
		names[i] = c.Context
	}
	return []string{"sdc", "doctor", "-A", "-o", "json", "--contexts", strings.Join(names, ",")}
}

// fleetOutput is the part of a fleet's -o json the bench checks.
type fleetOutput struct {
	Contexts []struct {
		Context string            `json:"context"`
		Error   string            `json:"error"`
		Targets []json.RawMessage `json:"targets"`
	} `json:"contexts"`
}

// checkFleet checks that doctor checked every context of the fleet, each with its one binding.
func checkFleet(s sample, n int) error {
	if s.cmd.Code != 0 && s.cmd.Code != 1 {
		return fmt.Errorf("doctor over the fleet could not run:\n%s", s.cmd)
	}
	var fo fleetOutput
	if err := json.Unmarshal([]byte(s.cmd.Stdout), &fo); err != nil {
		return fmt.Errorf("doctor --contexts -o json printed no JSON report (%v):\n%s", err, s.cmd)
	}
	if len(fo.Contexts) != n {
		return fmt.Errorf("doctor over %d contexts reported %d:\n%s", n, len(fo.Contexts), s.cmd)
	}
	for _, c := range fo.Contexts {
		if c.Error != "" || len(c.Targets) != 1 {
			return fmt.Errorf("context %s: error %q, %d targets (want none and 1):\n%s", c.Context, c.Error, len(c.Targets), s.cmd)
		}
	}
	return nil
}

// benchFleet binds one ServiceAccount in every cluster, then measures each context's single run and each
// fleet size's run, interleaved, at each latency.
func benchFleet(ctx context.Context, h *harness, cfg config) (*fleetSamples, error) {
	out := &fleetSamples{clusters: h.sb.Clusters, single: map[fleetKey][]sample{}, fleet: map[fleetKey][]sample{}}
	h.setLatency(0)
	for _, c := range out.clusters {
		args := []string{"sdc", "bind", "--context", c.Context, "--profile", c.Profile, "--region", c.Region, "-n", fleetNamespace,
			"--service-account", benchSA, "--bucket", benchBucket, "--deployment", benchDeployment, "--create-deployment", "--image", benchImage, "--yes"}
		r, err := h.tb.run(ctx, h.sb, "kubectl", args...)
		if err != nil {
			return nil, err
		}
		if r.Code != 0 {
			return nil, fmt.Errorf("binding a ServiceAccount in %s for the fleet benchmark:\n%s", c.Context, r)
		}
	}
	// One unmeasured round first: moto loads its backends, every apiserver sees its first lists.
	for _, c := range out.clusters {
		if _, err := h.tb.run(ctx, h.sb, "kubectl", singleArgs(c)...); err != nil {
			return nil, err
		}
	}
	for _, lat := range cfg.DoctorLatencies {
		for run := range cfg.Runs {
			h.setLatency(lat)
			var took []string
			for i, c := range out.clusters {
				s, err := h.measure(ctx, "kubectl-sdc/", "kubectl", singleArgs(c)...)
				if err == nil {
					err = checkDoctor(s, 1)
				}
				if err != nil {
					h.setLatency(0)
					return nil, err
				}
				out.single[fleetKey{i, lat}] = append(out.single[fleetKey{i, lat}], s)
				took = append(took, c.Context+" "+fmtDuration(ms(s.cmd.Wall)))
			}
			for _, n := range cfg.FleetSizes {
				s, err := h.measure(ctx, "kubectl-sdc/", "kubectl", fleetArgs(out.clusters, n)...)
				if err == nil {
					err = checkFleet(s, n)
				}
				if err != nil {
					h.setLatency(0)
					return nil, err
				}
				out.fleet[fleetKey{n, lat}] = append(out.fleet[fleetKey{n, lat}], s)
				took = append(took, fmt.Sprintf("fleet of %d %s", n, fmtDuration(ms(s.cmd.Wall))))
			}
			h.setLatency(0)
			progress(cfg.Log, "doctor -A over a fleet at %d ms, run %d/%d: %s", lat, run+1, cfg.Runs, strings.Join(took, ", "))
		}
	}
	return out, nil
}

// fleetRow is a fleet of n contexts at one latency, beside the single runs of the same contexts.
type fleetRow struct {
	Contexts int `json:"contexts"`
	measured
	// Baseline is the single runs of the same contexts, their times summed run by run (what running
	// doctor once per context costs), their AWS calls and Kubernetes requests summed.
	Baseline baseline `json:"baseline"`
	Ratio    float64  `json:"ratio"`
	// SlowestSingleMS is the median over runs of the slowest of the single runs: what the fleet's time
	// should be close to. SinglesMS is each context's median single run, in order.
	SlowestSingleMS float64   `json:"slowest_single_ms"`
	RatioToSlowest  float64   `json:"ratio_to_slowest"`
	SinglesMS       []float64 `json:"singles_ms"`
}

func (f *fleetSamples) rows(cfg config) []fleetRow {
	var rows []fleetRow
	for _, n := range cfg.FleetSizes {
		for _, lat := range cfg.DoctorLatencies {
			runs := f.fleet[fleetKey{n, lat}]
			row := fleetRow{Contexts: n, measured: summarize(runs, lat, false)}
			var sums, slowest []time.Duration
			var awsCalls, kubeReqs int
			for r := range runs {
				var sum, slow time.Duration
				calls, reqs := 0, 0
				for i := range n {
					s := f.single[fleetKey{i, lat}][r]
					sum += s.cmd.Wall
					slow = max(slow, s.cmd.Wall)
					calls += s.aws.Total
					reqs += s.kube.Requests
				}
				sums, slowest = append(sums, sum), append(slowest, slow)
				awsCalls, kubeReqs = max(awsCalls, calls), max(kubeReqs, reqs)
			}
			row.Baseline = baseline{Name: fmt.Sprintf("%d single runs, summed", n), WallMS: ms(median(sums)), SamplesMS: msAll(sums),
				AWSCalls: awsCalls, KubeRequests: kubeReqs}
			row.Ratio = ratio(row.WallMS, row.Baseline.WallMS)
			row.SlowestSingleMS = ms(median(slowest))
			row.RatioToSlowest = ratio(row.WallMS, row.SlowestSingleMS)
			for i := range n {
				var walls []time.Duration
				for _, s := range f.single[fleetKey{i, lat}] {
					walls = append(walls, s.cmd.Wall)
				}
				row.SinglesMS = append(row.SinglesMS, ms(median(walls)))
			}
			rows = append(rows, row)
		}
	}
	return rows
}

// targetFleetVsSlowest is the "close to the slowest context's, not the sum", as a number: reported,
// never enforced.
const targetFleetVsSlowest = 1.5

func fleetTargets(rows []fleetRow) []targetCheck {
	var out []targetCheck
	for _, r := range rows {
		what := fleetWhat(r)
		out = append(out,
			// Each context is read exactly as a single run reads it: the same calls, nothing shared or lost.
			targetCheck{What: what, Target: "AWS calls and kube requests = the single runs'",
				Value: fmt.Sprintf("%d/%d vs %d/%d", maxInt(r.AWSPerRun), maxInt(r.KubePerRun), r.Baseline.AWSCalls, r.Baseline.KubeRequests),
				Met:   maxInt(r.AWSPerRun) == r.Baseline.AWSCalls && maxInt(r.KubePerRun) == r.Baseline.KubeRequests, Correctness: true},
			targetCheck{What: what, Target: fmt.Sprintf("≤ %.1f× the slowest single run", targetFleetVsSlowest),
				Value: fmtRatio(r.RatioToSlowest), Met: r.RatioToSlowest <= targetFleetVsSlowest})
	}
	return out
}

func fleetWhat(r fleetRow) string {
	return fmt.Sprintf("doctor -A --contexts, %d clusters at %d ms", r.Contexts, r.LatencyMS)
}
