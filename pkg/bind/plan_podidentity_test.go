package bind

import (
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/eksread"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iamread"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/plan"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// podRequest is request with --mechanism pod-identity.
func podRequest(t *testing.T) *Request {
	r := request(t)
	r.Via, r.RegionalSTS = vocab.MechanismPodIdentity, false
	return r
}

// podFresh is fresh with the Pod Identity agent add-on ACTIVE.
func podFresh(r *Request) *Observed {
	o := fresh(r)
	o.Thumbprint = ""
	o.Agent = eksread.Agent{AddonStatus: "ACTIVE"}
	return o
}

// podApply makes o what applying res's plan leaves behind (the Pod Identity operations and the IAM ones).
func podApply(t *testing.T, res *Result, o *Observed) {
	t.Helper()
	for _, c := range res.Plan.Changes {
		switch op := c.Op.(type) {
		case writePolicy:
			o.Policy = &iamread.Policy{ARN: op.ARN, DefaultVersion: "v1", Document: mustParse(t, c.After), Tags: op.Tags}
		case writeTrust:
			switch {
			case op.Create != nil:
				o.Role = &iamread.Role{ARN: vocab.RoleARN("aws", tAccount, op.Create.Name), Name: op.Create.Name, Trust: mustParse(t, op.Create.Trust), Tags: op.Create.Tags}
			case op.Update:
				o.Role.Trust = mustParse(t, c.After)
			}
		case attachPolicy:
			o.Role.Attached = append(o.Role.Attached, op.PolicyARN)
		case createNamespace:
			o.Namespace = &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: op.Name}}
		case applyServiceAccount:
			o.ServiceAccount = &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: *op.Config.Name, Namespace: *op.Config.Namespace,
				Annotations: op.Config.Annotations}}
		case createAssociation:
			o.Association = &eksread.Association{Summary: eksread.Summary{ID: "a-0123456789abcdefg", Namespace: op.Namespace, ServiceAccount: op.ServiceAccount},
				Cluster: op.Cluster, RoleARN: op.RoleARN, Created: tNow, Modified: tNow}
		case updateAssociation:
			o.Association.RoleARN = op.RoleARN
		}
	}
}

func TestPodIdentityFreshMakesNoProviderAndAnAssociation(t *testing.T) {
	t.Parallel()
	r := podRequest(t)
	o := podFresh(r)
	res, err := Plan(r, o)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]plan.Action{"policy": plan.Create, "role": plan.Create, "attach:" + tPolicy: plan.Create,
		"namespace": plan.Create, "association": plan.Create, "serviceaccount": plan.Create}
	if got := actions(res); !mapsEqualActions(got, want) {
		t.Errorf("actions = %v, want %v", got, want)
	}
	role := change(t, res, "role").Op.(writeTrust)
	trust := mustParse(t, role.Create.Trust)
	if len(trust.Statements) != 1 || !trust.Statements[0].Equivalent(iampolicy.PodIdentityStatement()) {
		t.Errorf("trust %s, want the guide's Pod Identity statement alone", role.Create.Trust)
	}
	if !strings.HasPrefix(role.Create.Description, "EKS Pod Identity role of ServiceAccount ns1/sdc") {
		t.Errorf("description %q", role.Create.Description)
	}
	if _, ok := role.Edit.(AdmitPodIdentity); !ok {
		t.Errorf("trust edit %T", role.Edit)
	}
	assoc := change(t, res, "association")
	op := assoc.Op.(createAssociation)
	if op.Cluster != "demo" || op.Namespace != "ns1" || op.ServiceAccount != "sdc" || op.RoleARN != tRole || op.Tags[vocab.ManagedByKey] != vocab.ManagedByValue ||
		strings.Join(assoc.Deps, ",") != "role" || assoc.Name != "demo/ns1/sdc" {
		t.Errorf("association %+v, deps %v", op, assoc.Deps)
	}
	sa := change(t, res, "serviceaccount").Op.(applyServiceAccount)
	if len(sa.Config.Annotations) != 0 {
		t.Errorf("the ServiceAccount is annotated: %v", sa.Config.Annotations)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "no SDC image to check") {
		t.Errorf("warnings %q", res.Warnings)
	}
	if out := res.Output(true, nil); out.Mechanism != "pod-identity" || out.OIDCProviderARN != "" || out.PodIdentityAssociation != "demo/ns1/sdc" {
		t.Errorf("output %+v", out)
	}

	// A second run on what the first made changes nothing.
	podApply(t, res, o)
	again, err := Plan(r, o)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range again.Plan.Changes {
		if c.Action != plan.Unchanged || c.Op != nil {
			t.Errorf("second run: %s %s %v (%T)", c.ID, c.Action, c.Notes, c.Op)
		}
	}
}

