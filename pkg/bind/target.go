package bind

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	sdcaws "github.com/kubectl-sdc/kubectl-sdc/pkg/aws"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iamread"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// SDC's "Assume Another Role": with the Instance Profile method (the default credential chain, where IRSA
// lives) an AWS stage assumes a role ARN, typically in the account that holds the data. bind
// --assume-role-arn makes the permissions live there: the binding's role may only call sts:AssumeRole on
// exactly that role, whose trust admits the binding's role and whose policy holds the stages'
// permissions. With --target-profile bind makes the target side true as well (in the same plan); without
// it, it changes nothing in the target account and prints what its owners must add.

// assumeRoleSession is the session name doctor and bind evaluate trusts with (SDC names its own sessions;
// a trust that conditions on sts:RoleSessionName is unusual).
const assumeRoleSession = "sdc"

// assumeRoleUser stands for the pipeline's user in SDC's session tag when a trust is judged (a trust that
// conditions on one user's value is the owners' choice, and doctor --probe-user checks it).
const assumeRoleUser = "sdc-user"

// validateTarget checks --assume-role-arn and --target-profile before anything is read.
func (r *Request) validateTarget() error {
	if r.AssumeRoleARN == "" {
		if r.TargetProfile != "" {
			return &FlagError{Flag: "--target-profile", Value: r.TargetProfile, Rule: "needs --assume-role-arn (the role in that account the stages assume)"}
		}
		return nil
	}
	if err := vocab.ValidateRoleARN("--assume-role-arn", r.AssumeRoleARN); err != nil {
		return err
	}
	if !vocab.ValidTagValue(r.AssumeRoleARN) {
		return &FlagError{Flag: "--assume-role-arn", Value: r.AssumeRoleARN, Rule: fmt.Sprintf(
			"bind records the target on the role in tag %s, and IAM tag values hold at most %d characters without commas", vocab.TagAssumeRoleARN, vocab.MaxTagValue)}
	}
	return nil
}

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
func (b *Binder) observeTarget(ctx context.Context, r *Request, o *Observed) error {
	t := targetNames(r)
	p := t.Parsed
	o.Target = t
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
		t.Role, roleErr = iamread.ReadRole(ctx, c.IAM, p.Name, iamread.RoleOptions{Concurrent: true})
	}()
	go func() { defer wg.Done(); t.Policy, polErr = iamread.ReadPolicy(ctx, c.IAM, t.PolicyARN) }()
	wg.Wait()
	if idErr != nil {
		return fmt.Errorf("--target-profile %s: %w", r.TargetProfile, idErr)
	}
	if t.Identity.Account != p.Account {
		return &FlagError{Flag: "--target-profile", Value: r.TargetProfile, Rule: fmt.Sprintf(
			"its credentials are for account %s (%s), and --assume-role-arn names a role in account %s: use a profile of account %s",
			t.Identity.Account, t.Identity.ARN, p.Account, p.Account)}
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
	p, _ := vocab.ParseRoleARN(r.AssumeRoleARN)
	return &TargetObserved{ARN: r.AssumeRoleARN, Parsed: p, Profile: r.TargetProfile,
		PolicyARN: vocab.PolicyARNAt(p.Partition, p.Account, p.Path, p.Name)}
}

// AdmitRole lets the sessions of RoleARN assume the role whose trust it edits (the compact way,
// iampolicy.AdmitAWSPrincipal).
type AdmitRole struct{ RoleARN string }

// Apply adds the role's ARN.
func (e AdmitRole) Apply(p *iampolicy.Policy) (*iampolicy.Policy, bool) {
	return iampolicy.AdmitAWSPrincipal(p, e.RoleARN)
}

// Holds reports whether the trust lets a session of the role make SDC's call: sts:AssumeRole with SDC's
// session tag, which STS also judges as sts:TagSession.
func (e AdmitRole) Holds(p *iampolicy.Policy) bool { return e.refusal(p) == "" }

// refusal says which of SDC's requests the trust does not allow, and how it decided; "" when it allows both.
func (e AdmitRole) refusal(p *iampolicy.Policy) string {
	for _, req := range iampolicy.SDCAssumeRoleRequests(e.RoleARN, assumeRoleSession, assumeRoleUser) {
		if d := iampolicy.Evaluate(req, p); !d.Allowed() {
			return req.Action + ": " + d.String()
		}
	}
	return ""
}

// Subjects are the roles the trust lists in statements of bind's shape.
func (e AdmitRole) Subjects(p *iampolicy.Policy) []string { return iampolicy.AWSPrincipals(p) }

func (e AdmitRole) String() string { return "admit role " + e.RoleARN }

// assumeRolePolicy is what the binding's role is allowed with --assume-role-arn: sts:AssumeRole on exactly
// that role, and sts:TagSession on it for SDC's session tag only.
func assumeRolePolicy(target string) *iampolicy.Policy { return iampolicy.SDCAssumeRolePolicy(target) }

// Handoff is what the owners of the target account must add when bind may not (no --target-profile): the
// trust statement that admits the binding's role, and the policy with the stages' permissions.
type Handoff struct {
	Account string `json:"account"`
	RoleARN string `json:"roleArn"`
	// TrustStatement goes into the target role's trust policy; Policy (when the binding grants stages or a
	// policy file) is attached to the target role.
	TrustStatement json.RawMessage `json:"trustStatement"`
	Policy         json.RawMessage `json:"policy,omitempty"`
}
