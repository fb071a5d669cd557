package webhook

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The webhook's decisions as a pure function; the sandbox tests check the same through the apiserver.
func TestMutateLeavesTheInputAloneAndIsIdempotent(t *testing.T) {
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{RoleARNAnnotation: "arn:aws:iam::123456789012:role/r"}}}
	pod := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c"}}}}
	out, changed := Mutate(Config{Region: "us-west-2"}, pod, sa)
	if !changed {
		t.Fatal("not mutated")
	}
	if len(pod.Spec.Containers[0].Env) != 0 || len(pod.Spec.Volumes) != 0 {
		t.Error("input pod modified")
	}
	again, changed := Mutate(Config{Region: "us-west-2"}, out, sa)
	if changed || len(again.Spec.Volumes) != 1 || len(again.Spec.Containers[0].Env) != 4 {
		t.Errorf("second mutation changed = %v, volumes %d, env %d", changed, len(again.Spec.Volumes), len(again.Spec.Containers[0].Env))
	}
}

func TestMutateWithoutServiceAccountOrAnnotation(t *testing.T) {
	pod := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c"}}}}
	for _, sa := range []*corev1.ServiceAccount{nil, {}} {
		if _, changed := Mutate(Config{}, pod, sa); changed {
			t.Errorf("mutated for ServiceAccount %+v", sa)
		}
	}
}

func TestMutateSkipsEveryListedContainer(t *testing.T) {
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{RoleARNAnnotation: "arn:aws:iam::123456789012:role/r"}}}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{SkipContainersAnnot: "a, b"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "a"}, {Name: "b"}}},
	}
	if _, changed := Mutate(Config{}, pod, sa); changed {
		t.Error("mutated although every container is skipped")
	}
}
