package bind

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sdcaws "github.com/kubectl-sdc/kubectl-sdc/pkg/aws"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/catalog"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/cluster"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/doctor"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iamread"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/plan"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// The planner's world: EKS cluster "demo" in us-west-2 of account 123456789012, binding ns1/sdc with the s3
// stage on bucket "ingest".
const (
	tAccount  = "123456789012"
	tIssuer   = "https://oidc.eks.us-west-2.amazonaws.com/id/ABCDEF0123456789"
	tHost     = "oidc.eks.us-west-2.amazonaws.com/id/ABCDEF0123456789"
	tProvider = "arn:aws:iam::123456789012:oidc-provider/" + tHost
	tRoleName = "sdc-demo.us-west-2+ns1+sdc"
	tCluster  = "arn:aws:eks:us-west-2:123456789012:cluster/demo"
	tRole     = "arn:aws:iam::123456789012:role/" + tRoleName
	tPolicy   = "arn:aws:iam::123456789012:policy/" + tRoleName
	tThumb    = "0123456789abcdef0123456789abcdef01234567"
)

var tNow = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

func request(t *testing.T) *Request {
	t.Helper()
	cat, err := catalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	return &Request{Namespace: "ns1", ServiceAccount: "sdc", FSGroup: vocab.DefaultFSGroup, Restart: true, RegionalSTS: true,
		Catalog: cat, Selection: catalog.Selection{Stages: []string{"s3"}, Params: map[string]string{"bucket": "ingest"}}}
}

// fresh is the observation of an account and cluster where nothing of the binding exists yet.
func fresh(r *Request) *Observed {
	c := &cluster.Cluster{Name: "demo", Region: "us-west-2", Partition: "aws", Issuer: tIssuer, ARN: tCluster, Source: cluster.SourceEKSClusterFlag}
	id := sdcaws.Identity{Account: tAccount, Partition: "aws", ARN: "arn:aws:iam::123456789012:user/admin"}
	o := &Observed{Cluster: c, Identity: id, Names: NamesFor(r, c, id, nil), Now: tNow, Thumbprint: tThumb}
	if r.target() != "" {
		// The planner's convention: a --target-profile means its credentials are of the target's account.
		o.Target = targetNames(r)
		if r.TargetProfile != "" {
			o.Target.Managed = true
			o.Target.Identity = sdcaws.Identity{Account: o.Target.Parsed.Account, Partition: "aws", ARN: "arn:aws:iam::" + o.Target.Parsed.Account + ":user/admin"}
		}
	}
	return o
}

// bound is the observation after a bind of r: what applying fresh's plan leaves behind.
func bound(t *testing.T, r *Request) *Observed {
	t.Helper()
	o := fresh(r)
	rr := *r
	if o.Deployment == nil {
		rr.CreateDeployment, rr.Image = true, "streamsets/datacollector:5.11.0" // the Deployment is the caller's to observe
	}
	res, err := Plan(&rr, o)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range res.Plan.Changes {
		switch op := c.Op.(type) {
		case createProvider:
			o.Provider = &iamread.Provider{ARN: tProvider, ClientIDs: op.ClientIDs, Thumbprints: op.Thumbprints, Tags: op.Tags}
		case writePolicy:
			o.Policy = &iamread.Policy{ARN: op.ARN, DefaultVersion: "v1", Document: mustParse(t, c.After), Tags: op.Tags}
		case writeTrust:
			o.Role = createdRole(t, tAccount, op.Create)
		case attachPolicy:
			o.Role.Attached = append(o.Role.Attached, op.PolicyARN)
		case inTarget:
			switch op := op.Op.(type) {
			case writeTrust:
				o.Target.Role = createdRole(t, o.Target.Parsed.Account, op.Create)
			case writePolicy:
				o.Target.Policy = &iamread.Policy{ARN: op.ARN, DefaultVersion: "v1", Document: mustParse(t, c.After), Tags: op.Tags}
			case attachPolicy:
				o.Target.Role.Attached = append(o.Target.Role.Attached, op.PolicyARN)
			}
		case createNamespace:
			o.Namespace = &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: op.Name}}
		case applyServiceAccount:
			at := metav1.NewTime(tNow.Add(-time.Hour))
			o.ServiceAccount = &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: *op.Config.Name, Namespace: *op.Config.Namespace,
				Annotations: op.Config.Annotations,
				ManagedFields: []metav1.ManagedFieldsEntry{{Manager: vocab.FieldManager, Operation: metav1.ManagedFieldsOperationApply, Time: &at,
					FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:metadata":{"f:annotations":{"f:eks.amazonaws.com/role-arn":{},"f:eks.amazonaws.com/sts-regional-endpoints":{}}}}`)}}}}}
		}
	}
	return o
}

