package fleet

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeList is what a command such as list reports per context: the fleet runner never looks inside.
type fakeList struct {
	Items []string
}

func contexts(names ...string) []Context {
	out := make([]Context, len(names))
	for i, n := range names {
		out[i] = Context{Name: n, Region: "region-of-" + n}
	}
	return out
}

// A command joins the fleet with a Func: here a fake one that answers per context as a real list would,
// one context unreachable. Results come back in the contexts' order, each with its identity and report,
// the unreachable one with its reason and whatever identity it found.
func TestRunWithAFakeCommand(t *testing.T) {
	t.Parallel()
	list := func(_ context.Context, c Context) (fakeList, Identity, error) {
		switch c.Name {
		case "down":
			return fakeList{}, Identity{Account: "111122223333"}, &Unreachable{Reason: "API server does not answer",
				Err: errors.New(`GET https://10.0.0.1/version: connection refused`), Fix: "kubectl --context down cluster-info"}
		case "plain-error":
			return fakeList{}, Identity{}, errors.New("something else")
		}
		return fakeList{Items: []string{c.Name + "/sdc"}}, Identity{Cluster: "eks-" + c.Name, Account: "111122223333", Region: "eu-west-1"}, nil
	}
	got := Run(context.Background(), contexts("b", "down", "a", "plain-error"), Options{}, list)
	if len(got) != 4 {
		t.Fatalf("%d results for 4 contexts", len(got))
	}
	for i, want := range []string{"b", "down", "a", "plain-error"} {
		if got[i].Context.Name != want {
			t.Errorf("result %d is %s, want %s (the contexts' order)", i, got[i].Context.Name, want)
		}
	}
	if r := got[0]; r.Err != nil || r.Report.Items[0] != "b/sdc" || r.Identity != (Identity{Cluster: "eks-b", Account: "111122223333", Region: "eu-west-1"}) {
		t.Errorf("b: %+v", r)
	}
	down := got[1]
	if Reason(down.Err) != "API server does not answer" || !strings.Contains(down.Err.Error(), "connection refused (fix: kubectl --context down cluster-info)") {
		t.Errorf("down: reason %q, error %v", Reason(down.Err), down.Err)
	}
	// What the Func found is kept; the region falls back on the one the context was read in.
	if down.Identity != (Identity{Account: "111122223333", Region: "region-of-down"}) {
		t.Errorf("down's identity: %+v", down.Identity)
	}
	if down.Fix() != "kubectl --context down cluster-info" {
		t.Errorf("down's fix: %q", down.Fix())
	}
	if Reason(got[3].Err) != "error" || got[3].Fix() != "" || got[0].Fix() != "" {
		t.Errorf("an error without a reason: %q, fix %q; no error: fix %q", Reason(got[3].Err), got[3].Fix(), got[0].Fix())
	}
	if n := Errors(got); n != 2 {
		t.Errorf("Errors = %d, want 2", n)
	}
}

// At most Parallel contexts are examined at once, and that many are.
func TestRunBoundsConcurrency(t *testing.T) {
	t.Parallel()
	const parallel, n = 2, 7
	var inFlight, most atomic.Int32
	started := make(chan string, n)
	release := make(chan struct{}, n)
	fn := func(_ context.Context, c Context) (string, Identity, error) {
		now := inFlight.Add(1)
		for {
			m := most.Load()
			if now <= m || most.CompareAndSwap(m, now) {
				break
			}
		}
		started <- c.Name
		<-release
		inFlight.Add(-1)
		return c.Name, Identity{}, nil
	}
	done := make(chan []Result[string])
	go func() {
		done <- Run(context.Background(), contexts("a", "b", "c", "d", "e", "f", "g"), Options{Parallel: parallel}, fn)
	}()
	// Two start; each release lets one more in.
	for range parallel {
		<-started
	}
	for range n {
		release <- struct{}{}
	}
	res := <-done
	if got := most.Load(); got != parallel {
		t.Errorf("%d contexts examined at once, want %d", got, parallel)
	}
	for _, r := range res {
		if r.Err != nil || r.Report != r.Context.Name {
			t.Errorf("%s: %+v", r.Context.Name, r)
		}
	}
}

// A context that does not answer within the timeout is that context's error, at the deadline, even when
// its Func ignores the deadline; the others are reported.
func TestRunTimesOutOneContext(t *testing.T) {
	t.Parallel()
	stuck := make(chan struct{})
	defer close(stuck)
	fn := func(ctx context.Context, c Context) (string, Identity, error) {
		switch c.Name {
		case "blackhole":
			<-stuck // ignores ctx, as an exec plugin waiting for a login might
		case "slow":
			<-ctx.Done() // gives up at the deadline with the deadline's error
			return "half a report", Identity{}, fmt.Errorf("GET /version: %w", ctx.Err())
		}
		return "ok", Identity{}, nil
	}
	res := Run(context.Background(), contexts("blackhole", "fine", "slow"), Options{Timeout: 50 * time.Millisecond, TimeoutFlag: "--request-timeout"}, fn)
	for _, i := range []int{0, 2} {
		r := res[i]
		if Reason(r.Err) != "no answer within 50ms" || !strings.Contains(r.Err.Error(), fmt.Sprintf(`kube context %q did not finish within 50ms (--request-timeout)`, r.Context.Name)) ||
			!strings.Contains(r.Err.Error(), "pass a longer --request-timeout") {
			t.Errorf("%s: %v", r.Context.Name, r.Err)
		}
	}
	if res[1].Err != nil || res[1].Report != "ok" {
		t.Errorf("fine: %+v", res[1])
	}
}

// A panic while examining one context is that context's error, not a crash of the fleet.
func TestRunRecoversAPanic(t *testing.T) {
	t.Parallel()
	fn := func(_ context.Context, c Context) (int, Identity, error) {
		if c.Name == "bad" {
			panic("a bug")
		}
		return 1, Identity{}, nil
	}
	res := Run(context.Background(), contexts("bad", "good"), Options{}, fn)
	if Reason(res[0].Err) != "internal error" || !strings.Contains(res[0].Err.Error(), `examining kube context "bad" panicked`) {
		t.Errorf("bad: %v", res[0].Err)
	}
	if res[1].Err != nil || res[1].Report != 1 {
		t.Errorf("good: %+v", res[1])
	}
}

// Canceling the whole run (Ctrl-C) ends every context, started or waiting for a slot, as canceled.
func TestRunCanceled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	var once sync.Once
	started := make(chan struct{})
	fn := func(ctx context.Context, _ Context) (int, Identity, error) {
		once.Do(func() { close(started) })
		<-ctx.Done()
		return 0, Identity{}, ctx.Err()
	}
	done := make(chan []Result[int])
	go func() { done <- Run(ctx, contexts("a", "b", "c"), Options{Parallel: 1}, fn) }()
	<-started
	cancel()
	for _, r := range <-done {
		if Reason(r.Err) != "canceled" {
			t.Errorf("%s: %v", r.Context.Name, r.Err)
		}
	}
}
