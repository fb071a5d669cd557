// Package doctor diagnoses the IRSA chain of StreamSets Data Collector workloads: kube context, cluster
// issuer, AWS identity, IAM OIDC provider, role, trust and permissions, ServiceAccount annotation, webhook,
// Deployment and pods, and (with a probe) what AWS actually answers. Checks are data: each is an ID, a
// layer, the checks it needs and a function of facts gathered once, in parallel, before any check runs.
// The package returns a Report; it never prints.
package doctor

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// Status is how a check ended.
type Status string

// The statuses, from best to worst; skip means something the check needs failed or does not apply.
const (
	Pass Status = "pass"
	Warn Status = "warn"
	Fail Status = "fail"
	Skip Status = "skip"
)

// Layer groups checks in the report, in the order the chain is walked.
type Layer string

// The layers, in report order.
const (
	LayerCluster    Layer = "cluster"
	LayerAWS        Layer = "aws"
	LayerIAM        Layer = "iam"
	LayerKubernetes Layer = "kubernetes"
	LayerProbe      Layer = "probe"
)

// Layers lists the layers in report order.
var Layers = []Layer{LayerCluster, LayerAWS, LayerIAM, LayerKubernetes, LayerProbe}

// Title is the layer's heading in text output.
func (l Layer) Title() string {
	switch l {
	case LayerCluster:
		return "Cluster"
	case LayerAWS:
		return "AWS"
	case LayerIAM:
		return "IAM"
	case LayerKubernetes:
		return "Kubernetes"
	case LayerProbe:
		return "Probe"
	}
	return string(l)
}

// Result is one check's outcome. Title is one line; Detail names the exact mismatch; Fix is the command
// that repairs it (warn and fail only).
type Result struct {
	ID     string `json:"id"`
	Layer  Layer  `json:"layer"`
	Status Status `json:"status"`
	Title  string `json:"title"`
	Detail string `json:"detail"`
	Fix    string `json:"fix"`
}

// Scope says whether a check runs once per run or once per target.
type Scope int

// The scopes.
const (
	ClusterScope Scope = iota
	TargetScope
)

// Check is one diagnosis. Run gets the facts (and, for target checks, the target; nil otherwise) and
// returns the status, title, detail and fix; ID and Layer are filled in by the runner. Run is not called
// when a check in Needs failed or was skipped: the result is then a skip naming it.
type Check struct {
	ID    string
	Layer Layer
	Scope Scope
	// Probe checks run only with --probe: they call AWS as the workload would.
	Probe bool
	// Needs are IDs of checks (cluster-wide or of the same target) that must not fail or skip first. A
	// need that does not apply (see Applies) is no obstacle.
	Needs []string
	// Applies says whether the check concerns the target (nil for cluster-wide checks), e.g. only the
	// targets whose pods use EKS Pod Identity; nil means always. A check that does not apply is left out
	// of the report, not skipped: it asks a question the setup does not raise.
	Applies func(f *Facts, t *Target) bool
	Run     func(ctx context.Context, f *Facts, t *Target) Result
}

// applies reports whether c concerns t (nil: the cluster).
func (c Check) applies(f *Facts, t *Target) bool {
	return c.Applies == nil || c.Applies(f, t)
}

// TargetReport is the outcome for one ServiceAccount (and the Deployment running under it).
type TargetReport struct {
	Namespace      string `json:"namespace"`
	ServiceAccount string `json:"serviceAccount"`
	Deployment     string `json:"deployment"`
	// RoleARN is the role annotation's value, else (EKS Pod Identity alone) the association's role.
	RoleARN string `json:"roleArn"`
	// PodIdentityAssociation is the ARN of the ServiceAccount's EKS Pod Identity association, when it has one.
	PodIdentityAssociation string   `json:"podIdentityAssociation,omitempty"`
	Checks                 []Result `json:"checks"`
}

// Summary counts the results by status.
type Summary struct {
	Pass int `json:"pass"`
	Warn int `json:"warn"`
	Fail int `json:"fail"`
	Skip int `json:"skip"`
}

