package doctor

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/eksread"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

const (
	fxClusterARN = "arn:aws:eks:us-west-2:123456789012:cluster/demo"
	fxAssocID    = "a-0123456789abcdefg"
)

// podFixture is the healthy world of EKS Pod Identity: ServiceAccount ns1/sdc without an annotation, its
// association naming the role, the role trusting pods.eks.amazonaws.com, the agent ACTIVE and the pod
// mutated by the webhook. It returns the association as doctor describes it.
func podFixture(t *testing.T) (*Facts, *eksread.Association) {
	f := fixture(t)
	f.Cluster.ARN = fxClusterARN
	sa := &f.ServiceAccounts[0]
	sa.Annotations, sa.ManagedFields = map[string]string{}, nil
	f.AssociationsListed = true
	f.Associations = []eksread.Summary{{ID: fxAssocID, Namespace: fxNamespace, ServiceAccount: "sdc"}}
	f.Agent = &eksread.Agent{AddonStatus: "ACTIVE", AddonVersion: "v1.3.10-eksbuild.2"}
	f.Provider, f.ProviderARN = nil, ""
	f.Roles[fxRole].Trust = iampolicy.NewPolicy(iampolicy.PodIdentityStatement())
	p := &f.Pods[0]
	p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: vocab.EnvContainerCredentialsURI, Value: vocab.PodIdentityCredentialsURI},
		{Name: vocab.EnvContainerTokenFile, Value: vocab.PodIdentityTokenFile}}
	p.Spec.Volumes = []corev1.Volume{{Name: vocab.PodIdentityTokenVolume, VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
		Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Audience: vocab.PodIdentityService, Path: "eks-pod-identity-token"}}}}}}}
	return f, &eksread.Association{Summary: eksread.Summary{ID: fxAssocID, ARN: "arn:aws:eks:us-west-2:123456789012:podidentityassociation/demo/" + fxAssocID,
		Namespace: fxNamespace, ServiceAccount: "sdc"}, Cluster: "demo", RoleARN: fxRole, Created: fxAnnotatedAt, Modified: fxAnnotatedAt}
}

// runPod runs the checks the way gather leaves the facts: targets built, the associations described.
func runPod(f *Facts, described map[string]*eksread.Association) *Report {
	f.Targets = buildTargets(f)
	for _, t := range f.Targets {
		// As DescribeAll: by the ID the list gave; an association deleted since then describes as nil.
		if a := described[t.Namespace+"/"+t.ServiceAccount]; a != nil && t.Associated && a.ID == t.associationID {
			t.Association = a
			if t.Annotation == "" {
				t.RoleARN = a.RoleARN
			}
		}
	}
	roleARNsToRead(f)
	for _, t := range f.Targets {
		t.resolveSelection(f)
	}
	var checks []Check
	for _, c := range Checks() {
		if !c.Probe {
			checks = append(checks, c)
		}
	}
	return runChecks(context.Background(), f, checks, nil)
}

func ids(rep *Report) map[string]Status {
	m := map[string]Status{}
	for _, r := range rep.Checks {
		m[r.ID] = r.Status
	}
	for _, r := range rep.Targets[0].Checks {
		m[r.ID] = r.Status
	}
	return m
}

