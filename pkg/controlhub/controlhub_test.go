package controlhub

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const id = "cfa81f1d-baf1-4d7d-9136-e0114a083bc9"

// agentMade is the Deployment a Control Hub Kubernetes agent creates from the default advanced-mode YAML.
func agentMade() *appsv1.Deployment {
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: AgentDeploymentPrefix + id, Namespace: "ns1"},
		Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: AgentContainerPrefix + id, Image: "streamsets/datacollector:5.11.0",
			Env: []corev1.EnvVar{
				{Name: EnvDeploymentID, Value: id + ":8030c2e9-1a39-11ec-a5fe-97c8d4369386"},
				{Name: EnvDeploymentToken, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
					LocalObjectReference: corev1.LocalObjectReference{Name: AgentTokenSecretPrefix + id}, Key: "token"}}},
				{Name: EnvControlHubURL, Value: "https://na01.hub.streamsets.com"},
			}}}}}}}
}

func TestInspect(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name                string
		change              func(d *appsv1.Deployment)
		registered, managed bool
		deploymentID        string
	}{
		{"as the agent makes it", func(*appsv1.Deployment) {}, true, true, id},
		{"renamed in the YAML: the token Secret still is the agent's", func(d *appsv1.Deployment) {
			d.Name, d.Spec.Template.Spec.Containers[0].Name = "sdc", "sdc"
		}, true, true, id},
		{"token inline, agent's names", func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Containers[0].Env[1] = corev1.EnvVar{Name: EnvDeploymentToken, Value: "eyJ0"}
		}, true, true, id},
		{"the ID from a ConfigMap: registered, ID unknown", func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Containers[0].Env[0] = corev1.EnvVar{Name: EnvDeploymentID, ValueFrom: &corev1.EnvVarSource{
				ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "ids"}, Key: "id"}}}
		}, true, true, ""},
		{"in an init container", func(d *appsv1.Deployment) {
			spec := &d.Spec.Template.Spec
			spec.InitContainers, spec.Containers = spec.Containers, []corev1.Container{{Name: "sidecar"}}
		}, true, true, id},
		{"self-managed: registered by hand, none of the agent's names", func(d *appsv1.Deployment) {
			d.Name = "sdc"
			c := &d.Spec.Template.Spec.Containers[0]
			c.Name = "sdc"
			c.Env[1] = corev1.EnvVar{Name: EnvDeploymentToken, Value: "eyJ0"}
		}, true, false, id},
		{"the token alone does not register", func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Containers[0].Env = d.Spec.Template.Spec.Containers[0].Env[1:]
		}, false, false, ""},
		{"the agent's name alone is not Control Hub's", func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Containers[0].Env = nil
		}, false, false, ""},
		{"ID and token in different containers", func(d *appsv1.Deployment) {
			c := d.Spec.Template.Spec.Containers[0]
			other := corev1.Container{Name: "other", Env: c.Env[1:2]}
			d.Spec.Template.Spec.Containers[0].Env = c.Env[0:1]
			d.Spec.Template.Spec.Containers = append(d.Spec.Template.Spec.Containers, other)
		}, false, false, id},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			d := agentMade()
			c.change(d)
			e := Inspect(d)
			if e.Registered != c.registered || e.Managed != c.managed || e.DeploymentID != c.deploymentID {
				t.Errorf("registered %v managed %v ID %q; want %v %v %q (signs %v)", e.Registered, e.Managed, e.DeploymentID, c.registered, c.managed, c.deploymentID, e.Signs)
			}
			if e.Managed && !strings.Contains(e.Why("ns1", d.Name), "sets "+EnvDeploymentID) {
				t.Errorf("Why does not name the registration: %s", e.Why("ns1", d.Name))
			}
		})
	}
	if e := Inspect(nil); e.Registered || e.Managed {
		t.Errorf("nil Deployment: %+v", e)
	}
	if got := (Evidence{}).Describe(); got != "its Control Hub deployment" {
		t.Errorf("Describe without an ID = %q", got)
	}
}
