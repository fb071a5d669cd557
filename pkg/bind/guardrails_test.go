package bind

import (
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iamread"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/plan"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

const (
	tBoundary      = "arn:aws:iam::123456789012:policy/sdc-boundary"
	tOtherBoundary = "arn:aws:iam::123456789012:policy/stricter-boundary"
)

// guarded is request with every guardrail set.
func guarded(t *testing.T) *Request {
	r := request(t)
	r.Guardrails = Guardrails{PermissionsBoundary: tBoundary, RolePath: "/sdc/", Tags: map[string]string{"cost-center": "data", "owner": "team a"},
		MaxSessionDuration: 7200, Description: "SDC of team a"}
	return r
}

// Bad guardrail input is a FlagError naming the flag (or the variable it came from), before anything is read.
func TestGuardrailsValidate(t *testing.T) {
	t.Parallel()
	many := map[string]string{}
	for i := range vocab.MaxRoleTags - vocab.OwnRoleTags + 1 {
		many[strings.Repeat("k", i+1)] = "v"
	}
	tests := []struct {
		name  string
		edit  func(r *Request)
		flag  string
		words string
	}{
		{"boundary not a policy ARN", func(r *Request) { r.Guardrails.PermissionsBoundary = "arn:aws:iam::123456789012:role/x" }, "--permissions-boundary", "not a managed policy ARN"},
		{"boundary from the environment", func(r *Request) {
			r.Guardrails.PermissionsBoundary = "sdc-boundary"
			r.Guardrails.Sources.PermissionsBoundary = "--permissions-boundary (from " + vocab.EnvPermissionsBoundary + ")"
		}, vocab.EnvPermissionsBoundary, "not a managed policy ARN"},
		{"path without the leading slash", func(r *Request) { r.Guardrails.RolePath = "sdc/" }, "--role-path", "starts and ends with /"},
		{"path without the trailing slash", func(r *Request) { r.Guardrails.RolePath = "/sdc" }, "--role-path", "starts and ends with /"},
		{"path with a space", func(r *Request) { r.Guardrails.RolePath = "/my team/" }, "--role-path", "printable ASCII"},
		{"path with a non-ASCII letter", func(r *Request) { r.Guardrails.RolePath = "/équipe/" }, "--role-path", "printable ASCII"},
		{"path over 512", func(r *Request) { r.Guardrails.RolePath = "/" + strings.Repeat("a", 511) + "/" }, "--role-path", "at most 512"},
		{"tag key over 128", func(r *Request) { r.Guardrails.Tags = map[string]string{strings.Repeat("k", 129): "v"} }, "--tag", "at most 128"},
		{"tag value over 256", func(r *Request) { r.Guardrails.Tags = map[string]string{"k": strings.Repeat("v", 257)} }, "--tag", "at most 256"},
		{"aws: prefix", func(r *Request) { r.Guardrails.Tags = map[string]string{"AWS:cost": "v"} }, "--tag", "reserved for AWS"},
		{"bind's own key", func(r *Request) { r.Guardrails.Tags = map[string]string{vocab.TagStages: "v"} }, "--tag", "kubectl-sdc writes"},
		{"a comma in a value", func(r *Request) { r.Guardrails.Tags = map[string]string{"k": "a,b"} }, "--tag", "tag values hold"},
		{"too many tags", func(r *Request) { r.Guardrails.Tags = many }, "--tag", "at most 43 may be added"},
		{"session under an hour", func(r *Request) { r.Guardrails.MaxSessionDuration = 3599 }, "--max-session-duration", "from 1h to 12h"},
		{"session over 12 hours", func(r *Request) { r.Guardrails.MaxSessionDuration = 43201 }, "--max-session-duration", "from 1h to 12h"},
		{"description with a control character", func(r *Request) { r.Guardrails.Description = "a\x01b" }, "--description", "printable"},
		{"target not a role ARN", func(r *Request) { r.AssumeRoleARN = "arn:aws:iam::210987654321:user/x" }, "--assume-role-arn", "not an IAM role ARN"},
		{"target of 11 digits", func(r *Request) { r.AssumeRoleARN = "arn:aws:iam::21098765432:role/x" }, "--assume-role-arn", "not an IAM role ARN"},
		{"target with a comma", func(r *Request) { r.AssumeRoleARN = "arn:aws:iam::210987654321:role/a,b" }, "--assume-role-arn", "without commas"},
		{"profile without target", func(r *Request) { r.TargetProfile = "data" }, "--target-profile", "needs --assume-role-arn"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := request(t)
			tc.edit(r)
			err := r.Validate()
			var fe *FlagError
			if !errors.As(err, &fe) || !strings.Contains(fe.Flag, tc.flag) || !strings.Contains(err.Error(), tc.words) {
				t.Fatalf("Validate() = %v; want a FlagError naming %s and saying %q", err, tc.flag, tc.words)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("the error spans lines: %q", err)
			}
		})
	}
	for _, ok := range []func(r *Request){
		func(r *Request) { r.Guardrails = guarded(t).Guardrails },
		func(r *Request) { r.Guardrails.RolePath = "/" },
		func(r *Request) { r.Guardrails.RolePath = "/a/b-c/d_e.f@g+h=i,j~!/" },
		func(r *Request) { r.Guardrails.PermissionsBoundary = "arn:aws:iam::aws:policy/PowerUserAccess" },
		func(r *Request) {
			r.Guardrails.MaxSessionDuration = 43200
			r.Guardrails.Tags = map[string]string{"k": ""}
		},
		func(r *Request) {
			r.AssumeRoleARN, r.TargetProfile = "arn:aws:iam::210987654321:role/data/sdc-reader", "data"
		},
	} {
		r := request(t)
		ok(r)
		if err := r.Validate(); err != nil {
			t.Errorf("%+v: %v", r.Guardrails, err)
		}
	}
}

