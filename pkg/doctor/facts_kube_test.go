package doctor

import (
	"reflect"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// webhookPod is a pod as the pod identity webhook leaves it for IRSA, with what a real cluster adds.
func webhookPod() *corev1.Pod {
	exp := int64(86400)
	env := []corev1.EnvVar{{Name: vocab.EnvRoleARN, Value: "arn:aws:iam::111122223333:role/r"}, {Name: vocab.EnvWebIdentityTokenFile, Value: "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"}}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "sdc-0", Namespace: "ns", UID: "u-1", Labels: map[string]string{"app": "sdc"},
			Annotations:     map[string]string{vocab.SkipContainersAnnotation: "side", lastApplied: "{...}"},
			OwnerReferences: []metav1.OwnerReference{{Kind: "ReplicaSet", Name: "sdc-abc"}},
			ManagedFields:   []metav1.ManagedFieldsEntry{{Manager: "kube-controller-manager"}}},
		Spec: corev1.PodSpec{
			ServiceAccountName: "sdc",
			NodeName:           "node-1",
			Tolerations:        []corev1.Toleration{{Key: "k"}},
			InitContainers:     []corev1.Container{{Name: "init", Image: "busybox", Env: env}},
			Containers: []corev1.Container{
				{Name: "sdc", Image: "streamsets/datacollector:5.11.0", Env: env, EnvFrom: []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "s"}}}},
					Ports: []corev1.ContainerPort{{ContainerPort: 18630}}, VolumeMounts: []corev1.VolumeMount{{Name: "aws-iam-token", MountPath: "/var/run/secrets/eks.amazonaws.com/serviceaccount"}}},
				{Name: "side", Image: "envoy"},
			},
			Volumes: []corev1.Volume{
				{Name: "aws-iam-token", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
					{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Audience: "sts.amazonaws.com", ExpirationSeconds: &exp, Path: "token"}}}}}},
				{Name: "kube-api-access", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
					{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{ExpirationSeconds: &exp, Path: "token"}},
					{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"}}}}}}},
				{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			},
		},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.1", ContainerStatuses: []corev1.ContainerStatus{{Name: "sdc", Ready: true}}},
	}
}

// TestReducedPodReadsAsTheWholeOne: what the checks ask of a pod has the same answer on the reduced pod,
// and what they never read is gone.
func TestReducedPodReadsAsTheWholeOne(t *testing.T) {
	t.Parallel()
	whole := webhookPod()
	if !HasIdentity(whole, "arn:aws:iam::111122223333:role/r") {
		t.Fatal("the test pod does not carry the web identity: the comparisons below would prove little")
	}
	r := reducePod(whole)
	for _, tc := range []struct {
		what      string
		got, want any
	}{
		{"HasIdentity", HasIdentity(&r, "arn:aws:iam::111122223333:role/r"), HasIdentity(whole, "arn:aws:iam::111122223333:role/r")},
		{"HasPodIdentity", HasPodIdentity(&r), HasPodIdentity(whole)},
		{"tokenAudiences", tokenAudiences(&r), tokenAudiences(whole)},
		{"skippedContainers", skippedContainers(&r), skippedContainers(whole)},
		{"serviceAccountOf", serviceAccountOf(&r.Spec), serviceAccountOf(&whole.Spec)},
		{"name, UID, labels", []any{r.Name, r.Namespace, r.UID, r.Labels}, []any{whole.Name, whole.Namespace, whole.UID, whole.Labels}},
		{"phase", r.Status.Phase, whole.Status.Phase},
		{"containers' names, images, environment", r.Spec.Containers[0].Env, whole.Spec.Containers[0].Env},
		{"envFrom", r.Spec.Containers[0].EnvFrom, whole.Spec.Containers[0].EnvFrom},
		{"init containers", len(r.Spec.InitContainers), 1},
		// Gone:
		{"managed fields, owners", []any{r.ManagedFields, r.OwnerReferences}, []any{[]metav1.ManagedFieldsEntry(nil), []metav1.OwnerReference(nil)}},
		{"kubectl apply's copy", r.Annotations[lastApplied], ""},
		{"volumes other than tokens", len(r.Spec.Volumes), 2},
		{"the token volumes' other sources", len(r.Spec.Volumes[1].Projected.Sources), 1},
		{"status beyond the phase", r.Status.ContainerStatuses, []corev1.ContainerStatus(nil)},
		{"ports, mounts", []any{r.Spec.Containers[0].Ports, r.Spec.Containers[0].VolumeMounts}, []any{[]corev1.ContainerPort(nil), []corev1.VolumeMount(nil)}},
		{"node, tolerations", []any{r.Spec.NodeName, r.Spec.Tolerations}, []any{"", []corev1.Toleration(nil)}},
	} {
		if !reflect.DeepEqual(tc.got, tc.want) {
			t.Errorf("%s: reduced %v, want %v", tc.what, tc.got, tc.want)
		}
	}
	if whole.Annotations[lastApplied] == "" || len(whole.ManagedFields) == 0 {
		t.Error("reducePod changed the pod it was given")
	}
}

func TestReducedDeploymentKeepsItsSpec(t *testing.T) {
	t.Parallel()
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "sdc", Namespace: "ns", Labels: map[string]string{"a": "b"}, Annotations: map[string]string{"x": "y", lastApplied: "{...}"},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}},
		Spec:   appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "sdc"}}, Template: corev1.PodTemplateSpec{Spec: webhookPod().Spec}},
		Status: appsv1.DeploymentStatus{Replicas: 1, ObservedGeneration: 3},
	}
	r := reduceDeployment(d)
	if !reflect.DeepEqual(r.Spec, d.Spec) || r.Name != d.Name || r.Labels["a"] != "b" || r.Annotations["x"] != "y" {
		t.Errorf("the reduced Deployment lost what the checks read: %+v", r)
	}
	if r.Annotations[lastApplied] != "" || r.ManagedFields != nil || r.Status.Replicas != 0 {
		t.Errorf("the reduced Deployment kept its status, managed fields or kubectl apply's copy: %+v", r)
	}
}
