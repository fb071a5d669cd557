// Package fleet runs one kubectl-sdc command over several kube contexts: it picks the contexts
// (--contexts names or shell patterns, --all-contexts), works out the AWS profile and region each is read
// with, and examines them side by side, a bounded number at a time, each in isolation and within a
// deadline, so that one context that cannot be reached is that context's error and never the fleet's.
//
// A command joins the fleet by giving Run a Func: how to examine one context exactly as a single-context
// run of the command would (its own kube client, AWS clients, cluster discovery, region and account). Run
// returns one Result per context, in order; the command turns them into its report with Header and its own
// per-context payload (doctor: checks, targets and summary; list: items). In the cobra layer that is:
// fleetFlags on the command (add, validate, complete), a Func built on contextSession (the context's
// clients, namespace and AWS settings), runFleet, then the report: an entry struct embedding Header, a
// summary with the count of Errors, text through render (ContextHeading per context, then a Table), and the
// exit code (an error counts unless --ignore-unreachable). See ExampleRun, and doctor's RunFleet.
package fleet

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"
)

// DefaultParallel is how many contexts are examined at once unless --parallel says otherwise: enough to
// overlap the waiting on a few API servers and AWS, few enough not to fight over a laptop's cores or
// throttle an AWS account shared by several contexts.
const DefaultParallel = 4

// DefaultTimeout bounds each context's examination when --request-timeout is not given, so that a context
// whose server swallows packets is reported as an error rather than hanging the fleet.
const DefaultTimeout = 2 * time.Minute

// Options are how Run examines the contexts.
type Options struct {
	// Parallel bounds the contexts examined at once; 0 means DefaultParallel.
	Parallel int
	// Timeout bounds each context's examination, start to end; 0 means DefaultTimeout.
	Timeout time.Duration
	// TimeoutFlag names where Timeout came from, for the error of a context that runs out of it.
	TimeoutFlag string
}

// Func examines one context the way a single-context run of the command would, and returns its report
// and the context's identity (EKS cluster, AWS account, region) as far as it was found. An error means
// the context could not be examined (its API server does not answer, its credentials are refused, it is not
// an EKS cluster...): the fleet reports it as that context's error and goes on. Return an *Unreachable to
// give the error a short reason for tables; the identity and the report are kept with an error too. ctx
// carries the context's deadline: a Func must pass it to every call it makes.
type Func[R any] func(ctx context.Context, c Context) (R, Identity, error)

// Identity is what a context turned out to be.
type Identity struct {
	Cluster string // the EKS cluster's name
	Account string // the AWS account the context was read in
	Region  string // the cluster's region
	// ReadWith says, for -v, which AWS profile and region the context was read with and why: Context.Describe
	// with the region the AWS configuration settled on.
	ReadWith string
}

// Result is one context's outcome.
type Result[R any] struct {
	Context  Context
	Identity Identity
	Report   R
	// Err is why the context could not be examined; nil when it was.
	Err error
	// Elapsed is how long the context took, from its start (after waiting for a slot) to its end.
	Elapsed time.Duration
}

// Header is what every command's entry for a context starts with in a fleet's JSON and YAML:
// {"context","cluster","account","region","error", ...the command's own fields}. Embed it in the entry
// struct so that its fields come first and flat. Unknown values and "no error" are empty strings, never
// left out, so that scripts can rely on every key.
type Header struct {
	Context string `json:"context"`
	Cluster string `json:"cluster"`
	Account string `json:"account"`
	Region  string `json:"region"`
	Error   string `json:"error"`
}

// Header is the result's entry header.
func (r Result[R]) Header() Header {
	h := Header{Context: r.Context.Name, Cluster: r.Identity.Cluster, Account: r.Identity.Account, Region: r.Identity.Region}
	if r.Err != nil {
		h.Error = r.Err.Error()
	}
	return h
}

// Describe says, for -v, which AWS profile and region the context was read with, and why.
func (r Result[R]) Describe() string {
	if r.Identity.ReadWith != "" {
		return r.Identity.ReadWith
	}
	return r.Context.Describe("", "")
}

