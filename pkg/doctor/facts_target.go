package doctor

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"golang.org/x/sync/errgroup"

	sdcaws "github.com/kubectl-sdc/kubectl-sdc/pkg/aws"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iamread"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// Where a target's assumed role was learned from.
const (
	AssumeRoleFromFlag = "--assume-role-arn"
	AssumeRoleFromTag  = "role tag " + vocab.TagAssumeRoleARN
	// AssumeRoleFromAssociation is EKS Pod Identity's own chain: the association's target role.
	AssumeRoleFromAssociation = "the association's targetRoleArn"
)

// AssumedRole is a role the stages of a target assume (SDC's "Assume Another Role"), as read in its own
// account: with doctor's credentials when it is theirs, else with --target-profile's.
type AssumedRole struct {
	ARN, Account string
	// Readable is false when doctor holds no credentials of the role's account, or they could not read it;
	// Why then says which, and what to pass.
	Readable bool
	Why      string
	// Via names the credentials that read it.
	Via  string
	Role *Role
}

// resolveAssumeRole decides which role the target's stages assume: --assume-role-arn's, else the one bind
// recorded on the target's role (its binding's own key on a shared role first).
func (t *Target) resolveAssumeRole(f *Facts) {
	if a := t.Association; a != nil && a.TargetRoleARN != "" && t.Annotation == "" {
		// The pods get the target's credentials from EKS Auth: that is where the stages' permissions live.
		t.AssumeRoleARN, t.AssumeRoleFrom, t.Chain = a.TargetRoleARN, AssumeRoleFromAssociation, true
		return
	}
	if f.Options.AssumeRoleARN != "" {
		t.AssumeRoleARN, t.AssumeRoleFrom = f.Options.AssumeRoleARN, AssumeRoleFromFlag
		return
	}
	r := t.role(f)
	if r == nil || !r.Exists {
		return
	}
	v := r.Tags[vocab.TagAssumeRoleARN]
	if f.Cluster != nil {
		if own, ok := r.Tags[vocab.TagAssumeRoleARN+"/"+vocab.BindingID(vocab.ClusterKey(f.Cluster.ARN, f.Cluster.Issuer), t.Namespace, t.ServiceAccount)]; ok {
			v = own
		}
	}
	if _, ok := vocab.ParseRoleARN(v); ok {
		t.AssumeRoleARN, t.AssumeRoleFrom = v, AssumeRoleFromTag
	}
}

// gatherAssumedRoles reads each distinct role the targets' stages assume, with the credentials of its
// account when doctor has them (its own, or --target-profile's), then the policies attached to them and
// their boundaries. Nothing is read when no target assumes a role.
func (d *Doctor) gatherAssumedRoles(ctx context.Context, f *Facts) {
	set := map[string]bool{}
	for _, t := range f.Targets {
		if t.AssumeRoleARN != "" {
			set[t.AssumeRoleARN] = true
		}
	}
	if len(set) == 0 || f.Identity == nil {
		return
	}
	arns := make([]string, 0, len(set))
	for a := range set {
		arns = append(arns, a)
	}
	sort.Strings(arns)

	var profile struct {
		once sync.Once
		id   sdcaws.Identity
		err  error
	}
	clientFor := func(account string) (iamread.API, string, string) {
		if account == f.Identity.Account {
			return d.AWS.IAM, "the credentials doctor runs with", ""
		}
		if d.TargetAWSErr != nil {
			return nil, "", fmt.Sprintf("--target-profile %s could not be used: %v", f.Options.TargetProfile, d.TargetAWSErr)
		}
		if d.TargetAWS == nil {
			return nil, "", fmt.Sprintf("doctor has no credentials of account %s: pass --target-profile PROFILE (credentials of account %s) to check its trust and policies", account, account)
		}
		profile.once.Do(func() { profile.id, profile.err = d.TargetAWS.Identity(ctx) })
		switch {
		case profile.err != nil:
			return nil, "", fmt.Sprintf("--target-profile %s could not be used: %v", f.Options.TargetProfile, profile.err)
		case profile.id.Account != account:
			return nil, "", fmt.Sprintf("--target-profile %s's credentials are for account %s (%s), not %s", f.Options.TargetProfile, profile.id.Account, profile.id.ARN, account)
		}
		return d.TargetAWS.IAM, "--target-profile " + f.Options.TargetProfile, ""
	}

	var pool errgroup.Group
	pool.SetLimit(f.parallelism())
	goDo := func(fn func()) { pool.Go(func() error { fn(); return nil }) }
	clients := map[string]iamread.API{}
	for _, a := range arns {
		p, _ := vocab.ParseRoleARN(a)
		ar := &AssumedRole{ARN: a, Account: p.Account}
		f.AssumedRoles[a] = ar
		c, via, why := clientFor(p.Account)
		if c == nil {
			ar.Why = why
			continue
		}
		clients[a] = c
		ar.Via, ar.Role = via, &Role{ARN: a, Name: p.Name}
		goDo(func() {
			got, err := iamread.ReadRole(ctx, c, p.Name, iamread.RoleOptions{Inline: true, Concurrent: true})
			setRole(ar.Role, got, err)
			if err != nil {
				ar.Why = fmt.Sprintf("reading it with %s failed: %v", via, err)
				return
			}
			ar.Readable = true
		})
	}
	_ = pool.Wait()

	for _, a := range arns {
		ar := f.AssumedRoles[a]
		if !ar.Readable || !ar.Role.Exists {
			continue
		}
		want := append([]string(nil), ar.Role.Attached...)
		if ar.Role.BoundaryARN != "" {
			want = append(want, ar.Role.BoundaryARN)
		}
		for _, pa := range want {
			if f.Policies[pa] != nil {
				continue
			}
			p := &ManagedPolicy{ARN: pa}
			f.Policies[pa] = p
			c := clients[a]
			goDo(func() {
				got, err := iamread.ReadPolicy(ctx, c, pa)
				setPolicy(p, got, err)
			})
		}
	}
	_ = pool.Wait()
}
