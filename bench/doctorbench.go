package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox"
	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox/credential"
)

// doctorOutput is the part of `doctor -o json` the bench checks.
type doctorOutput struct {
	Targets []json.RawMessage `json:"targets"`
}

// checkDoctor checks that doctor ran (exit 0: all passed, 1: a check failed; 2 means it could not run) and
// reported the number of targets expected.
func checkDoctor(s sample, wantTargets int) error {
	if s.cmd.Code != 0 && s.cmd.Code != 1 {
		return fmt.Errorf("doctor could not run:\n%s", s.cmd)
	}
	var do doctorOutput
	if err := json.Unmarshal([]byte(s.cmd.Stdout), &do); err != nil {
		return fmt.Errorf("doctor -o json printed no JSON report (%v):\n%s", err, s.cmd)
	}
	if len(do.Targets) != wantTargets {
		return fmt.Errorf("doctor reported %d targets where the cluster has %d:\n%s", len(do.Targets), wantTargets, s.cmd)
	}
	return nil
}

// checkList checks that list ran and listed every seeded binding, each judged.
func checkList(s sample, want int) error {
	if s.cmd.Code != 0 {
		return fmt.Errorf("list failed:\n%s", s.cmd)
	}
	var l struct {
		Items []struct {
			Status string `json:"status"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(s.cmd.Stdout), &l); err != nil {
		return fmt.Errorf("list -o json printed no JSON list (%v):\n%s", err, s.cmd)
	}
	if len(l.Items) != want {
		return fmt.Errorf("list showed %d bindings where the cluster has %d:\n%s", len(l.Items), want, s.cmd)
	}
	for _, it := range l.Items {
		if it.Status == "" {
			return fmt.Errorf("list showed a binding without a status:\n%s", s.cmd)
		}
	}
	return nil
}

// naiveRun is one run of the naive walk over some targets.
type naiveRun struct {
	targets int
	s       sample
}

// runNaive runs bench/baseline/doctor-naive.sh over the targets given as "namespace name" lines.
func (h *harness) runNaive(ctx context.Context, dir, targets string, n int) (naiveRun, error) {
	f := filepath.Join(dir, fmt.Sprintf("naive-targets-%d.txt", n))
	if err := os.WriteFile(f, []byte(targets), 0o644); err != nil {
		return naiveRun{}, err
	}
	s, err := h.measure(ctx, "kubectl/", "bash", filepath.Join(h.tb.baselineDir, "doctor-naive.sh"), sandbox.ClusterName, f)
	if err != nil {
		return naiveRun{}, err
	}
	if s.cmd.Code != 0 {
		return naiveRun{}, fmt.Errorf("the naive walk (the baseline of doctor) failed:\n%s", s.cmd)
	}
	return naiveRun{targets: n, s: s}, nil
}

// doctorOneSamples are doctor's runs on one target, by resolution and latency, and the naive walk's.
type doctorOneSamples struct {
	ns     string
	doctor map[resLatency][]sample
	naive  map[int][]sample
}

type resLatency struct {
	resolution string
	latency    int
}

// benchDoctorOne measures doctor on one ServiceAccount that bind set up, and the naive walk over it,
// interleaved run by run.
func benchDoctorOne(ctx context.Context, h *harness, cfg config, ns, workDir string) (*doctorOneSamples, error) {
	out := &doctorOneSamples{ns: ns, doctor: map[resLatency][]sample{}, naive: map[int][]sample{}}
	for _, lat := range cfg.DoctorLatencies {
		for run := range cfg.Runs {
			h.setLatency(lat)
			var took []string
			for _, res := range resolutions {
				args := append([]string{"sdc", "doctor", "-n", ns, "--service-account", benchSA, "-o", "json"}, res.Args...)
				d, err := h.measure(ctx, "kubectl-sdc/", "kubectl", args...)
				if err == nil {
					err = checkDoctor(d, 1)
				}
				if err != nil {
					h.setLatency(0)
					return nil, err
				}
				k := resLatency{res.Name, lat}
				out.doctor[k] = append(out.doctor[k], d)
				took = append(took, res.Name+" "+fmtDuration(ms(d.cmd.Wall)))
			}
			n, err := h.runNaive(ctx, workDir, ns+" "+benchSA+"\n", 1)
			h.setLatency(0)
			if err != nil {
				return nil, err
			}
			out.naive[lat] = append(out.naive[lat], n.s)
			progress(cfg.Log, "doctor one target at %d ms, run %d/%d: %s (naive walk %s)", lat, run+1, cfg.Runs,
				strings.Join(took, ", "), fmtDuration(ms(n.s.cmd.Wall)))
		}
	}
	return out, nil
}

// doctorAllSamples are doctor -A's and list -A's runs by size and latency, and the naive walk measured on
// a subset.
type doctorAllSamples struct {
	sizes  []seededSize
	doctor map[doctorAllKey][]sample
	list   map[doctorAllKey][]sample
	// pluginRSS is the plugin's own peak resident set by command and size, from one run of the plugin
	// without kubectl in front (whose own peak hides a smaller one).
	pluginRSS map[string]map[int]int64
	fixed     map[int]naiveRun // the naive walk over no target: its once-per-run part, by latency
	subset    map[int]naiveRun // the naive walk over the first targets, by latency
	subsetN   int
	// pod are doctor -A's runs, by latency, on the largest size once its first ServiceAccounts (up to
	// benchAssociations) also have an EKS Pod Identity association (associations of them).
	pod          map[int][]sample
	associations int
	// floor is the floor's parts measured beside each run of doctor and list (see floor.go), by size and
	// latency; podFloor beside each run with associations, by latency.
	floor    map[doctorAllKey][]floorRun
	podFloor map[int][]floorRun
	// rss is the peak resident sets of the processes other than the plugin that a run involves.
	rss rssParts
}

// rssParts are the peaks of the processes around the plugin, each measured alone once per run, so that a
// command's peak (the largest of its processes') can be told apart.
type rssParts struct {
	// Kubectl is `kubectl sdc version` through kubectl: kubectl's own peak as it finds and execs the plugin
	// (the plugin's `version` is smaller).
	Kubectl int64 `json:"kubectl_sdc_version_bytes"`
	// ExecCredential is the sandbox's exec credential plugin (this program, answering before its main) run
	// alone, as kubectl and the plugin run it for a token.
	ExecCredential int64 `json:"exec_credential_plugin_bytes"`
	// Helper is `true` run through the rusage helper: the least any command can report.
	Helper int64 `json:"helper_floor_bytes"`
}

type doctorAllKey struct {
	sas, latency int
}

// seededSize is a size as seeded: the namespaces and roles the layout actually used, and the objects
// doctor -A lists.
type seededSize struct {
	clusterSize
	Objects map[string]int
}

// benchDoctorAll seeds one cluster through the sizes in turn and measures doctor -A at each; the naive walk
// is measured once per latency on a subset of the smallest size (it costs seconds per ServiceAccount).
func benchDoctorAll(ctx context.Context, h *harness, cfg config, workDir string) (*doctorAllSamples, error) {
	out := &doctorAllSamples{doctor: map[doctorAllKey][]sample{}, list: map[doctorAllKey][]sample{}, fixed: map[int]naiveRun{}, subset: map[int]naiveRun{},
		pluginRSS: map[string]map[int]int64{"doctor": {}, "list": {}}, pod: map[int][]sample{},
		floor: map[doctorAllKey][]floorRun{}, podFloor: map[int][]floorRun{}}
	var err error
	if out.rss, err = measureRSSParts(ctx, h); err != nil {
		return nil, err
	}
	progress(cfg.Log, "peak RSS of kubectl sdc version %s, of the exec credential plugin %s, of true through the helper %s",
		fmtBytes(out.rss.Kubectl), fmtBytes(out.rss.ExecCredential), fmtBytes(out.rss.Helper))
	sd := newSeeder(h, cfg.Sizes)
	logf := func(f string, a ...any) { progress(cfg.Log, f, a...) }
	for i, z := range cfg.Sizes {
		h.setLatency(0)
		if err := sd.seedTo(ctx, z, logf); err != nil {
			return nil, fmt.Errorf("seeding %s: %w", z, err)
		}
		objs, err := h.objectCounts(ctx)
		if err != nil {
			return nil, err
		}
		ns, roles := sd.layout(z.SAs)
		out.sizes = append(out.sizes, seededSize{clusterSize{z.SAs, ns, roles}, objs})
		if cfg.Hold {
			if i == len(cfg.Sizes)-1 {
				for range cfg.Runs {
					fl, err := h.measureFloor(ctx, false)
					if err != nil {
						return nil, err
					}
					progress(cfg.Log, "floor %s (lists %s, IAM pages %s; together %s)", fmtDuration(ms(fl.floor())), fmtDuration(ms(fl.Kube)), fmtDuration(ms(fl.IAM)), fmtDuration(ms(fl.Together)))
				}
				progress(cfg.Log, "holding the seeded sandbox (%s) until interrupted; to use it: . %s", z, filepath.Join(h.sb.Dir, "env"))
				<-ctx.Done()
				return nil, errors.New("interrupted while holding the sandbox")
			}
			continue
		}

		if i == 0 {
			out.subsetN = min(cfg.NaiveSubset, z.SAs)
			for _, lat := range cfg.DoctorLatencies {
				h.setLatency(lat)
				fixed, err := h.runNaive(ctx, workDir, "", 0)
				if err != nil {
					h.setLatency(0)
					return nil, err
				}
				sub, err := h.runNaive(ctx, workDir, sd.targets(out.subsetN), out.subsetN)
				h.setLatency(0)
				if err != nil {
					return nil, err
				}
				out.fixed[lat], out.subset[lat] = fixed, sub
				progress(cfg.Log, "naive walk at %d ms: no target %s, %d targets %s", lat, fmtDuration(ms(fixed.s.cmd.Wall)),
					out.subsetN, fmtDuration(ms(sub.s.cmd.Wall)))
			}
		}

		// An unmeasured run first, so the first measured one does not pay for moto's and the apiserver's
		// first look at what was just seeded.
		if w, err := h.measure(ctx, "kubectl-sdc/", "kubectl", "sdc", "doctor", "-A", "-o", "json"); err != nil {
			return nil, err
		} else if err := checkDoctor(w, z.SAs); err != nil {
			return nil, err
		}
		for _, lat := range cfg.DoctorLatencies {
			for run := range cfg.Runs {
				h.setLatency(lat)
				fl, err := h.measureFloor(ctx, false)
				if err != nil {
					h.setLatency(0)
					return nil, err
				}
				d, err := h.measure(ctx, "kubectl-sdc/", "kubectl", "sdc", "doctor", "-A", "-o", "json")
				if err != nil {
					h.setLatency(0)
					return nil, err
				}
				l, err := h.measure(ctx, "kubectl-sdc/", "kubectl", "sdc", "list", "-A", "-o", "json")
				h.setLatency(0)
				if err != nil {
					return nil, err
				}
				if err := checkDoctor(d, z.SAs); err != nil {
					return nil, err
				}
				if err := checkList(l, z.SAs); err != nil {
					return nil, err
				}
				k := doctorAllKey{z.SAs, lat}
				out.doctor[k] = append(out.doctor[k], d)
				out.list[k] = append(out.list[k], l)
				out.floor[k] = append(out.floor[k], fl)
				progress(cfg.Log, "doctor -A on %s at %d ms, run %d/%d: %s, %d AWS calls, %d Kubernetes requests; list -A: %s, %d AWS calls, %d Kubernetes requests; floor %s (lists %s, IAM pages %s; together %s)",
					z, lat, run+1, cfg.Runs, fmtDuration(ms(d.cmd.Wall)), d.aws.Total, d.kube.Requests,
					fmtDuration(ms(l.cmd.Wall)), l.aws.Total, l.kube.Requests, fmtDuration(ms(fl.floor())), fmtDuration(ms(fl.Kube)), fmtDuration(ms(fl.IAM)), fmtDuration(ms(fl.Together)))
			}
		}
		for _, command := range []string{"doctor", "list"} {
			r, err := h.tb.run(ctx, h.sb, h.tb.plugin, command, "-A", "-o", "json")
			if err != nil {
				return nil, err
			}
			if r.Code > 1 {
				return nil, fmt.Errorf("the plugin alone could not run %s -A:\n%s", command, r)
			}
			out.pluginRSS[command][z.SAs] = r.PeakRSS
			progress(cfg.Log, "%s -A on %s: the plugin's own peak RSS %s", command, z, fmtBytes(r.PeakRSS))
		}
	}

	// The largest size again, its first ServiceAccounts with an EKS Pod Identity association beside IRSA: one
	// paged list of the cluster's associations, a describe of each in parallel with a bound.
	h.setLatency(0)
	largest := cfg.Sizes[len(cfg.Sizes)-1]
	n, err := sd.seedAssociations(ctx, logf)
	if err != nil {
		return nil, err
	}
	out.associations = n
	if w, err := h.measure(ctx, "kubectl-sdc/", "kubectl", "sdc", "doctor", "-A", "-o", "json"); err != nil {
		return nil, err
	} else if err := checkDoctor(w, largest.SAs); err != nil {
		return nil, err
	}
	for _, lat := range cfg.DoctorLatencies {
		for run := range cfg.Runs {
			h.setLatency(lat)
			fl, err := h.measureFloor(ctx, true)
			if err != nil {
				h.setLatency(0)
				return nil, err
			}
			d, err := h.measure(ctx, "kubectl-sdc/", "kubectl", "sdc", "doctor", "-A", "-o", "json")
			h.setLatency(0)
			if err != nil {
				return nil, err
			}
			if err := checkDoctor(d, largest.SAs); err != nil {
				return nil, err
			}
			out.pod[lat] = append(out.pod[lat], d)
			out.podFloor[lat] = append(out.podFloor[lat], fl)
			progress(cfg.Log, "doctor -A on %s with %d Pod Identity associations at %d ms, run %d/%d: %s, %d AWS calls (%d describes), %d Kubernetes requests; floor %s (describes %s)",
				largest, n, lat, run+1, cfg.Runs, fmtDuration(ms(d.cmd.Wall)), d.aws.Total, d.aws.ByAction["eks:DescribePodIdentityAssociation"], d.kube.Requests,
				fmtDuration(ms(fl.floor())), fmtDuration(ms(fl.Associations)))
		}
	}
	return out, nil
}

// extrapolated is the naive walk's cost for n targets: its once-per-run part plus n times the cost of one
// target as measured on the subset. Linear because the walk does the same calls for every target.
func (d *doctorAllSamples) extrapolated(lat, n int) (wallMS float64, awsCalls, kubeRequests int) {
	fixed, sub := d.fixed[lat], d.subset[lat]
	per := func(a, b float64) float64 {
		if sub.targets == 0 {
			return 0
		}
		return (b - a) / float64(sub.targets)
	}
	wallMS = ms(fixed.s.cmd.Wall) + per(ms(fixed.s.cmd.Wall), ms(sub.s.cmd.Wall))*float64(n)
	awsCalls = fixed.s.aws.Total + int(per(float64(fixed.s.aws.Total), float64(sub.s.aws.Total))*float64(n)+0.5)
	kubeRequests = fixed.s.kube.Requests + int(per(float64(fixed.s.kube.Requests), float64(sub.s.kube.Requests))*float64(n)+0.5)
	return wallMS, awsCalls, kubeRequests
}

// measureRSSParts measures the peaks of kubectl's dispatch, the exec credential plugin and the helper alone.
func measureRSSParts(ctx context.Context, h *harness) (rssParts, error) {
	var p rssParts
	k, err := h.tb.run(ctx, h.sb, "kubectl", "sdc", "version")
	if err != nil || k.Code != 0 {
		return p, fmt.Errorf("kubectl sdc version: %v %s", err, k)
	}
	c := h.sb.Clusters[0]
	self, err := os.Executable()
	if err != nil {
		return p, err
	}
	e, err := h.tb.runWith(ctx, h.sb, []string{credential.Env + "=1", "AWS_PROFILE=" + c.Profile}, self, "credential", "--cluster-name", c.Name, "--region", c.Region)
	if err != nil || e.Code != 0 {
		return p, fmt.Errorf("the exec credential plugin: %v %s", err, e)
	}
	t, err := h.tb.run(ctx, nil, "true")
	if err != nil || t.Code != 0 {
		return p, fmt.Errorf("true: %v %s", err, t)
	}
	return rssParts{Kubectl: k.PeakRSS, ExecCredential: e.PeakRSS, Helper: t.PeakRSS}, nil
}
