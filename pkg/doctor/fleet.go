package doctor

import (
	"errors"
	"time"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/fleet"
)

// FleetReport is doctor over several kube contexts: each context's report, then the totals.
// JSON: {"contexts":[{"context","cluster","account","region","error","checks","targets","summary"}],
// "summary":{"pass","warn","fail","skip","errors"}}.
type FleetReport struct {
	Contexts []ContextReport `json:"contexts"`
	Summary  FleetSummary    `json:"summary"`
}

// ContextReport is one context's entry: what it is, and its report, or the error that kept doctor from
// examining it (then its checks and targets are empty and its summary all zero).
type ContextReport struct {
	fleet.Header
	Checks  []Result       `json:"checks"`
	Targets []TargetReport `json:"targets"`
	Summary Summary        `json:"summary"`

	// Reason is the error's few words, for the fleet table; Fix what to do about it.
	Reason string `json:"-"`
	Fix    string `json:"-"`
	// ReadWith says which AWS profile and region the context was read with, and why (for -v).
	ReadWith string `json:"-"`
	// Elapsed is how long the context took.
	Elapsed time.Duration `json:"-"`
	// AllNamespaces is -A, so an empty target list can be explained.
	AllNamespaces bool `json:"-"`
}

// FleetSummary adds up the contexts' checks, and counts the contexts that could not be examined (whose
// checks are not counted: there are none).
type FleetSummary struct {
	Pass   int `json:"pass"`
	Warn   int `json:"warn"`
	Fail   int `json:"fail"`
	Skip   int `json:"skip"`
	Errors int `json:"errors"`
}

// NewFleetReport makes the fleet's report from each context's result, in their order.
func NewFleetReport(results []fleet.Result[*Report]) *FleetReport {
	fr := &FleetReport{Contexts: make([]ContextReport, 0, len(results))}
	for _, r := range results {
		c := ContextReport{Header: r.Header(), Checks: []Result{}, Targets: []TargetReport{}, ReadWith: r.Describe(), Elapsed: r.Elapsed}
		if r.Err != nil {
			c.Reason, c.Fix = fleet.Reason(r.Err), r.Fix()
			fr.Summary.Errors++
		} else if r.Report != nil {
			c.Checks, c.Targets, c.Summary, c.AllNamespaces = r.Report.Checks, r.Report.Targets, r.Report.Summary, r.Report.AllNamespaces
			fr.Summary.Pass += c.Summary.Pass
			fr.Summary.Warn += c.Summary.Warn
			fr.Summary.Fail += c.Summary.Fail
			fr.Summary.Skip += c.Summary.Skip
		}
		fr.Contexts = append(fr.Contexts, c)
	}
	return fr
}

// Failed reports whether the fleet fails doctor's exit code: a check failed in any context (or, when
// strict, warned), or a context could not be examined, unless ignoreUnreachable.
func (fr *FleetReport) Failed(strict, ignoreUnreachable bool) bool {
	s := fr.Summary
	return s.Fail > 0 || (strict && s.Warn > 0) || (s.Errors > 0 && !ignoreUnreachable)
}

// Unreachable is the error a fleet reports for a context doctor could not examine, or nil.
func (r *Report) Unreachable() error {
	if r == nil || r.Blocked == nil {
		return nil
	}
	b := r.Blocked
	return &fleet.Unreachable{Reason: b.Reason, Err: errors.New(b.Result.Title + ": " + b.Result.Detail), Fix: b.Result.Fix}
}
