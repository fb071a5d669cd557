package bind

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	sdcaws "github.com/kubectl-sdc/kubectl-sdc/pkg/aws"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/cluster"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/plan"
)

// applier is what operations write through.
type applier struct {
	aws *sdcaws.Clients
	eks eksAPI // the cluster's region's, for Pod Identity associations
	b   *Binder
	// target writes in the account of the role the stages assume (--target-profile); nil without one.
	target *applier
	// chain is what the association's write learned, shared by the appliers of both accounts.
	chain *chainState
}

// chainState is the external ID EKS returned for the association this apply wrote.
type chainState struct {
	mu         sync.Mutex
	externalID string
}

func (c *chainState) set(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.externalID = id
}

func (c *chainState) get() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.externalID
}

// Apply applies the plan and, when something failed, returns an error that says what was done and that
// running bind again finishes the job.
func (b *Binder) Apply(ctx context.Context, res *Result) (plan.Result, error) {
	var target *sdcaws.Clients
	if t := res.Observed.Target; t != nil && t.Managed {
		target = b.TargetAWS
	}
	verb := res.Command
	if verb == "" {
		verb = "bind"
	}
	return b.apply(ctx, res.Observed.Cluster, target, res.Plan, verb)
}

// apply carries out the operations of a plan of cluster c through the Binder's writers, and those of the
// target's account through target (nil: none); verb names the command in the account of a partial failure.
func (b *Binder) apply(ctx context.Context, c *cluster.Cluster, target *sdcaws.Clients, p *plan.Plan, verb string) (plan.Result, error) {
	clients, eks := b.clientsFor(c)
	a := &applier{aws: clients, eks: eks, b: b, chain: &chainState{}}
	if target != nil {
		a.target = &applier{aws: target, b: b, chain: a.chain}
	}
	for _, c := range p.Changes {
		if op, ok := c.Op.(operation); ok {
			c.Apply = func(ctx context.Context) error { return op.apply(ctx, a) }
		}
	}
	applied, err := p.Apply(ctx)
	if err != nil {
		return applied, err
	}
	failed := applied.Failed()
	if len(failed) == 0 {
		return applied, nil
	}
	var done, bad, skipped []string
	for _, o := range applied.Outcomes {
		c := o.Change
		name := c.Kind + " " + c.Name
		switch {
		case o.Err != nil:
			bad = append(bad, fmt.Sprintf("%s: %v%s", name, o.Err, grantHint(o.Err)))
		case o.Skipped:
			skipped = append(skipped, name)
		case c.Action != plan.Unchanged:
			done = append(done, name)
		}
	}
	var msg strings.Builder
	fmt.Fprintf(&msg, "%s stopped part way: %d change(s) failed", verb, len(bad))
	for _, s := range bad {
		msg.WriteString("\n  failed:  " + s)
	}
	for _, s := range skipped {
		msg.WriteString("\n  not attempted (depends on a failed change): " + s)
	}
	for _, s := range done {
		msg.WriteString("\n  done:    " + s)
	}
	fmt.Fprintf(&msg, "\n%s is idempotent: fix the cause and run the same command again to finish", verb)
	return applied, errors.New(msg.String())
}
