// Command bench measures what kubectl-sdc costs on the sandbox: AWS calls, Kubernetes requests,
// sequential AWS round trips and wall time of bind and doctor, the plugin's start-up time and size. Every
// time stands beside a baseline measured in the same run (the aws CLI and kubectl doing the same job by
// hand, or kubectl itself), because a shared machine's absolute times drift.
//
// `make bench` prints one table and writes bench/results.json; `make bench-smoke` runs the same harness at
// a tiny size, without latency, once, so that it cannot rot. Neither ever fails on a time.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kubectl-sdc/kubectl-sdc/bench/internal/rusage"
	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox"
	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox/sandboxtest"
)

// config is one bench run.
type config struct {
	Smoke           bool
	Runs            int           // runs per measurement; times are medians
	BindLatencies   []int         // AWS front latency (ms) bind and its baseline are measured at
	DoctorLatencies []int         // the same for doctor
	Sizes           []clusterSize // doctor -A and list -A clusters, ascending
	FleetSizes      []int         // doctor -A --contexts over this many clusters, ascending
	Parts           []string      // what to measure: startup, bind (and unbind), doctor (and list), fleet; all by default
	NaiveSubset     int           // ServiceAccounts the naive walk is measured on
	StartupReps     int
	Plugin          string    // a built plugin to measure; "" builds one
	Out             string    // results.json; "" writes none
	Keep            bool      // keep the work directory (sandboxes, logs)
	Hold            bool      // seed the doctor part's sizes, measure nothing, and keep the sandbox up until interrupted
	Log             io.Writer // progress; nil for none
}

func fullConfig() config {
	return config{
		Runs:            3,
		BindLatencies:   []int{0, 50, 100},
		DoctorLatencies: []int{0, 50},
		// 5,000 roles at 30,000: IAM allows at most that many per account (after a quota increase from 1,000).
		Sizes:       []clusterSize{{1000, 200, 300}, {10000, 1000, 3000}, {30000, 3000, 5000}},
		FleetSizes:  []int{2, 4},
		NaiveSubset: 100, // the subset; each ServiceAccount costs the walk seconds of aws CLI calls
		StartupReps: 20,
	}
}

// smokeConfig is the harness at its smallest. Two tiny sizes rather than one, so that "doctor -A's
// Kubernetes requests do not grow with N" is checked too.
func smokeConfig() config {
	return config{
		Smoke:           true,
		Runs:            1,
		BindLatencies:   []int{0},
		DoctorLatencies: []int{0},
		Sizes:           []clusterSize{{10, 5, 3}, {20, 5, 6}},
		FleetSizes:      []int{2}, // a fleet sandbox of two clusters: the least that is a fleet
		NaiveSubset:     2,
		StartupReps:     3,
	}
}

func (c config) validate() error {
	switch {
	case c.Runs < 1:
		return fmt.Errorf("-runs %d: give at least 1", c.Runs)
	case len(c.BindLatencies) == 0 || len(c.DoctorLatencies) == 0:
		return errors.New("-bind-latencies and -doctor-latencies need at least one value each, like 0,50,100")
	case len(c.Sizes) == 0:
		return errors.New("-sizes needs at least one size, like 100/50/30")
	case c.NaiveSubset < 1:
		return fmt.Errorf("-naive-subset %d: give at least 1", c.NaiveSubset)
	case c.StartupReps < 1:
		return fmt.Errorf("-startup-reps %d: give at least 1", c.StartupReps)
	case len(c.FleetSizes) == 0:
		return errors.New("-fleet-sizes needs at least one size, like 2,4")
	}
	for i, n := range c.FleetSizes {
		if n < 2 || n > sandbox.MaxClusters || (i > 0 && n <= c.FleetSizes[i-1]) {
			return fmt.Errorf("-fleet-sizes %s: give ascending numbers of clusters from 2 to %d", joinInts(c.FleetSizes), sandbox.MaxClusters)
		}
	}
	for _, p := range c.Parts {
		if !slices.Contains(allParts, p) {
			return fmt.Errorf("-parts %q: give some of %s", p, strings.Join(allParts, ","))
		}
	}
	for _, l := range append(append([]int(nil), c.BindLatencies...), c.DoctorLatencies...) {
		if l < 0 {
			return fmt.Errorf("latency %d ms is negative", l)
		}
	}
	for i, z := range c.Sizes {
		if z.SAs < 1 || z.Namespaces < 1 || z.Roles < 1 || z.Namespaces > z.SAs || z.Roles > z.SAs {
			return fmt.Errorf("size %s: give SAs/namespaces/roles with 1 <= namespaces, roles <= SAs", z)
		}
		if i > 0 {
			p := c.Sizes[i-1]
			if z.SAs <= p.SAs || z.Namespaces < p.Namespaces || z.Roles < p.Roles {
				return fmt.Errorf("sizes %s then %s: each size must have more ServiceAccounts and no fewer namespaces or roles than the one before (the cluster grows)", p, z)
			}
		}
	}
	return nil
}

