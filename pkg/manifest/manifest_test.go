package manifest

import (
	"encoding/json"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/strategicpatch"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/catalog"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

func options() Options {
	return Options{Image: "streamsets/datacollector:5.11.0", ServiceAccount: "sdc", FSGroup: vocab.DefaultFSGroup,
		Mechanism: vocab.MechanismIRSA, NameFlag: "--name", ImageFlag: "--image"}
}

// decode turns an apply configuration into the typed object the API server would see.
func decode(t *testing.T, v any) *appsv1.Deployment {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var d appsv1.Deployment
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return &d
}

// The full manifest is the guide's Deployment plus SDC's port, and nothing Control Hub fills in.
func TestDeploymentIsTheGuidesShape(t *testing.T) {
	t.Parallel()
	ac, err := Deployment(options())
	if err != nil {
		t.Fatal(err)
	}
	d := decode(t, ac)
	spec := d.Spec.Template.Spec
	switch {
	case d.APIVersion != "apps/v1" || d.Kind != "Deployment" || d.Name != "sdc":
		t.Errorf("type and name: %s %s %s", d.APIVersion, d.Kind, d.Name)
	case d.Namespace != "" || d.Spec.Replicas != nil || len(d.Labels) != 0:
		t.Errorf("holds what Control Hub fills in: namespace %q, replicas %v, labels %v", d.Namespace, d.Spec.Replicas, d.Labels)
	case d.Spec.Selector.MatchLabels["app"] != "sdc" || d.Spec.Template.Labels["app"] != "sdc":
		t.Errorf("labels: selector %v, template %v", d.Spec.Selector.MatchLabels, d.Spec.Template.Labels)
	case spec.ServiceAccountName != "sdc" || spec.SecurityContext == nil || *spec.SecurityContext.FSGroup != 65534:
		t.Errorf("identity: %+v %+v", spec.ServiceAccountName, spec.SecurityContext)
	case len(spec.Containers) != 1 || spec.Containers[0].Name != "sdc" || spec.Containers[0].Image != "streamsets/datacollector:5.11.0":
		t.Errorf("containers %+v", spec.Containers)
	case len(spec.Containers[0].Ports) != 1 || spec.Containers[0].Ports[0].ContainerPort != 18630 || len(spec.Containers[0].Env) != 0:
		t.Errorf("container %+v", spec.Containers[0])
	}
	o := options()
	o.Name, o.FSGroup = "etl", vocab.LeaveFSGroup
	d = decode(t, mustObject(t, o))
	if d.Name != "etl" || d.Spec.Template.Spec.Containers[0].Name != "etl" || d.Spec.Template.Spec.SecurityContext != nil {
		t.Errorf("--name etl --fs-group -1: %+v", d)
	}
}

func mustObject(t *testing.T, o Options) any {
	t.Helper()
	v, err := Object(o)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// The fragment holds only the two identity fields, where they go, and works as a strategic merge patch:
// merged into a Deployment it sets them and keeps every other field, runAsUser beside fsGroup included.
func TestFragmentMergesIntoADeployment(t *testing.T) {
	t.Parallel()
	o := options()
	o.Fragment, o.Image = true, ""
	patch, err := json.Marshal(mustObject(t, o))
	if err != nil {
		t.Fatal(err)
	}
	if string(patch) != `{"spec":{"template":{"spec":{"serviceAccountName":"sdc","securityContext":{"fsGroup":65534}}}}}` {
		t.Errorf("fragment %s", patch)
	}
	uid := int64(1000)
	existing := appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: "streamsets-deployment-1"},
		Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			SecurityContext: &corev1.PodSecurityContext{RunAsUser: &uid},
			Containers:      []corev1.Container{{Name: "engine", Image: "streamsets/datacollector:5.11.0", Env: []corev1.EnvVar{{Name: "STREAMSETS_DEPLOYMENT_ID", Value: "1:2"}}}}}}}}
	orig, _ := json.Marshal(existing)
	merged, err := strategicpatch.StrategicMergePatch(orig, patch, appsv1.Deployment{})
	if err != nil {
		t.Fatal(err)
	}
	var d appsv1.Deployment
	if err := json.Unmarshal(merged, &d); err != nil {
		t.Fatal(err)
	}
	spec := d.Spec.Template.Spec
	if spec.ServiceAccountName != "sdc" || *spec.SecurityContext.FSGroup != 65534 || *spec.SecurityContext.RunAsUser != 1000 ||
		len(spec.Containers) != 1 || spec.Containers[0].Env[0].Value != "1:2" || d.Name != "streamsets-deployment-1" {
		t.Errorf("merged: %s", merged)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		change func(o *Options)
		want   string // substring of the error; "" means valid
	}{
		{"full manifest", func(*Options) {}, ""},
		{"default name", func(o *Options) { o.Name = "" }, ""},
		{"fragment", func(o *Options) { o.Fragment, o.Image = true, "" }, ""},
		{"fragment without fsGroup", func(o *Options) { o.Fragment, o.Image, o.FSGroup = true, "", vocab.LeaveFSGroup }, ""},
		{"no image", func(o *Options) { o.Image = "" }, "--image: is required for the full manifest"},
		{"malformed image", func(o *Options) { o.Image = "StreamSets/DataCollector:5.11.0" }, `--image "StreamSets/DataCollector:5.11.0": not an image reference`},
		{"image with a trailing colon", func(o *Options) { o.Image = "streamsets/datacollector:" }, "not an image reference"},
		{"name with a dot", func(o *Options) { o.Name = "sdc.v1" }, `--name "sdc.v1": not a valid name for the Deployment, its container and its app label`},
		{"name too long", func(o *Options) { o.Name = strings.Repeat("s", 64) }, "--name"},
		{"fragment with an image", func(o *Options) { o.Fragment = true }, `--image "streamsets/datacollector:5.11.0": only the full manifest has an image`},
		{"fragment with a name", func(o *Options) { o.Fragment, o.Image, o.Name = true, "", "etl" }, `--name "etl": only the full manifest has a name`},
		{"bad ServiceAccount", func(o *Options) { o.ServiceAccount = "SDC" }, `--service-account "SDC"`},
		{"bad fsGroup", func(o *Options) { o.FSGroup = -2 }, `--fs-group "-2"`},
		{"Pod Identity", func(o *Options) { o.Mechanism = vocab.MechanismPodIdentity }, ""},
		{"unknown mechanism", func(o *Options) { o.Mechanism = "kiam" }, "no manifest for the AWS identity mechanism"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			o := options()
			c.change(&o)
			err := o.Validate()
			switch {
			case c.want == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Errorf("error = %v, want %q", err, c.want)
			case err != nil && strings.Contains(err.Error(), "\n"):
				t.Errorf("not one line: %q", err)
			}
		})
	}
}