// Unreachable is a context that could not be examined, with a few words for tables.
type Unreachable struct {
	// Reason is short: "API server does not answer", "AWS credentials refused".
	Reason string
	// Err is what happened, with the values involved.
	Err error
	// Fix is what to do about it; "" when Err says it.
	Fix string
}

func (u *Unreachable) Error() string {
	if u.Fix == "" {
		return u.Err.Error()
	}
	return u.Err.Error() + " (fix: " + u.Fix + ")"
}

func (u *Unreachable) Unwrap() error { return u.Err }

// Reason is the short reason of a context's error, for the ERROR column of a fleet table.
func Reason(err error) string {
	var u *Unreachable
	if errors.As(err, &u) && u.Reason != "" {
		return u.Reason
	}
	return "error"
}

// Fix is what to do about the context's error, when it is an *Unreachable that says; "" otherwise.
func (r Result[R]) Fix() string {
	var u *Unreachable
	if errors.As(r.Err, &u) {
		return u.Fix
	}
	return ""
}

// Errors counts the contexts that could not be examined.
func Errors[R any](results []Result[R]) int {
	n := 0
	for _, r := range results {
		if r.Err != nil {
			n++
		}
	}
	return n
}

// Run examines every context with fn, at most o.Parallel at once, each within o.Timeout, and returns their
// results in the order of contexts. It returns when every context has a result: a context that overruns
// its deadline gets a timeout error at the deadline, whatever fn is still waiting for, and a panic in fn
// becomes that context's error.
func Run[R any](ctx context.Context, contexts []Context, o Options, fn Func[R]) []Result[R] {
	parallel := o.Parallel
	if parallel <= 0 {
		parallel = DefaultParallel
	}
	results := make([]Result[R], len(contexts))
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i, c := range contexts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				results[i] = Result[R]{Context: c, Err: &Unreachable{Reason: "canceled", Err: fmt.Errorf("kube context %q was not examined: %w", c.Name, ctx.Err())}}
				return
			}
			defer func() { <-sem }()
			results[i] = runOne(ctx, c, o, fn)
		}()
	}
	wg.Wait()
	return results
}

func runOne[R any](ctx context.Context, c Context, o Options, fn Func[R]) Result[R] {
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	start := time.Now()
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// Buffered: a fn still running at the deadline sends into it later and is not kept waiting.
	done := make(chan Result[R], 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- Result[R]{Context: c, Err: &Unreachable{Reason: "internal error",
					Err: fmt.Errorf("examining kube context %q panicked: %v\n%s", c.Name, p, debug.Stack()),
					Fix: "please report this as a bug, with the command that ran"}}
			}
		}()
		rep, id, err := fn(cctx, c)
		done <- Result[R]{Context: c, Identity: id, Report: rep, Err: err}
	}()
	var res Result[R]
	select {
	case res = <-done:
	case <-cctx.Done():
	}
	switch {
	case ctx.Err() != nil:
		res.Err = &Unreachable{Reason: "canceled", Err: fmt.Errorf("examining kube context %q: %w", c.Name, ctx.Err())}
	case errors.Is(cctx.Err(), context.DeadlineExceeded):
		// Also when fn answered: an answer made of errors the deadline caused is not a diagnosis.
		res.Err = timedOut(c, timeout, o.TimeoutFlag)
	}
	res.Context, res.Elapsed = c, time.Since(start)
	if res.Identity.Region == "" {
		res.Identity.Region = c.Region
	}
	return res
}

func timedOut(c Context, timeout time.Duration, flag string) error {
	fix := "pass a longer --request-timeout, or check that the context's API server and AWS answer: kubectl --context " + c.Name + " cluster-info"
	from := flag
	if from == "" {
		from = "the default for each context of a fleet"
	}
	return &Unreachable{Reason: fmt.Sprintf("no answer within %s", timeout),
		Err: fmt.Errorf("kube context %q did not finish within %s (%s)", c.Name, timeout, from), Fix: fix}
}