// createdRole is the role IAM holds after c: at its path, with its boundary and settings (IAM's default
// maximum session is an hour).
func createdRole(t *testing.T, account string, c *createRole) *iamread.Role {
	t.Helper()
	path := c.Path
	if path == "" {
		path = "/"
	}
	maxSession := c.MaxSessionDuration
	if maxSession == 0 {
		maxSession = 3600
	}
	return &iamread.Role{ARN: vocab.RoleARNAt("aws", account, path, c.Name), Name: c.Name, Trust: mustParse(t, c.Trust), Tags: c.Tags,
		BoundaryARN: c.Boundary, Description: c.Description, MaxSessionDuration: maxSession}
}

func mustParse(t *testing.T, doc string) *iampolicy.Policy {
	t.Helper()
	p, err := iampolicy.Parse([]byte(doc))
	if err != nil {
		t.Fatalf("%v: %s", err, doc)
	}
	return p
}

func change(t *testing.T, res *Result, id string) *plan.Change {
	t.Helper()
	for _, c := range res.Plan.Changes {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("no change %q in the plan", id)
	return nil
}

func actions(res *Result) map[string]plan.Action {
	m := map[string]plan.Action{}
	for _, c := range res.Plan.Changes {
		m[c.ID] = c.Action
	}
	return m
}

// webIdentity is the request STS evaluates for a token of subject with audience through tProvider.
func webIdentity(subject, audience string) iampolicy.Request {
	return iampolicy.WebIdentityRequest(tProvider, tHost, subject, audience)
}

func TestPlanFreshCreatesEverythingInTheGuidesShape(t *testing.T) {
	t.Parallel()
	r := request(t)
	r.Deployment, r.CreateDeployment, r.Image = "sdc", true, "streamsets/datacollector:5.11.0"
	res, err := Plan(r, fresh(r))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]plan.Action{"provider": plan.Create, "policy": plan.Create, "role": plan.Create, "attach:" + tPolicy: plan.Create,
		"namespace": plan.Create, "serviceaccount": plan.Create, "deployment": plan.Create}
	if got := actions(res); !reflect.DeepEqual(got, want) {
		t.Errorf("actions = %v, want %v", got, want)
	}
	prov := change(t, res, "provider").Op.(createProvider)
	if prov.URL != tIssuer || !reflect.DeepEqual(prov.ClientIDs, []string{vocab.DefaultAudience}) || !reflect.DeepEqual(prov.Thumbprints, []string{tThumb}) {
		t.Errorf("provider %+v", prov)
	}
	role := change(t, res, "role").Op.(writeTrust).Create
	trust := mustParse(t, role.Trust)
	if len(trust.Statements) != 1 {
		t.Fatalf("trust has %d statements: %s", len(trust.Statements), role.Trust)
	}
	for subject, want := range map[string]bool{vocab.Subject("ns1", "sdc"): true, vocab.Subject("ns1", "other"): false, vocab.Subject("ns2", "sdc"): false} {
		if got := iampolicy.Evaluate(webIdentity(subject, vocab.DefaultAudience), trust).Allowed(); got != want {
			t.Errorf("trust admits %s: %v, want %v", subject, got, want)
		}
	}
	if iampolicy.Evaluate(webIdentity(vocab.Subject("ns1", "sdc"), "other-audience"), trust).Allowed() {
		t.Error("trust admits another audience")
	}
	for k, v := range map[string]string{vocab.ManagedByKey: vocab.ManagedByValue, vocab.TagCluster: "demo", vocab.TagClusterARN: tCluster, vocab.TagNamespace: "ns1",
		vocab.TagServiceAccount: "sdc", vocab.TagStages: "v1 s3 bucket=ingest"} {
		if role.Tags[k] != v {
			t.Errorf("role tag %s = %q, want %q", k, role.Tags[k], v)
		}
	}
	sa := change(t, res, "serviceaccount").Op.(applyServiceAccount)
	if sa.Config.Annotations[vocab.RoleARNAnnotation] != tRole || sa.Config.Annotations[vocab.RegionalSTSAnnotation] != "true" ||
		sa.Config.Annotations[vocab.CreatedAnnotation] != "true" {
		t.Errorf("ServiceAccount annotations %v", sa.Config.Annotations)
	}
	d := change(t, res, "deployment").Op.(applyDeployment).Config
	spec := d.Spec.Template.Spec
	if *spec.ServiceAccountName != "sdc" || *spec.SecurityContext.FSGroup != 65534 || *spec.Containers[0].Image != r.Image {
		t.Errorf("deployment spec: sa %v, fsGroup %v, image %v", *spec.ServiceAccountName, *spec.SecurityContext.FSGroup, *spec.Containers[0].Image)
	}
}

