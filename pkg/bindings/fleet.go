package bindings

import "github.com/kubectl-sdc/kubectl-sdc/pkg/fleet"

// Report is what list found in one kube context of a fleet: its items (bindings, or with --orphans the
// orphaned roles) and the namespace they are of ("" for the cluster), for the line an empty list gets.
type Report[T any] struct {
	Items     []T
	Namespace string
}

// Entry is one kube context of list over a fleet, as -o json|yaml prints it: fleet.Header first, then its
// items; none when the context could not be listed (Error says why).
type Entry[T any] struct {
	fleet.Header
	Items []T `json:"items"`

	// Reason is the error's few words, Fix what to do about it; Namespace is Report's.
	Reason    string `json:"-"`
	Fix       string `json:"-"`
	Namespace string `json:"-"`
}

// Fleet is list over several kube contexts: every context's entry, in their order, then the totals.
type Fleet[T any] struct {
	Contexts []Entry[T]   `json:"contexts"`
	Summary  FleetSummary `json:"summary"`
}

// FleetSummary counts the items of every context and, for bindings, each status; Errors counts the
// contexts that could not be listed.
type FleetSummary struct {
	Items int `json:"items"`
	// Statuses is nil for --orphans, whose rows have none (its keys are then left out).
	*Statuses
	Errors int `json:"errors"`
}

// Statuses counts bindings by doctor's verdict.
type Statuses struct {
	OK   int `json:"ok"`
	Warn int `json:"warn"`
	Fail int `json:"fail"`
}

// NewFleet makes the fleet's list from each context's result, in their order.
func NewFleet[T any](results []fleet.Result[Report[T]]) *Fleet[T] {
	fl := &Fleet[T]{Contexts: make([]Entry[T], 0, len(results))}
	for _, r := range results {
		e := Entry[T]{Header: r.Header(), Items: []T{}, Namespace: r.Report.Namespace}
		if r.Err != nil {
			e.Reason, e.Fix = fleet.Reason(r.Err), r.Fix()
			fl.Summary.Errors++
		} else {
			e.Items = append(e.Items, r.Report.Items...)
			fl.Summary.Items += len(e.Items)
		}
		fl.Contexts = append(fl.Contexts, e)
	}
	return fl
}

// NewBindingsFleet is NewFleet for bindings, with their statuses counted.
func NewBindingsFleet(results []fleet.Result[Report[Binding]]) *Fleet[Binding] {
	fl := NewFleet(results)
	fl.Summary.Statuses = &Statuses{}
	for _, e := range fl.Contexts {
		for _, b := range e.Items {
			switch b.Status {
			case OK:
				fl.Summary.OK++
			case Warn:
				fl.Summary.Warn++
			case Fail:
				fl.Summary.Fail++
			}
		}
	}
	return fl
}

// Failed reports whether the fleet fails list's exit code: a context could not be listed, unless
// ignoreUnreachable. The bindings' statuses never do (list exits 0 whatever they are).
func (fl *Fleet[T]) Failed(ignoreUnreachable bool) bool {
	return fl.Summary.Errors > 0 && !ignoreUnreachable
}