// Report is everything doctor found: cluster-wide checks, then each target's. The same shape serves one
// target and -A.
type Report struct {
	Checks  []Result       `json:"checks"`
	Targets []TargetReport `json:"targets"`
	Summary Summary        `json:"summary"`
	// AllNamespaces records -A, so an empty target list can be explained.
	AllNamespaces bool `json:"-"`
	// Cluster, Account and Region are what the run found the kube context to be ("" where unknown): the
	// EKS cluster's name, the AWS account of the credentials, the cluster's region. A fleet's summary shows
	// them; the single-context JSON keeps its shape.
	Cluster string `json:"-"`
	Account string `json:"-"`
	Region  string `json:"-"`
	// Blocked is why the context could not be examined at all; nil when it could.
	Blocked *Blocked `json:"-"`
	// TargetCheckIDs are the target checks that concern at least one target, in run order: what the
	// targets' results may hold, known before any target is judged (a streamed report's text lines up by
	// them).
	TargetCheckIDs []string `json:"-"`
}

// Blocked is a kube context doctor could not examine: its API server did not answer (or refused the
// credentials), its AWS credentials did not work, or its cluster's OIDC issuer was not found. Everything
// else doctor reports depends on these, so a fleet shows such a context as an error, not as failed checks.
type Blocked struct {
	// Reason is a few words for a fleet's table: "API server does not answer".
	Reason string
	// Result is the failed check, with its detail and fix.
	Result Result
}

// Failed reports whether a check failed, or, when strict, failed or warned.
func (r *Report) Failed(strict bool) bool {
	return r.Summary.Fail > 0 || (strict && r.Summary.Warn > 0)
}

func (s *Summary) add(rs []Result) {
	for _, r := range rs {
		switch r.Status {
		case Pass:
			s.Pass++
		case Warn:
			s.Warn++
		case Fail:
			s.Fail++
		case Skip:
			s.Skip++
		}
	}
}

// Run gathers the facts and runs every check: cluster-wide ones first, then each target's, targets in
// parallel (only the probes call out; everything else reads the facts).
func (d *Doctor) Run(ctx context.Context) (*Report, error) {
	if err := d.Options.validate(); err != nil {
		return nil, err
	}
	f, err := d.gather(ctx)
	if err != nil {
		return nil, err
	}
	return runChecks(ctx, f, d.checks(), nil), nil
}

// Stream receives a run's report as it is made, for a caller that writes it out rather than keeping it:
// Begin gets the report of the cluster-wide checks before any target is judged, then Target each target's
// report in the order of the targets, as soon as it and those before it are judged. The report Run returns
// then keeps no target (Targets is empty) but counts their results in Summary. Begin and Target are called
// from one goroutine; an error from either stops the run and is returned.
type Stream struct {
	Begin  func(*Report) error
	Target func(i int, tr *TargetReport) error
}

// RunStream is Run handing each target's report to s instead of keeping it: with ten thousand targets the
// reports were most of what a run held at its end.
func (d *Doctor) RunStream(ctx context.Context, s Stream) (*Report, error) {
	if err := d.Options.validate(); err != nil {
		return nil, err
	}
	f, err := d.gather(ctx)
	if err != nil {
		return nil, err
	}
	return runChecksErr(ctx, f, d.checks(), &s)
}

// Gather reads the facts of a run, as Run does, and runs no check: for commands that show the same
// targets another way (kubectl sdc list), with Judge.
func (d *Doctor) Gather(ctx context.Context) (*Facts, error) {
	if err := d.Options.validate(); err != nil {
		return nil, err
	}
	return d.gather(ctx)
}

// Judge runs every check but the probes over gathered facts: the verdict doctor would give without
// --probe. Targets are reported in the order of f.Targets.
func Judge(ctx context.Context, f *Facts) *Report {
	return runChecks(ctx, f, judgeChecks(), nil)
}