func TestPlanOfABoundStateChangesNothing(t *testing.T) {
	t.Parallel()
	r := request(t)
	o := bound(t, r)
	res, err := Plan(r, o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Plan.HasChanges() {
		for _, c := range res.Plan.Changes {
			if c.Action != plan.Unchanged {
				t.Errorf("%s: %s %v", c.ID, c.Action, c.Notes)
			}
		}
	}
	for _, c := range res.Plan.Changes {
		if c.Op != nil {
			t.Errorf("%s is unchanged but carries an operation %T", c.ID, c.Op)
		}
	}
}

// The planner is a pure function: the request and the observation are the same after planning.
func TestPlanLeavesItsInputsUntouched(t *testing.T) {
	t.Parallel()
	for name, o := range map[string]func(*testing.T, *Request) *Observed{
		"fresh": func(_ *testing.T, r *Request) *Observed { return fresh(r) },
		"bound": bound,
	} {
		t.Run(name, func(t *testing.T) {
			r := request(t)
			obs := o(t, r)
			obs.ServiceAccount = nil // the audience comes from the default, and must not be written back
			before := snapshot(t, r, obs)
			if _, err := Plan(r, obs); err != nil {
				t.Fatal(err)
			}
			if after := snapshot(t, r, obs); after != before {
				t.Errorf("planning changed its inputs:\nbefore %s\nafter  %s", before, after)
			}
			if r.Audience != "" {
				t.Errorf("Request.Audience written: %q", r.Audience)
			}
		})
	}
}

func snapshot(t *testing.T, r *Request, o *Observed) string {
	t.Helper()
	rr := *r
	rr.Catalog = nil
	b, err := json.Marshal(struct {
		R *Request
		O *Observed
	}{&rr, o})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// trust merge: the result admits exactly what the old trust admitted plus this ServiceAccount; a statement
// of bind's own shape gains the subject in its :sub list (compact), every statement of another shape keeps
// its meaning and its text, and a Deny that would keep this ServiceAccount out makes bind refuse.
func TestPlanMergesTheTrust(t *testing.T) {
	t.Parallel()
	listed := iampolicy.WebIdentityStatement(tProvider, tHost, "team", "etl", vocab.DefaultAudience)
	listed.Condition["StringEquals"][tHost+":sub"] = iampolicy.Values{vocab.Subject("team", "etl"), vocab.Subject("team", "load")}
	otherProvider := iampolicy.WebIdentityStatement("arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/FFFF", "oidc.eks.eu-west-1.amazonaws.com/id/FFFF", "ns1", "sdc", vocab.DefaultAudience)
	otherAudience := iampolicy.WebIdentityStatement(tProvider, tHost, "team", "aud", "other.example.com")
	wildcard := iampolicy.Statement{Sid: "Ops", Effect: iampolicy.Allow, Principal: &iampolicy.Principal{Values: map[string]iampolicy.Values{"Federated": {tProvider}}},
		Action:    iampolicy.Values{vocab.ActionAssumeRoleWithWebIdentity},
		Condition: iampolicy.Conditions{"StringLike": {tHost + ":sub": {"system:serviceaccount:ops:*"}}, "StringEquals": {tHost + ":aud": {vocab.DefaultAudience}}}}
	deny := iampolicy.Statement{Effect: iampolicy.Deny, Principal: &iampolicy.Principal{Values: map[string]iampolicy.Values{"Federated": {tProvider}}},
		Action:    iampolicy.Values{vocab.ActionAssumeRoleWithWebIdentity},
		Condition: iampolicy.Conditions{"StringLike": {tHost + ":sub": {"system:serviceaccount:quarantine:*"}}}}
	ec2 := iampolicy.Statement{Sid: "EC2", Effect: iampolicy.Allow, Principal: &iampolicy.Principal{Values: map[string]iampolicy.Values{"Service": {"ec2.amazonaws.com"}}},
		Action: iampolicy.Values{"sts:AssumeRole"}}
	mine := iampolicy.WebIdentityStatement(tProvider, tHost, "ns1", "sdc", vocab.DefaultAudience)
	cases := []struct {
		name       string
		existing   []iampolicy.Statement
		ns         string
		changed    bool
		statements int    // in the merged trust
		refused    string // substring of the refusal, when bind refuses
	}{
		{"compact: joins the list of a statement of bind's shape", []iampolicy.Statement{listed}, "ns1", true, 1, ""},
		{"another cluster's statement: a statement is added", []iampolicy.Statement{otherProvider}, "ns1", true, 2, ""},
		{"another audience's statement: a statement is added", []iampolicy.Statement{otherAudience}, "ns1", true, 2, ""},
		{"a hand-written wildcard, a Deny and a service principal stay as they are", []iampolicy.Statement{ec2, wildcard, deny, listed}, "ns1", true, 4, ""},
		{"a Deny of this very namespace: bind refuses", []iampolicy.Statement{deny}, "quarantine", false, 0, "explicitly denied"},
		{"already admitted: no change", []iampolicy.Statement{ec2, mine}, "ns1", false, 2, ""},
		{"already in a list: no change", []iampolicy.Statement{listed}, "team", false, 1, ""},
	}
	subjects := []string{vocab.Subject("ns1", "sdc"), vocab.Subject("team", "etl"), vocab.Subject("team", "load"), vocab.Subject("team", "sdc"),
		vocab.Subject("quarantine", "sdc"), vocab.Subject("ops", "x"), vocab.Subject("ns1", "other"), "system:serviceaccount:x:y"}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := request(t)
			r.Namespace = c.ns
			if c.ns == "team" {
				r.ServiceAccount = "etl"
			}
			o := bound(t, r)
			old := &iampolicy.Policy{Version: iampolicy.Version2012, Statements: c.existing}
			o.Role.Trust = old
			res, err := Plan(r, o)
			if c.refused != "" {
				if err == nil || !strings.Contains(err.Error(), c.refused) {
					t.Fatalf("err = %v, want a refusal containing %q", err, c.refused)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			rc := change(t, res, "role")
			if got := rc.Action == plan.Update; got != c.changed {
				t.Fatalf("role action %s, want changed=%v", rc.Action, c.changed)
			}
			merged := mustParse(t, rc.After)
			if len(merged.Statements) != c.statements {
				t.Errorf("%d statements, want %d:\n%s", len(merged.Statements), c.statements, rc.After)
			}
			me := vocab.Subject(r.Namespace, r.ServiceAccount)
			for _, aud := range []string{vocab.DefaultAudience, "other.example.com"} {
				for _, s := range subjects {
					req := webIdentity(s, aud)
					was, now := iampolicy.Evaluate(req, old), iampolicy.Evaluate(req, merged)
					want := was.Allowed() || (s == me && aud == vocab.DefaultAudience)
					if now.Allowed() != want {
						t.Errorf("%s (aud %s): admitted %v, want %v (old: %s, merged: %s)", s, aud, now.Allowed(), want, was, now)
					}
					if was.Effect == iampolicy.Deny && now.Effect != iampolicy.Deny {
						t.Errorf("%s: the Deny was lost", s)
					}
				}
			}
			// Statements of another shape keep their text; bind's own shape may only gain this subject.
			for _, s := range old.Statements {
				if slices.ContainsFunc(merged.Statements, func(m iampolicy.Statement) bool { return m.Equivalent(s) && m.Sid == s.Sid }) {
					continue
				}
				if s.Effect != iampolicy.Allow || s.Condition["StringEquals"][tHost+":sub"] == nil || s.Condition["StringLike"] != nil {
					t.Errorf("a statement of another shape changed: %+v", s)
				}
			}
		})
	}
}

// The trust's size is checked against IAM's limit before anything is written.
func TestPlanRefusesATrustOverIAMsLimit(t *testing.T) {
	t.Parallel()
	r := request(t)
	o := bound(t, r)
	big := iampolicy.WebIdentityStatement(tProvider, tHost, "team", "x0", vocab.DefaultAudience)
	for i := 1; i < 60; i++ {
		big.Condition["StringEquals"][tHost+":sub"] = append(big.Condition["StringEquals"][tHost+":sub"], vocab.Subject("team", fmt.Sprintf("x%d", i)))
	}
	o.Role.Trust = iampolicy.NewPolicy(big)
	r.RoleName = tRoleName // shared on purpose
	_, err := Plan(r, o)
	if err == nil || !strings.Contains(err.Error(), "over the 2048 IAM allows") || !strings.Contains(err.Error(), "fit") || !strings.Contains(err.Error(), "--trust-policy-limit") {
		t.Fatalf("err = %v", err)
	}
	r.TrustPolicyLimit = vocab.MaxTrustPolicyRaised
	res, err := Plan(r, o)
	if err != nil {
		t.Fatalf("under a raised quota: %v", err)
	}
	if !slices.ContainsFunc(change(t, res, "role").Notes, func(n string) bool { return strings.Contains(n, "of 4096 characters; admits 61 ServiceAccount") }) {
		t.Errorf("notes %v", change(t, res, "role").Notes)
	}
}

// A role or policy whose kubectl-sdc tags name another binding is refused, unless --role-name shares it.
func TestPlanRefusesAnotherBindingsRole(t *testing.T) {
	t.Parallel()
	r := request(t)
	o := bound(t, r)
	o.Role.Tags[vocab.TagNamespace], o.Role.Tags[vocab.TagServiceAccount] = "a-b", "c"
	_, err := Plan(r, o)
	if err == nil || !strings.Contains(err.Error(), "ServiceAccount a-b/c of cluster "+tCluster) || !strings.Contains(err.Error(), "--role-name "+tRoleName) {
		t.Fatalf("err = %v", err)
	}
	r.RoleName = tRoleName
	if _, err := Plan(r, o); err != nil {
		t.Errorf("shared on purpose: %v", err)
	}
	// The same for a role of another cluster of the same name in another region.
	r2 := request(t)
	o2 := bound(t, r2)
	o2.Role.Tags[vocab.TagClusterARN] = "arn:aws:eks:eu-west-1:123456789012:cluster/demo"
	if _, err := Plan(r2, o2); err == nil || !strings.Contains(err.Error(), "eu-west-1") {
		t.Errorf("another region's cluster: %v", err)
	}
}

// Two bindings share a role on purpose: one policy, each binding's statements kept, a rerun a no-op.
func TestPlanSharedRoleKeepsOnePolicyWithEveryBindingsStatements(t *testing.T) {
	t.Parallel()
	one := request(t)
	one.RoleName = "race"
	o := bound(t, one)
	if o.Names.PolicyName != "race" {
		t.Fatalf("policy name %q, want the role's", o.Names.PolicyName)
	}
	two := request(t)
	two.RoleName, two.ServiceAccount = "race", "other"
	two.Selection.Params["bucket"] = "bucket-two"
	o2 := *o
	o2.Names = NamesFor(two, o.Cluster, o.Identity, nil)
	res, err := Plan(two, &o2)
	if err != nil {
		t.Fatal(err)
	}
	pc := change(t, res, "policy")
	merged := mustParse(t, pc.After)
	for _, bucket := range []string{"ingest", "bucket-two"} {
		if !iampolicy.Evaluate(iampolicy.Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::" + bucket + "/k"}, merged).Allowed() {
			t.Errorf("the shared policy does not allow bucket %s:\n%s", bucket, pc.After)
		}
	}
	if ac := actions(res); ac["attach:"+o.Names.PolicyARN] != plan.Unchanged {
		t.Errorf("the second binding attaches again: %v", ac)
	}
	rc := change(t, res, "role")
	if op := rc.Op.(writeTrust); !op.Update || op.Tags[vocab.TagStages+"/"+o2.Names.BindingID] != "v1 s3 bucket=bucket-two" {
		t.Errorf("role op %+v", rc.Op)
	}
	// After it is applied, a rerun of either changes nothing.
	o2.Policy.Document = merged
	o2.Role.Trust = mustParse(t, rc.After)
	o2.Role.Tags = map[string]string{}
	for k, v := range o.Role.Tags {
		o2.Role.Tags[k] = v
	}
	for k, v := range rc.Op.(writeTrust).Tags {
		o2.Role.Tags[k] = v
	}
	again, err := Plan(two, &o2)
	if err != nil {
		t.Fatal(err)
	}
	o1 := o2
	o1.Names = o.Names
	first, err := Plan(one, &o1)
	if err != nil {
		t.Fatal(err)
	}
	for name, res := range map[string]*Result{"second": again, "first": first} {
		for _, c := range res.Plan.Changes {
			if c.ID != "role" && c.Action != plan.Unchanged { // the first's role retags its own stages key
				t.Errorf("rerun of the %s binding: %s %s %v", name, c.ID, c.Action, c.Notes)
			}
		}
	}
}

func TestPlanNewPolicyVersionWhenTheDocumentChanged(t *testing.T) {
	t.Parallel()
	r := request(t)
	o := bound(t, r)
	r2 := request(t)
	r2.Selection.Params["bucket"] = "other-bucket"
	res, err := Plan(r2, o)
	if err != nil {
		t.Fatal(err)
	}
	pc := change(t, res, "policy")
	op, ok := pc.Op.(writePolicy)
	if pc.Action != plan.Update || !ok || op.ARN != tPolicy || !strings.Contains(op.Want, "other-bucket") || strings.Contains(pc.After, "ingest") {
		t.Fatalf("policy change %s %+v\n%s", pc.Action, pc.Op, pc.After)
	}
	rc := change(t, res, "role")
	ru, ok := rc.Op.(writeTrust)
	if !ok || ru.Update || ru.Create != nil || ru.Tags[vocab.TagStages] != "v1 s3 bucket=other-bucket" {
		t.Errorf("role: want only the stages tag rewritten, got %s %+v", rc.Action, rc.Op)
	}
}

func TestVersionToDeleteAtIAMsLimit(t *testing.T) {
	t.Parallel()
	v := func(id string, def bool, day int) iamtypes.PolicyVersion {
		return iamtypes.PolicyVersion{VersionId: aws.String(id), IsDefaultVersion: def, CreateDate: aws.Time(time.Date(2026, 1, day, 0, 0, 0, 0, time.UTC))}
	}
	cases := []struct {
		name     string
		versions []iamtypes.PolicyVersion
		want     string
	}{
		{"one version", []iamtypes.PolicyVersion{v("v1", true, 1)}, ""},
		{"four versions: room for one more", []iamtypes.PolicyVersion{v("v1", false, 1), v("v2", false, 2), v("v3", false, 3), v("v4", true, 4)}, ""},
		{"five: the oldest non-default goes", []iamtypes.PolicyVersion{v("v5", true, 5), v("v3", false, 3), v("v2", false, 2), v("v4", false, 4), v("v6", false, 6)}, "v2"},
		{"five, the oldest is the default: the next oldest goes", []iamtypes.PolicyVersion{v("v1", true, 1), v("v2", false, 2), v("v3", false, 3), v("v4", false, 4), v("v5", false, 5)}, "v2"},
	}
	for _, c := range cases {
		if got := VersionToDelete(c.versions); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

func TestPlanRefusesAPolicyItDidNotMake(t *testing.T) {
	t.Parallel()
	r := request(t)
	o := bound(t, r)
	o.Policy.Tags = map[string]string{"team": "data"}
	r.Selection.Params["bucket"] = "changed"
	_, err := Plan(r, o)
	if err == nil || !strings.Contains(err.Error(), "--policy-name") || !strings.Contains(err.Error(), "not made by kubectl-sdc") {
		t.Errorf("err = %v", err)
	}
}

// A Deployment bind created is updated from the fields bind owns: an apply without them would remove the
// selector and the containers.
func TestPlanUpdatesADeploymentFromItsOwnedFields(t *testing.T) {
	t.Parallel()
	r := request(t)
	r.Deployment, r.CreateDeployment, r.Image = "sdc", true, "streamsets/datacollector:5.11.0"
	o := bound(t, r)
	fields := `{"f:spec":{"f:selector":{},"f:template":{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"sdc\"}":{".":{},"f:image":{},"f:name":{}}},"f:securityContext":{"f:fsGroup":{}},"f:serviceAccountName":{}}}}}`
	labels := map[string]string{"app": "sdc"}
	other := int64(1000)
	o.Deployment = &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: "sdc", Namespace: "ns1", ManagedFields: []metav1.ManagedFieldsEntry{{Manager: vocab.FieldManager, Operation: metav1.ManagedFieldsOperationApply, APIVersion: "apps/v1", FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(fields)}}}},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: labels},
			Spec: corev1.PodSpec{ServiceAccountName: "sdc", SecurityContext: &corev1.PodSecurityContext{FSGroup: &other},
				Containers: []corev1.Container{{Name: "sdc", Image: r.Image}}}}},
	}
	res, err := Plan(r, o)
	if err != nil {
		t.Fatal(err)
	}
	dc := change(t, res, "deployment")
	if dc.Action != plan.Update {
		t.Fatalf("deployment: %s", dc.Action)
	}
	ac := dc.Op.(applyDeployment).Config
	if ac.Spec.Selector == nil || ac.Spec.Selector.MatchLabels["app"] != "sdc" {
		t.Error("the apply configuration lost the selector bind owns")
	}
	if len(ac.Spec.Template.Spec.Containers) != 1 || *ac.Spec.Template.Spec.Containers[0].Image != r.Image {
		t.Error("the apply configuration lost the containers bind owns")
	}
	if *ac.Spec.Template.Spec.SecurityContext.FSGroup != 65534 {
		t.Errorf("fsGroup %d", *ac.Spec.Template.Spec.SecurityContext.FSGroup)
	}
	if !strings.Contains(dc.Before, "fsGroup: 1000") || !strings.Contains(dc.After, "fsGroup: 65534") {
		t.Errorf("diff:\n%s\n%s", dc.Before, dc.After)
	}
}

