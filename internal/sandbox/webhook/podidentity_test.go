package webhook

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestMutatePodIdentity(t *testing.T) {
	pod := &corev1.Pod{Spec: corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "init"}},
		Containers:     []corev1.Container{{Name: "c", Env: []corev1.EnvVar{{Name: "AWS_CONTAINER_CREDENTIALS_FULL_URI", Value: "http://mine"}}}},
	}}
	out, changed := MutatePodIdentity(Config{Region: "us-west-2"}, pod)
	if !changed {
		t.Fatal("not mutated")
	}
	if len(pod.Spec.Containers[0].Env) != 1 || len(pod.Spec.Volumes) != 0 || len(pod.Spec.InitContainers[0].Env) != 0 {
		t.Error("input pod modified")
	}
	for _, c := range append(out.Spec.InitContainers, out.Spec.Containers...) {
		env := map[string]string{}
		for _, e := range c.Env {
			if _, twice := env[e.Name]; twice {
				t.Errorf("%s: %s set twice", c.Name, e.Name)
			}
			env[e.Name] = e.Value
		}
		if env["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] != PodIdentityTokenFile || env["AWS_REGION"] != "us-west-2" {
			t.Errorf("%s: env %v", c.Name, env)
		}
		if len(c.VolumeMounts) != 1 || c.VolumeMounts[0].MountPath != PodIdentityMountPath || !c.VolumeMounts[0].ReadOnly {
			t.Errorf("%s: mounts %+v", c.Name, c.VolumeMounts)
		}
	}
	if got := out.Spec.Containers[0].Env[0].Value; got != "http://mine" {
		t.Errorf("the container's own AWS_CONTAINER_CREDENTIALS_FULL_URI became %q", got)
	}
	if len(out.Spec.Volumes) != 1 || out.Spec.Volumes[0].Projected.Sources[0].ServiceAccountToken.Audience != PodIdentityAudience {
		t.Errorf("volumes %+v", out.Spec.Volumes)
	}
	again, changed := MutatePodIdentity(Config{Region: "us-west-2"}, out)
	if changed || len(again.Spec.Volumes) != 1 {
		t.Errorf("second mutation changed = %v, volumes %d", changed, len(again.Spec.Volumes))
	}
}

func TestMutatePodIdentitySkipsEveryListedContainer(t *testing.T) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{SkipContainersAnnot: "a,b"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "a"}, {Name: "b"}}},
	}
	if _, changed := MutatePodIdentity(Config{}, pod); changed {
		t.Error("mutated although every container is skipped")
	}
}
