// Package plan holds the desired-vs-actual changes bind and unbind compute, in the order and with the
// dependencies in which they must be applied, and applies them: independent changes in parallel, dependants
// after.
package plan

import (
	"context"
	"fmt"
	"sync"
)

// Action says what applying a change does.
type Action string

// The actions a change can have.
const (
	Create    Action = "create"
	Update    Action = "update"
	Delete    Action = "delete"
	Unchanged Action = "unchanged"
)

// Change is one resource's difference between what is and what should be.
type Change struct {
	ID     string // unique in the plan; what Deps refer to
	Kind   string // e.g. "IAM role", "ServiceAccount"
	Name   string // the resource's name or ARN
	Action Action
	// Before and After are the managed part of the resource as text (canonical JSON for IAM documents, YAML
	// for Kubernetes objects); Before is empty for a create, After for a delete. Format is "json" or "yaml".
	Before, After, Format string
	Notes                 []string // one line each, e.g. "adds client ID sts.amazonaws.com"
	Deps                  []string // IDs of changes that must be applied first
	// Denied says, one line each, what the caller may not do that applying the change needs (the
	// preflight's findings); empty when allowed or not checked.
	Denied []string
	// Op is the write that applying the change performs, as data (its type is the planner's business);
	// Apply is what carries it out. A planner that must stay pure sets Op and leaves Apply to its applier.
	Op    any
	Apply func(ctx context.Context) error
}

// Plan is every change a command considered, in display order.
type Plan struct {
	Changes []*Change
}

// Tally is how many changes of a plan have each action.
type Tally struct {
	Create, Update, Delete, Unchanged int
}

// Tally counts the changes by action.
func (p *Plan) Tally() Tally {
	var t Tally
	for _, c := range p.Changes {
		switch c.Action {
		case Create:
			t.Create++
		case Update:
			t.Update++
		case Delete:
			t.Delete++
		default:
			t.Unchanged++
		}
	}
	return t
}

// Counts returns how many changes create, update and leave resources unchanged (deletes are in Tally).
func (p *Plan) Counts() (create, update, unchanged int) {
	t := p.Tally()
	return t.Create, t.Update, t.Unchanged
}

// HasChanges reports whether applying the plan would write anything.
func (p *Plan) HasChanges() bool {
	t := p.Tally()
	return t.Create+t.Update+t.Delete > 0
}

// Outcome is how applying one change ended.
type Outcome struct {
	Change *Change
	Err    error // nil: applied
	// Skipped: not attempted because a change it depends on failed.
	Skipped bool
}

// Result is the outcome of Apply, in plan order.
type Result struct {
	Outcomes []Outcome
}

// Failed returns the changes that failed or were skipped.
func (r Result) Failed() []Outcome {
	var out []Outcome
	for _, o := range r.Outcomes {
		if o.Err != nil || o.Skipped {
			out = append(out, o)
		}
	}
	return out
}

// Err is nil when every change was applied.
func (r Result) Err() error {
	for _, o := range r.Outcomes {
		if o.Err != nil {
			return fmt.Errorf("%s %s: %w", o.Change.Kind, o.Change.Name, o.Err)
		}
	}
	return nil
}

// CheckOps is the plan-to-apply contract, checked when a plan is made: every change that writes (is not
// Unchanged) carries an Op that applies says its applier knows. A change nobody can apply is an error
// then, never a change reported as applied.
func (p *Plan) CheckOps(applies func(op any) bool) error {
	for _, c := range p.Changes {
		if c.Action == Unchanged {
			continue
		}
		if c.Op == nil || !applies(c.Op) {
			return fmt.Errorf("plan: change %q (%s %s %s) has no operation its applier knows (%T): this is a bug of the planner", c.ID, c.Action, c.Kind, c.Name, c.Op)
		}
	}
	return nil
}

// Apply applies every change that is not Unchanged, each as soon as the changes it depends on are done,
// independent ones in parallel. A change whose dependency failed is skipped, not attempted. Unchanged
// changes count as done immediately. Unknown dependency IDs, and a change that would write but has no
// Apply, are errors before anything is applied.
func (p *Plan) Apply(ctx context.Context) (Result, error) {
	byID := map[string]int{}
	for i, c := range p.Changes {
		if _, dup := byID[c.ID]; dup {
			return Result{}, fmt.Errorf("plan: duplicate change ID %q", c.ID)
		}
		byID[c.ID] = i
	}
	for _, c := range p.Changes {
		for _, d := range c.Deps {
			if _, ok := byID[d]; !ok {
				return Result{}, fmt.Errorf("plan: change %q depends on unknown %q", c.ID, d)
			}
		}
		if c.Action != Unchanged && c.Apply == nil {
			return Result{}, fmt.Errorf("plan: change %q (%s %s %s) has nothing that applies it", c.ID, c.Action, c.Kind, c.Name)
		}
	}
	out := make([]Outcome, len(p.Changes))
	done := make([]chan struct{}, len(p.Changes))
	for i := range done {
		done[i] = make(chan struct{})
	}
	var wg sync.WaitGroup
	for i, c := range p.Changes {
		out[i].Change = c
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(done[i])
			for _, d := range c.Deps {
				j := byID[d]
				<-done[j]
				if out[j].Err != nil || out[j].Skipped {
					out[i].Skipped = true
					return
				}
			}
			if c.Action == Unchanged {
				return
			}
			if err := ctx.Err(); err != nil {
				out[i].Skipped = true
				return
			}
			out[i].Err = c.Apply(ctx)
		}()
	}
	wg.Wait()
	return Result{Outcomes: out}, nil
}
