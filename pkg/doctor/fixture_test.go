package doctor

import (
	"context"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/version"

	sdcaws "github.com/kubectl-sdc/kubectl-sdc/pkg/aws"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/catalog"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/cluster"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// The fixture's world: an EKS cluster "demo" in us-west-2, and ServiceAccount ns1/sdc bound by bind to a
// role with the s3 stage on bucket "ingest", used by Deployment ns1/sdc with one mutated pod.
const (
	fxAccount   = "123456789012"
	fxIssuer    = "https://oidc.eks.us-west-2.amazonaws.com/id/ABCDEF0123456789"
	fxHost      = "oidc.eks.us-west-2.amazonaws.com/id/ABCDEF0123456789"
	fxProvider  = "arn:aws:iam::123456789012:oidc-provider/" + fxHost
	fxRoleName  = "sdc-demo.us-west-2+ns1+sdc"
	fxRole      = "arn:aws:iam::123456789012:role/" + fxRoleName
	fxPolicy    = "arn:aws:iam::123456789012:policy/" + fxRoleName
	fxBucket    = "ingest"
	fxImage     = "streamsets/datacollector:5.11.0"
	fxNamespace = "ns1"
)

var fxAnnotatedAt = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// fixture returns healthy facts; tests change them and then call finish.
func fixture(t *testing.T) *Facts {
	t.Helper()
	cat, err := catalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	doc, _, err := cat.Render(catalog.Selection{Stages: []string{"s3"}, Params: map[string]string{"bucket": fxBucket}},
		catalog.Target{Partition: "aws", Region: "us-west-2", Account: fxAccount})
	if err != nil {
		t.Fatal(err)
	}
	policy, err := iampolicy.Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	at := metav1.NewTime(fxAnnotatedAt)
	sa := corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "sdc", Namespace: fxNamespace,
		Annotations: map[string]string{vocab.RoleARNAnnotation: fxRole},
		ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl-sdc", Operation: metav1.ManagedFieldsOperationApply, Time: &at,
			FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:metadata":{"f:annotations":{"f:eks.amazonaws.com/role-arn":{}}}}`)}}}}}
	fs := vocab.DefaultFSGroup
	labels := map[string]string{"app": "sdc"}
	deploy := appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "sdc", Namespace: fxNamespace},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{
				ServiceAccountName: "sdc", SecurityContext: &corev1.PodSecurityContext{FSGroup: &fs},
				Containers: []corev1.Container{{Name: "sdc", Image: fxImage}}}}}}
	pod := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "sdc-abc", Namespace: fxNamespace, Labels: labels,
		CreationTimestamp: metav1.NewTime(fxAnnotatedAt.Add(time.Minute))},
		Spec: corev1.PodSpec{ServiceAccountName: "sdc",
			Containers: []corev1.Container{{Name: "sdc", Image: fxImage, Env: []corev1.EnvVar{
				{Name: vocab.EnvRoleARN, Value: fxRole}, {Name: vocab.EnvWebIdentityTokenFile, Value: "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"}}}},
			Volumes: []corev1.Volume{{Name: "aws-iam-token", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
				Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Audience: "sts.amazonaws.com", Path: "token"}}}}}}}},
		Status: corev1.PodStatus{Phase: corev1.PodPending}}
	webhook := admissionv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: webhookConfigName},
		Webhooks: []admissionv1.MutatingWebhook{{Name: webhookName, Rules: []admissionv1.RuleWithOperations{{
			Operations: []admissionv1.OperationType{admissionv1.Create},
			Rule:       admissionv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}}}}}}}
	return &Facts{
		Options:     Options{Namespace: fxNamespace, ServiceAccount: "sdc"},
		Catalog:     cat,
		KubeContext: "demo", KubeServer: "https://ABCDEF0123456789.gr7.us-west-2.eks.amazonaws.com",
		KubeVersion: &version.Info{GitVersion: "v1.34.4"},
		Cluster: &cluster.Cluster{Name: "demo", Region: "us-west-2", Partition: "aws", AccountID: fxAccount,
			Issuer: fxIssuer, Source: cluster.SourceEKSEndpoint},
		Identity:        &sdcaws.Identity{Account: fxAccount, ARN: "arn:aws:iam::123456789012:user/admin", Partition: "aws"},
		Operator:        &OperatorRights{Principal: "arn:aws:iam::123456789012:user/admin"},
		Region:          "us-west-2",
		ServiceAccounts: []corev1.ServiceAccount{sa},
		Deployments:     []appsv1.Deployment{deploy},
		Pods:            []corev1.Pod{pod},
		Webhooks:        []admissionv1.MutatingWebhookConfiguration{webhook},
		EnvSources:      map[string]*EnvSource{},
		EnvSourcesErr:   map[string]error{},
		ProviderARN:     fxProvider,
		Provider:        &Provider{ARN: fxProvider, ClientIDs: []string{"sts.amazonaws.com"}},
		Roles: map[string]*Role{fxRole: {ARN: fxRole, ActualARN: fxRole, Name: fxRoleName, Exists: true,
			Trust:    iampolicy.NewPolicy(iampolicy.WebIdentityStatement(fxProvider, fxHost, fxNamespace, "sdc", "")),
			Tags:     map[string]string{vocab.ManagedByKey: vocab.ManagedByValue, vocab.TagStages: "v1 s3 bucket=" + fxBucket},
			Attached: []string{fxPolicy}, Inline: map[string]*iampolicy.Policy{}}},
		Policies: map[string]*ManagedPolicy{fxPolicy: {ARN: fxPolicy, DefaultVersion: "v1", Document: policy, Exists: true}},
	}
}

// finish derives the targets and their selections the way gather does, reading roles from f.Roles.
func finish(f *Facts) {
	f.Targets = buildTargets(f)
	roleARNsToRead(f) // records each target's candidate role
	for _, t := range f.Targets {
		t.resolveSelection(f)
		t.resolveAssumeRole(f)
	}
}

// run finishes the facts and runs every check except the probes (which call out).
func run(f *Facts) *Report {
	finish(f)
	var checks []Check
	for _, c := range Checks() {
		if !c.Probe {
			checks = append(checks, c)
		}
	}
	return runChecks(context.Background(), f, checks, nil)
}

// find returns the result of check id: cluster-wide, else of the first target.
func find(t *testing.T, rep *Report, id string) Result {
	t.Helper()
	for _, r := range rep.Checks {
		if r.ID == id {
			return r
		}
	}
	if len(rep.Targets) == 0 {
		t.Fatalf("no targets, and %s is not a cluster-wide check", id)
	}
	for _, r := range rep.Targets[0].Checks {
		if r.ID == id {
			return r
		}
	}
	t.Fatalf("no result for %s", id)
	return Result{}
}

// trustDoc parses a trust policy written as JSON in a test case.
func trustDoc(t *testing.T, js string) *iampolicy.Policy {
	t.Helper()
	p, err := iampolicy.Parse([]byte(js))
	if err != nil {
		t.Fatalf("test trust policy: %v", err)
	}
	return p
}