// bind trusts the audience the ServiceAccount's tokens carry (its eks.amazonaws.com/audience annotation),
// the same audience doctor checks the trust with.
func TestPlanTrustsTheServiceAccountsAudienceAsDoctorDoes(t *testing.T) {
	t.Parallel()
	r := request(t)
	o := fresh(r)
	o.Namespace = &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ns1"}}
	o.ServiceAccount = &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "sdc", Namespace: "ns1",
		Annotations: map[string]string{vocab.AudienceAnnotation: "sdc.example.com"}}}
	res, err := Plan(r, o)
	if err != nil {
		t.Fatal(err)
	}
	doctorSays := (&doctor.Target{Namespace: "ns1", ServiceAccount: "sdc", SA: o.ServiceAccount}).Audience()
	if res.Audience != "sdc.example.com" || res.Audience != doctorSays {
		t.Fatalf("bind's audience %q, doctor's %q", res.Audience, doctorSays)
	}
	trust := mustParse(t, change(t, res, "role").Op.(writeTrust).Create.Trust)
	if !iampolicy.Evaluate(webIdentity(vocab.Subject("ns1", "sdc"), "sdc.example.com"), trust).Allowed() {
		t.Error("the trust does not admit the annotated audience")
	}
	if iampolicy.Evaluate(webIdentity(vocab.Subject("ns1", "sdc"), vocab.DefaultAudience), trust).Allowed() {
		t.Error("the trust admits sts.amazonaws.com although the pods' tokens carry another audience")
	}
	if got := change(t, res, "provider").Op.(createProvider).ClientIDs; !reflect.DeepEqual(got, []string{"sdc.example.com"}) {
		t.Errorf("provider client IDs %v", got)
	}

	// An existing provider without that audience gets it added, and only it.
	o.Provider = &iamread.Provider{ARN: tProvider, ClientIDs: []string{vocab.DefaultAudience}, Thumbprints: []string{tThumb}}
	res, err = Plan(r, o)
	if err != nil {
		t.Fatal(err)
	}
	if op, ok := change(t, res, "provider").Op.(addClientID); !ok || op.ClientID != "sdc.example.com" {
		t.Errorf("provider op %+v", change(t, res, "provider").Op)
	}
}