func TestPodIdentityHealthy(t *testing.T) {
	t.Parallel()
	f, a := podFixture(t)
	rep := runPod(f, map[string]*eksread.Association{"ns1/sdc": a})
	got := ids(rep)
	for _, id := range []string{"kube.role-annotation", "iam.oidc-provider", "iam.oidc-audience", "iam.trust-scope"} {
		if _, ok := got[id]; ok {
			t.Errorf("%s ran for a ServiceAccount served by EKS Pod Identity alone", id)
		}
	}
	for id, st := range got {
		want := Pass
		if id == "sdc.version" {
			want = Warn // SDC 5.11.0 is not documented either way
		}
		if st != want {
			r := find(t, rep, id)
			t.Errorf("%s = %s, want %s: %s | %s", id, st, want, r.Title, r.Detail)
		}
	}
	for _, id := range []string{"eks.pod-identity-agent", "eks.pod-identity-association"} {
		if _, ok := got[id]; !ok {
			t.Errorf("%s did not run", id)
		}
	}
	tr := rep.Targets[0]
	if tr.RoleARN != fxRole || tr.PodIdentityAssociation != a.ARN {
		t.Errorf("target %+v", tr)
	}
	if r := find(t, rep, "iam.trust"); r.Title != "role "+fxRoleName+" trusts EKS Pod Identity for ServiceAccount ns1/sdc" || !strings.Contains(r.Detail, "with session tags") {
		t.Errorf("iam.trust: %s | %s", r.Title, r.Detail)
	}
	if r := find(t, rep, "sdc.version"); !strings.Contains(r.Title, "SDC 5.11.0 may not read EKS Pod Identity credentials") || !strings.Contains(r.Fix, "--mechanism irsa") {
		t.Errorf("sdc.version: %s | %s", r.Title, r.Fix)
	}

	// An IRSA target runs none of the Pod Identity checks.
	irsa := run(fixture(t))
	for _, r := range append(irsa.Checks, irsa.Targets[0].Checks...) {
		if strings.HasPrefix(r.ID, "eks.") {
			t.Errorf("%s ran for an IRSA ServiceAccount", r.ID)
		}
	}
}

