package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox/awsfront"
	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox/sandboxtest"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
)

const sdcImage = "streamsets/datacollector:5.11.0"

func mustBind(t *testing.T, args ...string) result {
	t.Helper()
	r := kubectl(t, append([]string{"sdc", "bind"}, args...)...)
	if r.Code != 0 {
		t.Fatalf("kubectl sdc bind %s: %s", strings.Join(args, " "), r)
	}
	return r
}

// waitMutatedPod waits for a pod of the Deployment that carries AWS_ROLE_ARN = role.
func waitMutatedPod(t *testing.T, ns, app, role string) {
	t.Helper()
	waitPods(t, ns, app, func(p corev1.Pod) bool {
		return slices.ContainsFunc(p.Spec.Containers[0].Env, func(e corev1.EnvVar) bool { return e.Name == "AWS_ROLE_ARN" && e.Value == role })
	})
}

// The original guide's six steps as one command, checked through IAM, Kubernetes and STS; then a second
// run that writes nothing. Not parallel: it counts the sandbox's calls.
func TestBindTheOriginalGuide(t *testing.T) {
	const ns = "ns1"
	bucket := newBucket(t)
	t.Cleanup(func() { _ = kube(t).CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
	sb := sandboxtest.Get(t)
	args := []string{"-n", ns, "--service-account", "sdc", "--bucket", bucket, "--create-deployment", "--deployment", "sdc", "--image", sdcImage, "--yes"}

	before := len(kubeRequests(t))
	sb.Front.ResetCalls()
	r := mustBind(t, args...)
	for _, want := range []string{"+ create    IAM role " + roleARN(t, ns, "sdc"), "Plan: ", "Applied:"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.Stdout)
		}
	}
	fresh := calls(t)
	kubeFresh := kubeRequests(t)[before:]
	t.Logf("fresh bind: %d AWS calls (%d writes) %v; %d Kubernetes requests", fresh.Total, fresh.Writes, fresh.ByAction, len(kubeFresh))
	// The check before writing is counted apart: one policy simulation per set of condition keys (the
	// provider's, the policy's and the role's tags, the policy an attach names), one access review per kind
	// of Kubernetes write.
	simulations := fresh.ByAction["iam:SimulatePrincipalPolicy"]
	if fresh.Total-simulations > 10 || simulations < 1 || simulations > 4 {
		t.Errorf("fresh bind made %d AWS calls and %d policy simulations, want at most 10 and 1 to 4: %v", fresh.Total-simulations, simulations, fresh.ByAction)
	}
	for _, a := range []string{"iam:CreateRole", "iam:CreatePolicy", "iam:AttachRolePolicy"} {
		if fresh.ByAction[a] != 1 {
			t.Errorf("%s called %d times, want once", a, fresh.ByAction[a])
		}
	}
	reviews := 0
	for _, e := range kubeFresh {
		if e.ObjectRef != nil && e.ObjectRef.Resource == "selfsubjectaccessreviews" {
			reviews++
		}
	}
	if len(kubeFresh)-reviews > 8 || reviews < 1 || reviews > 3 {
		t.Errorf("fresh bind made %d Kubernetes requests and %d access reviews, want at most 8 and 1 to 3", len(kubeFresh)-reviews, reviews)
	}

	// IAM: the trust admits exactly ns1/sdc through the provider, and the guide's policy is attached.
	trust := trustOf(t, roleName(ns, "sdc"))
	issuer := sb.Issuer
	if d := iampolicy.Evaluate(iampolicy.WebIdentityRequest(providerARN(t), issuer, "system:serviceaccount:ns1:sdc", "sts.amazonaws.com"), trust); !d.Allowed() {
		t.Errorf("trust does not admit ns1/sdc: %v\n%s", d, trust.Canonical())
	}
	if d := iampolicy.Evaluate(iampolicy.WebIdentityRequest(providerARN(t), issuer, "system:serviceaccount:ns1:other", "sts.amazonaws.com"), trust); d.Allowed() {
		t.Error("trust admits ns1/other")
	}
	if got := attachedTo(t, roleName(ns, "sdc")); !slices.Contains(got, policyARN(t, ns, "sdc")) {
		t.Errorf("attached = %v", got)
	}
	a := awsAdmin(t)
	pol, err := a.IAM.GetPolicy(context.Background(), &iam.GetPolicyInput{PolicyArn: aws.String(policyARN(t, ns, "sdc"))})
	if err != nil {
		t.Fatal(err)
	}
	ver, err := a.IAM.GetPolicyVersion(context.Background(), &iam.GetPolicyVersionInput{PolicyArn: pol.Policy.Arn, VersionId: pol.Policy.DefaultVersionId})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := iampolicy.Parse([]byte(aws.ToString(ver.PolicyVersion.Document)))
	if err != nil {
		t.Fatal(err)
	}
	guide, _ := iampolicy.Parse([]byte(fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
		"Action":["s3:PutObject","s3:GetObject","s3:ListBucket"],
		"Resource":["arn:aws:s3:::%s/*","arn:aws:s3:::%s"]}]}`, bucket, bucket)))
	doc.Statements[0].Sid = ""
	if !doc.Equal(guide) {
		t.Errorf("policy is not the guide's:\n%s", doc.Canonical())
	}

	// Kubernetes: the ServiceAccount's annotations and the Deployment in the guide's shape.
	saObj, err := kube(t).CoreV1().ServiceAccounts(ns).Get(context.Background(), "sdc", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if saObj.Annotations["eks.amazonaws.com/role-arn"] != roleARN(t, ns, "sdc") || saObj.Annotations["eks.amazonaws.com/sts-regional-endpoints"] != "true" {
		t.Errorf("ServiceAccount annotations = %v", saObj.Annotations)
	}
	d, err := kube(t).AppsV1().Deployments(ns).Get(context.Background(), "sdc", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ps := d.Spec.Template.Spec
	if ps.ServiceAccountName != "sdc" || ps.SecurityContext == nil || ps.SecurityContext.FSGroup == nil || *ps.SecurityContext.FSGroup != 65534 ||
		ps.Containers[0].Image != sdcImage || d.Spec.Selector.MatchLabels["app"] != "sdc" || d.Spec.Template.Labels["app"] != "sdc" {
		t.Errorf("Deployment is not in the guide's shape: %+v", d.Spec)
	}
	waitMutatedPod(t, ns, "sdc", roleARN(t, ns, "sdc"))

	// STS: a token of ns1/sdc assumes the role, and its credentials may write to the bucket and nowhere else.
	out, err := assumeWithToken(t, roleARN(t, ns, "sdc"), serviceAccountToken(t, ns, "sdc", "sts.amazonaws.com"))
	if err != nil {
		t.Fatalf("STS refused ns1/sdc's token: %v", err)
	}
	cfg := a.cfg.Copy()
	cfg.Credentials = credentials.NewStaticCredentialsProvider(aws.ToString(out.Credentials.AccessKeyId), aws.ToString(out.Credentials.SecretAccessKey), aws.ToString(out.Credentials.SessionToken))
	asPod := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := asPod.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("in/x.json"), Body: strings.NewReader("{}")}); err != nil {
		t.Errorf("the role cannot write to its bucket: %v", err)
	}
	other := newBucket(t)
	if _, err := asPod.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(other), Key: aws.String("x"), Body: strings.NewReader("{}")}); err == nil {
		t.Error("the role can write to another bucket")
	}

	// A second run on the unchanged system: only `= unchanged`, no write anywhere.
	before = len(kubeRequests(t))
	sb.Front.ResetCalls()
	r = mustBind(t, args...)
	if strings.Contains(r.Stdout, "+ create") || strings.Contains(r.Stdout, "~ update") || !strings.Contains(r.Stdout, "No changes: 7 unchanged.") {
		t.Errorf("second run is not a no-op:\n%s", r.Stdout)
	}
	again := calls(t)
	kubeAgain := kubeRequests(t)[before:]
	t.Logf("no-op bind: %d AWS calls (%d writes); %d Kubernetes requests (%d writes)", again.Total, again.Writes, len(kubeAgain), writes(kubeAgain))
	if again.Writes != 0 || writes(kubeAgain) != 0 {
		t.Errorf("second run wrote: AWS %v, Kubernetes %d writes", again.ByAction, writes(kubeAgain))
	}
	if r := kubectl(t, append([]string{"sdc", "bind", "--dry-run", "--exit-code"}, args[:len(args)-1]...)...); r.Code != 0 {
		t.Errorf("dry run --exit-code on an unchanged system: %s", r)
	}
}

// Not parallel: counts the sandbox's calls.
func TestBindDryRunWritesNothing(t *testing.T) {
	ns := newNamespace(t)
	bucket := newBucket(t)
	sb := sandboxtest.Get(t)
	before := len(kubeRequests(t))
	sb.Front.ResetCalls()
	r := kubectl(t, "sdc", "bind", "-n", ns, "--bucket", bucket, "--deployment", "sdc", "--create-deployment", "--image", sdcImage, "--dry-run", "--exit-code")
	if r.Code != 2 {
		t.Fatalf("dry run with changes and --exit-code: want exit 2, got %s", r)
	}
	if !strings.Contains(r.Stdout, "+ create    IAM role") || !strings.Contains(r.Stdout, "Plan: ") {
		t.Errorf("dry run did not print the plan:\n%s", r.Stdout)
	}
	if c := calls(t); c.Writes != 0 {
		t.Errorf("dry run wrote to AWS: %v", c.ByAction)
	}
	if ev := kubeRequests(t)[before:]; writes(ev) != 0 {
		t.Errorf("dry run wrote to Kubernetes: %+v", ev)
	}
	if _, err := awsAdmin(t).IAM.GetRole(context.Background(), &iam.GetRoleInput{RoleName: aws.String(roleName(ns, "sdc"))}); err == nil {
		t.Error("dry run created the role")
	}
	if r := kubectl(t, "sdc", "bind", "-n", ns, "--bucket", bucket, "--dry-run"); r.Code != 0 {
		t.Errorf("dry run without --exit-code: want exit 0, got %s", r)
	}
}

// Bad input is a one-line error naming the flag and the rule, exit 1, before any AWS call.
// Not parallel: it requires that no AWS call at all happens.
func TestBindBadInputFailsBeforeAnyCall(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	notJSON := write("bad.json", `{"Version": "2012-10-17", "Statement": [`)
	notPolicy := write("notpolicy.json", `{"Version": "2012-10-17", "Statement": [{"Effect": "Permit", "Action": "s3:GetObject", "Resource": "*"}]}`)
	var big strings.Builder
	big.WriteString(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":[`)
	for i := 0; i < 200; i++ {
		if i > 0 {
			big.WriteString(",")
		}
		fmt.Fprintf(&big, `"arn:aws:s3:::bucket-number-%03d/*"`, i)
	}
	big.WriteString(`]}]}`)
	huge := write("huge.json", big.String())

	cases := []struct {
		name string
		args []string
		want string
	}{
		{"namespace", []string{"-n", "Bad_NS", "--bucket", "b-ok"}, `--namespace "Bad_NS": not a valid namespace name`},
		{"lock namespace", []string{"--lock-namespace", "Kube_System", "--bucket", "b-ok"}, `--lock-namespace "Kube_System": not a valid namespace name`},
		{"service account", []string{"--service-account", "SDC", "--bucket", "b-ok"}, `--service-account "SDC": not a valid Kubernetes object name`},
		{"deployment", []string{"--deployment", "sdc_1", "--bucket", "b-ok"}, `--deployment "sdc_1"`},
		{"role name chars", []string{"--role-name", "sdc/role", "--bucket", "b-ok"}, `--role-name "sdc/role": IAM names may contain only`},
		{"role name length", []string{"--role-name", strings.Repeat("r", 65), "--bucket", "b-ok"}, "at most 64 characters"},
		{"policy name", []string{"--policy-name", strings.Repeat("p", 129), "--bucket", "b-ok"}, "--policy-name"},
		{"bucket name", []string{"--bucket", "My_Bucket"}, `--bucket "My_Bucket"`},
		{"bucket IP-shaped", []string{"--bucket", "192.168.1.1"}, "--bucket"},
		{"unknown stage", []string{"--stage", "s4"}, `--stage "s4": unknown stage`},
		{"missing parameter", []string{"--stage", "s3-origin"}, "bucket"},
		{"unknown parameter", []string{"--bucket", "b-ok", "--set", "colour=blue"}, "colour"},
		{"set without =", []string{"--stage", "s3", "--set", "bucket"}, `--set "bucket": want key=value`},
		{"set without stage", []string{"--set", "bucket=b-ok", "--attach-policy-arn", "arn:aws:iam::aws:policy/ReadOnlyAccess"}, "--set: parameters need a --stage"},
		{"no permissions", []string{"-n", "x"}, "no permissions given"},
		{"policy file missing", []string{"--policy-file", filepath.Join(dir, "nope.json")}, "--policy-file"},
		{"policy file not JSON", []string{"--policy-file", notJSON}, "not a valid IAM policy document"},
		{"policy file not a policy", []string{"--policy-file", notPolicy}, `"Permit"`},
		{"policy file too big", []string{"--policy-file", huge}, "6144"},
		{"stages and policy file", []string{"--bucket", "b-ok", "--policy-file", notPolicy}, "--policy-file"},
		{"attach ARN form", []string{"--attach-policy-arn", "arn:aws:iam::123456789012:role/x"}, `--attach-policy-arn "arn:aws:iam::123456789012:role/x": not a managed policy ARN`},
		{"create without deployment", []string{"--bucket", "b-ok", "--create-deployment", "--image", sdcImage}, "--create-deployment: needs --deployment"},
		{"create without image", []string{"--bucket", "b-ok", "--create-deployment", "--deployment", "sdc"}, "--image"},
		{"fs group", []string{"--bucket", "b-ok", "--fs-group", "-5"}, "--fs-group"},
		{"output", []string{"--bucket", "b-ok", "-o", "xml"}, `--output "xml"`},
		{"exit code without dry run", []string{"--bucket", "b-ok", "--exit-code"}, "--exit-code needs --dry-run"},
		{"wait without deployment", []string{"--bucket", "b-ok", "--wait"}, "--wait needs --deployment"},
		{"unknown mechanism", []string{"--bucket", "b-ok", "--mechanism", "kiam"}, `--mechanism "kiam": unknown mechanism: want irsa or pod-identity`},
		{"remove-irsa without Pod Identity", []string{"--bucket", "b-ok", "--remove-irsa"}, "--remove-irsa: removes IRSA once EKS Pod Identity serves the ServiceAccount: it needs --mechanism pod-identity"},
		{"force without Pod Identity", []string{"--bucket", "b-ok", "--force"}, "--force: binds an SDC image that cannot use EKS Pod Identity anyway"},
		{"IRSA's flag with Pod Identity", []string{"--bucket", "b-ok", "--mechanism", "pod-identity", "--sts-regional-endpoints=false"}, "--sts-regional-endpoints: sets an annotation of IRSA's"},
	}
	sb := sandboxtest.Get(t)
	before := len(kubeRequests(t))
	sb.Front.ResetCalls()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := kubectl(t, append([]string{"sdc", "bind", "--yes"}, c.args...)...)
			if r.Code != 1 {
				t.Errorf("exit %d, want 1: %s", r.Code, r)
			}
			msg := strings.TrimSpace(r.Stderr)
			if !strings.HasPrefix(msg, "error: ") || strings.Count(msg, "\n") > 0 || !strings.Contains(msg, c.want) {
				t.Errorf("want one line with %q, got:\n%s", c.want, r.Stderr)
			}
		})
	}
	if c := calls(t); c.Total != 0 {
		t.Errorf("bad input reached AWS: %v", c.ByAction)
	}
	if ev := kubeRequests(t)[before:]; len(ev) != 0 {
		t.Errorf("bad input reached Kubernetes: %d requests", len(ev))
	}
}

