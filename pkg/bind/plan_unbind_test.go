package bind

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/grant"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iamread"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/plan"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

func unbindRequest() *UnbindRequest { return &UnbindRequest{Namespace: "ns1", ServiceAccount: "sdc"} }

// afterBind is what ObserveUnbind reads after a bind of request(t): bind's role (trust, tags, the policy
// attached), its policy (attached once), and the ServiceAccount bind created and annotated.
func afterBind(t *testing.T) *UnbindObserved {
	t.Helper()
	o := bound(t, request(t))
	o.Policy.AttachmentCount = 1
	u := &UnbindObserved{Cluster: o.Cluster, Identity: o.Identity, Now: tNow, Role: o.Role, ServiceAccount: o.ServiceAccount,
		Policies: map[string]*iamread.Policy{tPolicy: o.Policy}}
	u.Names = NamesFor(unbindRequest().bindRequest(), o.Cluster, o.Identity, o.ServiceAccount)
	u.Names.PolicyName, u.Names.PolicyARN = u.Names.RoleName, tPolicy
	return u
}

// secondBinding adds ns1/other to the role's trust (the same statement) and its statements to the policy,
// as a bind --role-name of ns1/other would.
func secondBinding(t *testing.T, o *UnbindObserved) {
	t.Helper()
	o.Role.Trust, _ = iampolicy.AdmitSubject(o.Role.Trust, tProvider, tHost, vocab.Subject("ns1", "other"), vocab.DefaultAudience)
	other := vocab.BindingID(tCluster, "ns1", "other")
	want := mustParse(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::other/*"}]}`)
	o.Policy().Document, _ = grant.Merge(o.Policy().Document, other, want)
	o.Role.Tags[vocab.TagStages+"/"+o.Names.BindingID] = "v1 s3 bucket=ingest"
}

// Policy is the policy bind names like the role, for the tests.
func (o *UnbindObserved) Policy() *iamread.Policy { return o.Policies[o.Names.PolicyARN] }

func unbindPlan(t *testing.T, r *UnbindRequest, o *UnbindObserved) *UnbindResult {
	t.Helper()
	res, err := UnbindPlan(r, o)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func byID(res *UnbindResult) map[string]*plan.Change {
	m := map[string]*plan.Change{}
	for _, c := range res.Plan.Changes {
		m[c.ID] = c
	}
	return m
}

func unbindActions(res *UnbindResult) map[string]plan.Action {
	m := map[string]plan.Action{}
	for _, c := range res.Plan.Changes {
		m[c.ID] = c.Action
	}
	return m
}

func warned(res *UnbindResult, substr string) bool {
	return slices.ContainsFunc(res.Warnings, func(w string) bool { return strings.Contains(w, substr) })
}

var tSubject = vocab.Subject("ns1", "sdc")

// The table of unbind's decisions: each case changes the state bind left, and says what unbind does.
func TestUnbindPlan(t *testing.T) {
	t.Parallel()
	detach := "detach:" + tPolicy
	policy := "policy:" + tPolicy
	cases := []struct {
		name    string
		req     func(*UnbindRequest)
		state   func(*testing.T, *UnbindObserved)
		actions map[string]plan.Action
		warning string // a substring of a warning, when one is expected
		check   func(*testing.T, *UnbindResult)
	}{
		{name: "the only binding: role, attachment and policy go, the annotations are released",
			actions: map[string]plan.Action{"role": plan.Delete, detach: plan.Delete, policy: plan.Delete, "serviceaccount": plan.Update},
			check: func(t *testing.T, res *UnbindResult) {
				c := byID(res)
				if !reflect.DeepEqual(c["role"].Deps, []string{detach}) || !reflect.DeepEqual(c[policy].Deps, []string{detach}) {
					t.Errorf("the role and the policy must wait for the detach: %v, %v", c["role"].Deps, c[policy].Deps)
				}
				if op := c[detach].Op.(detachPolicy); op.Guard == nil || op.Guard.Edit != TrustEdit(RevokeWebIdentity{Provider: tProvider, Host: tHost, Subject: tSubject}) {
					t.Errorf("the detach of a role that goes checks its trust first: %+v", op)
				}
				if op := c["role"].Op.(deleteRole); op.Name != tRoleName || op.Guard != nil {
					t.Errorf("role op %+v", op)
				}
				sa := c["serviceaccount"]
				if want := []string{"role", detach, policy}; !reflect.DeepEqual(sa.Deps, want) {
					t.Errorf("the ServiceAccount goes last: deps %v, want %v", sa.Deps, want)
				}
				ac := sa.Op.(applyServiceAccount).Config
				if _, ok := ac.Annotations[vocab.RoleARNAnnotation]; ok || ac.Annotations[vocab.RegionalSTSAnnotation] != "" || *ac.Name != "sdc" || *ac.Namespace != "ns1" {
					t.Errorf("released apply configuration %+v", ac)
				}
				if !strings.Contains(sa.Before, vocab.RoleARNAnnotation) || strings.Contains(sa.After, vocab.RoleARNAnnotation) {
					t.Errorf("ServiceAccount diff:\n%s\n%s", sa.Before, sa.After)
				}
				if res.Mechanism != vocab.MechanismIRSA || len(res.Warnings) > 0 {
					t.Errorf("mechanism %q, warnings %v", res.Mechanism, res.Warnings)
				}
			}},
		{name: "a role shared with another ServiceAccount: only this subject, stages tag and statements go",
			state:   secondBinding,
			actions: map[string]plan.Action{"role": plan.Update, policy: plan.Update, "serviceaccount": plan.Update},
			check: func(t *testing.T, res *UnbindResult) {
				c := byID(res)
				op := c["role"].Op.(writeTrust)
				if !op.Update || op.Edit != (RevokeWebIdentity{Provider: tProvider, Host: tHost, Subject: tSubject}) ||
					!reflect.DeepEqual(op.Untag, []string{vocab.TagStages + "/" + res.Names.BindingID}) {
					t.Errorf("role op %+v", op)
				}
				after := mustParse(t, c["role"].After)
				if got := iampolicy.WebIdentitySubjects(after, tProvider, tHost); !reflect.DeepEqual(got, []string{vocab.Subject("ns1", "other")}) {
					t.Errorf("the trust keeps %v", got)
				}
				kept := mustParse(t, c[policy].After)
				if slices.Contains(grant.Bindings(kept), res.Names.BindingID) || len(grant.Bindings(kept)) != 1 {
					t.Errorf("policy after: %s", c[policy].After)
				}
				if op := c[policy].Op.(removeGrant); op.Binding != res.Names.BindingID {
					t.Errorf("policy op %+v", op)
				}
			}},
		{name: "a role bind did not make is never deleted, even trusting nobody else; its kubectl-sdc policy goes",
			state:   func(_ *testing.T, o *UnbindObserved) { delete(o.Role.Tags, vocab.ManagedByKey) },
			actions: map[string]plan.Action{"role": plan.Unchanged, detach: plan.Delete, policy: plan.Delete, "serviceaccount": plan.Update},
			warning: "was not made by kubectl-sdc",
			check: func(t *testing.T, res *UnbindResult) {
				if op := byID(res)[detach].Op.(detachPolicy); op.Guard != nil {
					t.Errorf("a role that stays needs no trust guard: %+v", op)
				}
			}},
		{name: "inline policies bind did not make keep the role",
			state:   func(_ *testing.T, o *UnbindObserved) { o.Role.InlineNames = []string{"hand-made"} },
			actions: map[string]plan.Action{"role": plan.Unchanged, detach: plan.Delete, policy: plan.Delete, "serviceaccount": plan.Update},
			warning: "inline policies bind did not make (hand-made)"},
		{name: "a wildcard that still admits the ServiceAccount stays, and is reported",
			state: func(t *testing.T, o *UnbindObserved) {
				o.Role.Trust.Statements = append(o.Role.Trust.Statements, iampolicy.Statement{Sid: "Team", Effect: iampolicy.Allow,
					Principal: &iampolicy.Principal{Values: map[string]iampolicy.Values{"Federated": {tProvider}}},
					Action:    iampolicy.Values{vocab.ActionAssumeRoleWithWebIdentity},
					Condition: iampolicy.Conditions{"StringLike": {tHost + ":sub": {"system:serviceaccount:ns1:*"}}}})
			},
			actions: map[string]plan.Action{"role": plan.Update, policy: plan.Delete, detach: plan.Delete, "serviceaccount": plan.Update},
			warning: "through statement Team",
			check: func(t *testing.T, res *UnbindResult) {
				after := mustParse(t, byID(res)["role"].After)
				if len(after.Statements) != 1 || after.Statements[0].Sid != "Team" {
					t.Errorf("the trust after: %s", byID(res)["role"].After)
				}
			}},
		{name: "not bound: nothing to do",
			state: func(_ *testing.T, o *UnbindObserved) {
				o.Role, o.Policies = nil, map[string]*iamread.Policy{tPolicy: nil}
				o.ServiceAccount.Annotations, o.ServiceAccount.ManagedFields = nil, nil
			},
			actions: map[string]plan.Action{"role": plan.Unchanged, policy: plan.Unchanged, "serviceaccount": plan.Unchanged},
			check: func(t *testing.T, res *UnbindResult) {
				if res.Plan.HasChanges() {
					t.Error("changes planned")
				}
			}},
		{name: "--delete-service-account deletes the ServiceAccount bind created",
			req:     func(r *UnbindRequest) { r.DeleteServiceAccount = true },
			actions: map[string]plan.Action{"role": plan.Delete, detach: plan.Delete, policy: plan.Delete, "serviceaccount": plan.Delete},
			check: func(t *testing.T, res *UnbindResult) {
				if op := byID(res)["serviceaccount"].Op.(deleteServiceAccount); op.Name != "sdc" || op.Namespace != "ns1" {
					t.Errorf("op %+v", op)
				}
			}},
		{name: "--delete-service-account leaves one bind found, and releases its annotations",
			req:     func(r *UnbindRequest) { r.DeleteServiceAccount = true },
			state:   func(_ *testing.T, o *UnbindObserved) { delete(o.ServiceAccount.Annotations, vocab.CreatedAnnotation) },
			actions: map[string]plan.Action{"role": plan.Delete, detach: plan.Delete, policy: plan.Delete, "serviceaccount": plan.Update},
			warning: "was not created by bind"},
		{name: "an annotation another manager set too stays, and is reported",
			state: func(_ *testing.T, o *UnbindObserved) {
				o.ServiceAccount.ManagedFields = append(o.ServiceAccount.ManagedFields, metav1.ManagedFieldsEntry{Manager: "kubectl-annotate", Operation: metav1.ManagedFieldsOperationUpdate,
					FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:metadata":{"f:annotations":{"f:eks.amazonaws.com/role-arn":{}}}}`)}})
			},
			actions: map[string]plan.Action{"role": plan.Delete, detach: plan.Delete, policy: plan.Delete, "serviceaccount": plan.Update},
			warning: "is set by kubectl-annotate, so it stays",
			check: func(t *testing.T, res *UnbindResult) {
				if sa := byID(res)["serviceaccount"]; !strings.Contains(sa.After, vocab.RoleARNAnnotation) || strings.Contains(sa.After, vocab.RegionalSTSAnnotation) {
					t.Errorf("after:\n%s", sa.After)
				}
			}},
		{name: "--role-name of another role than the annotation's: the ServiceAccount stays as it is",
			req: func(r *UnbindRequest) { r.RoleName = "hand-made" },
			state: func(t *testing.T, o *UnbindObserved) {
				o.Names = NamesFor(&Request{Namespace: "ns1", ServiceAccount: "sdc", RoleName: "hand-made"}, o.Cluster, o.Identity, o.ServiceAccount)
				o.Names.PolicyName, o.Names.PolicyARN = "hand-made", vocab.PolicyARN("aws", tAccount, "hand-made")
				o.Role = &iamread.Role{ARN: vocab.RoleARN("aws", tAccount, "hand-made"), Name: "hand-made", Trust: o.Role.Trust,
					Tags: map[string]string{}, Attached: []string{"arn:aws:iam::aws:policy/ReadOnlyAccess"}}
				o.Role.Trust.Statements = append(o.Role.Trust.Statements, iampolicy.Statement{Effect: iampolicy.Allow,
					Principal: &iampolicy.Principal{Values: map[string]iampolicy.Values{"Service": {"ec2.amazonaws.com"}}}, Action: iampolicy.Values{"sts:AssumeRole"}})
				o.Policies = map[string]*iamread.Policy{o.Names.PolicyARN: nil}
			},
			actions: map[string]plan.Action{"role": plan.Update, "policy:" + vocab.PolicyARN("aws", tAccount, "hand-made"): plan.Unchanged, "serviceaccount": plan.Unchanged},
			check: func(t *testing.T, res *UnbindResult) {
				if n := byID(res)["serviceaccount"].Notes; len(n) == 0 || !strings.Contains(n[0], "names role "+tRole) {
					t.Errorf("notes %v", n)
				}
			}},
		{name: "a policy attached elsewhere too stays",
			state:   func(_ *testing.T, o *UnbindObserved) { o.Policy().AttachmentCount = 2 },
			actions: map[string]plan.Action{"role": plan.Delete, detach: plan.Delete, policy: plan.Unchanged, "serviceaccount": plan.Update},
			warning: "attached to 1 other user(s), group(s) or role(s)"},
		{name: "a policy bind did not make is left alone, and detached only with the role",
			state:   func(_ *testing.T, o *UnbindObserved) { o.Policy().Tags = map[string]string{} },
			actions: map[string]plan.Action{"role": plan.Delete, detach: plan.Delete, policy: plan.Unchanged, "serviceaccount": plan.Update}},
		{name: "an earlier version's policy without binding Sids, tagged with this binding, goes whole",
			state: func(t *testing.T, o *UnbindObserved) {
				o.Policy().Document = mustParse(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`)
			},
			actions: map[string]plan.Action{"role": plan.Delete, detach: plan.Delete, policy: plan.Delete, "serviceaccount": plan.Update}},
		{name: "the trust no longer lists the subject (a run cut short): only the stages tag is left to remove",
			state: func(t *testing.T, o *UnbindObserved) {
				secondBinding(t, o)
				o.Role.Trust, _ = iampolicy.RevokeWebIdentitySubject(o.Role.Trust, tProvider, tHost, tSubject)
			},
			actions: map[string]plan.Action{"role": plan.Update, policy: plan.Update, "serviceaccount": plan.Update},
			check: func(t *testing.T, res *UnbindResult) {
				if op := byID(res)["role"].Op.(writeTrust); op.Update || len(op.Untag) != 1 {
					t.Errorf("op %+v", op)
				}
			}},
		{name: "a role shared on purpose loses this binding's own stages and assumed-role tags",
			state: func(t *testing.T, o *UnbindObserved) {
				secondBinding(t, o)
				o.Role.Tags[vocab.TagAssumeRoleARN+"/"+o.Names.BindingID] = "arn:aws:iam::210987654321:role/sdc-data"
				o.Role.Tags[vocab.TagAssumeRoleARN+"/"+vocab.BindingID(tCluster, "ns1", "other")] = "arn:aws:iam::210987654321:role/sdc-data"
			},
			actions: map[string]plan.Action{"role": plan.Update, policy: plan.Update, "serviceaccount": plan.Update},
			check: func(t *testing.T, res *UnbindResult) {
				op := byID(res)["role"].Op.(writeTrust)
				want := []string{vocab.TagStages + "/" + res.Names.BindingID, vocab.TagAssumeRoleARN + "/" + res.Names.BindingID}
				if !reflect.DeepEqual(op.Untag, want) {
					t.Errorf("untag %v, want %v (the other binding's keys stay)", op.Untag, want)
				}
			}},
		{name: "a role whose stages assume another role goes, and what the target's account keeps is reported",
			state: func(_ *testing.T, o *UnbindObserved) {
				o.Role.Tags[vocab.TagAssumeRoleARN] = "arn:aws:iam::210987654321:role/sdc-data"
			},
			actions: map[string]plan.Action{"role": plan.Delete, detach: plan.Delete, policy: plan.Delete, "serviceaccount": plan.Update},
			warning: "assume IAM role arn:aws:iam::210987654321:role/sdc-data (tag kubectl-sdc/assume-role-arn), which unbind leaves alone"},
		{name: "a binding made with --role-path: role and policy are unbound where they are",
			state: func(t *testing.T, o *UnbindObserved) {
				pathPolicy, p := vocab.PolicyARNAt("aws", tAccount, "/sdc/", tRoleName), o.Policy()
				p.ARN = pathPolicy
				o.Role.ARN = vocab.RoleARNAt("aws", tAccount, "/sdc/", tRoleName)
				o.Role.Attached = []string{pathPolicy}
				o.Policies = map[string]*iamread.Policy{pathPolicy: p}
				o.Names.RolePath, o.Names.PolicyARN = "/sdc/", pathPolicy
				o.ServiceAccount.Annotations[vocab.RoleARNAnnotation] = o.Role.ARN
			},
			actions: map[string]plan.Action{"role": plan.Delete, "detach:" + vocab.PolicyARNAt("aws", tAccount, "/sdc/", tRoleName): plan.Delete,
				"policy:" + vocab.PolicyARNAt("aws", tAccount, "/sdc/", tRoleName): plan.Delete, "serviceaccount": plan.Update},
			check: func(t *testing.T, res *UnbindResult) {
				c := byID(res)
				if c["role"].Name != vocab.RoleARNAt("aws", tAccount, "/sdc/", tRoleName) || c["serviceaccount"].Action != plan.Update {
					t.Errorf("role %s, ServiceAccount %s", c["role"].Name, c["serviceaccount"].Action)
				}
				if op := c["policy:"+vocab.PolicyARNAt("aws", tAccount, "/sdc/", tRoleName)].Op.(deletePolicy); op.ARN != vocab.PolicyARNAt("aws", tAccount, "/sdc/", tRoleName) {
					t.Errorf("policy op %+v", op)
				}
			}},
		{name: "the role is gone (a run cut short): the policy still goes, unattached",
			state: func(_ *testing.T, o *UnbindObserved) {
				o.Role = nil
				o.Policy().AttachmentCount = 0
			},
			actions: map[string]plan.Action{"role": plan.Unchanged, policy: plan.Delete, "serviceaccount": plan.Update},
			check: func(t *testing.T, res *UnbindResult) {
				if deps := byID(res)[policy].Deps; len(deps) != 0 {
					t.Errorf("deps %v", deps)
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r, o := unbindRequest(), afterBind(t)
			if c.req != nil {
				c.req(r)
			}
			if c.state != nil {
				c.state(t, o)
			}
			res := unbindPlan(t, r, o)
			if got := unbindActions(res); !reflect.DeepEqual(got, c.actions) {
				t.Errorf("actions %v\nwant    %v", got, c.actions)
			}
			if c.warning != "" && !warned(res, c.warning) {
				t.Errorf("warnings %q lack %q", res.Warnings, c.warning)
			}
			if c.warning == "" && len(res.Warnings) > 0 {
				t.Errorf("unexpected warnings %q", res.Warnings)
			}
			for _, ch := range res.Plan.Changes {
				if (ch.Action == plan.Unchanged) != (ch.Op == nil) {
					t.Errorf("%s: action %s with operation %T", ch.ID, ch.Action, ch.Op)
				}
			}
			if c.check != nil {
				c.check(t, res)
			}
		})
	}
}

// Applying unbind's plan to the state bind left, then planning again, plans nothing: the state it leaves
// is the "not bound" case. Checked for the single and the shared binding.
func TestUnbindPlanConverges(t *testing.T) {
	t.Parallel()
	for _, shared := range []bool{false, true} {
		o := afterBind(t)
		if shared {
			secondBinding(t, o)
		}
		res := unbindPlan(t, unbindRequest(), o)
		// What applying it leaves.
		for _, c := range res.Plan.Changes {
			switch op := c.Op.(type) {
			case deleteRole:
				o.Role = nil
			case writeTrust:
				o.Role.Trust = mustParse(t, c.After)
				for _, k := range op.Untag {
					delete(o.Role.Tags, k)
				}
			case removeGrant:
				o.Policy().Document = mustParse(t, c.After)
			case deletePolicy:
				o.Policies[op.ARN] = nil
			case applyServiceAccount:
				o.ServiceAccount.Annotations = map[string]string{vocab.CreatedAnnotation: "true"}
				o.ServiceAccount.ManagedFields = nil
			}
		}
		// The annotation is gone, so the role is found by the default name (bind's, here).
		again := unbindPlan(t, unbindRequest(), o)
		if again.Plan.HasChanges() {
			t.Errorf("shared=%v: a second unbind plans %v", shared, unbindActions(again))
		}
	}
}

// With --restart, the Deployments whose pods still carry the role are restarted after the ServiceAccount
// is released; without it, the plan says which Deployments use the ServiceAccount. Control Hub's are not
// restarted.
func TestUnbindPlanRestarts(t *testing.T) {
	t.Parallel()
	deploy := func(name string, restartedAt time.Time, env ...corev1.EnvVar) appsv1.Deployment {
		d := appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns1"}, Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{ServiceAccountName: "sdc", Containers: []corev1.Container{{Name: "sdc", Env: env}}}}}}
		if !restartedAt.IsZero() {
			d.Spec.Template.Annotations = map[string]string{vocab.RestartedAtAnnotation: restartedAt.Format(time.RFC3339)}
		}
		return d
	}
	pod := func(app string, created time.Time, role string) corev1.Pod {
		p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: app + "-pod", Namespace: "ns1", Labels: map[string]string{"app": app}, CreationTimestamp: metav1.NewTime(created)},
			Spec: corev1.PodSpec{ServiceAccountName: "sdc", Containers: []corev1.Container{{Name: "sdc"}}}}
		if role != "" {
			p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "AWS_ROLE_ARN", Value: role}}
		}
		return p
	}
	o := afterBind(t)
	o.Deployments = []appsv1.Deployment{
		deploy("stale", time.Time{}),
		deploy("fresh", time.Time{}),
		deploy("rolling", tNow.Add(-time.Minute)),
		deploy("controlhub", time.Time{}, corev1.EnvVar{Name: "STREAMSETS_DEPLOYMENT_ID", Value: "x"}, corev1.EnvVar{Name: "STREAMSETS_DEPLOYMENT_TOKEN", Value: "y"}),
	}
	o.Deployments[3].Name = "streamsets-deployment-x"
	o.Deployments[3].Spec.Selector.MatchLabels = map[string]string{"app": "controlhub"}
	o.Pods = []corev1.Pod{pod("stale", tNow.Add(-time.Hour), tRole), pod("fresh", tNow.Add(-time.Hour), ""),
		pod("rolling", tNow.Add(-time.Hour), tRole), pod("controlhub", tNow.Add(-time.Hour), tRole)}

	without := unbindPlan(t, unbindRequest(), o)
	if len(without.Notes) != 1 || !strings.Contains(without.Notes[0], "Deployment(s) stale, fresh, rolling, streamsets-deployment-x run under ServiceAccount ns1/sdc") {
		t.Errorf("notes %q", without.Notes)
	}
	r := unbindRequest()
	r.Restart = true
	res := unbindPlan(t, r, o)
	var restarts []string
	for _, c := range res.Plan.Changes {
		if c.Kind == KindRestart {
			restarts = append(restarts, c.ID)
			if !reflect.DeepEqual(c.Deps, []string{"serviceaccount"}) {
				t.Errorf("%s deps %v", c.ID, c.Deps)
			}
		}
	}
	if !reflect.DeepEqual(restarts, []string{"restart:stale"}) {
		t.Errorf("restarts %v, want only the stale one", restarts)
	}
	if !warned(res, "Deployment ns1/streamsets-deployment-x still carry role") || !warned(res, "from Control Hub") {
		t.Errorf("warnings %q", res.Warnings)
	}
}

// --prune-provider deletes the provider only when no role trusts it once the plan is applied, and only when
// kubectl-sdc made it.
func TestUnbindPlanPrunesTheProvider(t *testing.T) {
	t.Parallel()
	other := iampolicy.NewPolicy(iampolicy.WebIdentityStatement(tProvider, tHost, "ns2", "x", ""))
	cases := []struct {
		name   string
		trusts map[string]*iampolicy.Policy
		tags   map[string]string
		action plan.Action
	}{
		{"only this role trusted it", map[string]*iampolicy.Policy{tRoleName: nil}, map[string]string{vocab.ManagedByKey: vocab.ManagedByValue}, plan.Delete},
		{"another role trusts it", map[string]*iampolicy.Policy{tRoleName: nil, "sdc-other": other}, map[string]string{vocab.ManagedByKey: vocab.ManagedByValue}, plan.Unchanged},
		{"made by someone else", map[string]*iampolicy.Policy{tRoleName: nil}, nil, plan.Unchanged},
	}
	for _, c := range cases {
		o := afterBind(t)
		o.Provider = &iamread.Provider{ARN: tProvider, ClientIDs: []string{vocab.DefaultAudience}, Tags: c.tags}
		c.trusts[tRoleName] = o.Role.Trust
		o.Trusts = c.trusts
		r := unbindRequest()
		r.PruneProvider = true
		res := unbindPlan(t, r, o)
		p := byID(res)["provider"]
		if p.Action != c.action {
			t.Errorf("%s: provider %s %v", c.name, p.Action, p.Notes)
		}
		if c.action == plan.Delete && (!reflect.DeepEqual(p.Deps, []string{"role"}) || p.Op.(deleteProvider).ARN != tProvider) {
			t.Errorf("%s: deps %v, op %+v", c.name, p.Deps, p.Op)
		}
	}
}

// UnbindPlan is pure: the request and the observation are the same after planning.
func TestUnbindPlanLeavesItsInputsUntouched(t *testing.T) {
	t.Parallel()
	for _, shared := range []bool{false, true} {
		r, o := unbindRequest(), afterBind(t)
		if shared {
			secondBinding(t, o)
		}
		before := snapshotUnbind(t, r, o)
		unbindPlan(t, r, o)
		if after := snapshotUnbind(t, r, o); after != before {
			t.Errorf("shared=%v: planning changed its inputs", shared)
		}
	}
}

func snapshotUnbind(t *testing.T, r *UnbindRequest, o *UnbindObserved) string {
	t.Helper()
	return snapshot(t, &Request{Namespace: r.Namespace, ServiceAccount: r.ServiceAccount, RoleName: r.RoleName},
		&Observed{Cluster: o.Cluster, Identity: o.Identity, Names: o.Names, Role: o.Role, Policy: o.Policy(), ServiceAccount: o.ServiceAccount}) +
		o.Role.Trust.String()
}

func TestUnbindRequestValidate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		r    UnbindRequest
		flag string
	}{
		{UnbindRequest{Namespace: "Bad_NS", ServiceAccount: "sdc"}, "--namespace"},
		{UnbindRequest{Namespace: "ns1", ServiceAccount: "no/slash"}, "--service-account"},
		{UnbindRequest{Namespace: "ns1", ServiceAccount: "sdc", RoleName: "has space"}, "--role-name"},
		{UnbindRequest{Namespace: "ns1", ServiceAccount: "sdc", RoleName: strings.Repeat("r", 65)}, "--role-name"},
		{UnbindRequest{Namespace: "ns1", ServiceAccount: "sdc", Mechanism: "irsa+pod-identity"}, "--mechanism"},
	}
	for _, c := range cases {
		err := c.r.Validate()
		if err == nil || !strings.Contains(err.Error(), c.flag) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%+v: %v, want a one-line error naming %s", c.r, err, c.flag)
		}
	}
	if err := (&UnbindRequest{Namespace: "ns1", ServiceAccount: "sdc", RoleName: "sdc-x", Mechanism: vocab.MechanismPodIdentity}).Validate(); err != nil {
		t.Error(err)
	}
}
