package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// controlHubYAML is a Deployment as a StreamSets Control Hub Kubernetes agent creates it for deployment id
// from the default advanced-mode YAML (registration settings, the token from the agent's Secret), with
// extra lines added to the pod spec (indented for it) as a user edits that YAML.
func controlHubYAML(id, podSpecExtra string) string {
	return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: streamsets-deployment-` + id + `
  labels:
    app: streamsets-deployment-` + id + `
spec:
  replicas: 1
  selector:
    matchLabels:
      app: streamsets-deployment-` + id + `
  template:
    metadata:
      labels:
        app: streamsets-deployment-` + id + `
    spec:
` + podSpecExtra + `      containers:
      - name: streamsets-engine-` + id + `
        image: ` + sdcImage + `
        env:
        - name: STREAMSETS_DEPLOYMENT_ID
          value: ` + id + `:8030c2e9-1a39-11ec-a5fe-97c8d4369386
        - name: STREAMSETS_DEPLOYMENT_TOKEN
          valueFrom:
            secretKeyRef:
              key: token
              name: streamsets-deployment-secret-` + id + `
              optional: false
        - name: STREAMSETS_DEPLOYMENT_SCH_URL
          value: https://na01.hub.streamsets.com
`
}

// controlHubStarts does what the agent does when the Control Hub deployment starts: the Secret and the
// Deployment from the YAML, created anew.
func controlHubStarts(t *testing.T, ns, id, podSpecExtra string) {
	t.Helper()
	kubectl(t, "delete", "deployment", "streamsets-deployment-"+id, "-n", ns, "--ignore-not-found", "--wait")
	if r := kubectl(t, "create", "secret", "generic", "streamsets-deployment-secret-"+id, "-n", ns, "--from-literal=token=eyJ0"); r.Code != 0 &&
		!strings.Contains(r.Stderr, "already exists") {
		t.Fatal(r)
	}
	if r := runInput(t, controlHubYAML(id, podSpecExtra), nil, "kubectl", "create", "-n", ns, "-f", "-"); r.Code != 0 {
		t.Fatal(r)
	}
}

// A Deployment that Control Hub manages: bind warns that a patch would not last, applies everything else,
// leaves the Deployment alone and prints the fragment; doctor's fixes point to Control Hub. Once the
// Control Hub YAML holds the fragment (and the agent has created the Deployment again), bind has nothing
// to change and doctor --probe passes.
func TestBindAndDoctorOnAControlHubDeployment(t *testing.T) {
	t.Parallel()
	const id = "cfa81f1d-baf1-4d7d-9136-e0114a083bc9"
	name := "streamsets-deployment-" + id
	ns := newNamespace(t)
	bucket := newBucket(t)
	controlHubStarts(t, ns, id, "")
	before, err := kube(t).AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}

	r := mustBind(t, "-n", ns, "--bucket", bucket, "--deployment", name, "--yes")
	for _, want := range []string{
		"warning: Deployment " + ns + "/" + name + " is managed by StreamSets Control Hub",
		"so a patch made here would be lost",
		"+ create    IAM role " + roleARN(t, ns, "sdc"),
		"Applied:",
		"For the Control Hub deployment's YAML (kubectl sdc manifest -n " + ns + " --service-account sdc --fragment prints them again):\nspec:\n  template:\n    spec:\n      securityContext:\n        fsGroup: 65534\n      serviceAccountName: sdc\n",
	} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("bind output lacks %q:\n%s", want, r.Stdout)
		}
	}
	if strings.Contains(r.Stdout, "Deployment "+ns+"/"+name+"\n") {
		t.Errorf("the plan changes the Control Hub Deployment:\n%s", r.Stdout)
	}
	after, err := kube(t).AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range after.ManagedFields {
		if f.Manager == "kubectl-sdc" {
			t.Errorf("bind wrote to the Control Hub Deployment: %+v", f)
		}
	}
	if after.Generation != before.Generation || after.Spec.Template.Spec.ServiceAccountName != "" {
		t.Errorf("the Control Hub Deployment changed (generation %d -> %d, ServiceAccount %q)", before.Generation, after.Generation, after.Spec.Template.Spec.ServiceAccountName)
	}
	sa, err := kube(t).CoreV1().ServiceAccounts(ns).Get(context.Background(), "sdc", metav1.GetOptions{})
	if err != nil || sa.Annotations["eks.amazonaws.com/role-arn"] != roleARN(t, ns, "sdc") {
		t.Errorf("everything else was not applied: ServiceAccount %v, %v", sa, err)
	}

	// -o json: exit 0, the warning and the fragment in the result object, the warning on stderr too.
	r = mustBind(t, "-n", ns, "--bucket", bucket, "--deployment", name, "-o", "json", "--yes")
	var out struct {
		Deployment string   `json:"deployment"`
		Warnings   []string `json:"warnings"`
		Fragment   struct {
			Spec struct {
				Template struct {
					Spec struct {
						ServiceAccountName string `json:"serviceAccountName"`
					} `json:"spec"`
				} `json:"template"`
			} `json:"spec"`
		} `json:"fragment"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil {
		t.Fatalf("%v\n%s", err, r)
	}
	if out.Deployment != name || len(out.Warnings) != 1 || out.Fragment.Spec.Template.Spec.ServiceAccountName != "sdc" ||
		!strings.Contains(r.Stderr, "warning: Deployment "+ns+"/"+name) {
		t.Errorf("-o json: %+v\n%s", out, r)
	}

	// doctor: the fix is the fragment for Control Hub, not a patch, whether the Deployment is named (it runs
	// under another ServiceAccount: fail) or not (none runs under sdc: warn).
	wantFix := "kubectl sdc manifest -n " + ns + " --service-account sdc --fragment   # then put these lines into the Control Hub deployment's YAML"
	for _, args := range [][]string{{"--service-account", "sdc", "--deployment", name}, {}} {
		rep, dr := doctorJSON(t, append([]string{"-n", ns}, args...)...)
		c := rep.check(t, "kube.deployment")
		want, code := "fail", 1
		if len(args) == 0 {
			want, code = "warn", 0
		}
		if dr.Code != code || c.Status != want || !strings.HasPrefix(c.Fix, wantFix) || !strings.Contains(c.Detail, "managed by StreamSets Control Hub") {
			t.Errorf("doctor %v: exit %d, kube.deployment %+v", args, dr.Code, c)
		}
	}
	frag := kubectl(t, "sdc", "manifest", "-n", ns, "--fragment")
	if frag.Code != 0 || frag.Stderr != "" {
		t.Fatalf("the fix's command: %s", frag)
	}

	// The user puts the fragment into the Control Hub YAML and restarts the deployment from Control Hub.
	extra := "      serviceAccountName: sdc\n      securityContext:\n        fsGroup: 65534\n"
	if !strings.Contains(frag.Stdout, "      serviceAccountName: sdc\n") || !strings.Contains(frag.Stdout, "        fsGroup: 65534\n") {
		t.Fatalf("the fragment's lines are not indented for the pod spec:\n%s", frag.Stdout)
	}
	controlHubStarts(t, ns, id, extra)
	r = mustBind(t, "-n", ns, "--bucket", bucket, "--deployment", name, "--yes")
	if strings.Contains(r.Stdout, "warning:") || !strings.Contains(r.Stdout, "No changes") ||
		!strings.Contains(r.Stdout, "managed by StreamSets Control Hub (Control Hub deployment "+id+"), whose YAML already sets these fields") {
		t.Errorf("bind after the Control Hub YAML has the fragment:\n%s", r)
	}
	waitMutatedPod(t, ns, name, roleARN(t, ns, "sdc"))
	doctorPasses(t, ns, "--deployment", name)
}