func TestPodIdentityChecks(t *testing.T) {
	t.Parallel()
	trust := func(js string) func(*testing.T, *Facts, *eksread.Association) {
		return func(t *testing.T, f *Facts, _ *eksread.Association) { f.Roles[fxRole].Trust = trustDoc(t, js) }
	}
	const both = `"Action":["sts:AssumeRole","sts:TagSession"]`
	cases := []struct {
		name   string
		break_ func(*testing.T, *Facts, *eksread.Association)
		id     string
		status Status
		title  string
		detail string
		fix    string
		others map[string]Status
	}{
		{name: "agent deleted", id: "eks.pod-identity-agent", status: Fail,
			break_: func(_ *testing.T, f *Facts, _ *eksread.Association) { f.Agent = &eksread.Agent{AutoMode: new(bool)} },
			title:  "cluster demo does not run the EKS Pod Identity agent", detail: "add-on eks-pod-identity-agent is not installed and the cluster is not in EKS Auto Mode",
			fix: "aws eks create-addon --cluster-name demo --addon-name eks-pod-identity-agent --region us-west-2"},
		{name: "Auto Mode", id: "eks.pod-identity-agent", status: Pass,
			break_: func(_ *testing.T, f *Facts, _ *eksread.Association) {
				on := true
				f.Agent = &eksread.Agent{AutoMode: &on}
			},
			detail: "EKS Auto Mode"},
		{name: "association names a role that is gone", id: "eks.pod-identity-association", status: Fail,
			break_: func(_ *testing.T, f *Facts, _ *eksread.Association) {
				f.Roles[fxRole] = &Role{ARN: fxRole, Name: fxRoleName}
			},
			// The role's stages tag went with it: the fix holds the placeholder.
			title: "names role " + fxRoleName + ", which does not exist", fix: "kubectl sdc bind -n ns1 --service-account sdc --deployment sdc --mechanism pod-identity --stage <STAGE>",
			others: map[string]Status{"iam.role": Skip, "iam.trust": Skip}},
		{name: "association of another account's role", id: "eks.pod-identity-association", status: Fail,
			break_: func(_ *testing.T, _ *Facts, a *eksread.Association) { a.RoleARN = "arn:aws:iam::210987654321:role/x" },
			title:  "not a role of account 123456789012"},
		{name: "association deleted since it was listed", id: "eks.pod-identity-association", status: Fail,
			break_: func(_ *testing.T, f *Facts, _ *eksread.Association) { f.Associations[0].ID = "a-gone" },
			title:  "is gone"},
		{name: "trust without sts:TagSession", id: "iam.trust", status: Fail,
			break_: trust(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":"sts:AssumeRole"}]}`),
			title:  "does not trust EKS Pod Identity for ServiceAccount ns1/sdc: it does not allow sts:TagSession",
			detail: "statement 1 allows sts:AssumeRole, not sts:TagSession: EKS Pod Identity tags every session", fix: "--mechanism pod-identity"},
		{name: "trust for IRSA only", id: "iam.trust", status: Fail,
			break_: func(_ *testing.T, f *Facts, _ *eksread.Association) {
				f.Roles[fxRole].Trust = iampolicy.NewPolicy(iampolicy.WebIdentityStatement(fxProvider, fxHost, fxNamespace, "sdc", ""))
			},
			title: "no statement trusts pods.eks.amazonaws.com", detail: "only Federated " + fxProvider},
		{name: "a condition on another namespace", id: "iam.trust", status: Fail,
			break_: trust(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},` + both + `,
				"Condition":{"StringEquals":{"aws:RequestTag/kubernetes-namespace":"ns2"}}}]}`),
			title:  "it requires kubernetes-namespace ns2, the session has ns1",
			detail: "statement 1: StringEquals aws:RequestTag/kubernetes-namespace = ns2, and EKS Pod Identity's session for this ServiceAccount has aws:RequestTag/kubernetes-namespace = ns1"},
		{name: "conditions on this namespace, ServiceAccount and cluster", id: "iam.trust", status: Pass,
			break_: trust(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},` + both + `,
				"Condition":{"StringEquals":{"aws:RequestTag/kubernetes-namespace":"ns1","aws:RequestTag/kubernetes-service-account":"sdc","aws:RequestTag/eks-cluster-arn":"` + fxClusterARN + `"},
				"StringLike":{"aws:RequestTag/kubernetes-pod-name":"sdc-*"}}}]}`)},
		{name: "a Deny of sts:TagSession", id: "iam.trust", status: Fail,
			break_: trust(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},` + both + `},
				{"Effect":"Deny","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":"sts:TagSession"}]}`),
			title: "a statement explicitly denies it", detail: "statement 2 denies sts:TagSession"},
		{name: "session tags disabled: sts:AssumeRole is enough", id: "iam.trust", status: Pass,
			break_: func(t *testing.T, f *Facts, a *eksread.Association) {
				a.DisableSessionTags = true
				f.Roles[fxRole].Trust = trustDoc(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)
			},
			detail: "without session tags"},
		{name: "pods predate the association", id: "kube.pod-env", status: Fail,
			break_: func(_ *testing.T, f *Facts, _ *eksread.Association) {
				f.Pods[0].CreationTimestamp = metav1.NewTime(fxAnnotatedAt.Add(-time.Hour))
				f.Pods[0].Spec.Containers[0].Env, f.Pods[0].Spec.Volumes = nil, nil
			},
			title: "pods predate the EKS Pod Identity association", detail: "pods sdc-abc started before the association (2026-01-02T03:04:05Z)", fix: "kubectl rollout restart deployment/sdc -n ns1"},
		{name: "pods predate the association, and a rollout replaces them", id: "kube.pod-env", status: Fail,
			break_: func(_ *testing.T, f *Facts, _ *eksread.Association) {
				f.Pods[0].CreationTimestamp = metav1.NewTime(fxAnnotatedAt.Add(-time.Hour))
				f.Pods[0].Spec.Containers[0].Env, f.Pods[0].Spec.Volumes = nil, nil
				f.Deployments[0].Spec.Template.Annotations = map[string]string{vocab.RestartedAtAnnotation: fxAnnotatedAt.Format(time.RFC3339)}
			},
			fix: "kubectl rollout status deployment/sdc -n ns1   # a rollout asked for at 2026-01-02T03:04:05Z is replacing them"},
		{name: "pods the webhook skipped", id: "kube.pod-env", status: Fail,
			break_: func(_ *testing.T, f *Facts, _ *eksread.Association) { f.Pods[0].Spec.Volumes = nil },
			detail: "were created after the association but have no AWS_CONTAINER_CREDENTIALS_FULL_URI or token volume"},
		{name: "the Deployment sets AWS_ROLE_ARN", id: "kube.static-credentials", status: Fail,
			break_: func(_ *testing.T, f *Facts, _ *eksread.Association) {
				f.Deployments[0].Spec.Template.Spec.Containers[0].Env = []corev1.EnvVar{{Name: vocab.EnvRoleARN, Value: fxRole}}
			},
			title: "IRSA's environment would win over EKS Pod Identity", detail: "container sdc sets AWS_ROLE_ARN in the Deployment",
			fix: "kubectl set env deployment/sdc -n ns1 -c sdc AWS_ROLE_ARN-"},
		{name: "pods keep IRSA's environment of a removed annotation", id: "kube.static-credentials", status: Fail,
			break_: func(_ *testing.T, f *Facts, _ *eksread.Association) {
				f.Pods[0].Spec.Containers[0].Env = append(f.Pods[0].Spec.Containers[0].Env, corev1.EnvVar{Name: vocab.EnvRoleARN, Value: fxRole})
			},
			detail: "pods sdc-abc (AWS_ROLE_ARN=" + fxRole + ") carry IRSA's environment from a role annotation since removed", fix: "kubectl rollout restart deployment/sdc -n ns1"},
		{name: "static keys beat Pod Identity too", id: "kube.static-credentials", status: Fail,
			break_: func(_ *testing.T, f *Facts, _ *eksread.Association) {
				f.Deployments[0].Spec.Template.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "AWS_ACCESS_KEY_ID", Value: "AKIA"}}
			},
			detail: "so EKS Pod Identity is ignored"},
		{name: "SDC 3.19.0 cannot use Pod Identity", id: "sdc.version", status: Fail,
			break_: func(_ *testing.T, f *Facts, _ *eksread.Association) {
				f.Deployments[0].Spec.Template.Spec.Containers[0].Image = "streamsets/datacollector:3.19.0"
			},
			title:  "SDC 3.19.0 cannot use EKS Pod Identity: its aws-lib bundles AWS SDK for Java 1.11.872",
			detail: "which reads EKS Pod Identity credentials only from 1.12.746, so its AWS stages fall through the credential chain to the node's role",
			fix:    "kubectl sdc bind -n ns1 --service-account sdc --deployment sdc --bucket ingest --mechanism irsa"},
		{name: "SDC without a version", id: "sdc.version", status: Warn,
			break_: func(_ *testing.T, f *Facts, _ *eksread.Association) {
				f.Deployments[0].Spec.Template.Spec.Containers[0].Image = "streamsets/datacollector:latest"
			},
			title: "names no SDC version"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f, a := podFixture(t)
			c.break_(t, f, a)
			rep := runPod(f, map[string]*eksread.Association{"ns1/sdc": a})
			r := find(t, rep, c.id)
			if r.Status != c.status {
				t.Fatalf("%s = %s, want %s: %s | %s | fix %s", c.id, r.Status, c.status, r.Title, r.Detail, r.Fix)
			}
			for _, w := range []struct{ field, got, want string }{{"title", r.Title, c.title}, {"detail", r.Detail, c.detail}, {"fix", r.Fix, c.fix}} {
				if !strings.Contains(w.got, w.want) {
					t.Errorf("%s %s:\n got  %s\n want %s", c.id, w.field, w.got, w.want)
				}
			}
			if (r.Status == Warn || r.Status == Fail) && r.Fix == "" {
				t.Errorf("%s %s without a fix", c.id, r.Status)
			}
			for id, want := range c.others {
				if got := find(t, rep, id); got.Status != want {
					t.Errorf("%s = %s (%s), want %s", id, got.Status, got.Title, want)
				}
			}
		})
	}
}

// Both mechanisms at once, as migrate leaves a ServiceAccount until --remove-irsa: every check passes for
// both, IRSA's environment winning is the plan and said so.
func TestPodIdentityBesideIRSA(t *testing.T) {
	t.Parallel()
	setup := func(t *testing.T) (*Facts, *eksread.Association) {
		irsa := fixture(t)
		f, a := podFixture(t)
		f.ServiceAccounts, f.Provider, f.ProviderARN = irsa.ServiceAccounts, irsa.Provider, irsa.ProviderARN
		f.Roles[fxRole].Trust = iampolicy.NewPolicy(iampolicy.WebIdentityStatement(fxProvider, fxHost, fxNamespace, "sdc", ""), iampolicy.PodIdentityStatement())
		f.Pods[0].Spec.Containers[0].Env = append(irsa.Pods[0].Spec.Containers[0].Env, f.Pods[0].Spec.Containers[0].Env...)
		f.Pods[0].Spec.Volumes = append(f.Pods[0].Spec.Volumes, irsa.Pods[0].Spec.Volumes...)
		return f, a
	}
	f, a := setup(t)
	rep := runPod(f, map[string]*eksread.Association{"ns1/sdc": a})
	for id, st := range ids(rep) {
		if st != Pass {
			r := find(t, rep, id)
			t.Errorf("%s = %s: %s | %s", id, st, r.Title, r.Detail)
		}
	}
	if r := find(t, rep, "iam.trust"); !strings.Contains(r.Title, "through IRSA and EKS Pod Identity") {
		t.Errorf("iam.trust: %s", r.Title)
	}
	if r := find(t, rep, "kube.static-credentials"); !strings.Contains(r.Detail, "they use role "+fxRole+" through web identity until IRSA is removed (kubectl sdc migrate -n ns1 --service-account sdc --remove-irsa)") {
		t.Errorf("kube.static-credentials: %s", r.Detail)
	}
	if r := find(t, rep, "kube.pod-env"); !strings.Contains(r.Detail, "1 of them also carry EKS Pod Identity's environment") {
		t.Errorf("kube.pod-env: %s", r.Detail)
	}

	// The association naming another role: the pods use the annotation's until IRSA goes.
	f, a = setup(t)
	other := "arn:aws:iam::123456789012:role/other"
	a.RoleARN = other
	f.Roles[other] = &Role{ARN: other, ActualARN: other, Name: "other", Exists: true, Trust: iampolicy.NewPolicy(iampolicy.PodIdentityStatement())}
	rep = runPod(f, map[string]*eksread.Association{"ns1/sdc": a})
	if r := find(t, rep, "eks.pod-identity-association"); r.Status != Warn || !strings.Contains(r.Detail, "so the pods use "+fxRole+" until IRSA is removed, and "+other+" after") {
		t.Errorf("eks.pod-identity-association = %s: %s | %s", r.Status, r.Title, r.Detail)
	}

	// An SDC that cannot use Pod Identity works through IRSA: a warning, not a failure.
	f, a = setup(t)
	f.Deployments[0].Spec.Template.Spec.Containers[0].Image = "streamsets/datacollector:3.19.0"
	rep = runPod(f, map[string]*eksread.Association{"ns1/sdc": a})
	if r := find(t, rep, "sdc.version"); r.Status != Warn || !strings.Contains(r.Title, "SDC 3.19.0 works through IRSA, and cannot use EKS Pod Identity") {
		t.Errorf("sdc.version = %s: %s | %s", r.Status, r.Title, r.Detail)
	}
}

// With -A, ServiceAccounts with an association are targets as the annotated ones are, even one that does
// not exist (an association may name a ServiceAccount never made).
func TestAllNamespacesTakesAssociatedServiceAccounts(t *testing.T) {
	t.Parallel()
	f, a := podFixture(t)
	f.Options = Options{AllNamespaces: true}
	f.Associations = append(f.Associations, eksread.Summary{ID: "a-ghost", Namespace: "ns9", ServiceAccount: "ghost"})
	rep := runPod(f, map[string]*eksread.Association{"ns1/sdc": a,
		"ns9/ghost": {Summary: eksread.Summary{ID: "a-ghost", Namespace: "ns9", ServiceAccount: "ghost"}, RoleARN: fxRole}})
	if len(rep.Targets) != 2 {
		t.Fatalf("%d targets, want 2", len(rep.Targets))
	}
	ghost := rep.Targets[1]
	if ghost.Namespace != "ns9" || ghost.ServiceAccount != "ghost" || ghost.Checks[0].ID != "kube.service-account" || ghost.Checks[0].Status != Fail {
		t.Errorf("ghost target %+v", ghost)
	}
	if s := associationScope(Options{Namespace: "ns1", ServiceAccount: "sdc"}); s != (eksread.Filter{Namespace: "ns1", ServiceAccount: "sdc"}) {
		t.Errorf("one ServiceAccount: %+v", s)
	}
	if s := associationScope(Options{Namespace: "ns1", ServiceAccount: "sdc", Deployment: "d"}); s != (eksread.Filter{Namespace: "ns1"}) {
		t.Errorf("a Deployment's ServiceAccount: %+v", s)
	}
}