func TestPlanNeedsTheThumbprintOnlyToCreateTheProvider(t *testing.T) {
	t.Parallel()
	r := request(t)
	o := fresh(r)
	o.Thumbprint, o.ThumbprintErr = "", errUnreachable
	if _, err := Plan(r, o); err != errUnreachable {
		t.Errorf("fresh with an unreadable issuer: %v", err)
	}
	b := bound(t, r)
	b.Thumbprint, b.ThumbprintErr = "", errUnreachable
	if _, err := Plan(r, b); err != nil {
		t.Errorf("bound with an unreadable issuer: %v", err)
	}
}

var errUnreachable = &FlagError{Flag: "issuer", Rule: "unreachable"}

func TestPlanRegionalSTSAnnotationIsRemovedOnlyWhenBindSetIt(t *testing.T) {
	t.Parallel()
	r := request(t)
	o := bound(t, r)
	r.RegionalSTS = false
	res, err := Plan(r, o)
	if err != nil {
		t.Fatal(err)
	}
	if a := change(t, res, "serviceaccount").Action; a != plan.Update {
		t.Errorf("bind's own annotation: %s, want update", a)
	}
	o.ServiceAccount.ManagedFields[0].FieldsV1.Raw = []byte(`{"f:metadata":{"f:annotations":{"f:eks.amazonaws.com/role-arn":{}}}}`)
	res, err = Plan(r, o)
	if err != nil {
		t.Fatal(err)
	}
	if a := change(t, res, "serviceaccount").Action; a != plan.Unchanged {
		t.Errorf("another manager's annotation: %s, want unchanged", a)
	}
}