// Input that is only known to be wrong after reading: still nothing is written.
func TestBindRefusesBeforeWriting(t *testing.T) {
	ns := newNamespace(t)
	bucket := newBucket(t)
	// A policy under bind's default name that bind did not make.
	_, err := awsAdmin(t).IAM.CreatePolicy(context.Background(), &iam.CreatePolicyInput{
		PolicyName:     aws.String(roleName(ns, "taken")),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListAllMyBuckets","Resource":"*"}]}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"deployment missing", []string{"--bucket", bucket, "--deployment", "absent"}, `--deployment "absent": no such Deployment in namespace ` + ns},
		{"attach policy missing", []string{"--attach-policy-arn", "arn:aws:iam::123456789012:policy/no-such-policy"}, "no such policy in the account"},
		{"policy not made by bind", []string{"--service-account", "taken", "--bucket", bucket}, "was not made by kubectl-sdc"},
		{"no terminal and no --yes", []string{"--bucket", bucket}, "refusing to change anything without confirmation"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"sdc", "bind", "-n", ns}, c.args...)
			if c.name != "no terminal and no --yes" {
				args = append(args, "--yes")
			}
			r := kubectl(t, args...)
			if r.Code != 1 || !strings.Contains(r.Stderr, c.want) {
				t.Errorf("want exit 1 with %q, got %s", c.want, r)
			}
		})
	}
	for _, sa := range []string{"sdc", "taken"} {
		if _, err := awsAdmin(t).IAM.GetRole(context.Background(), &iam.GetRoleInput{RoleName: aws.String(roleName(ns, sa))}); err == nil {
			t.Errorf("role for %s was created although bind refused", sa)
		}
	}
	if sas, _ := kube(t).CoreV1().ServiceAccounts(ns).Get(context.Background(), "sdc", metav1.GetOptions{}); sas != nil && sas.Annotations["eks.amazonaws.com/role-arn"] != "" {
		t.Error("ServiceAccount annotated although bind refused")
	}
}