// A fresh bind puts every guardrail into the calls that create: no extra change, no extra write.
func TestPlanGuardrailsFresh(t *testing.T) {
	t.Parallel()
	plain := request(t)
	plainRes, err := Plan(plain, fresh(plain))
	if err != nil {
		t.Fatal(err)
	}
	r := guarded(t)
	res, err := Plan(r, fresh(r))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := actions(res), actions(plainRes); len(got) != len(want) {
		t.Errorf("with guardrails the plan has %d changes, without %d: %v vs %v", len(got), len(want), got, want)
	}
	const role = "arn:aws:iam::123456789012:role/sdc/" + tRoleName
	const policy = "arn:aws:iam::123456789012:policy/sdc/" + tRoleName
	if res.Names.RoleARN != role || res.Names.PolicyARN != policy {
		t.Errorf("ARNs = %s, %s; want them at path /sdc/", res.Names.RoleARN, res.Names.PolicyARN)
	}
	create := change(t, res, "role").Op.(writeTrust).Create
	if create.Path != "/sdc/" || create.Boundary != tBoundary || create.MaxSessionDuration != 7200 || create.Description != "SDC of team a" {
		t.Errorf("CreateRole = %+v", create)
	}
	for _, tags := range []map[string]string{create.Tags, change(t, res, "policy").Op.(writePolicy).Tags, change(t, res, "provider").Op.(createProvider).Tags} {
		if tags["cost-center"] != "data" || tags["owner"] != "team a" || tags[vocab.ManagedByKey] != vocab.ManagedByValue {
			t.Errorf("tags = %v; want --tag's beside bind's own", tags)
		}
	}
	if op := change(t, res, "policy").Op.(writePolicy); op.Path != "/sdc/" || op.ARN != policy {
		t.Errorf("CreatePolicy = %+v", op)
	}
	if op := change(t, res, "attach:"+policy).Op.(attachPolicy); op.PolicyARN != policy {
		t.Errorf("attach = %+v", op)
	}
	if got := change(t, res, "serviceaccount").Op.(applyServiceAccount).Config.Annotations[vocab.RoleARNAnnotation]; got != role {
		t.Errorf("annotation = %s, want %s", got, role)
	}
	notes := strings.Join(change(t, res, "role").Notes, "\n")
	for _, w := range []string{"at path /sdc/", "permissions boundary " + tBoundary, "maximum session duration 7200s", "tags cost-center=data, owner=team a"} {
		if !strings.Contains(notes, w) {
			t.Errorf("the role's notes lack %q:\n%s", w, notes)
		}
	}
	if got := res.GuardrailFacts(); !strings.Contains(got, tBoundary) || !strings.Contains(got, "path /sdc/") {
		t.Errorf("GuardrailFacts = %q", got)
	}
	// And the rerun is a no-op.
	again, err := Plan(r, bound(t, r))
	if err != nil {
		t.Fatal(err)
	}
	for id, a := range actions(again) {
		if a != plan.Unchanged {
			t.Errorf("rerun: %s is %s", id, a)
		}
	}
}

