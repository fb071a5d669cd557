package doctor

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/controlhub"
)

const chID = "cfa81f1d-baf1-4d7d-9136-e0114a083bc9"

// controlHubManaged makes the fixture's Deployment one that a Control Hub Kubernetes agent provisioned:
// the engine's registration settings, the token from the agent's Secret.
func controlHubManaged(f *Facts) {
	c := &f.Deployments[0].Spec.Template.Spec.Containers[0]
	c.Env = append(c.Env,
		corev1.EnvVar{Name: controlhub.EnvDeploymentID, Value: chID + ":8030c2e9-1a39-11ec-a5fe-97c8d4369386"},
		corev1.EnvVar{Name: controlhub.EnvDeploymentToken, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: controlhub.AgentTokenSecretPrefix + chID}, Key: "token"}}},
		corev1.EnvVar{Name: controlhub.EnvControlHubURL, Value: "https://na01.hub.streamsets.com"})
}

// For a Deployment that Control Hub manages, doctor's kube.deployment and kube.fs-group fixes point to the
// Control Hub deployment's YAML (a patch would be lost at its next restart), never to a patch or bind.
func TestControlHubDeploymentFixes(t *testing.T) {
	t.Parallel()
	const chFix = "kubectl sdc manifest -n ns1 --service-account sdc --fragment   # then put these lines into the Control Hub deployment's YAML"
	uid := func(v int64) *int64 { return &v }
	cases := []struct {
		name   string
		change func(f *Facts)
		id     string
		status Status
		detail string
	}{
		{"named, under another ServiceAccount", func(f *Facts) {
			f.Deployments[0].Spec.Template.Spec.ServiceAccountName = ""
			f.Options.Deployment, f.Options.ServiceAccountSet = "sdc", true
		}, "kube.deployment", Fail, "is managed by StreamSets Control Hub (it sets STREAMSETS_DEPLOYMENT_ID and STREAMSETS_DEPLOYMENT_TOKEN, its token comes from Secret streamsets-deployment-secret-<ID>)"},
		{"none under the ServiceAccount", func(f *Facts) {
			f.Deployments[0].Spec.Template.Spec.ServiceAccountName = "default"
		}, "kube.deployment", Warn, "Deployments in ns1: sdc (ServiceAccount default, managed by StreamSets Control Hub: Control Hub deployment " + chID + ")"},
		{"no fsGroup, mixed users", func(f *Facts) {
			spec := &f.Deployments[0].Spec.Template.Spec
			spec.SecurityContext = &corev1.PodSecurityContext{RunAsUser: uid(20159)}
			spec.Containers = append(spec.Containers, corev1.Container{Name: "sidecar", Image: "busybox", SecurityContext: &corev1.SecurityContext{RunAsUser: uid(1000)}})
		}, "kube.fs-group", Warn, "its Kubernetes agent creates it again from the YAML of Control Hub deployment " + chID + " at every start"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := fixture(t)
			controlHubManaged(f)
			c.change(f)
			got := find(t, run(f), c.id)
			if got.Status != c.status || !strings.Contains(got.Detail, c.detail) {
				t.Errorf("%s: %s\n  detail %s\n  want %s with %q", c.id, got.Status, got.Detail, c.status, c.detail)
			}
			if !strings.HasPrefix(got.Fix, chFix) || strings.Contains(got.Fix, "kubectl patch") || strings.Contains(got.Fix, "sdc bind") {
				t.Errorf("fix %q, want the Control Hub fix", got.Fix)
			}

			// The same Deployment without Control Hub's signs gets today's fix.
			f = fixture(t)
			c.change(f)
			if plain := find(t, run(f), c.id); plain.Status != c.status || strings.Contains(plain.Fix, "Control Hub") || strings.Contains(plain.Detail, "Control Hub") {
				t.Errorf("a plain Deployment: %s, fix %q, detail %q", plain.Status, plain.Fix, plain.Detail)
			}
		})
	}

	// As Control Hub runs it once its YAML has the fragment: every check passes, with no fix.
	f := fixture(t)
	controlHubManaged(f)
	for _, r := range run(f).Targets[0].Checks {
		if r.Status != Pass || r.Fix != "" {
			t.Errorf("%s: %s %s (fix %q)", r.ID, r.Status, r.Title, r.Fix)
		}
	}
}
