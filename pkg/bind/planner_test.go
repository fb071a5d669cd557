package bind

import (
	"encoding/json"
	"reflect"
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
	tRoleName = "sdc-demo-ns1-sdc"
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
	c := &cluster.Cluster{Name: "demo", Region: "us-west-2", Partition: "aws", Issuer: tIssuer, Source: cluster.SourceEKSClusterFlag}
	id := sdcaws.Identity{Account: tAccount, Partition: "aws", ARN: "arn:aws:iam::123456789012:user/admin"}
	return &Observed{Cluster: c, Identity: id, Names: NamesFor(r, c, id), Now: tNow, Thumbprint: tThumb}
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
			o.Provider = &iamread.Provider{ARN: tProvider, ClientIDs: op.ClientIDs, Thumbprints: op.Thumbprints}
		case createPolicy:
			o.Policy = &iamread.Policy{ARN: tPolicy, DefaultVersion: "v1", Document: mustParse(t, op.Document), Tags: op.Tags}
		case createRole:
			o.Role = &iamread.Role{ARN: tRole, Name: op.Name, Trust: mustParse(t, op.Trust), Tags: op.Tags}
		case attachPolicy:
			o.Role.Attached = append(o.Role.Attached, op.PolicyARN)
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
	role := change(t, res, "role").Op.(createRole)
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
	for k, v := range map[string]string{vocab.ManagedByKey: vocab.ManagedByValue, vocab.TagCluster: "demo", vocab.TagNamespace: "ns1",
		vocab.TagServiceAccount: "sdc", vocab.TagStages: "v1 s3 bucket=ingest"} {
		if role.Tags[k] != v {
			t.Errorf("role tag %s = %q, want %q", k, role.Tags[k], v)
		}
	}
	sa := change(t, res, "serviceaccount").Op.(applyServiceAccount)
	if sa.Config.Annotations[vocab.RoleARNAnnotation] != tRole || sa.Config.Annotations[vocab.RegionalSTSAnnotation] != "true" {
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

// trust merge: the result admits exactly what the old trust admitted plus this ServiceAccount, and every
// other statement keeps its meaning (a Deny included).
func TestPlanMergesTheTrust(t *testing.T) {
	t.Parallel()
	other := iampolicy.WebIdentityStatement(tProvider, tHost, "team", "etl", vocab.DefaultAudience)
	otherProvider := iampolicy.WebIdentityStatement("arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/FFFF", "oidc.eks.eu-west-1.amazonaws.com/id/FFFF", "ns1", "sdc", vocab.DefaultAudience)
	deny := iampolicy.Statement{Effect: iampolicy.Deny, Principal: &iampolicy.Principal{Values: map[string]iampolicy.Values{"Federated": {tProvider}}},
		Action:    iampolicy.Values{vocab.ActionAssumeRoleWithWebIdentity},
		Condition: iampolicy.Conditions{"StringLike": {tHost + ":sub": {"system:serviceaccount:quarantine:*"}}}}
	ec2 := iampolicy.Statement{Sid: "EC2", Effect: iampolicy.Allow, Principal: &iampolicy.Principal{Values: map[string]iampolicy.Values{"Service": {"ec2.amazonaws.com"}}},
		Action: iampolicy.Values{"sts:AssumeRole"}}
	mine := iampolicy.WebIdentityStatement(tProvider, tHost, "ns1", "sdc", vocab.DefaultAudience)
	cases := []struct {
		name     string
		existing []iampolicy.Statement
		ns       string
		changed  bool
	}{
		{"other ServiceAccount's statement", []iampolicy.Statement{other}, "ns1", true},
		{"another cluster's statement", []iampolicy.Statement{otherProvider}, "ns1", true},
		{"a Deny and a service principal", []iampolicy.Statement{ec2, deny, other}, "ns1", true},
		{"a Deny of this very namespace stays a Deny", []iampolicy.Statement{deny}, "quarantine", true},
		{"already admitted", []iampolicy.Statement{ec2, mine}, "ns1", false},
	}
	subjects := []string{vocab.Subject("ns1", "sdc"), vocab.Subject("team", "etl"), vocab.Subject("quarantine", "sdc"),
		vocab.Subject("ns1", "other"), vocab.Subject("team", "sdc"), "system:serviceaccount:x:y"}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := request(t)
			r.Namespace = c.ns
			o := bound(t, r)
			old := &iampolicy.Policy{Version: iampolicy.Version2012, Statements: c.existing}
			o.Role.Trust = old
			res, err := Plan(r, o)
			if err != nil {
				t.Fatal(err)
			}
			rc := change(t, res, "role")
			if got := rc.Action == plan.Update; got != c.changed {
				t.Fatalf("role action %s, want changed=%v", rc.Action, c.changed)
			}
			merged := old
			if c.changed {
				merged = mustParse(t, rc.Op.(updateRole).Trust)
			}
			me := vocab.Subject(r.Namespace, r.ServiceAccount)
			for _, s := range subjects {
				req := webIdentity(s, vocab.DefaultAudience)
				was := iampolicy.Evaluate(req, old)
				now := iampolicy.Evaluate(req, merged)
				want := was.Allowed() || (s == me && was.Effect != iampolicy.Deny)
				if now.Allowed() != want {
					t.Errorf("%s: admitted %v, want %v (old: %s, merged: %s)", s, now.Allowed(), want, was, now)
				}
				if was.Effect == iampolicy.Deny && now.Effect != iampolicy.Deny {
					t.Errorf("%s: the Deny was lost", s)
				}
			}
			for i, s := range old.Statements {
				if string(merged.Statements[i].Sid) != s.Sid || !(&iampolicy.Policy{Statements: []iampolicy.Statement{merged.Statements[i]}}).Equal(&iampolicy.Policy{Statements: []iampolicy.Statement{s}}) {
					t.Errorf("statement %d changed", i)
				}
			}
		})
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
	op, ok := pc.Op.(newPolicyVersion)
	if pc.Action != plan.Update || !ok || op.ARN != tPolicy || !strings.Contains(op.Document, "other-bucket") {
		t.Fatalf("policy change %s %+v", pc.Action, pc.Op)
	}
	rc := change(t, res, "role")
	ru, ok := rc.Op.(updateRole)
	if !ok || ru.Trust != "" || ru.Tags[vocab.TagStages] != "v1 s3 bucket=other-bucket" {
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
	trust := mustParse(t, change(t, res, "role").Op.(createRole).Trust)
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