// On what exists, the guardrails are changes of roles bind made; another's boundary is refused.
func TestPlanGuardrailsOnExistingRoles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		setup  func(o *Observed) // the world as found, after a plain bind
		edit   func(r *Request)  // what this bind asks
		check  func(t *testing.T, res *Result)
		errHas string
	}{
		{
			name: "a boundary on bind's role",
			edit: func(r *Request) { r.Guardrails.PermissionsBoundary = tBoundary },
			check: func(t *testing.T, res *Result) {
				c := change(t, res, "role")
				if op := c.Op.(writeTrust); c.Action != plan.Update || op.Boundary != tBoundary || op.Update || len(op.Tags) != 0 {
					t.Errorf("role: %s %+v", c.Action, c.Op)
				}
				if !strings.Contains(strings.Join(c.Notes, "\n"), "permissions boundary: none -> "+tBoundary) {
					t.Errorf("notes: %v", c.Notes)
				}
			},
		},
		{
			name:  "another boundary on bind's role",
			setup: func(o *Observed) { o.Role.BoundaryARN = tOtherBoundary },
			edit:  func(r *Request) { r.Guardrails.PermissionsBoundary = tBoundary },
			check: func(t *testing.T, res *Result) {
				if op := change(t, res, "role").Op.(writeTrust); op.Boundary != tBoundary {
					t.Errorf("op = %+v", op)
				}
			},
		},
		{
			name:  "the same boundary: nothing to do",
			setup: func(o *Observed) { o.Role.BoundaryARN = tBoundary },
			edit:  func(r *Request) { r.Guardrails.PermissionsBoundary = tBoundary },
			check: func(t *testing.T, res *Result) {
				if a := change(t, res, "role").Action; a != plan.Unchanged {
					t.Errorf("role: %s", a)
				}
			},
		},
		{
			name: "no flag keeps a boundary",
			setup: func(o *Observed) {
				o.Role.BoundaryARN = tOtherBoundary
			},
			edit: func(r *Request) {},
			check: func(t *testing.T, res *Result) {
				if a := change(t, res, "role").Action; a != plan.Unchanged {
					t.Errorf("role: %s", a)
				}
			},
		},
		{
			name:   "a boundary on a role bind did not make",
			setup:  func(o *Observed) { delete(o.Role.Tags, vocab.ManagedByKey) },
			edit:   func(r *Request) { r.Guardrails.PermissionsBoundary = tBoundary },
			errHas: "--permissions-boundary \"" + tBoundary + "\": IAM role " + tRole + " (found by the ServiceAccount's eks.amazonaws.com/role-arn annotation) has no permissions boundary and was not made by kubectl-sdc",
		},
		{
			name:  "a role bind did not make, with that boundary already",
			setup: func(o *Observed) { delete(o.Role.Tags, vocab.ManagedByKey); o.Role.BoundaryARN = tBoundary },
			edit: func(r *Request) {
				r.Guardrails.PermissionsBoundary = tBoundary
				r.Guardrails.Tags = map[string]string{"team": "a"}
			},
			check: func(t *testing.T, res *Result) {
				c := change(t, res, "role")
				if c.Action != plan.Unchanged || !strings.Contains(strings.Join(c.Notes, "\n"), "--tag left as they are: the role was not made by kubectl-sdc") {
					t.Errorf("role: %s %v", c.Action, c.Notes)
				}
			},
		},
		{
			name:   "a boundary of another account",
			edit:   func(r *Request) { r.Guardrails.PermissionsBoundary = "arn:aws:iam::999999999999:policy/b" },
			errHas: "in account 999999999999",
		},
		{
			name: "an AWS managed boundary",
			edit: func(r *Request) { r.Guardrails.PermissionsBoundary = "arn:aws:iam::aws:policy/PowerUserAccess" },
			check: func(t *testing.T, res *Result) {
				if op := change(t, res, "role").Op.(writeTrust); op.Boundary != "arn:aws:iam::aws:policy/PowerUserAccess" {
					t.Errorf("op = %+v", op)
				}
			},
		},
		{
			name: "tags: added and changed, others' stay",
			setup: func(o *Observed) {
				o.Role.Tags["owner"], o.Role.Tags["theirs"] = "team b", "x"
				o.Policy.Tags = maps.Clone(o.Policy.Tags)
				o.Policy.Tags["cost-center"] = "data"
			},
			edit: func(r *Request) { r.Guardrails.Tags = map[string]string{"cost-center": "data", "owner": "team a"} },
			check: func(t *testing.T, res *Result) {
				if op := change(t, res, "role").Op.(writeTrust); !maps.Equal(op.Tags, map[string]string{"cost-center": "data", "owner": "team a"}) || op.Update {
					t.Errorf("role op = %+v", op)
				}
				if op, ok := change(t, res, "policy").Op.(tagPolicy); !ok || !maps.Equal(op.Tags, map[string]string{"owner": "team a"}) {
					t.Errorf("policy op = %#v", change(t, res, "policy").Op)
				}
				if op, ok := change(t, res, "provider").Op.(tagProvider); !ok || len(op.Tags) != 2 {
					t.Errorf("provider op = %#v", change(t, res, "provider").Op)
				}
				if n := strings.Join(change(t, res, "role").Notes, "\n"); !strings.Contains(n, `tag owner: "team b" -> "team a"`) || !strings.Contains(n, "tag cost-center=data") {
					t.Errorf("notes: %s", n)
				}
			},
		},
		{
			name:  "a provider another tool made keeps its tags",
			setup: func(o *Observed) { o.Provider.Tags = map[string]string{"alpha.eksctl.io/cluster-name": "demo"} },
			edit:  func(r *Request) { r.Guardrails.Tags = map[string]string{"team": "a"} },
			check: func(t *testing.T, res *Result) {
				if a := change(t, res, "provider").Action; a != plan.Unchanged {
					t.Errorf("provider: %s", a)
				}
			},
		},
		{
			name: "description and session length",
			edit: func(r *Request) { r.Guardrails.Description, r.Guardrails.MaxSessionDuration = "new words", 14400 },
			check: func(t *testing.T, res *Result) {
				op := change(t, res, "role").Op.(writeTrust)
				if op.Settings == nil || op.Settings.Description != "new words" || op.Settings.MaxSessionDuration != 14400 {
					t.Errorf("op = %+v", op)
				}
			},
		},
		{
			name: "only the session length: the description is sent as it is",
			edit: func(r *Request) { r.Guardrails.MaxSessionDuration = 14400 },
			check: func(t *testing.T, res *Result) {
				op := change(t, res, "role").Op.(writeTrust)
				if op.Settings == nil || !strings.HasPrefix(op.Settings.Description, "IRSA role of ServiceAccount ns1/sdc") || op.Settings.MaxSessionDuration != 14400 {
					t.Errorf("op = %+v", op)
				}
			},
		},
		{
			name: "a role at another path is reported, not moved",
			edit: func(r *Request) { r.Guardrails.RolePath = "/sdc/" },
			check: func(t *testing.T, res *Result) {
				if res.Names.RoleARN != tRole {
					t.Errorf("role ARN = %s, want the role where it is (%s)", res.Names.RoleARN, tRole)
				}
				if got := change(t, res, "serviceaccount").Action; got != plan.Unchanged {
					t.Errorf("ServiceAccount: %s", got)
				}
				w := strings.Join(res.Warnings, "\n")
				if !strings.Contains(w, "IAM role "+tRole+" is at path /, not /sdc/ (--role-path)") {
					t.Errorf("warnings: %s", w)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := bound(t, request(t))
			if tc.setup != nil {
				tc.setup(o)
			}
			r := request(t)
			tc.edit(r)
			o.Names = NamesFor(r, o.Cluster, o.Identity, o.ServiceAccount)
			if r.Guardrails.RolePath != "" && o.Names.PolicyARN != tPolicy {
				// Observe finds the policy attached where it is (observePolicyElsewhere).
				o.Names.PolicyARN = tPolicy
			}
			res, err := Plan(r, o)
			if tc.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errHas) {
					t.Fatalf("err = %v; want it to say %q", err, tc.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, res)
		})
	}
}

