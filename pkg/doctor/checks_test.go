package doctor

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/catalog"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

const healthyFix = "kubectl sdc bind -n ns1 --service-account sdc --deployment sdc --bucket ingest"

func TestHealthyFactsPassEveryCheck(t *testing.T) {
	t.Parallel()
	rep := run(fixture(t))
	if len(rep.Targets) != 1 {
		t.Fatalf("want 1 target, got %d", len(rep.Targets))
	}
	for _, r := range append(append([]Result{}, rep.Checks...), rep.Targets[0].Checks...) {
		if r.Status != Pass {
			t.Errorf("%s: %s: %s (%s)", r.ID, r.Status, r.Title, r.Detail)
		}
		if r.Fix != "" {
			t.Errorf("%s passed with a fix: %s", r.ID, r.Fix)
		}
	}
	if rep.Summary != (Summary{Pass: len(rep.Checks) + len(rep.Targets[0].Checks)}) || rep.Failed(true) {
		t.Errorf("summary %+v", rep.Summary)
	}
	tr := rep.Targets[0]
	if tr.Namespace != "ns1" || tr.ServiceAccount != "sdc" || tr.Deployment != "sdc" || tr.RoleARN != fxRole {
		t.Errorf("target %+v", tr)
	}
}

// Each case breaks one fact the way the world breaks it, and names the check that must say so.
func TestChecks(t *testing.T) {
	t.Parallel()
	sa := func(f *Facts) *corev1.ServiceAccount { return &f.ServiceAccounts[0] }
	deploy := func(f *Facts) *appsv1.Deployment { return &f.Deployments[0] }
	pod := func(f *Facts) *corev1.Pod { return &f.Pods[0] }
	role := func(f *Facts) *Role { return f.Roles[fxRole] }
	setTrust := func(js string) func(*testing.T, *Facts) {
		return func(t *testing.T, f *Facts) { role(f).Trust = trustDoc(t, js) }
	}
	setPolicy := func(js string) func(*testing.T, *Facts) {
		return func(t *testing.T, f *Facts) { f.Policies[fxPolicy].Document = trustDoc(t, js) }
	}
	uid := func(v int64) *int64 { return &v }

	cases := []struct {
		name   string
		break_ func(t *testing.T, f *Facts)
		id     string
		status Status
		title  string // substrings that must appear
		detail string
		fix    string
		others map[string]Status // other checks' expected statuses
	}{
		{name: "API server down", id: "kube.context", status: Fail,
			break_: func(_ *testing.T, f *Facts) { f.KubeErr = errors.New("connection refused") },
			title:  `kube context "demo" does not answer`, detail: "connection refused", fix: "cluster-info",
			others: map[string]Status{"kube.webhook": Skip, "kube.service-account": Skip, "kube.role-annotation": Skip, "iam.role": Skip}},
		{name: "API server refuses the credentials", id: "kube.context", status: Fail,
			break_: func(_ *testing.T, f *Facts) { f.KubeErr = apierrors.NewUnauthorized("Unauthorized") },
			title:  `kube context "demo" refuses its credentials (401 Unauthorized)`, detail: "Unauthorized", fix: "fix the context's user",
			others: map[string]Status{"kube.webhook": Skip, "kube.service-account": Skip}},
		{name: "issuer not found", id: "cluster.issuer", status: Fail,
			break_: func(_ *testing.T, f *Facts) {
				f.Cluster, f.ClusterErr = nil, errors.New("could not find the OIDC issuer")
			},
			detail: "could not find", fix: "--eks-cluster",
			others: map[string]Status{"iam.oidc-provider": Skip, "iam.oidc-audience": Skip, "iam.trust": Skip}},
		{name: "credentials broken", id: "aws.identity", status: Fail,
			break_: func(_ *testing.T, f *Facts) { f.Identity, f.IdentityErr = nil, errors.New("ExpiredToken") },
			detail: "ExpiredToken", fix: "aws sts get-caller-identity",
			others: map[string]Status{"iam.oidc-provider": Skip, "iam.role": Skip}},
		{name: "credentials of another account", id: "aws.identity", status: Fail,
			break_: func(_ *testing.T, f *Facts) { f.Identity.Account = "210987654321" },
			title:  "account 210987654321, the cluster is in account 123456789012", fix: "--profile"},
		{name: "provider missing", id: "iam.oidc-provider", status: Fail,
			break_: func(_ *testing.T, f *Facts) { f.Provider = nil },
			detail: "has no " + fxProvider, fix: healthyFix,
			others: map[string]Status{"iam.oidc-audience": Skip, "iam.trust": Pass}},
		{name: "provider missing and nothing to rebuild bind from", id: "iam.oidc-provider", status: Fail,
			break_: func(_ *testing.T, f *Facts) { f.Provider = nil; delete(role(f).Tags, vocab.TagStages) },
			fix:    "aws iam create-open-id-connect-provider --url " + fxIssuer + " --client-id-list sts.amazonaws.com"},
		{name: "audience removed", id: "iam.oidc-audience", status: Fail,
			break_: func(_ *testing.T, f *Facts) { f.Provider.ClientIDs = nil },
			detail: "client IDs of " + fxProvider + ": none; missing: sts.amazonaws.com (used by ns1/sdc)",
			fix:    "aws iam add-client-id-to-open-id-connect-provider --open-id-connect-provider-arn " + fxProvider + " --client-id sts.amazonaws.com"},
		{name: "custom audience not on the provider", id: "iam.oidc-audience", status: Fail,
			break_: func(_ *testing.T, f *Facts) { sa(f).Annotations[vocab.AudienceAnnotation] = "sdc.example.com" },
			fix:    "--client-id sdc.example.com",
			others: map[string]Status{"iam.trust": Fail}},
		{name: "webhook deleted", id: "kube.webhook", status: Fail,
			break_: func(_ *testing.T, f *Facts) { f.Webhooks = nil },
			title:  "no pod identity webhook", detail: "none of the 0 MutatingWebhookConfigurations", fix: "amazon-eks-pod-identity-webhook"},
		{name: "webhook without a pod rule", id: "kube.webhook", status: Warn,
			break_: func(_ *testing.T, f *Facts) { f.Webhooks[0].Webhooks[0].Rules[0].Resources = []string{"deployments"} },
			detail: "no rule covers CREATE of pods", fix: "kubectl edit mutatingwebhookconfiguration pod-identity-webhook"},
		{name: "ServiceAccount missing", id: "kube.service-account", status: Fail,
			break_: func(_ *testing.T, f *Facts) { f.ServiceAccounts = nil },
			// The role bind would have made still exists, so the fix comes from its tag.
			title: "ServiceAccount ns1/sdc does not exist", fix: healthyFix,
			others: map[string]Status{"kube.role-annotation": Skip, "iam.role": Skip, "kube.deployment": Pass}},
		{name: "annotation removed", id: "kube.role-annotation", status: Fail,
			break_: func(_ *testing.T, f *Facts) { delete(sa(f).Annotations, vocab.RoleARNAnnotation) },
			title:  "has no eks.amazonaws.com/role-arn annotation",
			detail: "role " + fxRole + " exists (bind's name for this ServiceAccount)",
			fix:    healthyFix, // rebuilt from the tag of the role bind would have made
			others: map[string]Status{"iam.role": Skip, "iam.trust": Skip, "iam.permissions": Skip, "kube.pod-env": Skip}},
		{name: "annotation malformed", id: "kube.role-annotation", status: Fail,
			break_: func(_ *testing.T, f *Facts) {
				sa(f).Annotations[vocab.RoleARNAnnotation] = "arn:aws:iam::123456789012:role"
			},
			title: `"arn:aws:iam::123456789012:role" is not a role ARN`, fix: healthyFix},
		{name: "role in another account", id: "iam.role", status: Fail,
			break_: func(_ *testing.T, f *Facts) {
				sa(f).Annotations[vocab.RoleARNAnnotation] = "arn:aws:iam::210987654321:role/" + fxRoleName
			},
			title: "is in account 210987654321", fix: "--profile <PROFILE-OF-ACCOUNT-210987654321>"},
		{name: "role deleted", id: "iam.role", status: Fail,
			break_: func(_ *testing.T, f *Facts) { f.Roles[fxRole] = &Role{ARN: fxRole, Name: fxRoleName} },
			title:  "role " + fxRoleName + " does not exist", fix: "kubectl sdc bind -n ns1 --service-account sdc --deployment sdc --stage <STAGE>",
			others: map[string]Status{"iam.trust": Skip, "iam.trust-scope": Skip, "iam.permissions": Skip}},
		{name: "role path wrong in the annotation", id: "iam.role", status: Fail,
			break_: func(_ *testing.T, f *Facts) { role(f).ActualARN = "arn:aws:iam::123456789012:role/team/" + fxRoleName },
			fix:    "kubectl annotate serviceaccount sdc -n ns1 eks.amazonaws.com/role-arn=arn:aws:iam::123456789012:role/team/" + fxRoleName + " --overwrite"},
		{name: "trust for another namespace", id: "iam.trust", status: Fail,
			break_: func(_ *testing.T, f *Facts) {
				role(f).Trust = iampolicy.NewPolicy(iampolicy.WebIdentityStatement(fxProvider, fxHost, "ns2", "sdc", ""))
			},
			title: "it trusts ServiceAccount ns2/sdc of another namespace", detail: "this one is ns1/sdc", fix: healthyFix,
			others: map[string]Status{"iam.trust-scope": Skip, "iam.permissions": Pass}},
		{name: "trust for another ServiceAccount", id: "iam.trust", status: Fail,
			break_: func(_ *testing.T, f *Facts) {
				role(f).Trust = iampolicy.NewPolicy(iampolicy.WebIdentityStatement(fxProvider, fxHost, "ns1", "other", ""))
			},
			title: "it trusts another ServiceAccount, ns1/other", detail: "not ns1/sdc"},
		{name: "trust for another region's provider", id: "iam.trust", status: Fail,
			break_: func(_ *testing.T, f *Facts) {
				other := "oidc.eks.eu-west-1.amazonaws.com/id/FEDCBA"
				role(f).Trust = iampolicy.NewPolicy(iampolicy.WebIdentityStatement("arn:aws:iam::123456789012:oidc-provider/"+other, other, "ns1", "sdc", ""))
			},
			title:  "another cluster's or region's OIDC provider",
			detail: "(a cluster in region eu-west-1; this cluster is in us-west-2)"},
		{name: "trust for another cluster's provider", id: "iam.trust", status: Fail,
			break_: func(_ *testing.T, f *Facts) {
				other := "oidc.eks.us-west-2.amazonaws.com/id/FEDCBA"
				role(f).Trust = iampolicy.NewPolicy(iampolicy.WebIdentityStatement("arn:aws:iam::123456789012:oidc-provider/"+other, other, "ns1", "sdc", ""))
			},
			detail: "(another EKS cluster's issuer); this cluster's provider is " + fxProvider},
		{name: "subject under the aud key", id: "iam.trust", status: Fail,
			break_: setTrust(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"` + fxProvider + `"},
				"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"` + fxHost + `:aud":"system:serviceaccount:ns1:sdc"}}}]}`),
			title:  "the subject is under the :aud key",
			detail: "it belongs under " + fxHost + ":sub, and " + fxHost + ":aud must be the audience sts.amazonaws.com"},
		{name: "condition keys of another issuer", id: "iam.trust", status: Fail,
			break_: setTrust(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"` + fxProvider + `"},
				"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"oidc.eks.us-east-1.amazonaws.com/id/X:sub":"system:serviceaccount:ns1:sdc"}}}]}`),
			title: "its conditions name another issuer", detail: "the key names issuer oidc.eks.us-east-1.amazonaws.com/id/X"},
		{name: "explicit deny", id: "iam.trust", status: Fail,
			break_: func(_ *testing.T, f *Facts) {
				deny := iampolicy.WebIdentityStatement(fxProvider, fxHost, "ns1", "sdc", "")
				deny.Effect = iampolicy.Deny
				role(f).Trust.Statements = append(role(f).Trust.Statements, deny)
			},
			title: "a statement explicitly denies it", detail: "statement 2 denies"},
		{name: "trust for an AWS principal only", id: "iam.trust", status: Fail,
			break_: setTrust(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}`),
			title:  "no statement trusts a web identity provider"},
		{name: "wrong action", id: "iam.trust", status: Fail,
			break_: setTrust(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"` + fxProvider + `"},"Action":"sts:AssumeRole"}]}`),
			detail: "statement 1 allows sts:AssumeRole, not sts:AssumeRoleWithWebIdentity"},
		{name: "no sub condition", id: "iam.trust-scope", status: Warn,
			break_: setTrust(`{"Version":"2012-10-17","Statement":[{"Sid":"Any","Effect":"Allow","Principal":{"Federated":"` + fxProvider + `"},
				"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"` + fxHost + `:aud":"sts.amazonaws.com"}}}]}`),
			detail: "statement 1 (Sid Any) has no " + fxHost + ":sub condition: every ServiceAccount of the cluster can assume the role",
			fix:    `aws iam update-assume-role-policy --role-name ` + fxRoleName + ` --policy-document '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"` + fxProvider + `"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"` + fxHost + `:aud":"sts.amazonaws.com","` + fxHost + `:sub":"system:serviceaccount:ns1:sdc"}}}]}'`,
			others: map[string]Status{"iam.trust": Pass}},
		{name: "StringLike wildcard", id: "iam.trust-scope", status: Warn,
			break_: setTrust(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"` + fxProvider + `"},
				"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringLike":{"` + fxHost + `:sub":"system:serviceaccount:ns1:*"},"StringEquals":{"` + fxHost + `:aud":"sts.amazonaws.com"}}}]}`),
			detail: "StringLike " + fxHost + ":sub = system:serviceaccount:ns1:* also admits other ServiceAccounts, e.g. system:serviceaccount:ns1:kubectl-sdc-doctor-other"},
		{name: "a pattern on a role shared on purpose lists the unbound ServiceAccounts it admits", id: "iam.trust-scope", status: Warn,
			break_: func(t *testing.T, f *Facts) {
				setTrust(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"`+fxProvider+`"},
				"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringLike":{"`+fxHost+`:sub":"system:serviceaccount:ns*:sdc"},"StringEquals":{"`+fxHost+`:aud":"sts.amazonaws.com"}}}]}`)(t, f)
				role(f).Tags = map[string]string{vocab.TagStages + "/0123abcd": "v1 s3 bucket=ingest"}
				f.AllServiceAccounts = map[string]string{"ns1/sdc": fxRole, "ns2/sdc": "", "ns3/sdc": "arn:aws:iam::123456789012:role/other", "ns2/web": "", "other/sdc": ""}
			},
			detail: "admits every ServiceAccount matching system:serviceaccount:ns*:sdc: 2 of the cluster's are not bound to role " + fxRoleName + " on purpose (no role annotation naming it): ns2/sdc, ns3/sdc",
			fix:    "kubectl sdc bind -n ns2 --service-account sdc --role-name " + fxRoleName + " --stage <STAGE> [--set KEY=VALUE ...]   # bind it on purpose; or narrow system:serviceaccount:ns*:sdc (aws iam update-assume-role-policy --role-name " + fxRoleName + ")"},
		{name: "a pattern whose every match is bound passes", id: "iam.trust-scope", status: Pass,
			break_: func(t *testing.T, f *Facts) {
				setTrust(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"`+fxProvider+`"},
				"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringLike":{"`+fxHost+`:sub":"system:serviceaccount:ns*:sdc"},"StringEquals":{"`+fxHost+`:aud":"sts.amazonaws.com"}}}]}`)(t, f)
				role(f).Tags = map[string]string{vocab.TagStages + "/0123abcd": "v1 s3 bucket=ingest"}
				f.AllServiceAccounts = map[string]string{"ns1/sdc": fxRole, "ns2/sdc": fxRole, "other/sdc": ""}
			},
			title: "the trust's pattern admits only ServiceAccounts bound to the role", detail: "today ns1/sdc, ns2/sdc, each bound to the role"},
		{name: "a role shared by name is a scope, not a warning", id: "iam.trust-scope", status: Pass,
			break_: setTrust(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"` + fxProvider + `"},
				"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"` + fxHost + `:aud":"sts.amazonaws.com","` + fxHost + `:sub":["system:serviceaccount:ns1:sdc","system:serviceaccount:a:x","system:serviceaccount:b:y"]}}}]}`),
			title: "the trust admits this ServiceAccount and 2 other(s), each by name", detail: "also admitted: a/x, b/y",
			others: map[string]Status{"iam.trust": Pass}},
		{name: "no aud condition", id: "iam.trust-scope", status: Warn,
			break_: setTrust(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"` + fxProvider + `"},
				"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"` + fxHost + `:sub":"system:serviceaccount:ns1:sdc"}}}]}`),
			detail: "has no " + fxHost + ":aud condition"},
		{name: "a narrow statement beside a broad one keeps the narrow one", id: "iam.trust-scope", status: Warn,
			break_: func(t *testing.T, f *Facts) {
				broad := trustDoc(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"`+fxProvider+`"},"Action":"sts:AssumeRoleWithWebIdentity"}]}`)
				role(f).Trust.Statements = append(role(f).Trust.Statements, broad.Statements[0])
			},
			detail: "statement 2 has no",
			fix:    `--policy-document '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"` + fxProvider + `"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"` + fxHost + `:aud":"sts.amazonaws.com","` + fxHost + `:sub":"system:serviceaccount:ns1:sdc"}}}]}'`},
		{name: "policy detached", id: "iam.permissions", status: Fail,
			break_: func(_ *testing.T, f *Facts) { role(f).Attached = nil },
			title:  "lacks 3 of the 3 permissions", detail: "the role has no attached or inline policies", fix: healthyFix},
		{name: "policy too narrow", id: "iam.permissions", status: Fail,
			break_: setPolicy(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::ingest","arn:aws:s3:::ingest/*"]}]}`),
			title:  "lacks 1 of the 3", detail: "missing: s3:PutObject on arn:aws:s3:::ingest/<object>;", fix: healthyFix},
		{name: "explicit deny in a policy", id: "iam.permissions", status: Fail,
			break_: func(t *testing.T, f *Facts) {
				role(f).InlineNames = []string{"deny-put"}
				role(f).Inline["deny-put"] = trustDoc(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:PutObject","Resource":"*"}]}`)
			},
			detail: "(explicitly denied by inline policy deny-put)"},
		{name: "permissions from an inline policy", id: "iam.permissions", status: Pass,
			break_: func(t *testing.T, f *Facts) {
				role(f).Attached = nil
				role(f).InlineNames = []string{"s3"}
				role(f).Inline["s3"] = trustDoc(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:PutObject","s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::ingest","arn:aws:s3:::ingest/*"]}]}`)
			},
			detail: "inline policy s3"},
		{name: "star action in bind's own policy", id: "iam.permissions", status: Warn,
			break_: setPolicy(`{"Version":"2012-10-17","Statement":[{"Sid":"All","Effect":"Allow","Action":"*","Resource":"*"}]}`),
			detail: "statement 1 (Sid All): Action *, Resource *;", fix: healthyFix},
		{name: "star resource in another policy", id: "iam.permissions", status: Warn,
			break_: func(t *testing.T, f *Facts) {
				other := "arn:aws:iam::aws:policy/AmazonS3FullAccess"
				role(f).Attached = append(role(f).Attached, other)
				f.Policies[other] = &ManagedPolicy{ARN: other, Exists: true, DefaultVersion: "v2",
					Document: trustDoc(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}`)}
			},
			fix: "aws iam detach-role-policy --role-name " + fxRoleName + " --policy-arn arn:aws:iam::aws:policy/AmazonS3FullAccess"},
		{name: "no stages known", id: "iam.permissions", status: Skip,
			break_: func(_ *testing.T, f *Facts) { delete(role(f).Tags, vocab.TagStages) },
			title:  "no stages to check", detail: "has no kubectl-sdc/stages tag",
			others: map[string]Status{"sdc.version": Skip}},
		{name: "stages from the flags win over the tag", id: "iam.permissions", status: Fail,
			break_: func(_ *testing.T, f *Facts) {
				f.Options.Selection = &catalog.Selection{Stages: []string{"s3-destination"}, Params: map[string]string{"bucket": "other"}}
			},
			detail: "stages s3-destination (from --stage flags)", fix: "--stage s3-destination --bucket other"},
		// iam.permissions judges the calls SDC makes, not an action list: the Kinesis Consumer's policy as
		// the catalog wrote it before it was read against SDC's source fails on the reset path.
		{name: "a Kinesis Consumer policy without the lease table's reset", id: "iam.permissions", status: Fail,
			break_: func(t *testing.T, f *Facts) {
				f.Options.Selection = &catalog.Selection{Stages: []string{"kinesis-consumer"}, Params: map[string]string{"stream": "clicks", "application": "clicks-app"}}
				setPolicy(`{"Version":"2012-10-17","Statement":[`+
					`{"Effect":"Allow","Action":["kinesis:DescribeStream","kinesis:GetRecords","kinesis:GetShardIterator","kinesis:ListShards"],"Resource":"arn:aws:kinesis:us-west-2:`+fxAccount+`:stream/clicks"},`+
					`{"Effect":"Allow","Action":["dynamodb:CreateTable","dynamodb:DescribeTable","dynamodb:UpdateTable","dynamodb:Scan","dynamodb:GetItem","dynamodb:PutItem","dynamodb:UpdateItem","dynamodb:DeleteItem"],"Resource":"arn:aws:dynamodb:us-west-2:`+fxAccount+`:table/clicks-app"},`+
					`{"Effect":"Allow","Action":"cloudwatch:PutMetricData","Resource":"*"}]}`)(t, f)
			},
			title:  "lacks 1 of the 13 permissions its stages' calls need",
			detail: "missing: dynamodb:DeleteTable on arn:aws:dynamodb:us-west-2:" + fxAccount + ":table/clicks-app;"},
		{name: "a Kinesis Producer policy without the shard map of KPL 0.14", id: "iam.permissions", status: Fail,
			break_: func(t *testing.T, f *Facts) {
				f.Options.Selection = &catalog.Selection{Stages: []string{"kinesis-producer"}, Params: map[string]string{"stream": "clicks"}}
				setPolicy(`{"Version":"2012-10-17","Statement":[`+
					`{"Effect":"Allow","Action":["kinesis:PutRecord","kinesis:PutRecords","kinesis:DescribeStream","kinesis:DescribeStreamSummary"],"Resource":"arn:aws:kinesis:us-west-2:`+fxAccount+`:stream/clicks"},`+
					`{"Effect":"Allow","Action":"cloudwatch:PutMetricData","Resource":"*"}]}`)(t, f)
			},
			title: "lacks 1 of the 4", detail: "missing: kinesis:ListShards on arn:aws:kinesis:us-west-2:" + fxAccount + ":stream/clicks;"},
		{name: "Deployment missing", id: "kube.deployment", status: Fail,
			break_: func(_ *testing.T, f *Facts) { f.Deployments, f.Pods = nil, nil; f.Options.Deployment = "sdc" },
			title:  "Deployment ns1/sdc does not exist", detail: "namespace ns1 has no Deployments", fix: "--create-deployment",
			others: map[string]Status{"kube.fs-group": Skip, "kube.pod-env": Skip, "kube.static-credentials": Skip, "sdc.version": Skip}},
		{name: "Deployment under another ServiceAccount", id: "kube.deployment", status: Fail,
			break_: func(_ *testing.T, f *Facts) {
				deploy(f).Spec.Template.Spec.ServiceAccountName = ""
				f.Options.Deployment, f.Options.ServiceAccountSet = "sdc", true
			},
			title: "runs under ServiceAccount default, not sdc", detail: "(it does not exist)", fix: healthyFix},
		{name: "no Deployment under the ServiceAccount", id: "kube.deployment", status: Warn,
			break_: func(_ *testing.T, f *Facts) { deploy(f).Spec.Template.Spec.ServiceAccountName = "default" },
			detail: "Deployments in ns1: sdc (ServiceAccount default)", fix: "--deployment <DEPLOYMENT>"},
		{name: "no fsGroup, mixed users", id: "kube.fs-group", status: Warn,
			break_: func(_ *testing.T, f *Facts) {
				spec := &deploy(f).Spec.Template.Spec
				spec.SecurityContext = &corev1.PodSecurityContext{RunAsUser: uid(20159)}
				spec.Containers = append(spec.Containers, corev1.Container{Name: "sidecar", Image: "busybox", SecurityContext: &corev1.SecurityContext{RunAsUser: uid(1000)}})
			},
			detail: "containers: sdc (uid 20159), sidecar (uid 1000)", fix: healthyFix},
		{name: "no fsGroup, one user", id: "kube.fs-group", status: Pass,
			break_: func(_ *testing.T, f *Facts) { deploy(f).Spec.Template.Spec.SecurityContext = nil },
			title:  "every container runs as one user"},
		{name: "pods predate the annotation", id: "kube.pod-env", status: Fail,
			break_: func(_ *testing.T, f *Facts) {
				pod(f).CreationTimestamp = metav1.NewTime(fxAnnotatedAt.Add(-time.Hour))
				pod(f).Spec.Containers[0].Env, pod(f).Spec.Volumes = nil, nil
			},
			title:  "pods predate the role annotation",
			detail: "pods sdc-abc started before the role annotation (2026-01-02T03:04:05Z)",
			fix:    "kubectl rollout restart deployment/sdc -n ns1"},
		{name: "pods of an older annotation", id: "kube.pod-env", status: Fail,
			break_: func(_ *testing.T, f *Facts) {
				pod(f).Spec.Containers[0].Env[0].Value = "arn:aws:iam::123456789012:role/old"
			},
			detail: "pods sdc-abc (AWS_ROLE_ARN=arn:aws:iam::123456789012:role/old) carry another role", fix: "kubectl rollout restart deployment/sdc -n ns1"},
		{name: "pods the webhook skipped", id: "kube.pod-env", status: Fail,
			break_: func(_ *testing.T, f *Facts) { pod(f).Spec.Containers[0].Env, pod(f).Spec.Volumes = nil, nil },
			detail: "were created after the annotation but have no AWS_ROLE_ARN", fix: "rollout restart"},
		{name: "Deployment sets AWS_ROLE_ARN itself", id: "kube.pod-env", status: Fail,
			break_: func(_ *testing.T, f *Facts) {
				env := []corev1.EnvVar{{Name: vocab.EnvRoleARN, Value: "arn:aws:iam::123456789012:role/hand-made"}}
				deploy(f).Spec.Template.Spec.Containers[0].Env = env
				pod(f).Spec.Containers[0].Env[0].Value = env[0].Value
			},
			detail: "the webhook never overwrites", fix: "kubectl set env deployment/sdc -n ns1 AWS_ROLE_ARN-"},
		{name: "no pods", id: "kube.pod-env", status: Skip,
			break_: func(_ *testing.T, f *Facts) { f.Pods = nil },
			title:  "has no pods that have not terminated"},
		{name: "static keys in the env", id: "kube.static-credentials", status: Fail,
			break_: func(_ *testing.T, f *Facts) {
				deploy(f).Spec.Template.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "AWS_ACCESS_KEY_ID", Value: "AKIA"},
					{Name: "AWS_SECRET_ACCESS_KEY", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "aws"}, Key: "secret"}}}}
			},
			detail: "container sdc: AWS_ACCESS_KEY_ID set directly; container sdc: AWS_SECRET_ACCESS_KEY set from Secret aws key secret",
			fix:    "kubectl set env deployment/sdc -n ns1 -c sdc AWS_ACCESS_KEY_ID- AWS_SECRET_ACCESS_KEY-"},
		{name: "static keys through envFrom", id: "kube.static-credentials", status: Fail,
			break_: func(_ *testing.T, f *Facts) {
				deploy(f).Spec.Template.Spec.Containers[0].EnvFrom = []corev1.EnvFromSource{
					{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}}},
					{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "aws-creds"}}}}
				f.EnvSources[envSourceKey("Secret", "ns1", "aws-creds")] = &EnvSource{Kind: "Secret", Namespace: "ns1", Name: "aws-creds", Keys: []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}}
				f.EnvSources[envSourceKey("ConfigMap", "ns1", "settings")] = &EnvSource{Kind: "ConfigMap", Namespace: "ns1", Name: "settings", Keys: []string{"SDC_JAVA_OPTS"}}
			},
			detail: "container sdc: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY through envFrom Secret aws-creds",
			fix:    `kubectl patch deployment sdc -n ns1 --type=json -p '[{"op":"remove","path":"/spec/template/spec/containers/0/envFrom/1"}]'`},
		{name: "envFrom with a prefix", id: "kube.static-credentials", status: Fail,
			break_: func(_ *testing.T, f *Facts) {
				deploy(f).Spec.Template.Spec.Containers[0].EnvFrom = []corev1.EnvFromSource{{Prefix: "AWS_",
					SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "keys"}}}}
				f.EnvSources[envSourceKey("Secret", "ns1", "keys")] = &EnvSource{Kind: "Secret", Namespace: "ns1", Name: "keys", Keys: []string{"ACCESS_KEY_ID"}}
			},
			detail: "AWS_ACCESS_KEY_ID through envFrom Secret keys"},
		{name: "envFrom unreadable", id: "kube.static-credentials", status: Warn,
			break_: func(_ *testing.T, f *Facts) {
				deploy(f).Spec.Template.Spec.Containers[0].EnvFrom = []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "aws-creds"}}}}
				f.EnvSourcesErr["Secret"] = errors.New("secrets is forbidden")
			},
			detail: "Secret aws-creds, whose keys could not be read (secrets is forbidden)"},
		{name: "SDC too old", id: "sdc.version", status: Fail,
			break_: func(_ *testing.T, f *Facts) {
				deploy(f).Spec.Template.Spec.Containers[0].Image = "streamsets/datacollector:3.16.0"
			},
			title: "SDC 3.16.0 is older than 3.17.0, the first whose aws-lib can use IRSA",
			fix:   "kubectl set image deployment/sdc -n ns1 sdc=streamsets/datacollector:3.17.0"},
		{name: "SDC without a setting the stages were bound with", id: "sdc.version", status: Fail,
			break_: func(_ *testing.T, f *Facts) {
				f.Options.Selection = &catalog.Selection{Stages: []string{"sqs-consumer"}, Params: map[string]string{"queue": "orders", "queue-lookup": "url"}}
				deploy(f).Spec.Template.Spec.Containers[0].Image = "streamsets/datacollector:3.18.1"
			},
			title: "SDC 3.18.1 has no setting queue-lookup=url, which the stages were bound with (SDC 3.19.0 or later)",
			fix:   "kubectl set image deployment/sdc -n ns1 sdc=streamsets/datacollector:3.19.0   # or bind again without --set queue-lookup=url"},
		{name: "SDC with the setting", id: "sdc.version", status: Pass,
			break_: func(_ *testing.T, f *Facts) {
				f.Options.Selection = &catalog.Selection{Stages: []string{"sqs-consumer"}, Params: map[string]string{"queue": "orders", "queue-lookup": "url"}}
				deploy(f).Spec.Template.Spec.Containers[0].Image = "streamsets/datacollector:3.19.0"
			},
			title: "SDC 3.19.0 is at least 3.17.0"},
		{name: "SDC from a mirror with a digest", id: "sdc.version", status: Pass,
			break_: func(_ *testing.T, f *Facts) {
				deploy(f).Spec.Template.Spec.Containers[0].Image = "registry.example.com:5000/mirror/datacollector:3.22.3-0034@sha256:abc"
			},
			title: "SDC 3.22.3-0034 is at least 3.17.0"},
		{name: "SDC latest", id: "sdc.version", status: Skip,
			break_: func(_ *testing.T, f *Facts) {
				deploy(f).Spec.Template.Spec.Containers[0].Image = "streamsets/datacollector:latest"
			},
			title: "carries no version in its tag"},
		{name: "not SDC", id: "sdc.version", status: Skip,
			break_: func(_ *testing.T, f *Facts) { deploy(f).Spec.Template.Spec.Containers[0].Image = "nginx:1.27" },
			title:  "no container runs an SDC image"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := fixture(t)
			c.break_(t, f)
			rep := run(f)
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
			if (r.Status == Pass || r.Status == Skip) && r.Fix != "" {
				t.Errorf("%s %s with a fix: %s", c.id, r.Status, r.Fix)
			}
			for id, want := range c.others {
				if got := find(t, rep, id); got.Status != want {
					t.Errorf("%s = %s (%s), want %s", id, got.Status, got.Title, want)
				}
			}
			wantFailed := r.Status == Fail
			for _, x := range rep.Checks {
				wantFailed = wantFailed || x.Status == Fail
			}
			for _, x := range rep.Targets[0].Checks {
				wantFailed = wantFailed || x.Status == Fail
			}
			if rep.Failed(false) != wantFailed {
				t.Errorf("Failed(false) = %v with summary %+v", rep.Failed(false), rep.Summary)
			}
		})
	}
}

func TestPodEnvIgnoresPodsOfAnotherServiceAccount(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	old := f.Pods[0].DeepCopy()
	old.Name, old.Spec.ServiceAccountName = "sdc-old", "default"
	old.Spec.Containers[0].Env, old.Spec.Volumes = nil, nil
	f.Pods = append(f.Pods, *old)
	r := find(t, run(f), "kube.pod-env")
	if r.Status != Pass || !strings.Contains(r.Detail, "pods sdc-old of an older template run under another ServiceAccount") {
		t.Errorf("kube.pod-env = %s: %s | %s", r.Status, r.Title, r.Detail)
	}
	f = fixture(t)
	f.Pods[0].Spec.ServiceAccountName = "default"
	if r := find(t, run(f), "kube.pod-env"); r.Status != Skip || !strings.Contains(r.Title, "no pod of Deployment ns1/sdc runs under ServiceAccount sdc yet") {
		t.Errorf("kube.pod-env = %s: %s", r.Status, r.Title)
	}
}

func TestPodOfTheAnnotationsSecond(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	f.Pods[0].CreationTimestamp = metav1.NewTime(fxAnnotatedAt)
	f.Pods[0].Spec.Containers[0].Env, f.Pods[0].Spec.Volumes = nil, nil
	if r := find(t, run(f), "kube.pod-env"); r.Status != Fail || !strings.Contains(r.Title, "pods predate the role annotation") {
		t.Errorf("kube.pod-env = %s: %s", r.Status, r.Title)
	}
	f.Webhooks = nil // without a webhook, its absence is the likelier story
	if r := find(t, run(f), "kube.pod-env"); r.Status != Fail || !strings.Contains(r.Detail, "the webhook skipped them") {
		t.Errorf("kube.pod-env = %s: %s", r.Status, r.Detail)
	}
}

// Judge is doctor without probes over facts gathered once; list shows a ServiceAccount without a
// Deployment the same way with -A and without: kube.deployment is skipped, not a warning.
func TestJudgeAnnotatedTargets(t *testing.T) {
	t.Parallel()
	for _, o := range []Options{{AllNamespaces: true}, {Namespace: fxNamespace, Annotated: true}} {
		f := fixture(t)
		f.Options = o
		f.Deployments, f.Pods = nil, nil
		finish(f)
		rep := Judge(context.Background(), f)
		if len(rep.Targets) != 1 {
			t.Fatalf("%+v: %d targets", o, len(rep.Targets))
		}
		for _, r := range rep.Targets[0].Checks {
			if r.Status == Warn || r.Status == Fail {
				t.Errorf("%+v: %s %s: %s", o, r.ID, r.Status, r.Title)
			}
			if r.ID == "kube.deployment" && r.Status != Skip {
				t.Errorf("%+v: kube.deployment %s", o, r.Status)
			}
			if r.Layer == LayerProbe {
				t.Errorf("Judge ran probe %s", r.ID)
			}
		}
	}
}

func TestHasIdentity(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	if p := &f.Pods[0]; !HasIdentity(p, fxRole) || HasIdentity(p, "arn:aws:iam::123456789012:role/other") || HasIdentity(p, "") {
		t.Error("HasIdentity")
	}
}