// allParts are the measurements -parts picks from.
var allParts = []string{"startup", "bind", "doctor", "fleet"}

// measures reports whether part is to be measured.
func (c config) measures(part string) bool {
	return len(c.Parts) == 0 || slices.Contains(c.Parts, part)
}

func main() {
	os.Exit(mainCode())
}

func mainCode() int {
	full, smoke := fullConfig(), smokeConfig()
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	isSmoke := fs.Bool("smoke", false, "the harness at its smallest: two tiny clusters, no latency, one run (for CI)")
	runs := fs.Int("runs", full.Runs, "runs per measurement (times are medians)")
	bindLat := fs.String("bind-latencies", joinInts(full.BindLatencies), "AWS latencies (ms) to measure bind at")
	doctorLat := fs.String("doctor-latencies", joinInts(full.DoctorLatencies), "AWS latencies (ms) to measure doctor at")
	sizes := fs.String("sizes", joinSizes(full.Sizes), "doctor -A and list -A clusters as SAs/namespaces/roles, ascending")
	fleetSizes := fs.String("fleet-sizes", joinInts(full.FleetSizes), "doctor -A --contexts over this many sandbox clusters, ascending (the sandbox has the largest)")
	parts := fs.String("parts", strings.Join(allParts, ","), "what to measure: startup (and the binary), bind (and unbind), doctor (and list), fleet")
	naive := fs.Int("naive-subset", full.NaiveSubset, "ServiceAccounts the naive walk (doctor's baseline) is measured on; larger sizes are extrapolated")
	reps := fs.Int("startup-reps", full.StartupReps, "runs of each start-up command")
	plugin := fs.String("plugin", "", "the kubectl-sdc binary to measure (default: build one)")
	out := fs.String("out", "", "write the results as JSON to this file")
	keep := fs.Bool("keep", false, "keep the work directory (sandboxes and their logs)")
	hold := fs.Bool("hold", false, "seed the doctor part's cluster through -sizes, measure nothing, and keep its sandbox up until interrupted (for profiling by hand)")
	if err := fs.Parse(os.Args[1:]); err != nil {
		return 2
	}
	cfg := full
	if *isSmoke {
		cfg = smoke
	}
	var err error
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "runs":
			cfg.Runs = *runs
		case "bind-latencies":
			cfg.BindLatencies, err = parseInts(*bindLat)
		case "doctor-latencies":
			cfg.DoctorLatencies, err = parseInts(*doctorLat)
		case "sizes":
			cfg.Sizes, err = parseSizes(*sizes)
		case "fleet-sizes":
			cfg.FleetSizes, err = parseInts(*fleetSizes)
		case "naive-subset":
			cfg.NaiveSubset = *naive
		case "startup-reps":
			cfg.StartupReps = *reps
		case "parts":
			cfg.Parts = strings.Split(*parts, ",")
		}
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 2
	}
	cfg.Plugin, cfg.Out, cfg.Keep, cfg.Hold, cfg.Log = *plugin, *out, *keep, *hold, os.Stderr
	if cfg.Hold {
		cfg.Parts = []string{"doctor"}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	printTable(os.Stdout, res)
	return 0
}