const (
	tTarget       = "arn:aws:iam::210987654321:role/data/sdc-reader"
	tTargetPolicy = "arn:aws:iam::210987654321:policy/data/sdc-reader"
)

func targeted(t *testing.T, profile string) *Request {
	r := request(t)
	r.AssumeRoleARN, r.TargetProfile = tTarget, profile
	return r
}

// With --assume-role-arn the binding's role may only assume the target; with --target-profile the target
// role is created (or its trust merged), with the stages' policy, in the same plan.
func TestPlanAssumeRoleFresh(t *testing.T) {
	t.Parallel()
	r := targeted(t, "data")
	res, err := Plan(r, fresh(r))
	if err != nil {
		t.Fatal(err)
	}
	own := mustParse(t, change(t, res, "policy").After)
	if len(own.Statements) != 2 {
		t.Fatalf("the binding's policy: %s", own.Canonical())
	}
	sdcTag := map[string][]string{"aws:TagKeys": {vocab.SDCSessionTagKey}, "aws:RequestTag/" + vocab.SDCSessionTagKey: {"alice"}}
	otherTag := map[string][]string{"aws:TagKeys": {vocab.SDCSessionTagKey, "team"}}
	for _, q := range []struct {
		action, resource string
		context          map[string][]string
		allowed          bool
	}{
		{"sts:AssumeRole", tTarget, nil, true},
		{"sts:TagSession", tTarget, sdcTag, true},
		{"sts:TagSession", tTarget, otherTag, false},
		{"sts:TagSession", "arn:aws:iam::210987654321:role/other", sdcTag, false},
		{"sts:AssumeRole", "arn:aws:iam::210987654321:role/other", nil, false},
		{"s3:GetObject", "arn:aws:s3:::ingest/x", nil, false},
	} {
		if d := iampolicy.Evaluate(iampolicy.Request{Action: q.action, Resource: q.resource, Context: q.context}, own); d.Allowed() != q.allowed {
			t.Errorf("the binding's role: %s on %s allowed=%v, want %v", q.action, q.resource, d.Allowed(), q.allowed)
		}
	}
	create := change(t, res, "role").Op.(writeTrust).Create
	if create.Tags[vocab.TagAssumeRoleARN] != tTarget {
		t.Errorf("role tags = %v", create.Tags)
	}
	tr := change(t, res, idTargetRole)
	op := tr.Op.(inTarget).Op.(writeTrust)
	if tr.Action != plan.Create || op.Create.Path != "/data/" || op.Create.Name != "sdc-reader" || !slicesHave(tr.Deps, "role") {
		t.Errorf("target role: %s %+v deps %v", tr.Action, op.Create, tr.Deps)
	}
	if !op.Edit.Holds(mustParse(t, op.Create.Trust)) || !strings.Contains(tr.Notes[0], "in account 210987654321 (the target account, --target-profile data)") {
		t.Errorf("target trust %s, notes %v", op.Create.Trust, tr.Notes)
	}
	tp := change(t, res, idTargetPolicy)
	stages := mustParse(t, tp.After)
	if tp.Name != tTargetPolicy || tp.Action != plan.Create || tp.Op.(inTarget).Op.(writePolicy).Path != "/data/" {
		t.Errorf("target policy: %s %s %+v", tp.Name, tp.Action, tp.Op)
	}
	if d := iampolicy.Evaluate(iampolicy.Request{Action: "s3:PutObject", Resource: "arn:aws:s3:::ingest/x"}, stages); !d.Allowed() {
		t.Errorf("the target policy does not allow the stage: %s", stages.Canonical())
	}
	if ta := change(t, res, idTargetAttach); ta.Action != plan.Create || ta.Op.(inTarget).Op.(attachPolicy) != (attachPolicy{Role: "sdc-reader", PolicyARN: tTargetPolicy}) {
		t.Errorf("target attach: %s %+v", ta.Action, ta.Op)
	}
	again, err := Plan(r, bound(t, r))
	if err != nil {
		t.Fatal(err)
	}
	for id, a := range actions(again) {
		if a != plan.Unchanged {
			t.Errorf("rerun: %s is %s", id, a)
		}
	}
}