// JudgeEach is Judge handing each target's report to each, in the order of f.Targets, as Stream.Target
// gets them; the report keeps no target but counts their results.
func JudgeEach(ctx context.Context, f *Facts, each func(i int, tr *TargetReport)) *Report {
	return runChecks(ctx, f, judgeChecks(), &Stream{Target: func(i int, tr *TargetReport) error { each(i, tr); return nil }})
}

func judgeChecks() []Check {
	return slices.DeleteFunc(Checks(), func(c Check) bool { return c.Probe })
}

func (d *Doctor) checks() []Check {
	all := Checks()
	if d.Options.Probe {
		return all
	}
	return slices.DeleteFunc(all, func(c Check) bool { return c.Probe })
}

// runChecks runs the checks over gathered facts; a stream's errors are dropped (Judge's never fail).
func runChecks(ctx context.Context, f *Facts, checks []Check, s *Stream) *Report {
	rep, _ := runChecksErr(ctx, f, checks, s)
	return rep
}

// runChecksErr runs the checks over gathered facts: the cluster-wide ones, then the targets in parallel,
// each target's checks in order. Without a stream the report keeps every target's; with one, each is
// handed over in order and dropped.
func runChecksErr(ctx context.Context, f *Facts, checks []Check, s *Stream) (*Report, error) {
	rep := &Report{Checks: []Result{}, Targets: []TargetReport{}, AllNamespaces: f.Options.AllNamespaces}
	done := map[string]Result{}
	for _, c := range checks {
		if c.Scope != ClusterScope {
			continue
		}
		if !c.applies(f, nil) {
			done[c.ID] = notApplicable
			continue
		}
		r := runOne(ctx, c, f, nil, ended{run: done})
		done[c.ID] = r
		rep.Checks = append(rep.Checks, r)
	}
	rep.Summary.add(rep.Checks)
	rep.identify(f)
	rep.Blocked = blocked(f, done)
	for _, c := range checks {
		if c.Scope == TargetScope && slices.ContainsFunc(f.Targets, func(t *Target) bool { return c.applies(f, t) }) {
			rep.TargetCheckIDs = append(rep.TargetCheckIDs, c.ID)
		}
	}
	judge := func(t *Target) TargetReport {
		f.load(t)
		defer t.unload()
		seen := make(map[string]Status, len(checks))
		in := ended{target: seen, run: done}
		tr := TargetReport{Namespace: t.Namespace, ServiceAccount: t.ServiceAccount, Deployment: t.Deployment,
			RoleARN: t.RoleARN, Checks: make([]Result, 0, len(checks))}
		if t.Association != nil {
			tr.PodIdentityAssociation = t.Association.ARN
		}
		for _, c := range checks {
			if c.Scope != TargetScope {
				continue
			}
			if !c.applies(f, t) {
				seen[c.ID] = notApplicable.Status
				continue
			}
			r := runOne(ctx, c, f, t, in)
			seen[c.ID] = r.Status
			tr.Checks = append(tr.Checks, r)
		}
		return tr
	}
	if s == nil {
		rep.Targets = make([]TargetReport, len(f.Targets))
		var pool errgroup.Group
		pool.SetLimit(f.parallelism())
		for i, t := range f.Targets {
			pool.Go(func() error { rep.Targets[i] = judge(t); return nil })
		}
		_ = pool.Wait()
		for _, t := range rep.Targets {
			rep.Summary.add(t.Checks)
		}
		return rep, nil
	}
	if s.Begin != nil {
		if err := s.Begin(rep); err != nil {
			return rep, err
		}
	}
	err := inOrder(f.parallelism(), f.Targets, judge, func(i int, tr *TargetReport) error {
		rep.Summary.add(tr.Checks)
		return s.Target(i, tr)
	})
	return rep, err
}