func TestFromCluster(t *testing.T) {
	t.Parallel()
	cat, err := catalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	annotated := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "sdc", Namespace: "ns1",
		Annotations: map[string]string{vocab.RoleARNAnnotation: "arn:aws:iam::123456789012:role/sdc"}}}
	bare := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "sdc", Namespace: "ns1"}}
	for _, c := range []struct {
		name      string
		seen      Seen
		image     string
		mechanism vocab.Mechanism
		note      string
	}{
		{"bound by IRSA", Seen{ServiceAccount: annotated}, "", vocab.MechanismIRSA, ""},
		{"IRSA wins over an association", Seen{ServiceAccount: annotated, Associated: true}, "streamsets/datacollector:3.19.0", vocab.MechanismIRSA, ""},
		{"no annotation, no association", Seen{ServiceAccount: bare}, "", vocab.MechanismIRSA, "has no eks.amazonaws.com/role-arn annotation and no EKS Pod Identity association"},
		{"associations unreadable", Seen{ServiceAccount: bare, AssociationUnknown: "no AWS credentials"}, "", vocab.MechanismIRSA, "could not be read (no AWS credentials)"},
		{"missing", Seen{}, "", vocab.MechanismIRSA, "does not exist yet"},
		{"Pod Identity, an SDC of unknown SDK", Seen{ServiceAccount: bare, Associated: true}, "", vocab.MechanismPodIdentity, "SDC 5.11.0's aws-lib bundles is not documented"},
		{"Pod Identity, an SDC that cannot", Seen{ServiceAccount: bare, Associated: true}, "streamsets/datacollector:3.19.0", vocab.MechanismPodIdentity, "image streamsets/datacollector:3.19.0 cannot: SDC 3.19.0's aws-lib bundles AWS SDK for Java 1.11.872"},
	} {
		o := options()
		o.Mechanism = ""
		if c.image != "" {
			o.Image = c.image
		}
		notes := o.FromCluster("ns1", c.seen, cat)
		if o.Mechanism != c.mechanism {
			t.Errorf("%s: mechanism %q, want %q", c.name, o.Mechanism, c.mechanism)
		}
		if got := strings.Join(notes, "\n"); (c.note == "") != (got == "") || !strings.Contains(got, c.note) {
			t.Errorf("%s: notes %q, want %q", c.name, notes, c.note)
		}
		if got := strings.Join(notes, "\n"); c.mechanism == vocab.MechanismIRSA && got != "" && !strings.Contains(got, "kubectl sdc bind -n ns1 --service-account sdc") {
			t.Errorf("%s: notes %q name no bind command", c.name, notes)
		}
	}
}