// run measures everything cfg asks for and writes cfg.Out. It fails on a harness error only: a missed
// target is a result.
func run(ctx context.Context, cfg config) (res *results, err error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	started := time.Now()
	res = &results{Date: started.UTC().Format(time.RFC3339), Mode: "full", Machine: readMachine(),
		Settings: settings{Runs: cfg.Runs, BindLatencies: cfg.BindLatencies, DoctorLatencies: cfg.DoctorLatencies,
			NaiveSubset: cfg.NaiveSubset, StartupReps: cfg.StartupReps, FleetSizes: cfg.FleetSizes}}
	if cfg.Smoke {
		res.Mode = "smoke"
	}
	for _, z := range cfg.Sizes {
		res.Settings.Sizes = append(res.Settings.Sizes, z.String())
	}

	tb, work, err := prepare(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil || cfg.Keep {
			progress(cfg.Log, "the work directory (sandboxes, their logs) is kept in %s", work)
			return
		}
		_ = os.RemoveAll(work)
	}()

	v, err := tb.run(ctx, nil, tb.plugin, "version")
	if err != nil || v.Code != 0 {
		return nil, fmt.Errorf("the plugin does not run: %v %s", err, v)
	}
	res.PluginVersion = strings.TrimSpace(v.Stdout)

	if cfg.measures("startup") {
		progress(cfg.Log, "start-up, %d runs per command", cfg.StartupReps)
		if res.Startup, err = measureStartup(ctx, tb, cfg.StartupReps); err != nil {
			return nil, err
		}
		if res.Binary, err = measureBinary(ctx, tb, filepath.Join(work, "release", "kubectl-sdc"), filepath.Join(work, "symbols", "kubectl-sdc"), 15); err != nil {
			return nil, err
		}
	}

	var bs *bindSamples
	var one *doctorOneSamples
	if cfg.measures("bind") {
		progress(cfg.Log, "bind, unbind and doctor on one target: starting a sandbox")
		h, err := startHarness(ctx, tb, filepath.Join(work, "sandbox-bind"), 1)
		if err != nil {
			return nil, err
		}
		bs, err = benchBind(ctx, h, cfg)
		if err == nil {
			one, err = benchDoctorOne(ctx, h, cfg, bs.doctorNS, work)
		}
		if err == nil {
			progress(cfg.Log, "bind into a role shared on purpose")
			res.Shared, err = benchShared(ctx, h, cfg)
		}
		h.stop()
		if err != nil {
			return nil, err
		}
	}

	var all *doctorAllSamples
	if cfg.measures("doctor") {
		progress(cfg.Log, "doctor -A and list -A on seeded clusters: starting a fresh sandbox")
		h, err := startHarness(ctx, tb, filepath.Join(work, "sandbox-doctor"), 1)
		if err != nil {
			return nil, err
		}
		all, err = benchDoctorAll(ctx, h, cfg, work)
		h.stop()
		if err != nil {
			return nil, err
		}
	}

	var fl *fleetSamples
	if cfg.measures("fleet") {
		largest := cfg.FleetSizes[len(cfg.FleetSizes)-1]
		progress(cfg.Log, "doctor over a fleet: starting a sandbox of %d clusters", largest)
		h, err := startHarness(ctx, tb, filepath.Join(work, "sandbox-fleet"), largest)
		if err != nil {
			return nil, err
		}
		fl, err = benchFleet(ctx, h, cfg)
		h.stop()
		if err != nil {
			return nil, err
		}
	}

	assemble(res, bs, one, all, fl, cfg)
	res.Machine.LoadAfter = loadAverage()
	res.DurationS = time.Since(started).Round(time.Second).Seconds()
	if cfg.Out != "" {
		if err := writeJSON(cfg.Out, res); err != nil {
			return nil, err
		}
		progress(cfg.Log, "results written to %s", cfg.Out)
	}
	return res, nil
}

