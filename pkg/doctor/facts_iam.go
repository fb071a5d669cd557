package doctor

import (
	"context"
	"sort"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/iamread"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// batchRoles is how many roles make one account-wide read (iam:GetAccountAuthorizationDetails, a page of up
// to 1,000 roles and policies per call) cheaper than reading each role (three calls or more) and each of its
// policies (two). Below it, per-role reads touch only what the targets name.
const batchRoles = 10

// accountRead is the batch read of the account's roles and policies, started as soon as it is known to be
// worth it.
type accountRead struct {
	once    sync.Once
	done    chan struct{}
	account *iamread.Account
	err     error
	begun   bool
}

// started reports whether the read was started; called once whatever could start it has returned.
func (a *accountRead) started() bool { return a.begun }

// start begins the read (once).
func (a *accountRead) start(ctx context.Context, c iamread.API) {
	a.once.Do(func() {
		a.begun = true
		go func() {
			defer close(a.done)
			a.account, a.err = iamread.ReadAccount(ctx, c)
		}()
	})
}

// result starts the read if it was not, and waits for it.
func (a *accountRead) result(ctx context.Context, c iamread.API) (*iamread.Account, error) {
	a.start(ctx, c)
	<-a.done
	return a.account, a.err
}

// gatherIAM reads the provider and each distinct role in parallel, then each distinct attached policy; with
// many roles, the account's roles and customer managed policies in one batch read instead (batch, which may
// have started already).
func (d *Doctor) gatherIAM(ctx context.Context, f *Facts, batch *accountRead) {
	if f.Identity == nil {
		return
	}
	var pool errgroup.Group
	pool.SetLimit(f.parallelism())
	goDo := func(fn func()) { pool.Go(func() error { fn(); return nil }) }
	if f.ProviderARN != "" && usesIRSA(f) {
		goDo(func() {
			f.Provider, f.ProviderErr = iamread.ReadProvider(ctx, d.AWS.IAM, f.ProviderARN)
		})
	}
	roles := roleARNsToRead(f)
	var account *iamread.Account
	if len(roles) >= batchRoles || f.Options.ReadAccount || batch.started() {
		// Refused (a policy without iam:GetAccountAuthorizationDetails, say): the per-role reads still work.
		account, f.AccountErr = batch.result(ctx, d.AWS.IAM)
		if f.Options.ReadAccount {
			f.Account = account
		}
	}
	for _, arn := range roles {
		r := &Role{ARN: arn, Name: vocab.RoleNameOf(arn)}
		f.Roles[arn] = r
		if account != nil {
			setRole(r, account.Roles[r.Name], nil)
			continue
		}
		goDo(func() {
			got, err := iamread.ReadRole(ctx, d.AWS.IAM, r.Name, iamread.RoleOptions{Inline: true, Concurrent: true})
			setRole(r, got, err)
		})
	}
	_ = pool.Wait()

	want := map[string]bool{}
	for _, r := range f.Roles {
		for _, a := range r.Attached {
			want[a] = true
		}
		if r.BoundaryARN != "" {
			want[r.BoundaryARN] = true
		}
	}
	for a := range want {
		p := &ManagedPolicy{ARN: a}
		f.Policies[a] = p
		if account != nil && account.Policies[a] != nil {
			setPolicy(p, account.Policies[a], nil)
			continue
		}
		goDo(func() {
			got, err := iamread.ReadPolicy(ctx, d.AWS.IAM, p.ARN)
			setPolicy(p, got, err)
		})
	}
	_ = pool.Wait()
}

// roleARNsToRead are the distinct roles the targets name, in the caller's account (IAM reads roles by name,
// so a role of another account cannot be read with these credentials), sorted for stable order.
func roleARNsToRead(f *Facts) []string {
	set := map[string]bool{}
	for _, t := range f.Targets {
		if a := t.roleToRead(f); a != "" {
			set[a] = true
		}
		// The association may name another role than the annotation: its trust is checked too.
		if a := t.associationRole(f); a != "" {
			set[a] = true
		}
	}
	out := make([]string, 0, len(set))
	for a := range set {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// setRole fills r from what IAM said; a role that does not exist (got nil) leaves r.Exists false.
func setRole(r *Role, got *iamread.Role, err error) {
	if got != nil {
		r.Exists, r.ActualARN = true, got.ARN
		r.Trust, r.TrustErr, r.Tags = got.Trust, got.TrustErr, got.Tags
		r.Attached, r.InlineNames, r.Inline = got.Attached, got.InlineNames, got.Inline
		r.BoundaryARN = got.BoundaryARN
	}
	r.Err = err
}

// setPolicy fills p from what IAM said; a policy that does not exist (got nil) leaves p.Exists false.
func setPolicy(p *ManagedPolicy, got *iamread.Policy, err error) {
	if got != nil {
		p.Exists, p.DefaultVersion, p.Document = true, got.DefaultVersion, got.Document
	}
	p.Err = err
}
