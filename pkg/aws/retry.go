package aws

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

// Backoff is a bounded, jittered exponential retry schedule.
type Backoff struct {
	Initial time.Duration // first delay (before jitter)
	Max     time.Duration // cap on one delay
	Budget  time.Duration // total time after which the last error is returned
}

// EventualConsistency is the schedule RetryEventual uses. IAM usually converges within a few seconds; 20 s
// covers the slow tail without leaving a user staring at a silent terminal.
var EventualConsistency = Backoff{Initial: 250 * time.Millisecond, Max: 4 * time.Second, Budget: 20 * time.Second}

// ConcurrentWrites is the schedule of a read-merge-write-verify loop on a document other writers may change
// at the same time (a role's trust, a shared policy): long enough to outlast a burst of binds into one
// role, each retry spread by jitter so that the writers stop colliding.
var ConcurrentWrites = Backoff{Initial: 200 * time.Millisecond, Max: 3 * time.Second, Budget: 90 * time.Second}

// RetryEventual runs op until it succeeds, fails with an error retryable does not accept, ctx ends, or the
// EventualConsistency budget is spent. Use it for the calls that follow a create in IAM (attach a policy to
// a new role, name a new provider in a trust policy), with IsEventuallyConsistent or a narrower test.
func RetryEventual(ctx context.Context, op func(context.Context) error, retryable func(error) bool) error {
	return EventualConsistency.Retry(ctx, op, retryable)
}

// Retry runs op on b's schedule; see RetryEventual.
func (b Backoff) Retry(ctx context.Context, op func(context.Context) error, retryable func(error) bool) error {
	start := time.Now()
	delay := b.Initial
	for attempt := 1; ; attempt++ {
		err := op(ctx)
		if err == nil || !retryable(err) {
			return err
		}
		if ctx.Err() != nil {
			return err
		}
		// Full jitter in [delay/2, delay): spreads the parallel retries bind makes without ever retrying
		// immediately.
		wait := delay/2 + rand.N(delay/2+1)
		if time.Since(start)+wait > b.Budget {
			return fmt.Errorf("still failing after %d attempts over %s (AWS may need longer to converge; rerun the command): %w",
				attempt, time.Since(start).Round(time.Millisecond), err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		delay *= 2
		if delay > b.Max {
			delay = b.Max
		}
	}
}
