package plan

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

func TestApplyOrdersByDependencyAndRunsIndependentChangesTogether(t *testing.T) {
	var mu sync.Mutex
	var order []string
	// a and b each wait for the other to start: were they not run in parallel, this would never finish.
	var arrived sync.WaitGroup
	arrived.Add(2)
	barrier := func() {
		arrived.Done()
		arrived.Wait()
	}
	rec := func(id string, wait bool) func(context.Context) error {
		return func(context.Context) error {
			if wait {
				barrier()
			}
			mu.Lock()
			order = append(order, id)
			mu.Unlock()
			return nil
		}
	}
	p := &Plan{Changes: []*Change{
		{ID: "c", Action: Create, Deps: []string{"a", "b"}, Apply: rec("c", false)},
		{ID: "a", Action: Create, Apply: rec("a", true)},
		{ID: "b", Action: Update, Apply: rec("b", true)},
		{ID: "u", Action: Unchanged, Apply: func(context.Context) error { t.Error("unchanged change applied"); return nil }},
		{ID: "d", Action: Create, Deps: []string{"u", "c"}, Apply: rec("d", false)},
	}}
	res, err := p.Apply(context.Background())
	if err != nil || res.Err() != nil {
		t.Fatal(err, res.Err())
	}
	if len(order) != 4 || order[2] != "c" || order[3] != "d" {
		t.Errorf("order = %v, want a and b (any order), then c, then d", order)
	}
}

func TestApplySkipsDependantsOfAFailure(t *testing.T) {
	boom := errors.New("boom")
	var ran atomic.Int32
	p := &Plan{Changes: []*Change{
		{ID: "a", Action: Create, Apply: func(context.Context) error { return boom }},
		{ID: "b", Action: Create, Deps: []string{"a"}, Apply: func(context.Context) error { ran.Add(1); return nil }},
		{ID: "c", Action: Create, Deps: []string{"b"}, Apply: func(context.Context) error { ran.Add(1); return nil }},
		{ID: "x", Action: Create, Apply: func(context.Context) error { ran.Add(1); return nil }},
	}}
	res, _ := p.Apply(context.Background())
	if !errors.Is(res.Err(), boom) {
		t.Errorf("Err = %v, want boom", res.Err())
	}
	if ran.Load() != 1 {
		t.Errorf("%d changes ran, want only the independent one", ran.Load())
	}
	if f := res.Failed(); len(f) != 3 || !f[1].Skipped || !f[2].Skipped {
		t.Errorf("Failed = %+v", f)
	}
}

func TestApplyRejectsUnknownDependencies(t *testing.T) {
	p := &Plan{Changes: []*Change{{ID: "a", Deps: []string{"nope"}}}}
	if _, err := p.Apply(context.Background()); err == nil {
		t.Error("unknown dependency accepted")
	}
}

func TestCounts(t *testing.T) {
	p := &Plan{Changes: []*Change{{Action: Create}, {Action: Create}, {Action: Update}, {Action: Unchanged}}}
	if c, u, n := p.Counts(); c != 2 || u != 1 || n != 1 || !p.HasChanges() {
		t.Errorf("Counts = %d %d %d", c, u, n)
	}
	if (&Plan{Changes: []*Change{{Action: Unchanged}}}).HasChanges() {
		t.Error("HasChanges on an unchanged plan")
	}
}

func TestTallyCountsDeletesApart(t *testing.T) {
	p := &Plan{Changes: []*Change{{Action: Create}, {Action: Delete}, {Action: Delete}, {Action: Update}, {Action: Unchanged}}}
	if got, want := p.Tally(), (Tally{Create: 1, Update: 1, Delete: 2, Unchanged: 1}); got != want {
		t.Errorf("Tally = %+v, want %+v", got, want)
	}
	if c, u, n := p.Counts(); c != 1 || u != 1 || n != 1 {
		t.Errorf("Counts = %d, %d, %d: a delete is neither a create, an update nor unchanged", c, u, n)
	}
	if !(&Plan{Changes: []*Change{{Action: Delete}}}).HasChanges() {
		t.Error("a plan that deletes has changes")
	}
}

func TestApplyRunsDeletes(t *testing.T) {
	var ran atomic.Int32
	p := &Plan{Changes: []*Change{
		{ID: "detach", Action: Delete, Apply: func(context.Context) error { ran.Add(1); return nil }},
		{ID: "role", Action: Delete, Deps: []string{"detach"}, Apply: func(context.Context) error { ran.Add(1); return nil }},
	}}
	if res, err := p.Apply(context.Background()); err != nil || res.Err() != nil {
		t.Fatal(err, res.Err())
	}
	if ran.Load() != 2 {
		t.Errorf("%d deletes applied, want 2", ran.Load())
	}
}

// A change that would write but that nothing can apply is an error, at plan time (CheckOps) and again
// before anything is applied, never a change reported as done.
func TestAChangeNobodyCanApplyIsAnError(t *testing.T) {
	type known struct{}
	applies := func(op any) bool { _, ok := op.(known); return ok }
	for _, tc := range []struct {
		name string
		c    *Change
		ok   bool
	}{
		{"a known operation", &Change{ID: "a", Action: Create, Op: known{}}, true},
		{"unchanged needs none", &Change{ID: "u", Action: Unchanged}, true},
		{"no operation", &Change{ID: "n", Action: Update}, false},
		{"an operation of another type", &Change{ID: "x", Action: Delete, Op: struct{ X int }{}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := (&Plan{Changes: []*Change{tc.c}}).CheckOps(applies)
			if (err == nil) != tc.ok {
				t.Errorf("CheckOps: %v, want ok=%v", err, tc.ok)
			}
		})
	}
	var ran atomic.Int32
	p := &Plan{Changes: []*Change{
		{ID: "a", Action: Create, Apply: func(context.Context) error { ran.Add(1); return nil }},
		{ID: "b", Action: Update},
	}}
	if _, err := p.Apply(context.Background()); err == nil || ran.Load() != 0 {
		t.Errorf("Apply with a change nothing applies: %v, %d applied", err, ran.Load())
	}
}