func slicesHave(l []string, v string) bool {
	for _, x := range l {
		if x == v {
			return true
		}
	}
	return false
}

func TestPlanAssumeRoleTargets(t *testing.T) {
	t.Parallel()
	otherTrust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	tests := []struct {
		name   string
		req    func(t *testing.T) *Request
		setup  func(t *testing.T, o *Observed)
		check  func(t *testing.T, res *Result)
		errHas string
	}{
		{
			name: "without --target-profile nothing changes there, and the owners get the documents",
			req:  func(t *testing.T) *Request { return targeted(t, "") },
			check: func(t *testing.T, res *Result) {
				for _, c := range res.Plan.Changes {
					if strings.HasPrefix(c.ID, "target-") {
						t.Errorf("a change in the target account: %s", c.ID)
					}
				}
				h := res.Handoff
				if h == nil || h.Account != "210987654321" || h.RoleARN != tTarget {
					t.Fatalf("handoff = %+v", h)
				}
				trust := iampolicy.NewPolicy(iampolicy.AssumeRoleStatement(tRole))
				if !strings.Contains(string(h.TrustStatement), tRole) || !(AdmitRole{RoleARN: tRole}).Holds(trust) {
					t.Errorf("trust statement: %s", h.TrustStatement)
				}
				if !strings.Contains(string(h.Policy), "arn:aws:s3:::ingest") {
					t.Errorf("policy: %s", h.Policy)
				}
				if w := strings.Join(res.Warnings, "\n"); !strings.Contains(w, "bind changes nothing in account 210987654321 (no --target-profile)") {
					t.Errorf("warnings: %s", w)
				}
			},
		},
		{
			name: "a trust that admits the account already is left as it is",
			req:  func(t *testing.T) *Request { return targeted(t, "data") },
			setup: func(t *testing.T, o *Observed) {
				o.Target.Role = createdRole(t, "210987654321", &createRole{Name: "sdc-reader", Path: "/data/",
					Trust: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":["sts:AssumeRole","sts:TagSession"]}]}`})
			},
			check: func(t *testing.T, res *Result) {
				if a := actions(res); a[idTargetRole] != plan.Unchanged || a[idTargetPolicy] != plan.Create || a[idTargetAttach] != plan.Create {
					t.Errorf("actions: %v", a)
				}
			},
		},
		{
			name: "a trust that does not admit it gets a statement; the others stay",
			req:  func(t *testing.T) *Request { return targeted(t, "data") },
			setup: func(t *testing.T, o *Observed) {
				o.Target.Role = createdRole(t, "210987654321", &createRole{Name: "sdc-reader", Path: "/data/", Trust: otherTrust})
			},
			check: func(t *testing.T, res *Result) {
				c := change(t, res, idTargetRole)
				op := c.Op.(inTarget).Op.(writeTrust)
				after := mustParse(t, c.After)
				if c.Action != plan.Update || !op.Update || len(after.Statements) != 2 || !after.Statements[0].Equivalent(mustParse(t, otherTrust).Statements[0]) {
					t.Errorf("target role: %s %+v\n%s", c.Action, op, c.After)
				}
			},
		},
		{
			name: "a trust an earlier bind wrote (sts:AssumeRole alone) gains sts:TagSession in one update; its statement stays",
			req:  func(t *testing.T) *Request { return targeted(t, "data") },
			setup: func(t *testing.T, o *Observed) {
				o.Target.Role = createdRole(t, "210987654321", &createRole{Name: "sdc-reader", Path: "/data/",
					Trust: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + tRole + `"},"Action":"sts:AssumeRole"}]}`})
			},
			check: func(t *testing.T, res *Result) {
				c := change(t, res, idTargetRole)
				after := mustParse(t, c.After)
				if c.Action != plan.Update || len(after.Statements) != 2 || !(AdmitRole{RoleARN: tRole}).Holds(after) {
					t.Errorf("target role: %s\n%s", c.Action, c.After)
				}
				if got := iampolicy.AWSPrincipals(after); len(got) != 1 || got[0] != tRole {
					t.Errorf("the roles the target is shared by: %v", got)
				}
				// Planned again on what it wrote, bind writes nothing.
				o2 := fresh(res.Request)
				o2.Target.Role = createdRole(t, "210987654321", &createRole{Name: "sdc-reader", Path: "/data/", Trust: string(after.Compact())})
				again, err := Plan(res.Request, o2)
				if err != nil {
					t.Fatal(err)
				}
				if a := actions(again)[idTargetRole]; a != plan.Unchanged {
					t.Errorf("the rerun's target role: %s", a)
				}
			},
		},
		{
			name: "a trust that denies it is refused",
			req:  func(t *testing.T) *Request { return targeted(t, "data") },
			setup: func(t *testing.T, o *Observed) {
				o.Target.Role = createdRole(t, "210987654321", &createRole{Name: "sdc-reader", Path: "/data/",
					Trust: `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}`})
			},
			errHas: "would still not let role " + tRole + " assume it",
		},
		{
			name: "a policy of that name someone else made is refused",
			req:  func(t *testing.T) *Request { return targeted(t, "data") },
			setup: func(t *testing.T, o *Observed) {
				o.Target.Policy = createdPolicy(t, tTargetPolicy, nil)
			},
			errHas: "IAM policy " + tTargetPolicy + ", which exists in account 210987654321 and was not made by kubectl-sdc",
		},
		{
			name: "the binding's own role as the target is refused",
			req: func(t *testing.T) *Request {
				r := targeted(t, "")
				r.AssumeRoleARN = tRole
				return r
			},
			errHas: "names the binding's own role",
		},
		{
			name: "a shared role records its binding's target under its own key",
			req: func(t *testing.T) *Request {
				r := targeted(t, "data")
				r.RoleName = tRoleName
				return r
			},
			check: func(t *testing.T, res *Result) {
				tags := change(t, res, "role").Op.(writeTrust).Create.Tags
				if tags[vocab.TagAssumeRoleARN+"/"+res.Names.BindingID] != tTarget || tags[vocab.TagAssumeRoleARN] != "" {
					t.Errorf("tags = %v", tags)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := tc.req(t)
			o := fresh(r)
			if tc.setup != nil {
				tc.setup(t, o)
			}
			res, err := Plan(r, o)
			if tc.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errHas) {
					t.Fatalf("err = %v; want it to say %q", err, tc.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, res)
		})
	}
}

func createdPolicy(t *testing.T, arn string, tags map[string]string) *iamread.Policy {
	t.Helper()
	return &iamread.Policy{ARN: arn, DefaultVersion: "v1", Tags: tags,
		Document: mustParse(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListAllMyBuckets","Resource":"*"}]}`)}
}

// A binding that stops assuming a role loses the tag that said it did, and its sts:AssumeRole grant.
func TestPlanAssumeRoleDropped(t *testing.T) {
	t.Parallel()
	o := bound(t, targeted(t, "data"))
	r := request(t)
	res, err := Plan(r, o)
	if err != nil {
		t.Fatal(err)
	}
	c := change(t, res, "role")
	if op := c.Op.(writeTrust); c.Action != plan.Update || len(op.Untag) != 1 || op.Untag[0] != vocab.TagAssumeRoleARN {
		t.Errorf("role: %s %+v", c.Action, c.Op)
	}
	after := mustParse(t, change(t, res, "policy").After)
	if iampolicy.Evaluate(iampolicy.Request{Action: "sts:AssumeRole", Resource: tTarget}, after).Allowed() ||
		!iampolicy.Evaluate(iampolicy.Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::ingest/k"}, after).Allowed() {
		t.Errorf("the binding's policy: %s", after.Canonical())
	}
}

// A role whose tags or trust say it serves bindings of another cluster: the Lease serialises only the runs
// against one cluster, so bind says so when it edits that role's trust.
func TestPlanWarnsOfARoleSharedWithAnotherCluster(t *testing.T) {
	t.Parallel()
	other := iampolicy.NewPolicy(iampolicy.WebIdentityStatement(mOtherProvider, mOtherHost, "ns9", "sdc", vocab.DefaultAudience))
	ours := iampolicy.NewPolicy(iampolicy.WebIdentityStatement(tProvider, tHost, "ns9", "other", vocab.DefaultAudience))
	for _, tc := range []struct {
		name  string
		trust *iampolicy.Policy
		tags  map[string]string
		want  string
	}{
		{"another cluster's provider in the trust", other, nil, "shared with bindings of the cluster of OIDC provider " + mOtherProvider},
		{"made by another cluster", ours, map[string]string{vocab.ManagedByKey: vocab.ManagedByValue, vocab.TagCluster: "prod-eu"}, "shared with bindings of cluster prod-eu"},
		{"this cluster's alone", ours, map[string]string{vocab.ManagedByKey: vocab.ManagedByValue, vocab.TagCluster: "demo"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := request(t)
			r.RoleName = "shared-role"
			o := fresh(r)
			o.Role = createdRole(t, tAccount, &createRole{Name: "shared-role", Trust: string(tc.trust.Compact()), Tags: tc.tags})
			res, err := Plan(r, o)
			if err != nil {
				t.Fatal(err)
			}
			w := strings.Join(res.Warnings, "\n")
			if tc.want == "" && strings.Contains(w, "shared with bindings of") || tc.want != "" && !strings.Contains(w, tc.want) {
				t.Errorf("warnings %q; want %q", w, tc.want)
			}
		})
	}
}
