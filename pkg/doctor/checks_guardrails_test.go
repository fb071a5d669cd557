package doctor

import (
	"errors"
	"strings"
	"testing"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/catalog"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

const (
	fxBoundary     = "arn:aws:iam::123456789012:policy/sdc-boundary"
	fxTarget       = "arn:aws:iam::210987654321:role/data/sdc-reader"
	fxTargetPolicy = "arn:aws:iam::210987654321:policy/data/sdc-reader"
)

// withBoundary gives the fixture's role a boundary with document js.
func withBoundary(js string) func(*testing.T, *Facts) {
	return func(t *testing.T, f *Facts) {
		f.Roles[fxRole].BoundaryARN = fxBoundary
		f.Policies[fxBoundary] = &ManagedPolicy{ARN: fxBoundary, DefaultVersion: "v3", Document: trustDoc(t, js), Exists: true}
	}
}

// crossAccount makes the fixture's binding one whose stages assume fxTarget (recorded by bind on the role,
// whose policy allows only that), and gives doctor that role as read with --target-profile data.
func crossAccount(t *testing.T, f *Facts) {
	f.Options.TargetProfile = "data"
	r := f.Roles[fxRole]
	r.Tags[vocab.TagAssumeRoleARN] = fxTarget
	f.Policies[fxPolicy].Document = iampolicy.SDCAssumeRolePolicy(fxTarget)
	doc, _, err := f.Catalog.Render(*mustSelection(t, "v1 s3 bucket="+fxBucket), catalog.Target{Partition: "aws", Region: "us-west-2", Account: "210987654321"})
	if err != nil {
		t.Fatal(err)
	}
	f.AssumedRoles = map[string]*AssumedRole{fxTarget: {ARN: fxTarget, Account: "210987654321", Readable: true, Via: "--target-profile data",
		Role: &Role{ARN: fxTarget, ActualARN: fxTarget, Name: "sdc-reader", Exists: true,
			Trust:    iampolicy.NewPolicy(iampolicy.AssumeRoleStatement(fxRole)),
			Tags:     map[string]string{vocab.ManagedByKey: vocab.ManagedByValue},
			Attached: []string{fxTargetPolicy}, Inline: map[string]*iampolicy.Policy{}}}}
	f.Policies[fxTargetPolicy] = &ManagedPolicy{ARN: fxTargetPolicy, DefaultVersion: "v1", Document: trustDoc(t, string(doc)), Exists: true}
}

func mustSelection(t *testing.T, tag string) *catalog.Selection {
	t.Helper()
	sel, err := catalog.DecodeTag(tag)
	if err != nil {
		t.Fatal(err)
	}
	return &sel
}

func TestGuardrailAndCrossAccountChecks(t *testing.T) {
	t.Parallel()
	const allowAll = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`
	const noPut = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:ListBucket","sts:AssumeRole"],"Resource":"*"}]}`
	target := func(f *Facts) *AssumedRole { return f.AssumedRoles[fxTarget] }
	cases := []struct {
		name   string
		break_ func(t *testing.T, f *Facts)
		id     string
		status Status
		title  string
		detail string
		fix    string
		others map[string]Status
	}{
		{name: "a boundary that allows the stages", id: "iam.permissions", status: Pass, break_: withBoundary(allowAll),
			detail: "within permissions boundary " + fxBoundary, others: map[string]Status{"iam.permissions-boundary": Pass}},
		{name: "a boundary without s3:PutObject", id: "iam.permissions", status: Fail, break_: withBoundary(noPut),
			title:  "lacks 1 of the 3 permissions",
			detail: "s3:PutObject on arn:aws:s3:::ingest/<object> (not allowed by permissions boundary " + fxBoundary + ")",
			fix:    "ask the owners of permissions boundary " + fxBoundary + " to allow s3:PutObject on arn:aws:s3:::ingest/<object>"},
		{name: "a boundary that denies", id: "iam.permissions", status: Fail,
			break_: withBoundary(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"s3:GetObject","Resource":"*"}]}`),
			detail: "s3:GetObject on arn:aws:s3:::ingest/<object> (explicitly denied by permissions boundary " + fxBoundary + ")"},
		{name: "the boundary reported", id: "iam.permissions-boundary", status: Pass, break_: withBoundary(allowAll),
			title: "has permissions boundary " + fxBoundary, detail: "version v3"},
		{name: "no boundary, none asked for", id: "iam.permissions-boundary", status: Pass, break_: func(*testing.T, *Facts) {},
			title: "has no permissions boundary"},
		{name: "no boundary, one asked for", id: "iam.permissions-boundary", status: Warn,
			break_: func(_ *testing.T, f *Facts) { f.Options.ExpectedBoundary = fxBoundary },
			title:  "has no permissions boundary, and " + vocab.EnvPermissionsBoundary + " asks for one",
			fix:    healthyFix + " --permissions-boundary " + fxBoundary},
		{name: "another boundary than asked for, on a role bind did not make", id: "iam.permissions-boundary", status: Warn,
			break_: func(t *testing.T, f *Facts) {
				withBoundary(allowAll)(t, f)
				f.Options.ExpectedBoundary = "arn:aws:iam::123456789012:policy/other"
				delete(f.Roles[fxRole].Tags, vocab.ManagedByKey)
			},
			title: "not the one", fix: "aws iam put-role-permissions-boundary --role-name " + fxRoleName + " --permissions-boundary arn:aws:iam::123456789012:policy/other"},
		{name: "a boundary not readable", id: "iam.permissions-boundary", status: Warn,
			break_: func(t *testing.T, f *Facts) {
				withBoundary(allowAll)(t, f)
				f.Policies[fxBoundary] = &ManagedPolicy{ARN: fxBoundary, Err: errors.New("AccessDenied")}
			},
			title: "could not be read", detail: "AccessDenied", others: map[string]Status{"iam.permissions": Pass}},

		{name: "no target", id: "iam.assume-role-target", status: Pass, break_: func(*testing.T, *Facts) {},
			title: "the stages assume no other role"},
		{name: "a target, readable and right", id: "iam.assume-role-target", status: Pass, break_: crossAccount,
			title:  "may assume " + fxTarget + ", whose trust admits it and whose policies allow all 3 calls",
			detail: "read with --target-profile data",
			others: map[string]Status{"iam.permissions": Pass}},
		{name: "a target whose trust was broken", id: "iam.assume-role-target", status: Fail,
			break_: func(t *testing.T, f *Facts) {
				crossAccount(t, f)
				target(f).Role.Trust = trustDoc(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)
			},
			title: "the trust of role " + fxTarget + " does not let role " + fxRoleName + " assume it",
			fix:   healthyFix + " --assume-role-arn " + fxTarget + " --target-profile data"},
		{name: "a target without the stages' permissions", id: "iam.assume-role-target", status: Fail,
			break_: func(_ *testing.T, f *Facts) { crossAccount(t, f); target(f).Role.Attached = nil },
			title:  "role " + fxTarget + " lacks 3 of the 3 permissions", fix: "--target-profile data"},
		{name: "a target that is gone", id: "iam.assume-role-target", status: Fail,
			break_: func(_ *testing.T, f *Facts) { crossAccount(t, f); target(f).Role.Exists = false },
			title:  "role " + fxTarget + " does not exist"},
		{name: "a target not readable", id: "iam.assume-role-target", status: Skip,
			break_: func(_ *testing.T, f *Facts) {
				crossAccount(t, f)
				*target(f) = AssumedRole{ARN: fxTarget, Account: "210987654321", Why: "doctor has no credentials of account 210987654321: pass --target-profile PROFILE"}
			},
			title: "account 210987654321 of " + fxTarget + " is not readable", detail: "pass --target-profile PROFILE"},
		{name: "a role that may not assume the target", id: "iam.assume-role-target", status: Fail,
			break_: func(t *testing.T, f *Facts) {
				crossAccount(t, f)
				f.Policies[fxPolicy].Document = trustDoc(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::210987654321:role/other"}]}`)
			},
			title: "may not make SDC's Assume Another Role call on " + fxTarget, others: map[string]Status{"iam.permissions": Fail}},
		{name: "a binding made before SDC's session tag was known: sts:AssumeRole alone", id: "iam.assume-role-target", status: Fail,
			break_: func(t *testing.T, f *Facts) {
				crossAccount(t, f)
				f.Policies[fxPolicy].Document = trustDoc(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"`+fxTarget+`"}]}`)
			},
			title:  "may not make SDC's Assume Another Role call on " + fxTarget,
			detail: "missing: sts:TagSession on " + fxTarget + " (with session tag streamsets/principal, which SDC sets by default)",
			fix:    healthyFix + " --assume-role-arn " + fxTarget + " --target-profile data",
			others: map[string]Status{"iam.permissions": Fail}},
		{name: "a target trust without sts:TagSession", id: "iam.assume-role-target", status: Fail,
			break_: func(t *testing.T, f *Facts) {
				crossAccount(t, f)
				target(f).Role.Trust = trustDoc(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"`+fxRole+`"},"Action":"sts:AssumeRole"}]}`)
			},
			title:  "the trust of role " + fxTarget + " does not let role " + fxRoleName + " assume it as SDC does (sts:TagSession)",
			detail: `SDC's Assume Another Role tags the session with streamsets/principal ("Set Session Tags", on by default), so the trust must allow sts:AssumeRole and sts:TagSession`,
			fix:    healthyFix + " --assume-role-arn " + fxTarget + " --target-profile data"},
		{name: "a boundary that keeps the role from assuming the target", id: "iam.assume-role-target", status: Fail,
			break_: func(t *testing.T, f *Facts) {
				crossAccount(t, f)
				withBoundary(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}`)(t, f)
			},
			detail: "sts:AssumeRole on " + fxTarget + " (not allowed by permissions boundary " + fxBoundary + ")"},
		{name: "Assume Another Role needs SDC 3.19.0", id: "sdc.version", status: Fail,
			break_: func(_ *testing.T, f *Facts) {
				crossAccount(t, f)
				f.Deployments[0].Spec.Template.Spec.Containers[0].Image = "streamsets/datacollector:3.18.0"
			},
			title: "older than 3.19.0, the first with Assume Another Role", fix: "sdc=streamsets/datacollector:3.19.0"},
		{name: "a stage without Assume Another Role", id: "sdc.version", status: Warn,
			break_: func(_ *testing.T, f *Facts) {
				crossAccount(t, f)
				f.Options.Selection = mustSelection(t, "v1 s3+secrets-manager bucket="+fxBucket+" secret=db")
			},
			title: "stages secrets-manager have no Assume Another Role"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := fixture(t)
			tc.break_(t, f)
			rep := run(f)
			r := find(t, rep, tc.id)
			if r.Status != tc.status {
				t.Fatalf("%s: %s, want %s: %s (%s) fix: %s", tc.id, r.Status, tc.status, r.Title, r.Detail, r.Fix)
			}
			for what, sub := range map[string][2]string{"title": {r.Title, tc.title}, "detail": {r.Detail, tc.detail}, "fix": {r.Fix, tc.fix}} {
				if !strings.Contains(sub[0], sub[1]) {
					t.Errorf("%s %s = %q, want it to contain %q", tc.id, what, sub[0], sub[1])
				}
			}
			for id, want := range tc.others {
				if got := find(t, rep, id); got.Status != want {
					t.Errorf("%s: %s, want %s: %s (%s)", id, got.Status, want, got.Title, got.Detail)
				}
			}
		})
	}
}