// Everything that exists stays as it was: another manager's labels and annotations, other trust
// statements, other attached policies, every other Deployment field.
func TestBindPreservesWhatExists(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	bucket := newBucket(t)
	dir := t.TempDir()
	manifest := filepath.Join(dir, "existing.yaml")
	if err := os.WriteFile(manifest, []byte(fmt.Sprintf(`apiVersion: v1
kind: ServiceAccount
metadata:
  name: sdc
  namespace: %[1]s
  labels:
    app.kubernetes.io/managed-by: Helm
    team: data
  annotations:
    meta.helm.sh/release-name: sdc
    note: keep me
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: sdc
  namespace: %[1]s
  labels: {app: sdc, tier: ingest}
  annotations: {owner: data-team}
spec:
  replicas: 2
  revisionHistoryLimit: 3
  selector: {matchLabels: {app: sdc}}
  template:
    metadata:
      labels: {app: sdc}
      annotations: {prometheus.io/scrape: "true"}
    spec:
      serviceAccountName: default
      nodeSelector: {kubernetes.io/os: linux}
      securityContext: {runAsUser: 20159, runAsGroup: 20159}
      containers:
      - name: datacollector
        image: streamsets/datacollector:5.10.0
        env: [{name: SDC_JAVA_OPTS, value: "-Xmx2g"}]
        ports: [{containerPort: 18630}]
        resources: {limits: {memory: 4Gi}, requests: {cpu: "1"}}
      - name: sidecar
        image: busybox:1.36
        command: [sleep, infinity]
`, ns)), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := kubectl(t, "apply", "-f", manifest); r.Code != 0 {
		t.Fatal(r)
	}
	// A role under bind's default name with another statement, and another policy attached.
	role := roleName(ns, "sdc")
	ec2Trust := `{"Version":"2012-10-17","Statement":[{"Sid":"EC2","Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	if r := run(t, nil, "aws", "iam", "create-role", "--role-name", role, "--assume-role-policy-document", ec2Trust); r.Code != 0 {
		t.Fatal(r)
	}
	otherPolicy := "other-" + ns
	if r := run(t, nil, "aws", "iam", "create-policy", "--policy-name", otherPolicy, "--policy-document",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sqs:ListQueues","Resource":"*"}]}`); r.Code != 0 {
		t.Fatal(r)
	}
	otherARN := fmt.Sprintf("arn:aws:iam::%s:policy/%s", sandboxtest.Get(t).AccountID, otherPolicy)
	if r := run(t, nil, "aws", "iam", "attach-role-policy", "--role-name", role, "--policy-arn", otherARN); r.Code != 0 {
		t.Fatal(r)
	}
	deployBefore, err := kube(t).AppsV1().Deployments(ns).Get(context.Background(), "sdc", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}

	r := mustBind(t, "-n", ns, "--bucket", bucket, "--deployment", "sdc", "--yes")
	if !strings.Contains(r.Stdout, "~ update    IAM role") || !strings.Contains(r.Stdout, "~ update    ServiceAccount") || !strings.Contains(r.Stdout, "~ update    Deployment") {
		t.Errorf("plan:\n%s", r.Stdout)
	}

	sa, err := kube(t).CoreV1().ServiceAccounts(ns).Get(context.Background(), "sdc", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantLabels := map[string]string{"app.kubernetes.io/managed-by": "Helm", "team": "data"}
	if !reflect.DeepEqual(sa.Labels, wantLabels) {
		t.Errorf("ServiceAccount labels = %v, want %v", sa.Labels, wantLabels)
	}
	for k, v := range map[string]string{"meta.helm.sh/release-name": "sdc", "note": "keep me", "eks.amazonaws.com/role-arn": roleARN(t, ns, "sdc")} {
		if sa.Annotations[k] != v {
			t.Errorf("ServiceAccount annotation %s = %q, want %q", k, sa.Annotations[k], v)
		}
	}

	trust := trustOf(t, role)
	if len(trust.Statements) != 2 || trust.Statements[0].Sid != "EC2" {
		t.Errorf("trust statements:\n%s", trust.Canonical())
	}
	if d := iampolicy.Evaluate(iampolicy.Request{Principal: &iampolicy.RequestPrincipal{Type: "Service", ID: "ec2.amazonaws.com"}, Action: "sts:AssumeRole"}, trust); !d.Allowed() {
		t.Error("the EC2 statement no longer admits EC2")
	}
	if got := attachedTo(t, role); !slices.Contains(got, otherARN) || !slices.Contains(got, policyARN(t, ns, "sdc")) {
		t.Errorf("attached = %v, want both %s and bind's policy", got, otherARN)
	}

	after, err := kube(t).AppsV1().Deployments(ns).Get(context.Background(), "sdc", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if after.Spec.Template.Spec.ServiceAccountName != "sdc" || *after.Spec.Template.Spec.SecurityContext.FSGroup != 65534 {
		t.Errorf("Deployment not bound: %+v", after.Spec.Template.Spec)
	}
	// Everything else is as it was: normalize the two fields bind owns and compare the rest.
	norm := func(d *appsv1.Deployment) (appsv1.DeploymentSpec, map[string]string, map[string]string) {
		s := *d.Spec.DeepCopy()
		s.Template.Spec.ServiceAccountName, s.Template.Spec.DeprecatedServiceAccount = "", ""
		s.Template.Spec.SecurityContext.FSGroup = nil
		annots := map[string]string{}
		for k, v := range d.Annotations {
			if k != "deployment.kubernetes.io/revision" && k != "kubectl.kubernetes.io/last-applied-configuration" {
				annots[k] = v
			}
		}
		return s, d.Labels, annots
	}
	s1, l1, a1 := norm(deployBefore)
	s2, l2, a2 := norm(after)
	if !reflect.DeepEqual(s1, s2) || !reflect.DeepEqual(l1, l2) || !reflect.DeepEqual(a1, a2) {
		b1, _ := yaml.Marshal(s1)
		b2, _ := yaml.Marshal(s2)
		t.Errorf("other Deployment fields changed:\nbefore:\n%s\nafter:\n%s", b1, b2)
	}

	r = mustBind(t, "-n", ns, "--bucket", bucket, "--deployment", "sdc", "--yes")
	if !strings.Contains(r.Stdout, "No changes") {
		t.Errorf("second run:\n%s", r.Stdout)
	}
}

func TestBindOutputObject(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	bucket := newBucket(t)
	type out struct {
		OIDCProviderARN string `json:"oidcProviderArn"`
		PolicyARN       string `json:"policyArn"`
		RoleARN         string `json:"roleArn"`
		Namespace       string `json:"namespace"`
		ServiceAccount  string `json:"serviceAccount"`
		Deployment      string `json:"deployment"`
		Changes         []struct{ Kind, Name, Action string }
	}
	r := kubectl(t, "sdc", "bind", "-n", ns, "--bucket", bucket, "--deployment", "web", "--create-deployment", "--image", sdcImage, "--dry-run", "-o", "yaml")
	if r.Code != 0 {
		t.Fatal(r)
	}
	var planned out
	if err := yaml.Unmarshal([]byte(r.Stdout), &planned); err != nil {
		t.Fatalf("-o yaml: %v\n%s", err, r.Stdout)
	}
	r = mustBind(t, "-n", ns, "--bucket", bucket, "--deployment", "web", "--create-deployment", "--image", sdcImage, "--yes", "-o", "json")
	var applied out
	if err := json.Unmarshal([]byte(r.Stdout), &applied); err != nil {
		t.Fatalf("-o json: %v\n%s", err, r.Stdout)
	}
	if applied.RoleARN != roleARN(t, ns, "sdc") || applied.PolicyARN != policyARN(t, ns, "sdc") || applied.OIDCProviderARN != providerARN(t) ||
		applied.Namespace != ns || applied.ServiceAccount != "sdc" || applied.Deployment != "web" {
		t.Errorf("-o json = %+v", applied)
	}
	kinds := map[string]string{}
	for _, c := range applied.Changes {
		kinds[c.Kind] = c.Action
	}
	for _, k := range []string{"IAM role", "IAM policy", "ServiceAccount", "Deployment"} {
		if kinds[k] != "create" {
			t.Errorf("change %s = %q, want create (all: %+v)", k, kinds[k], applied.Changes)
		}
	}
	if !reflect.DeepEqual(planned.Changes, applied.Changes) {
		t.Errorf("dry run planned %+v, apply did %+v", planned.Changes, applied.Changes)
	}
	if strings.Contains(r.Stdout, "Plan:") {
		t.Error("-o json printed prose too")
	}
}

// The namespace comes from -n, else the kube context's namespace; --context picks the context.
func TestBindNamespaceFromTheContext(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	bucket := newBucket(t)
	sb := sandboxtest.Get(t)
	raw, err := os.ReadFile(sb.KubeconfigPath)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	ctxs := cfg["contexts"].([]any)
	c := ctxs[0].(map[string]any)
	second := map[string]any{"name": "with-ns", "context": map[string]any{
		"cluster": c["context"].(map[string]any)["cluster"], "user": c["context"].(map[string]any)["user"], "namespace": ns}}
	cfg["contexts"] = append(ctxs, second)
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	b, _ := yaml.Marshal(cfg)
	if err := os.WriteFile(kc, b, 0o600); err != nil {
		t.Fatal(err)
	}
	r := kubectl(t, "sdc", "--kubeconfig", kc, "--context", "with-ns", "bind", "--bucket", bucket, "--dry-run")
	if r.Code != 0 || !strings.Contains(r.Stdout, "ServiceAccount "+ns+"/sdc") {
		t.Errorf("namespace from the context: %s", r)
	}
	r = kubectl(t, "sdc", "bind", "--kubeconfig", kc, "--context", "with-ns", "-n", "other", "--bucket", bucket, "--dry-run")
	if r.Code != 0 || !strings.Contains(r.Stdout, "ServiceAccount other/sdc") {
		t.Errorf("-n wins over the context: %s", r)
	}
	if r := kubectl(t, "sdc", "bind", "--context", "no-such-context", "--bucket", bucket, "--dry-run"); r.Code != 1 || !strings.Contains(r.Stderr, "no-such-context") {
		t.Errorf("unknown context: %s", r)
	}
}

// Pods that started before the annotation have no AWS identity: bind restarts them, once.
func TestBindRestartsPodsThatPredateTheAnnotation(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	bucket := newBucket(t)
	ctx := context.Background()
	webUnderSDC(t, ns)
	r := mustBind(t, "-n", ns, "--bucket", bucket, "--deployment", "web", "--fs-group=-1", "--yes")
	if !strings.Contains(r.Stdout, "~ update    Deployment restart") || !strings.Contains(r.Stdout, "started before the role annotation") {
		t.Errorf("no restart planned:\n%s", r.Stdout)
	}
	d, err := kube(t).AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"] == "" || d.Spec.Template.Spec.SecurityContext.FSGroup != nil {
		t.Errorf("template after restart: %+v", d.Spec.Template)
	}
	waitMutatedPod(t, ns, "web", roleARN(t, ns, "sdc"))
	// The old pod stays Pending-and-unmutated until the new one is ready (never, without nodes): a second
	// run must see the rollout under way and not restart again.
	r = mustBind(t, "-n", ns, "--bucket", bucket, "--deployment", "web", "--fs-group=-1", "--yes")
	if !strings.Contains(r.Stdout, "No changes") {
		t.Errorf("second run restarted again:\n%s", r.Stdout)
	}
	// --restart=false leaves stale pods alone.
	ns2 := newNamespace(t)
	webUnderSDC(t, ns2)
	r = mustBind(t, "-n", ns2, "--bucket", bucket, "--deployment", "web", "--fs-group=-1", "--restart=false", "--yes")
	if strings.Contains(r.Stdout, "Deployment restart") {
		t.Errorf("--restart=false restarted:\n%s", r.Stdout)
	}
}

// webUnderSDC creates, with kubectl, ServiceAccount sdc (no annotation yet) and Deployment web running
// under it, and waits for its pod.
func webUnderSDC(t *testing.T, ns string) {
	t.Helper()
	manifest := filepath.Join(t.TempDir(), "web.yaml")
	if err := os.WriteFile(manifest, []byte(fmt.Sprintf(`apiVersion: v1
kind: ServiceAccount
metadata: {name: sdc, namespace: %[1]s}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: %[1]s}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      serviceAccountName: sdc
      containers: [{name: sdc, image: %[2]s}]
`, ns, sdcImage)), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := kubectl(t, "apply", "-f", manifest); r.Code != 0 {
		t.Fatal(r)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		pods, _ := kube(t).CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=web"})
		if pods != nil && len(pods.Items) > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no pod of Deployment web in %s after 30s", ns)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// --wait follows the rollout: it times out while pods stay Pending, and finishes once they are ready (the
// test plays the kubelet: the sandbox has none).
func TestBindWait(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	bucket := newBucket(t)
	r := kubectl(t, "sdc", "bind", "-n", ns, "--bucket", bucket, "--deployment", "sdc", "--create-deployment", "--image", sdcImage, "--yes", "--wait", "--timeout", "3s")
	if r.Code != 1 || !strings.Contains(r.Stderr, "did not finish rolling out within --timeout 3s") || !strings.Contains(r.Stderr, "0/1 ready") {
		t.Fatalf("want a timeout naming the progress: %s", r)
	}
	done := make(chan result, 1)
	go func() {
		done <- kubectl(t, "sdc", "bind", "-n", ns, "--bucket", bucket, "--deployment", "sdc", "--yes", "--wait", "--timeout", "60s")
	}()
	ctx := context.Background()
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case r := <-done:
			if r.Code != 0 || !strings.Contains(r.Stderr, "rolled out: 1/1 ready") {
				t.Fatalf("--wait with a ready pod: %s", r)
			}
			return
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("bind --wait did not return")
		}
		pods, err := kube(t).CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=sdc"})
		if err != nil {
			t.Fatal(err)
		}
		for i := range pods.Items {
			markReady(t, &pods.Items[i])
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// markReady does what a kubelet does once a pod runs: status Running with the Ready condition.
func markReady(t *testing.T, p *corev1.Pod) {
	if p.Status.Phase == corev1.PodRunning {
		return
	}
	now := metav1.Now()
	p.Status.Phase = corev1.PodRunning
	p.Status.Conditions = []corev1.PodCondition{
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now},
		{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
		{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
	}
	if _, err := kube(t).CoreV1().Pods(p.Namespace).UpdateStatus(context.Background(), p, metav1.UpdateOptions{}); err != nil && !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
		t.Errorf("marking pod %s ready: %v", p.Name, err)
	}
}

// Turning regional STS endpoints off removes the annotation bind set, but not one another tool set.
func TestBindRegionalEndpointsAnnotation(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	bucket := newBucket(t)
	mustBind(t, "-n", ns, "--bucket", bucket, "--yes")
	r := mustBind(t, "-n", ns, "--bucket", bucket, "--sts-regional-endpoints=false", "--yes")
	if !strings.Contains(r.Stdout, "~ update    ServiceAccount") {
		t.Errorf("plan:\n%s", r.Stdout)
	}
	sa, _ := kube(t).CoreV1().ServiceAccounts(ns).Get(context.Background(), "sdc", metav1.GetOptions{})
	if _, ok := sa.Annotations["eks.amazonaws.com/sts-regional-endpoints"]; ok {
		t.Error("bind's own annotation stayed")
	}
	kubectl(t, "annotate", "sa", "sdc", "-n", ns, "eks.amazonaws.com/sts-regional-endpoints=true")
	r = mustBind(t, "-n", ns, "--bucket", bucket, "--sts-regional-endpoints=false", "--yes")
	sa, _ = kube(t).CoreV1().ServiceAccounts(ns).Get(context.Background(), "sdc", metav1.GetOptions{})
	if !strings.Contains(r.Stdout, "No changes") || sa.Annotations["eks.amazonaws.com/sts-regional-endpoints"] != "true" {
		t.Errorf("another tool's annotation was touched:\n%s", r.Stdout)
	}
}

// A changed document becomes a new default version; IAM's five versions are never exceeded.
func TestBindPolicyVersions(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	bucket := newBucket(t)
	stages := []string{"s3-origin", "s3-destination", "s3-executor"}
	for i := 0; i < 7; i++ {
		r := mustBind(t, "-n", ns, "--stage", stages[i%3], "--bucket", bucket, "--yes")
		if i > 0 && !strings.Contains(r.Stdout, "~ update    IAM policy") {
			t.Errorf("run %d did not update the policy:\n%s", i, r.Stdout)
		}
	}
	versions, err := awsAdmin(t).IAM.ListPolicyVersions(context.Background(), &iam.ListPolicyVersionsInput{PolicyArn: aws.String(policyARN(t, ns, "sdc"))})
	if err != nil {
		t.Fatal(err)
	}
	if len(versions.Versions) > 5 {
		t.Errorf("%d policy versions, IAM allows 5", len(versions.Versions))
	}
	r := mustBind(t, "-n", ns, "--stage", stages[6%3], "--bucket", bucket, "--yes")
	if !strings.Contains(r.Stdout, "No changes") {
		t.Errorf("the last document is not the default version:\n%s", r.Stdout)
	}
	roleOut, err := awsAdmin(t).IAM.GetRole(context.Background(), &iam.GetRoleInput{RoleName: aws.String(roleName(ns, "sdc"))})
	if err != nil {
		t.Fatal(err)
	}
	var tag string
	for _, tg := range roleOut.Role.Tags {
		if aws.ToString(tg.Key) == "kubectl-sdc/stages" {
			tag = aws.ToString(tg.Value)
		}
	}
	if !strings.Contains(tag, stages[6%3]) {
		t.Errorf("stages tag = %q, want it to name %s", tag, stages[6%3])
	}
}

// A policy document from a file, and policies attached by ARN.
func TestBindPolicyFileAndAttachments(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	file := filepath.Join(t.TempDir(), "policy.json")
	doc := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sqs:ReceiveMessage","Resource":"arn:aws:sqs:us-west-2:123456789012:orders"}}`
	if err := os.WriteFile(file, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	extra := "extra-" + ns
	if r := run(t, nil, "aws", "iam", "create-policy", "--policy-name", extra, "--policy-document",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sqs:ListQueues","Resource":"*"}]}`); r.Code != 0 {
		t.Fatal(r)
	}
	extraARN := fmt.Sprintf("arn:aws:iam::%s:policy/%s", sandboxtest.Get(t).AccountID, extra)
	mustBind(t, "-n", ns, "--policy-file", file, "--attach-policy-arn", extraARN, "--yes")
	if got := attachedTo(t, roleName(ns, "sdc")); !slices.Contains(got, extraARN) || !slices.Contains(got, policyARN(t, ns, "sdc")) {
		t.Errorf("attached = %v", got)
	}
	// Only attachments: no policy of bind's own.
	mustBind(t, "-n", ns, "--service-account", "reader", "--attach-policy-arn", extraARN, "--yes")
	if got := attachedTo(t, roleName(ns, "reader")); !reflect.DeepEqual(got, []string{extraARN}) {
		t.Errorf("attached = %v, want only %s", got, extraARN)
	}
}

// Throttling and IAM's eventual consistency still end in the right state; a failure midway says what was
// done, and the same command finishes the job. Not parallel: faults are account-wide.
func TestBindUnderFaults(t *testing.T) {
	sb := sandboxtest.Get(t)
	t.Cleanup(func() { sb.Front.SetFaults(awsfront.Faults{}) })
	check := func(t *testing.T, ns string) {
		t.Helper()
		trust := trustOf(t, roleName(ns, "sdc"))
		if d := iampolicy.Evaluate(iampolicy.WebIdentityRequest(providerARN(t), sb.Issuer, "system:serviceaccount:"+ns+":sdc", "sts.amazonaws.com"), trust); !d.Allowed() {
			t.Errorf("trust does not admit %s/sdc", ns)
		}
		if got := attachedTo(t, roleName(ns, "sdc")); !slices.Contains(got, policyARN(t, ns, "sdc")) {
			t.Errorf("attached = %v", got)
		}
	}
	t.Run("throttling and a consistency window", func(t *testing.T) {
		ns := newNamespace(t)
		bucket := newBucket(t)
		sb.Front.SetFaults(awsfront.Faults{ThrottleRate: 0.3, ConsistencyDelayMS: 1500})
		sb.Front.ResetCalls()
		mustBind(t, "-n", ns, "--bucket", bucket, "--yes")
		t.Logf("under faults: %v", calls(t).ByAction)
		sb.Front.SetFaults(awsfront.Faults{})
		check(t, ns)
		if r := mustBind(t, "-n", ns, "--bucket", bucket, "--yes"); !strings.Contains(r.Stdout, "No changes") {
			t.Errorf("not converged:\n%s", r.Stdout)
		}
	})
	t.Run("failure midway, then a rerun", func(t *testing.T) {
		ns := newNamespace(t)
		bucket := newBucket(t)
		sb.Front.SetFaults(awsfront.Faults{FailAfterWrites: 1})
		r := kubectl(t, "sdc", "bind", "-n", ns, "--bucket", bucket, "--yes")
		sb.Front.SetFaults(awsfront.Faults{})
		if r.Code != 1 || !strings.Contains(r.Stderr, "bind stopped part way") || !strings.Contains(r.Stderr, "run the same command again") {
			t.Fatalf("want a partial failure that says how to finish: %s", r)
		}
		mustBind(t, "-n", ns, "--bucket", bucket, "--yes")
		check(t, ns)
	})
}

// An existing provider without the audience gets it added. Not parallel: the provider is shared.
func TestBindAddsTheAudienceToAnExistingProvider(t *testing.T) {
	ns := newNamespace(t)
	bucket := newBucket(t)
	mustBind(t, "-n", ns, "--bucket", bucket, "--yes")
	a := awsAdmin(t)
	ctx := context.Background()
	if _, err := a.IAM.AddClientIDToOpenIDConnectProvider(ctx, &iam.AddClientIDToOpenIDConnectProviderInput{OpenIDConnectProviderArn: aws.String(providerARN(t)), ClientID: aws.String("keep.example.com")}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.IAM.RemoveClientIDFromOpenIDConnectProvider(ctx, &iam.RemoveClientIDFromOpenIDConnectProviderInput{OpenIDConnectProviderArn: aws.String(providerARN(t)), ClientID: aws.String("sts.amazonaws.com")}); err != nil {
		t.Fatal(err)
	}
	r := mustBind(t, "-n", ns, "--bucket", bucket, "--yes")
	if !strings.Contains(r.Stdout, "~ update    IAM OIDC provider") || !strings.Contains(r.Stdout, "adds client ID sts.amazonaws.com") {
		t.Errorf("plan:\n%s", r.Stdout)
	}
	p, err := a.IAM.GetOpenIDConnectProvider(ctx, &iam.GetOpenIDConnectProviderInput{OpenIDConnectProviderArn: aws.String(providerARN(t))})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(p.ClientIDList, "sts.amazonaws.com") || !slices.Contains(p.ClientIDList, "keep.example.com") {
		t.Errorf("client IDs = %v", p.ClientIDList)
	}
}

// A Deployment bind created, then changed by someone else, is repaired without losing what bind set when
// it created it (server-side apply would remove owned fields an apply leaves out).
func TestBindRepairsADeploymentItCreated(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	bucket := newBucket(t)
	args := []string{"-n", ns, "--bucket", bucket, "--deployment", "sdc", "--create-deployment", "--image", sdcImage, "--yes"}
	mustBind(t, args...)
	if r := kubectl(t, "set", "serviceaccount", "deployment/sdc", "default", "-n", ns); r.Code != 0 {
		t.Fatal(r)
	}
	if r := kubectl(t, "patch", "deployment/sdc", "-n", ns, "--type=json", "-p", `[{"op":"remove","path":"/spec/template/spec/securityContext/fsGroup"}]`); r.Code != 0 {
		t.Fatal(r)
	}
	r := mustBind(t, args...)
	if !strings.Contains(r.Stdout, "~ update    Deployment") {
		t.Errorf("plan:\n%s", r.Stdout)
	}
	d, err := kube(t).AppsV1().Deployments(ns).Get(context.Background(), "sdc", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ps := d.Spec.Template.Spec
	if ps.ServiceAccountName != "sdc" || ps.SecurityContext.FSGroup == nil || *ps.SecurityContext.FSGroup != 65534 ||
		len(ps.Containers) != 1 || ps.Containers[0].Image != sdcImage || d.Spec.Selector.MatchLabels["app"] != "sdc" {
		t.Errorf("repaired Deployment: %+v", d.Spec)
	}
	if r := mustBind(t, args...); !strings.Contains(r.Stdout, "No changes") {
		t.Errorf("third run:\n%s", r.Stdout)
	}
}