func TestPlanRestartsPodsThatPredateTheAnnotationOnce(t *testing.T) {
	t.Parallel()
	r := request(t)
	r.Deployment = "sdc"
	fs := vocab.DefaultFSGroup
	annotated := tNow.Add(-time.Hour)
	deploy := func(restartedAt string) *appsv1.Deployment {
		d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "sdc", Namespace: "ns1"},
			Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{ServiceAccountName: "sdc",
				SecurityContext: &corev1.PodSecurityContext{FSGroup: &fs}}}}}
		if restartedAt != "" {
			d.Spec.Template.Annotations = map[string]string{vocab.RestartedAtAnnotation: restartedAt}
		}
		return d
	}
	pod := func(name string, created time.Time, roleEnv bool) corev1.Pod {
		p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(created)},
			Spec: corev1.PodSpec{ServiceAccountName: "sdc", Containers: []corev1.Container{{Name: "sdc"}}}}
		if roleEnv {
			p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "AWS_ROLE_ARN", Value: tRole}}
		}
		return p
	}
	cases := []struct {
		name        string
		restartedAt string
		pods        []corev1.Pod
		restart     bool
		note        bool
	}{
		{"a pod from before the annotation", "", []corev1.Pod{pod("old", annotated.Add(-time.Minute), false)}, true, false},
		{"a pod with the role env", "", []corev1.Pod{pod("new", annotated.Add(time.Minute), true)}, false, false},
		{"a restart already asked for after the annotation", annotated.Add(time.Minute).Format(time.RFC3339), []corev1.Pod{pod("old", annotated.Add(-time.Minute), false)}, false, false},
		{"a pod after the annotation without the env: the webhook skipped it", "", []corev1.Pod{pod("skipped", annotated.Add(time.Minute), false)}, false, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := bound(t, r)
			o.Deployment, o.Pods = deploy(c.restartedAt), c.pods
			res, err := Plan(r, o)
			if err != nil {
				t.Fatal(err)
			}
			_, restart := actions(res)["restart"]
			if restart != c.restart {
				t.Errorf("restart planned: %v, want %v", restart, c.restart)
			}
			if (len(res.Notes) > 0) != c.note {
				t.Errorf("notes %v", res.Notes)
			}
		})
	}
}