// prepare checks the machine has what the bench needs, builds the plugin (release build for the size
// figure, unstripped for its symbols) and lays out the work directory.
func prepare(ctx context.Context, cfg config) (tb *toolbox, work string, err error) {
	root, err := sandboxtest.ModuleRoot()
	if err != nil {
		return nil, "", err
	}
	binDir, err := sandboxtest.BinDir()
	if err != nil {
		return nil, "", err
	}
	for _, b := range []string{"etcd", "kube-apiserver", "kube-controller-manager"} {
		if _, err := os.Stat(filepath.Join(binDir, b)); err != nil {
			return nil, "", fmt.Errorf("the sandbox's %s is not in %s: run `make sandbox-bin` (or set SDC_SANDBOX_BIN to where it is)", b, binDir)
		}
	}
	work, err = os.MkdirTemp("", "sdc-bench-")
	if err != nil {
		return nil, "", err
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(work)
		}
	}()
	tb = &toolbox{root: root, binDir: binDir, home: filepath.Join(work, "home"), pluginDir: filepath.Join(work, "plugin"),
		baselineDir: filepath.Join(root, "bench", "baseline")}
	for _, d := range []string{tb.home, tb.pluginDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, "", err
		}
	}
	if err := tb.check(); err != nil {
		return nil, "", err
	}
	tb.helper = filepath.Join(work, "rusage-helper")
	if err := rusage.Build(ctx, root, tb.helper); err != nil {
		return nil, "", err
	}
	progress(cfg.Log, "building the plugin for linux/amd64, stripped and with symbols")
	release, symbols := filepath.Join(work, "release", "kubectl-sdc"), filepath.Join(work, "symbols", "kubectl-sdc")
	if err := buildPlugin(ctx, root, release, "linux", "amd64", true); err != nil {
		return nil, "", err
	}
	if err := buildPlugin(ctx, root, symbols, "linux", "amd64", false); err != nil {
		return nil, "", err
	}
	measured := cfg.Plugin
	switch {
	case measured != "":
		if measured, err = filepath.Abs(measured); err != nil {
			return nil, "", err
		}
		if _, err := os.Stat(measured); err != nil {
			return nil, "", fmt.Errorf("-plugin %s: %w", cfg.Plugin, err)
		}
	case hostIsReleaseTarget():
		measured = release
	default:
		measured = filepath.Join(work, "host", "kubectl-sdc")
		if err := buildPlugin(ctx, root, measured, runtime.GOOS, runtime.GOARCH, true); err != nil {
			return nil, "", err
		}
	}
	// kubectl finds plugins by file name on PATH.
	tb.plugin = filepath.Join(tb.pluginDir, "kubectl-sdc")
	if err := os.Symlink(measured, tb.plugin); err != nil {
		return nil, "", err
	}
	return tb, work, nil
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("%q is not a list of whole numbers like 0,50,100", s)
		}
		out = append(out, n)
	}
	return out, nil
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

// parseSizes reads "100/50/30,300/100/100": ServiceAccounts/namespaces/roles per size.
func parseSizes(s string) ([]clusterSize, error) {
	var out []clusterSize
	for _, f := range strings.Split(s, ",") {
		p := strings.Split(strings.TrimSpace(f), "/")
		if len(p) != 3 {
			return nil, fmt.Errorf("size %q: give SAs/namespaces/roles, like 100/50/30", f)
		}
		var v [3]int
		for i := range p {
			n, err := strconv.Atoi(p[i])
			if err != nil {
				return nil, fmt.Errorf("size %q: %q is not a whole number", f, p[i])
			}
			v[i] = n
		}
		out = append(out, clusterSize{v[0], v[1], v[2]})
	}
	return out, nil
}

func joinSizes(v []clusterSize) string {
	s := make([]string, len(v))
	for i, z := range v {
		s[i] = fmt.Sprintf("%d/%d/%d", z.SAs, z.Namespaces, z.Roles)
	}
	return strings.Join(s, ",")
}