func mapsEqualActions(a, b map[string]plan.Action) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestPodIdentityNeedsTheAgent(t *testing.T) {
	t.Parallel()
	r := podRequest(t)
	o := podFresh(r)
	o.Agent = eksread.Agent{AutoMode: new(bool)}
	_, err := Plan(r, o)
	if err == nil || !strings.Contains(err.Error(), "cluster demo cannot serve EKS Pod Identity: add-on eks-pod-identity-agent is not installed") ||
		!strings.Contains(err.Error(), "aws eks create-addon --cluster-name demo --addon-name eks-pod-identity-agent --region us-west-2") ||
		!strings.Contains(err.Error(), "Nothing was changed") {
		t.Errorf("no agent: %v", err)
	}
	o.Agent = eksread.Agent{AddonStatus: "DEGRADED", AutoMode: new(bool)}
	if _, err := Plan(r, o); err == nil || !strings.Contains(err.Error(), "is DEGRADED") {
		t.Errorf("a degraded add-on: %v", err)
	}
	on := true
	o.Agent = eksread.Agent{AutoMode: &on}
	if _, err := Plan(r, o); err != nil {
		t.Errorf("Auto Mode: %v", err)
	}
}

// An IRSA binding moved to Pod Identity keeps its role and its IRSA: the trust gains the Pod Identity
// statement beside the web identity one, and the annotation stays; --remove-irsa then releases the
// annotation bind set and takes the subject out of the web identity trust, after the pods restarted.
func TestPodIdentityOverIRSA(t *testing.T) {
	t.Parallel()
	irsa := request(t)
	o := bound(t, irsa)
	o.Agent = eksread.Agent{AddonStatus: "ACTIVE"}
	labels := map[string]string{"app": "sdc"}
	o.Deployment = &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "sdc", Namespace: "ns1"}, Spec: appsv1.DeploymentSpec{
		Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{ServiceAccountName: "sdc",
			SecurityContext: &corev1.PodSecurityContext{FSGroup: func() *int64 { v := vocab.DefaultFSGroup; return &v }()},
			Containers:      []corev1.Container{{Name: "sdc", Image: "streamsets/datacollector:5.11.0"}}}}}}
	irsaPod := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "sdc-1", Namespace: "ns1", CreationTimestamp: metav1.NewTime(tNow.Add(-time.Minute))},
		Spec: corev1.PodSpec{ServiceAccountName: "sdc", Containers: []corev1.Container{{Name: "sdc", Env: []corev1.EnvVar{{Name: vocab.EnvRoleARN, Value: tRole}}}}}}
	o.Pods = []corev1.Pod{irsaPod}
	o.Workloads = []Workload{{Deployment: o.Deployment, Pods: o.Pods}}

	r := podRequest(t)
	r.Deployment = "sdc"
	o.Names = NamesFor(r, o.Cluster, o.Identity, o.ServiceAccount)
	if o.Names.RoleSource != RoleFromAnnotation || o.Names.RoleARN != tRole {
		t.Fatalf("names %+v", o.Names)
	}
	res, err := Plan(r, o)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]plan.Action{"policy": plan.Unchanged, "role": plan.Update, "attach:" + tPolicy: plan.Unchanged, "namespace": plan.Unchanged,
		"association": plan.Create, "serviceaccount": plan.Unchanged, "deployment": plan.Unchanged}
	if got := actions(res); !mapsEqualActions(got, want) {
		t.Errorf("actions = %v, want %v", got, want)
	}
	trust := mustParse(t, change(t, res, "role").After)
	if !iampolicy.Evaluate(webIdentity(vocab.Subject("ns1", "sdc"), vocab.DefaultAudience), trust).Allowed() {
		t.Error("the web identity trust was lost")
	}
	if d, _ := iampolicy.AdmitsPodIdentity(trust, session(res), tRole); !d.Allowed() {
		t.Errorf("Pod Identity not admitted: %s", d)
	}
	if len(res.Notes) != 1 || !strings.Contains(res.Notes[0], "keeps its IRSA annotation") {
		t.Errorf("notes %q", res.Notes)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "Deployment ns1/sdc (container sdc) runs streamsets/datacollector:5.11.0: which AWS SDK for Java SDC 5.11.0's aws-lib bundles is not documented") {
		t.Errorf("warnings %q", res.Warnings)
	}
	podApply(t, res, o)

	// --remove-irsa: the annotation bind set goes, the pods restart, then the subject leaves the trust.
	r.RemoveIRSA = true
	res, err = Plan(r, o)
	if err != nil {
		t.Fatal(err)
	}
	want = map[string]plan.Action{"policy": plan.Unchanged, "role": plan.Unchanged, "attach:" + tPolicy: plan.Unchanged, "namespace": plan.Unchanged,
		"association": plan.Unchanged, "serviceaccount": plan.Update, "deployment": plan.Unchanged, "restart": plan.Update, "trust-irsa": plan.Update}
	if got := actions(res); !mapsEqualActions(got, want) {
		t.Errorf("actions = %v, want %v", got, want)
	}
	if sa := change(t, res, "serviceaccount").Op.(applyServiceAccount); len(sa.Config.Annotations) != 0 {
		t.Errorf("the apply keeps annotations %v", sa.Config.Annotations)
	}
	revoke := change(t, res, "trust-irsa")
	if strings.Join(revoke.Deps, ",") != "serviceaccount,restart" {
		t.Errorf("the trust is revoked after %v", revoke.Deps)
	}
	after := mustParse(t, revoke.After)
	if iampolicy.Evaluate(webIdentity(vocab.Subject("ns1", "sdc"), vocab.DefaultAudience), after).Allowed() {
		t.Error("the web identity trust still admits the ServiceAccount")
	}
	if d, _ := iampolicy.AdmitsPodIdentity(after, session(res), tRole); !d.Allowed() {
		t.Error("the revoke lost Pod Identity")
	}
	if _, ok := revoke.Op.(writeTrust).Edit.(RevokeWebIdentity); !ok {
		t.Errorf("revoke edit %T", revoke.Op.(writeTrust).Edit)
	}

	// An annotation another tool set is not bind's to remove: it stays, and so does the trust serving it.
	o2 := *o
	sa := o.ServiceAccount.DeepCopy()
	sa.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "helm", Operation: metav1.ManagedFieldsOperationUpdate,
		FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:metadata":{"f:annotations":{"f:eks.amazonaws.com/role-arn":{}}}}`)}}}
	o2.ServiceAccount = sa
	res, err = Plan(r, &o2)
	if err != nil {
		t.Fatal(err)
	}
	if got := actions(res); got["serviceaccount"] != plan.Unchanged || got["trust-irsa"] != "" {
		t.Errorf("actions %v", got)
	}
	if len(res.Warnings) == 0 || !strings.Contains(strings.Join(res.Warnings, "\n"), "was not set by kubectl-sdc, so bind leaves it") {
		t.Errorf("warnings %q", res.Warnings)
	}
}