// bind marks the ServiceAccounts it creates, keeps the mark in its later applies (which would otherwise
// remove it), and never marks one it found.
func TestPlanMarksOnlyTheServiceAccountsItCreates(t *testing.T) {
	t.Parallel()
	r := request(t)
	o := bound(t, r)
	r.Selection.Params["bucket"] = "another" // a change, so that the ServiceAccount is applied again
	o.ServiceAccount.Annotations = map[string]string{vocab.RoleARNAnnotation: "arn:aws:iam::123456789012:role/elsewhere",
		vocab.RegionalSTSAnnotation: "true", vocab.CreatedAnnotation: "true"}
	res, err := Plan(r, o)
	if err != nil {
		t.Fatal(err)
	}
	if op, ok := change(t, res, "serviceaccount").Op.(applyServiceAccount); !ok || op.Config.Annotations[vocab.CreatedAnnotation] != "true" {
		t.Errorf("a later apply drops the mark: %+v", change(t, res, "serviceaccount").Op)
	}
	delete(o.ServiceAccount.Annotations, vocab.CreatedAnnotation)
	res, err = Plan(r, o)
	if err != nil {
		t.Fatal(err)
	}
	if op := change(t, res, "serviceaccount").Op.(applyServiceAccount); op.Config.Annotations[vocab.CreatedAnnotation] != "" {
		t.Errorf("a ServiceAccount bind found is marked as made by bind: %v", op.Config.Annotations)
	}
}

