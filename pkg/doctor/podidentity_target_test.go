package doctor

import (
	"context"
	"strings"
	"testing"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/eksread"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
)

const (
	fxChainTarget = "arn:aws:iam::210987654321:role/data"
	fxChainPolicy = "arn:aws:iam::210987654321:policy/data"
	fxExternalID  = "us-west-2/123456789012/demo/ns1/sdc"
)

// chainFixture is podFixture with EKS Pod Identity's own chain healthy: the association's target role in
// the other account (readable), its trust as bind writes it, the stages' policy on it, and the first role
// allowed the second hop only.
func chainFixture(t *testing.T, tagsOff bool) (*Facts, *eksread.Association) {
	f, a := podFixture(t)
	a.TargetRoleARN, a.DisableSessionTags = fxChainTarget, tagsOff
	if tagsOff {
		a.ExternalID = fxExternalID
	}
	stages := f.Policies[fxPolicy].Document
	f.Policies[fxPolicy].Document = iampolicy.PodIdentityTargetPolicy(fxChainTarget)
	s := iampolicy.PodIdentitySession{ClusterARN: fxClusterARN, Namespace: "ns1", ServiceAccount: "sdc", DisableSessionTags: tagsOff}
	f.Policies[fxChainPolicy] = &ManagedPolicy{ARN: fxChainPolicy, DefaultVersion: "v1", Document: stages, Exists: true}
	f.AssumedRoles = map[string]*AssumedRole{fxChainTarget: {ARN: fxChainTarget, Account: "210987654321", Readable: true, Via: "--target-profile data",
		Role: &Role{ARN: fxChainTarget, Name: "data", Exists: true, Attached: []string{fxChainPolicy},
			Trust: iampolicy.NewPolicy(iampolicy.PodIdentityTargetStatement(fxRole, s, a.ExternalID))}}}
	return f, a
}

// runChain is runPod with the assumed roles resolved as gather resolves them.
func runChain(f *Facts, a *eksread.Association) *Report {
	f.Targets = buildTargets(f)
	for _, t := range f.Targets {
		t.Association, t.RoleARN = a, a.RoleARN
	}
	roleARNsToRead(f)
	for _, t := range f.Targets {
		t.resolveSelection(f)
		t.resolveAssumeRole(f)
	}
	var checks []Check
	for _, c := range Checks() {
		if !c.Probe {
			checks = append(checks, c)
		}
	}
	return runChecks(context.Background(), f, checks, nil)
}

func TestChainChecks(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		tagsOff bool
		break_  func(f *Facts, a *eksread.Association)
		status  Status
		want    string // in the title or detail of iam.assume-role-target
	}{
		{name: "healthy, session tags", break_: func(*Facts, *eksread.Association) {}, status: Pass, want: "whose trust admits it and whose policies allow all"},
		{name: "healthy, external ID", tagsOff: true, break_: func(*Facts, *eksread.Association) {}, status: Pass, want: "sts:ExternalId " + fxExternalID},
		{name: "the target's trust lacks sts:TagSession", break_: func(f *Facts, _ *eksread.Association) {
			f.AssumedRoles[fxChainTarget].Role.Trust = iampolicy.NewPolicy(iampolicy.Statement{Effect: iampolicy.Allow,
				Principal: &iampolicy.Principal{Values: map[string]iampolicy.Values{"AWS": {fxRole}}}, Action: iampolicy.Values{"sts:AssumeRole"}})
		}, status: Fail, want: "does not let EKS Pod Identity assume it with role " + fxRoleName + " (sts:TagSession)"},
		{name: "the external ID differs", tagsOff: true, break_: func(_ *Facts, a *eksread.Association) { a.ExternalID = "other" }, status: Fail,
			want: "(sts:AssumeRole)"},
		{name: "the first role may not assume the target", break_: func(f *Facts, _ *eksread.Association) {
			f.Policies[fxPolicy].Document = iampolicy.PodIdentityTargetPolicy("arn:aws:iam::210987654321:role/elsewhere")
		}, status: Fail, want: "may not assume the association's target role"},
		{name: "tags off and no external ID", tagsOff: true, break_: func(_ *Facts, a *eksread.Association) { a.ExternalID = "" }, status: Fail,
			want: "session tags disabled and no external ID"},
		{name: "a session policy that refuses a stage's call", tagsOff: true, break_: func(_ *Facts, a *eksread.Association) {
			a.Policy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],"Resource":"*"}]}`
		}, status: Fail, want: "refuses 1 of the 3 calls the stages make"},
		{name: "the target's account unreadable", break_: func(f *Facts, _ *eksread.Association) {
			f.AssumedRoles[fxChainTarget] = &AssumedRole{ARN: fxChainTarget, Account: "210987654321", Why: "pass --target-profile"}
		}, status: Skip, want: "its trust and policies are unchecked"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f, a := chainFixture(t, c.tagsOff)
			c.break_(f, a)
			rep := runChain(f, a)
			r := find(t, rep, "iam.assume-role-target")
			if r.Status != c.status || !strings.Contains(r.Title+" | "+r.Detail, c.want) {
				t.Errorf("iam.assume-role-target = %s: %s | %s; want %s with %q", r.Status, r.Title, r.Detail, c.status, c.want)
			}
			if p := find(t, rep, "iam.permissions"); c.status == Pass && p.Status != Pass {
				t.Errorf("iam.permissions = %s: %s | %s", p.Status, p.Title, p.Detail)
			}
			if c.status == Fail && !strings.Contains(r.Fix, "--target-role-arn "+fxChainTarget) {
				t.Errorf("fix %q", r.Fix)
			}
		})
	}
}
