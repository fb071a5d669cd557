package bind

import (
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/controlhub"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/plan"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// controlHubDeployment is a Deployment as a Control Hub Kubernetes agent makes it for deployment <id>, from
// the default advanced-mode YAML; sa and fsGroup (nil: none) are what that YAML says.
func controlHubDeployment(id, sa string, fsGroup *int64) *appsv1.Deployment {
	name := controlhub.AgentDeploymentPrefix + id
	labels := map[string]string{"app": name}
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns1", Labels: labels},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: labels},
			Spec: corev1.PodSpec{ServiceAccountName: sa, Containers: []corev1.Container{{
				Name: controlhub.AgentContainerPrefix + id, Image: "streamsets/datacollector:5.11.0",
				Env: []corev1.EnvVar{
					{Name: controlhub.EnvDeploymentID, Value: id + ":8030c2e9-1a39-11ec-a5fe-97c8d4369386"},
					{Name: controlhub.EnvDeploymentToken, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
						LocalObjectReference: corev1.LocalObjectReference{Name: controlhub.AgentTokenSecretPrefix + id}, Key: "token"}}},
					{Name: controlhub.EnvControlHubURL, Value: "https://na01.hub.streamsets.com"},
				}}}}}}}
	if fsGroup != nil {
		d.Spec.Template.Spec.SecurityContext = &corev1.PodSecurityContext{FSGroup: fsGroup}
	}
	return d
}

// bind never writes to a Deployment that Control Hub manages: a patch would be lost at the next restart
// from Control Hub. It plans everything else, and says what to put into the Control Hub deployment's YAML.
func TestPlanLeavesAControlHubDeploymentAlone(t *testing.T) {
	t.Parallel()
	const id = "cfa81f1d-baf1-4d7d-9136-e0114a083bc9"
	fs, other := vocab.DefaultFSGroup, int64(1000)
	annotated := tNow.Add(-time.Hour)
	stalePod := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "old", CreationTimestamp: metav1.NewTime(annotated.Add(-time.Minute))},
		Spec: corev1.PodSpec{ServiceAccountName: "sdc", Containers: []corev1.Container{{Name: "engine"}}}}
	selfManaged := controlHubDeployment(id, "default", nil)
	selfManaged.Name = "sdc"
	selfManaged.Spec.Template.Spec.Containers[0].Name = "sdc"
	selfManaged.Spec.Template.Spec.Containers[0].Env[1].ValueFrom.SecretKeyRef.Name = "my-engine-token"
	cases := []struct {
		name     string
		deploy   *appsv1.Deployment
		fsGroup  int64
		pods     []corev1.Pod
		action   plan.Action // "" means no deployment change in the plan
		fragment string      // a line the fragment must hold; "" means no fragment
		warning  string      // a phrase a warning must hold; "" means no warning
		restart  bool
	}{
		{name: "default ServiceAccount, no fsGroup", deploy: controlHubDeployment(id, "", nil), fsGroup: fs,
			fragment: "serviceAccountName: sdc", warning: "is managed by StreamSets Control Hub"},
		{name: "another fsGroup", deploy: controlHubDeployment(id, "sdc", &other), fsGroup: fs,
			fragment: "fsGroup: 65534", warning: "Control Hub deployment " + id},
		{name: "fsGroup left alone: only the ServiceAccount counts", deploy: controlHubDeployment(id, "sdc", &other), fsGroup: vocab.LeaveFSGroup,
			action: plan.Unchanged},
		{name: "its YAML already has both", deploy: controlHubDeployment(id, "sdc", &fs), fsGroup: fs, action: plan.Unchanged},
		{name: "its pods predate the annotation: restart from Control Hub", deploy: controlHubDeployment(id, "sdc", &fs), fsGroup: fs,
			pods: []corev1.Pod{stalePod}, action: plan.Unchanged, warning: "from Control Hub"},
		{name: "registered by hand (self-managed): patched as any Deployment", deploy: selfManaged, fsGroup: fs, action: plan.Update},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := request(t)
			r.Deployment, r.FSGroup = c.deploy.Name, c.fsGroup
			o := bound(t, r)
			o.Deployment, o.Pods = c.deploy, c.pods
			res, err := Plan(r, o)
			if err != nil {
				t.Fatal(err)
			}
			got := actions(res)
			if a, ok := got["deployment"]; ok != (c.action != "") || a != c.action {
				t.Errorf("deployment change: %q (in plan: %v), want %q", a, ok, c.action)
			}
			if _, ok := got["restart"]; ok != c.restart {
				t.Errorf("restart planned: %v, want %v", ok, c.restart)
			}
			for id, a := range got {
				if id != "deployment" && a != plan.Unchanged {
					t.Errorf("%s: %s on a bound state", id, a)
				}
			}
			warnings := strings.Join(res.Warnings, "\n")
			if (c.warning == "") != (warnings == "") || !strings.Contains(warnings, c.warning) {
				t.Errorf("warnings %q, want one with %q", res.Warnings, c.warning)
			}
			if c.fragment == "" {
				if res.Fragment != nil {
					t.Errorf("a fragment where none is needed: %+v", res.Fragment)
				}
				return
			}
			if res.Fragment == nil {
				t.Fatal("no fragment")
			}
			b, err := yaml.Marshal(res.Fragment)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b), c.fragment) || strings.Contains(string(b), "image") || strings.Contains(string(b), "name:") {
				t.Errorf("fragment:\n%s", b)
			}
			if out := res.Output(false, nil); out.Fragment != res.Fragment || len(out.Warnings) == 0 {
				t.Errorf("the result object lacks the warning or the fragment: %+v", out)
			}
		})
	}
}

// --create-deployment makes the Deployment in the manifest's shape, SDC's port included, and its name must
// suit a container and a label too.
func TestPlanCreatesTheManifestsDeployment(t *testing.T) {
	t.Parallel()
	r := request(t)
	r.Deployment, r.CreateDeployment, r.Image = "sdc", true, "streamsets/datacollector:5.11.0"
	res, err := Plan(r, fresh(r))
	if err != nil {
		t.Fatal(err)
	}
	ac := change(t, res, "deployment").Op.(applyDeployment).Config
	if *ac.Namespace != "ns1" || *ac.Name != "sdc" {
		t.Errorf("metadata %v/%v", *ac.Namespace, *ac.Name)
	}
	ports := ac.Spec.Template.Spec.Containers[0].Ports
	if len(ports) != 1 || *ports[0].ContainerPort != vocab.SDCPort {
		t.Errorf("ports %+v", ports)
	}
	r.Deployment = "sdc.v1"
	if err := r.Validate(); err == nil || !strings.Contains(err.Error(), `--deployment "sdc.v1"`) {
		t.Errorf("a dotted name for the container: %v", err)
	}
}
