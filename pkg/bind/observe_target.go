package bind

import (
	"context"
	"fmt"
	"sync"

	sdcaws "github.com/kubectl-sdc/kubectl-sdc/pkg/aws"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iamread"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// TargetObserved is what bind read of the role the stages assume: with --target-profile, the role and the
// policy bind keeps on it; without, only its names (nothing there is read or written).
type TargetObserved struct {
	ARN    string
	Parsed vocab.ParsedRoleARN
	// PolicyARN is the policy bind keeps on the target role: named like it, at its path, in its account.
	PolicyARN string
	// Managed is true with --target-profile: bind then plans the target account's changes.
	Managed  bool
	Profile  string
	Identity sdcaws.Identity
	Role     *iamread.Role
	Policy   *iamread.Policy
}

// observeTarget reads the target role and its policy with --target-profile's credentials, and who those
// are, all at once (one round trip, beside the reads of the binding's own account).
func (b *Binder) observeTarget(ctx context.Context, r *Request, into **TargetObserved) error {
	t := targetNames(r)
	p := t.Parsed
	*into = t
	if b.TargetAWS == nil {
		return nil
	}
	t.Managed = true
	c := b.TargetAWS
	var (
		wg                     sync.WaitGroup
		idErr, roleErr, polErr error
	)
	wg.Add(3)
	go func() { defer wg.Done(); t.Identity, idErr = c.Identity(ctx) }()
	go func() {
		defer wg.Done()
		t.Role, roleErr = iamread.ReadRole(ctx, c.IAM, p.Name, iamread.RoleOptions{Concurrent: true, InlineNames: true})
	}()
	go func() { defer wg.Done(); t.Policy, polErr = iamread.ReadPolicy(ctx, c.IAM, t.PolicyARN) }()
	wg.Wait()
	if idErr != nil {
		return fmt.Errorf("--target-profile %s: %w", r.TargetProfile, idErr)
	}
	if t.Identity.Account != p.Account {
		return &FlagError{Flag: "--target-profile", Value: r.TargetProfile, Rule: fmt.Sprintf(
			"its credentials are for account %s (%s), and %s names a role in account %s: use a profile of account %s",
			t.Identity.Account, t.Identity.ARN, r.targetFlag(), p.Account, p.Account)}
	}
	if roleErr != nil {
		return fmt.Errorf("in account %s (--target-profile %s): %w", p.Account, r.TargetProfile, roleErr)
	}
	if t.Role != nil && t.Role.TrustErr != nil {
		return fmt.Errorf("the trust policy of IAM role %s: %w", t.Role.ARN, t.Role.TrustErr)
	}
	if polErr != nil {
		return fmt.Errorf("in account %s (--target-profile %s): %w", p.Account, r.TargetProfile, polErr)
	}
	return nil
}

// targetNames is what bind knows of the target role before reading anything.
func targetNames(r *Request) *TargetObserved {
	p, _ := vocab.ParseRoleARN(r.target())
	return &TargetObserved{ARN: r.target(), Parsed: p, Profile: r.TargetProfile,
		PolicyARN: vocab.PolicyARNAt(p.Partition, p.Account, p.Path, p.Name)}
}