// inOrder judges the targets with up to n at once and hands each report to each in the targets' order,
// no more than 4n judged ahead of the one each waits for, so that what is held stays bounded however many
// targets there are. After an error from each, no target is started and the error is returned.
func inOrder(n int, targets []*Target, judge func(*Target) TargetReport, each func(int, *TargetReport) error) error {
	pending := make(chan chan TargetReport, 4*n)
	stop := make(chan struct{})
	go func() {
		defer close(pending)
		sem := make(chan struct{}, n)
		for _, t := range targets {
			select {
			case <-stop:
				return
			default:
			}
			slot := make(chan TargetReport, 1)
			select {
			case pending <- slot:
			case <-stop:
				return
			}
			sem <- struct{}{}
			go func() {
				defer func() { <-sem }()
				slot <- judge(t)
			}()
		}
	}()
	var err error
	i := 0
	for slot := range pending {
		tr := <-slot
		if err == nil {
			if err = each(i, &tr); err != nil {
				close(stop)
			}
		}
		i++
	}
	return err
}

func (r *Report) identify(f *Facts) {
	r.Region = f.Region
	if f.Cluster != nil {
		r.Cluster = f.Cluster.Name
		r.Account = f.Cluster.AccountID
	}
	if f.Identity != nil {
		r.Account = f.Identity.Account
	}
}

// blocked names what kept doctor from examining the context, first what everything else depends on: the
// API server, then the AWS credentials, then the issuer (whose sources use both).
func blocked(f *Facts, done map[string]Result) *Blocked {
	switch {
	case f.KubeErr != nil:
		reason := "API server does not answer"
		switch {
		case apierrors.IsUnauthorized(f.KubeErr):
			reason = "kube credentials refused"
		case apierrors.IsForbidden(f.KubeErr):
			reason = "kube access forbidden"
		case strings.Contains(f.KubeErr.Error(), "getting credentials"):
			// client-go's words when the context's exec credential plugin fails.
			reason = "kube credential plugin failed"
		}
		return &Blocked{Reason: reason, Result: done[kubeContext.ID]}
	case f.IdentityErr != nil:
		return &Blocked{Reason: "AWS credentials do not work", Result: done[awsIdentity.ID]}
	case f.ClusterErr != nil:
		return &Blocked{Reason: "OIDC issuer not found", Result: done[clusterIssuer.ID]}
	}
	return nil
}

// notApplicable marks, among the results a check's needs are looked up in, a check that did not apply.
var notApplicable = Result{Status: "n/a"}

// ended is how the checks so far ended, by ID: a target's own (nil for the cluster-wide checks), then the
// run's cluster-wide ones, which every target reads without a copy of its own.
type ended struct {
	target map[string]Status
	run    map[string]Result
}

func (e ended) of(id string) (Status, bool) {
	if st, ok := e.target[id]; ok {
		return st, true
	}
	r, ok := e.run[id]
	return r.Status, ok
}

func runOne(ctx context.Context, c Check, f *Facts, t *Target, done ended) Result {
	for _, n := range c.Needs {
		st, ok := done.of(n)
		switch {
		case st == notApplicable.Status:
			continue
		case !ok:
			// A need that was not run (a probe without --probe) cannot be met.
			return Result{ID: c.ID, Layer: c.Layer, Status: Skip, Title: fmt.Sprintf("skipped: %s did not run", n)}
		case st == Fail:
			return Result{ID: c.ID, Layer: c.Layer, Status: Skip, Title: fmt.Sprintf("skipped: %s failed", n)}
		case st == Skip:
			return Result{ID: c.ID, Layer: c.Layer, Status: Skip, Title: fmt.Sprintf("skipped: %s was skipped", n)}
		}
	}
	r := c.Run(ctx, f, t)
	r.ID, r.Layer = c.ID, c.Layer
	if r.Status == Pass || r.Status == Skip {
		r.Fix = ""
	}
	return r
}

// result helpers keep the check files short.
func pass(title, detail string) Result { return Result{Status: Pass, Title: title, Detail: detail} }
func warn(title, detail, fix string) Result {
	return Result{Status: Warn, Title: title, Detail: detail, Fix: fix}
}
func fail(title, detail, fix string) Result {
	return Result{Status: Fail, Title: title, Detail: detail, Fix: fix}
}
func skip(title, detail string) Result { return Result{Status: Skip, Title: title, Detail: detail} }
