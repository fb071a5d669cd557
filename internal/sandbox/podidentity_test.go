package sandbox_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox"
	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox/sandboxtest"
	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox/webhook"
)

// associate makes a Pod Identity role and associates it with ns/sa through the sandbox's AWS endpoint.
func associate(t *testing.T, sb *sandbox.Sandbox, ns, sa string) {
	t.Helper()
	ctx := context.Background()
	cfg := aws.Config{Region: sb.Region, BaseEndpoint: aws.String(sb.AWSEndpoint), Credentials: credentials.NewStaticCredentialsProvider(sb.AccessKeyID, sb.SecretAccessKey, "")}
	role, err := iam.NewFromConfig(cfg).CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("pi-" + ns + "-" + sa), AssumeRolePolicyDocument: aws.String(
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"]}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eks.NewFromConfig(cfg).CreatePodIdentityAssociation(ctx, &eks.CreatePodIdentityAssociationInput{
		ClusterName: aws.String(sandbox.ClusterName), Namespace: aws.String(ns), ServiceAccount: aws.String(sa), RoleArn: role.Role.Arn,
	}); err != nil {
		t.Fatal(err)
	}
}

func podIdentityVolume(p *corev1.Pod) *corev1.ServiceAccountTokenProjection {
	for _, v := range p.Spec.Volumes {
		if v.Name == webhook.PodIdentityVolumeName && v.Projected != nil && len(v.Projected.Sources) == 1 {
			return v.Projected.Sources[0].ServiceAccountToken
		}
	}
	return nil
}

func podIdentityMount(c corev1.Container) *corev1.VolumeMount {
	for _, m := range c.VolumeMounts {
		if m.Name == webhook.PodIdentityVolumeName {
			return &m
		}
	}
	return nil
}

func createPod(t *testing.T, c kubernetes.Interface, ns, name, sa string, annotations map[string]string, containers ...corev1.Container) *corev1.Pod {
	t.Helper()
	p, err := c.CoreV1().Pods(ns).Create(context.Background(), &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: annotations},
		Spec:       corev1.PodSpec{ServiceAccountName: sa, Containers: containers},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestWebhookInjectsPodIdentityForAssociatedServiceAccounts(t *testing.T) {
	sb := sandboxtest.Get(t)
	c := client(t)
	ctx := context.Background()
	ns := namespace(t, c)
	for _, sa := range []*corev1.ServiceAccount{
		{ObjectMeta: metav1.ObjectMeta{Name: "sdc"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "plain"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "both", Annotations: map[string]string{webhook.RoleARNAnnotation: "arn:aws:iam::" + sb.AccountID + ":role/irsa"}}},
	} {
		if _, err := c.CoreV1().ServiceAccounts(ns).Create(ctx, sa, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	before := createPod(t, c, ns, "before", "sdc", nil, corev1.Container{Name: "app", Image: "example/app:1"})
	if podIdentityVolume(before) != nil || len(before.Spec.Containers[0].Env) != 0 {
		t.Fatalf("a pod of a ServiceAccount without an association was mutated: %+v", before.Spec)
	}
	associate(t, sb, ns, "sdc")
	associate(t, sb, ns, "both")

	// The ServiceAccount's pods now get the Pod Identity environment and token; a variable the user set stays.
	p := createPod(t, c, ns, "after", "sdc", map[string]string{webhook.SkipContainersAnnot: "sidecar"},
		corev1.Container{Name: "app", Image: "example/app:1", Env: []corev1.EnvVar{{Name: "AWS_REGION", Value: "eu-central-1"}}},
		corev1.Container{Name: "sidecar", Image: "example/sidecar:1"})
	env := envOf(p.Spec.Containers[0])
	want := map[string]string{
		"AWS_CONTAINER_CREDENTIALS_FULL_URI":     "http://169.254.170.23/v1/credentials",
		"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token",
		"AWS_REGION":                             "eu-central-1",
		"AWS_DEFAULT_REGION":                     sb.Region,
		"AWS_STS_REGIONAL_ENDPOINTS":             "regional",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("env %s = %q; want %q (all: %v)", k, env[k], v, env)
		}
	}
	if n := len(p.Spec.Containers[0].Env); n != len(want) {
		t.Errorf("%d variables; want %d, none twice: %v", n, len(want), p.Spec.Containers[0].Env)
	}
	if _, irsa := env["AWS_ROLE_ARN"]; irsa {
		t.Error("IRSA variables on a pod whose ServiceAccount has no role annotation")
	}
	m := podIdentityMount(p.Spec.Containers[0])
	if m == nil || m.MountPath != "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount" || !m.ReadOnly {
		t.Errorf("token mount %+v; want read-only at /var/run/secrets/pods.eks.amazonaws.com/serviceaccount", m)
	}
	v := podIdentityVolume(p)
	if v == nil || v.Audience != "pods.eks.amazonaws.com" || v.ExpirationSeconds == nil || *v.ExpirationSeconds != 86400 || v.Path != "eks-pod-identity-token" {
		t.Errorf("token volume %+v; want audience pods.eks.amazonaws.com, 86400 s, path eks-pod-identity-token", v)
	}
	if len(p.Spec.Containers[1].Env) != 0 || podIdentityMount(p.Spec.Containers[1]) != nil {
		t.Errorf("skipped container mutated: %+v", p.Spec.Containers[1])
	}

	// The pod made before the association is as it was.
	got, err := c.CoreV1().Pods(ns).Get(ctx, "before", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if podIdentityVolume(got) != nil || len(got.Spec.Containers[0].Env) != 0 {
		t.Errorf("the pod created before the association changed: %+v", got.Spec)
	}

	// Other ServiceAccounts' pods get nothing.
	plain := createPod(t, c, ns, "plain", "plain", nil, corev1.Container{Name: "app", Image: "example/app:1"})
	if podIdentityVolume(plain) != nil || len(plain.Spec.Containers[0].Env) != 0 {
		t.Errorf("a pod of a ServiceAccount without an association was mutated: %+v", plain.Spec)
	}

	// IRSA annotation and association: both are injected, as on EKS (the SDKs then prefer web identity).
	both := createPod(t, c, ns, "both", "both", nil, corev1.Container{Name: "app", Image: "example/app:1"})
	env = envOf(both.Spec.Containers[0])
	if env["AWS_ROLE_ARN"] == "" || env["AWS_WEB_IDENTITY_TOKEN_FILE"] == "" || env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] == "" || env["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] == "" {
		t.Errorf("env of a pod with IRSA and Pod Identity: %v; want both", env)
	}
	if tokenVolume(both) == nil || podIdentityVolume(both) == nil {
		t.Errorf("volumes %+v; want aws-iam-token and eks-pod-identity-token", both.Spec.Volumes)
	}
}