func TestPodIdentityUpdatesAnAssociationOfAnotherRole(t *testing.T) {
	t.Parallel()
	r := podRequest(t)
	o := podFresh(r)
	o.Association = &eksread.Association{Summary: eksread.Summary{ID: "a-1", Namespace: "ns1", ServiceAccount: "sdc"}, RoleARN: "arn:aws:iam::123456789012:role/other"}
	res, err := Plan(r, o)
	if err != nil {
		t.Fatal(err)
	}
	c := change(t, res, "association")
	if op, ok := c.Op.(updateAssociation); c.Action != plan.Update || !ok || op.ID != "a-1" || op.RoleARN != tRole {
		t.Errorf("association %s %+v", c.Action, c.Op)
	}
}

// The SDC image: a release known to bundle an older SDK is refused with the reason and the way out, a
// warning with --force; one not documented either way is a warning.
func TestPodIdentityJudgesTheSDCImage(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		image   string
		force   bool
		err     string
		warning string
	}{
		{"streamsets/datacollector:3.19.0", false, "Deployment ns1/sdc to create runs streamsets/datacollector:3.19.0: SDC 3.19.0's aws-lib bundles AWS SDK for Java 1.11.872, which reads EKS Pod Identity credentials only from 1.12.746", ""},
		{"streamsets/datacollector:3.19.0", true, "", "--force: Deployment ns1/sdc to create runs streamsets/datacollector:3.19.0"},
		{"streamsets/datacollector:3.16.0", false, "SDC 3.16.0 is older than 3.17", ""},
		{"streamsets/datacollector:5.11.0", false, "", "is not documented: it must be at least 1.12.746 (SDK v2: 2.21.30)"},
		{"streamsets/datacollector:latest", false, "", "whose tag names no SDC version"},
	} {
		r := podRequest(t)
		r.Deployment, r.CreateDeployment, r.Image, r.Force = "sdc", true, c.image, c.force
		res, err := Plan(r, podFresh(r))
		switch {
		case c.err != "":
			if err == nil || !strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), "--mechanism irsa") || !strings.Contains(err.Error(), "--force") || strings.Contains(err.Error(), "\n") {
				t.Errorf("%s: %v, want a one-line refusal with %q", c.image, err, c.err)
			}
		case err != nil:
			t.Errorf("%s: %v", c.image, err)
		case len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], c.warning):
			t.Errorf("%s: warnings %q, want %q", c.image, res.Warnings, c.warning)
		}
	}
}