// The plan-to-apply contract: every change bind plans to write carries an operation its applier knows; a
// change with anything else is an error when the plan is made.
func TestPlansCarryOperationsTheApplierKnows(t *testing.T) {
	t.Parallel()
	r := request(t)
	res, err := Plan(r, fresh(r))
	if err != nil {
		t.Fatal(err)
	}
	if err := checkOps(res.Plan); err != nil {
		t.Fatal(err)
	}
	res.Plan.Changes[0].Op = struct{ Unknown bool }{}
	if err := checkOps(res.Plan); err == nil || !strings.Contains(err.Error(), "has no operation its applier knows") {
		t.Errorf("an unknown operation: %v", err)
	}
}

// A binding made before plugins.yaml was read against SDC's source (the Kinesis Consumer's statements
// then granted dynamodb:UpdateTable and not the DeleteTable its reset path calls): a rerun of bind with
// today's catalog changes nothing but the policy, by one new version whose document the plan shows.
func TestPlanRerunBringsAnOlderCatalogsPolicyUpToDate(t *testing.T) {
	t.Parallel()
	old, err := catalog.Load("../catalog/testdata/plugins-before-calls.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sel := catalog.Selection{Stages: []string{"kinesis-consumer"}, Params: map[string]string{"stream": "clicks", "application": "clicks-app"}}
	r := request(t)
	r.Catalog, r.Selection = old, sel
	o := bound(t, r)
	if doc := o.Policy.Document.Compact(); !strings.Contains(string(doc), "dynamodb:UpdateTable") || strings.Contains(string(doc), "dynamodb:DeleteTable") {
		t.Fatalf("the older binding's policy is not the older catalog's: %s", doc)
	}

	rerun := request(t)
	rerun.Selection = sel
	res, err := Plan(rerun, o)
	if err != nil {
		t.Fatal(err)
	}
	var changed []string
	for _, c := range res.Plan.Changes {
		if c.Action != plan.Unchanged {
			changed = append(changed, c.ID+" "+string(c.Action))
		}
	}
	if len(changed) != 1 || changed[0] != "policy "+string(plan.Update) {
		t.Fatalf("changes %v, want exactly the policy updated", changed)
	}
	pc := change(t, res, "policy")
	op, ok := pc.Op.(writePolicy)
	if !ok || op.Create || op.ARN != o.Policy.ARN {
		t.Fatalf("policy change %+v, want a new version of %s", pc.Op, o.Policy.ARN)
	}
	for _, want := range []string{"dynamodb:DeleteTable", "dynamodb:DescribeTable"} {
		if !strings.Contains(pc.After, want) || !strings.Contains(op.Want, want) {
			t.Errorf("the new version lacks %s:\n%s", want, pc.After)
		}
	}
	if strings.Contains(pc.After, "dynamodb:UpdateTable") || !strings.Contains(pc.Before, "dynamodb:UpdateTable") {
		t.Errorf("the plan does not show UpdateTable going:\nbefore %s\nafter  %s", pc.Before, pc.After)
	}
	// Rerun once more on what the update leaves: nothing to do.
	o.Policy.Document = mustParse(t, pc.After)
	if again, err := Plan(rerun, o); err != nil || again.Plan.HasChanges() {
		t.Errorf("a second rerun plans changes (%v)", err)
	}
}