// kube.fs-group on a Control Hub Deployment whose YAML has the ServiceAccount but no fsGroup, with
// containers running as different users: the fix is Control Hub's too.
func TestDoctorFSGroupOnAControlHubDeployment(t *testing.T) {
	t.Parallel()
	const id = "0b6f4c1e-7f41-4d3a-9a57-3c8f2a1d9e20"
	ns := newNamespace(t)
	bucket := newBucket(t)
	mustBind(t, "-n", ns, "--bucket", bucket, "--yes")
	controlHubStarts(t, ns, id, "      serviceAccountName: sdc\n      securityContext:\n        runAsUser: 20159\n      initContainers:\n      - name: libs\n        image: busybox\n        securityContext:\n          runAsUser: 1000\n")
	rep, r := doctorJSON(t, "-n", ns, "--deployment", "streamsets-deployment-"+id)
	if r.Code != 0 {
		t.Errorf("doctor: exit %d, want 0 (a warning only)\n%s", r.Code, rep)
	}
	c := rep.check(t, "kube.fs-group")
	if c.Status != "warn" || !strings.HasPrefix(c.Fix, "kubectl sdc manifest -n "+ns+" --service-account sdc --fragment   # then put these lines into the Control Hub deployment's YAML") ||
		strings.Contains(c.Fix, "kubectl patch") || !strings.Contains(c.Detail, "Control Hub deployment "+id) {
		t.Errorf("kube.fs-group: %+v", c)
	}
}