func TestPodIdentityRefusesATrustThatDenies(t *testing.T) {
	t.Parallel()
	r := podRequest(t)
	o := podFresh(r)
	o.Role = &iamread.Role{ARN: tRole, Name: tRoleName, Trust: mustParse(t,
		`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":"sts:TagSession"}]}`)}
	if _, err := Plan(r, o); err == nil || !strings.Contains(err.Error(), "sts:TagSession refused by") {
		t.Errorf("a Deny of sts:TagSession: %v", err)
	}
}

func TestPodIdentityRestartsPodsThatPredateTheAssociation(t *testing.T) {
	t.Parallel()
	r := podRequest(t)
	r.Deployment = "sdc"
	o := podFresh(r)
	o.Deployment = &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "sdc", Namespace: "ns1"}, Spec: appsv1.DeploymentSpec{
		Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{ServiceAccountName: "sdc",
			SecurityContext: &corev1.PodSecurityContext{FSGroup: func() *int64 { v := vocab.DefaultFSGroup; return &v }()},
			Containers:      []corev1.Container{{Name: "sdc", Image: "streamsets/datacollector:5.11.0"}}}}}}
	old := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "old", CreationTimestamp: metav1.NewTime(tNow.Add(-time.Hour))}, Spec: corev1.PodSpec{ServiceAccountName: "sdc", Containers: []corev1.Container{{Name: "sdc"}}}}
	o.Workloads = []Workload{{Deployment: o.Deployment, Pods: []corev1.Pod{old}}}
	res, err := Plan(r, o)
	if err != nil {
		t.Fatal(err)
	}
	c := change(t, res, "restart")
	if c.Action != plan.Update || strings.Join(c.Deps, ",") != "association,serviceaccount" || !strings.Contains(c.Notes[0], "started before the association (old)") {
		t.Errorf("restart %s %v %v", c.Action, c.Deps, c.Notes)
	}
	// A pod created after the association without its environment: the webhook's fault, not a restart's.
	served := old.DeepCopy()
	served.Spec.Containers[0].Env = []corev1.EnvVar{{Name: vocab.EnvContainerCredentialsURI, Value: vocab.PodIdentityCredentialsURI}, {Name: vocab.EnvContainerTokenFile, Value: vocab.PodIdentityTokenFile}}
	o.Association = &eksread.Association{Summary: eksread.Summary{ID: "a-1", Namespace: "ns1", ServiceAccount: "sdc"}, RoleARN: tRole, Modified: tNow.Add(-2 * time.Hour)}
	o.Workloads[0].Pods = []corev1.Pod{*served}
	if res, err := Plan(r, o); err != nil || actions(res)["restart"] != "" {
		t.Errorf("pods with the environment: %v %v", actions(res), err)
	}
}

func TestPodIdentityFlags(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		change func(*Request)
		want   string
	}{
		{func(r *Request) { r.Via = "kiam" }, `--mechanism "kiam": unknown mechanism: want irsa or pod-identity`},
		{func(r *Request) { r.Via, r.RegionalSTSSet = vocab.MechanismPodIdentity, true }, "--sts-regional-endpoints: sets an annotation of IRSA's"},
		{func(r *Request) { r.RemoveIRSA = true }, "--remove-irsa: removes IRSA once EKS Pod Identity serves the ServiceAccount: it needs --mechanism pod-identity"},
		{func(r *Request) { r.Force = true }, "--force: binds an SDC image that cannot use EKS Pod Identity anyway: it is for --mechanism pod-identity only"},
	} {
		r := request(t)
		c.change(r)
		if err := r.Validate(); err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v, want %q", err, c.want)
		}
	}
	r := podRequest(t)
	r.RemoveIRSA, r.Force = true, true
	if err := r.Validate(); err != nil {
		t.Errorf("pod-identity with --remove-irsa --force: %v", err)
	}
}
