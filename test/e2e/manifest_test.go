package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox/sandboxtest"
)

// decodeDeployment decodes a manifest strictly: a field the Deployment type does not have is an error.
func decodeDeployment(t *testing.T, text string) appsv1.Deployment {
	t.Helper()
	var d appsv1.Deployment
	if err := yaml.UnmarshalStrict([]byte(text), &d); err != nil {
		t.Fatalf("not a Deployment manifest: %v\n%s", err, text)
	}
	return d
}

// doctorPasses runs doctor --probe on ns (and --deployment name) and requires every check to pass.
func doctorPasses(t *testing.T, ns string, args ...string) {
	t.Helper()
	rep, r := doctorJSON(t, append([]string{"-n", ns, "--probe"}, args...)...)
	if r.Code != 0 {
		t.Fatalf("doctor --probe: exit %d\n%s", r.Code, rep)
	}
	for _, c := range rep.all() {
		if c.Status != "pass" {
			t.Errorf("%s: %s %s | %s (fix %q)", c.ID, c.Status, c.Title, c.Detail, c.Fix)
		}
	}
}

// manifest makes exactly one request, a read of the ServiceAccount, and calls no AWS API. Not parallel: it
// counts the sandbox's calls.
func TestManifestReadsOnlyTheServiceAccount(t *testing.T) {
	ns := newNamespace(t)
	sb := sandboxtest.Get(t)
	before := len(kubeRequests(t))
	sb.Front.ResetCalls()
	r := kubectl(t, "sdc", "manifest", "-n", ns, "--image", sdcImage)
	if r.Code != 0 {
		t.Fatal(r)
	}
	reqs := kubeRequests(t)[before:]
	if n := calls(t).Total; n != 0 {
		t.Errorf("manifest made %d AWS calls: %v", n, calls(t).ByAction)
	}
	if len(reqs) != 1 || reqs[0].Verb != "get" || reqs[0].ObjectRef == nil || reqs[0].ObjectRef.Resource != "serviceaccounts" ||
		reqs[0].ObjectRef.Namespace != ns || reqs[0].ObjectRef.Name != "sdc" {
		for _, e := range reqs {
			t.Log(describeEvent(e))
		}
		t.Errorf("manifest made %d Kubernetes requests, want the one get of ServiceAccount %s/sdc", len(reqs), ns)
	}
	t.Logf("manifest: %d Kubernetes request(s), 0 AWS calls", len(reqs))
	if !strings.Contains(r.Stderr, "ServiceAccount "+ns+"/sdc does not exist yet") {
		t.Errorf("stderr does not say the ServiceAccount is missing: %s", r)
	}

	// Bad input: the error, and no request at all.
	before = len(kubeRequests(t))
	if r := kubectl(t, "sdc", "manifest", "-n", ns, "--image", "streamsets/datacollector:"); r.Code != 1 || r.Stdout != "" ||
		!strings.Contains(r.Stderr, `--image "streamsets/datacollector:": not an image reference`) {
		t.Errorf("a malformed image: %s", r)
	}
	if reqs := kubeRequests(t)[before:]; len(reqs) != 0 {
		t.Errorf("bad input made %d Kubernetes requests", len(reqs))
	}
}

// The API server accepts the manifest (yaml and json) as it stands, and the fragment as a strategic merge
// patch of an existing Deployment, which keeps every other field.
func TestManifestIsAcceptedByTheAPIServer(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	for _, format := range []string{"yaml", "json"} {
		m := kubectl(t, "sdc", "manifest", "-n", ns, "--image", sdcImage, "-o", format)
		if m.Code != 0 {
			t.Fatal(m)
		}
		r := runInput(t, m.Stdout, nil, "kubectl", "apply", "--dry-run=server", "-n", ns, "-f", "-")
		if r.Code != 0 || !strings.Contains(r.Stdout, "deployment.apps/sdc created (server dry run)") {
			t.Errorf("kubectl apply --dry-run=server of the %s manifest: %s", format, r)
		}
	}

	mustRun(t, "kubectl", "create", "deployment", "engine", "-n", ns, "--image", sdcImage)
	frag := kubectl(t, "sdc", "manifest", "-n", ns, "--fragment", "-o", "json")
	if frag.Code != 0 {
		t.Fatal(frag)
	}
	r := kubectl(t, "patch", "deployment", "engine", "-n", ns, "--type", "strategic", "-p", frag.Stdout, "--dry-run=server", "-o", "json")
	if r.Code != 0 {
		t.Fatalf("the fragment as a patch: %s", r)
	}
	var d appsv1.Deployment
	if err := json.Unmarshal([]byte(r.Stdout), &d); err != nil {
		t.Fatal(err)
	}
	spec := d.Spec.Template.Spec
	if spec.ServiceAccountName != "sdc" || spec.SecurityContext == nil || spec.SecurityContext.FSGroup == nil || *spec.SecurityContext.FSGroup != 65534 ||
		len(spec.Containers) != 1 || spec.Containers[0].Image != sdcImage {
		t.Errorf("patched Deployment: %+v", spec)
	}
}

// The guide's way with plain Kubernetes: bind without --deployment, then the manifest applied for real; the
// chain passes doctor --probe.
func TestManifestAfterBindPassesDoctor(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	bucket := newBucket(t)
	mustBind(t, "-n", ns, "--bucket", bucket, "--yes")
	m := kubectl(t, "sdc", "manifest", "-n", ns, "--image", sdcImage)
	if m.Code != 0 || m.Stderr != "" {
		t.Fatalf("manifest after bind: want the manifest and nothing to say: %s", m)
	}
	if d := decodeDeployment(t, m.Stdout); d.Name != "sdc" || d.Spec.Template.Spec.ServiceAccountName != "sdc" {
		t.Errorf("manifest: %+v", d)
	}
	if r := runInput(t, m.Stdout, nil, "kubectl", "apply", "-n", ns, "-f", "-"); r.Code != 0 {
		t.Fatal(r)
	}
	waitMutatedPod(t, ns, "sdc", roleARN(t, ns, "sdc"))
	doctorPasses(t, ns)
}

// bind --print-manifest applies everything but a Deployment, touches none, and prints only the manifest on
// standard output (the plan goes to standard error): piped to kubectl apply, it passes doctor --probe.
func TestBindPrintManifest(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	bucket := newBucket(t)
	r := mustBind(t, "-n", ns, "--bucket", bucket, "--print-manifest", "--image", sdcImage, "--deployment", "ingest", "--yes")
	if !strings.Contains(r.Stderr, "+ create    IAM role "+roleARN(t, ns, "sdc")) || !strings.Contains(r.Stderr, "Applied:") {
		t.Errorf("the plan is not on standard error: %s", r)
	}
	d := decodeDeployment(t, r.Stdout)
	if d.Name != "ingest" || d.Spec.Template.Spec.Containers[0].Name != "ingest" || d.Spec.Template.Spec.ServiceAccountName != "sdc" {
		t.Errorf("printed manifest: %+v", d)
	}
	if list, err := kube(t).AppsV1().Deployments(ns).List(context.Background(), metav1.ListOptions{}); err != nil || len(list.Items) != 0 {
		t.Fatalf("bind --print-manifest touched a Deployment: %v %v", list, err)
	}
	if r := runInput(t, r.Stdout, nil, "kubectl", "apply", "-n", ns, "-f", "-"); r.Code != 0 {
		t.Fatal(r)
	}
	waitMutatedPod(t, ns, "ingest", roleARN(t, ns, "sdc"))
	doctorPasses(t, ns)

	// Again, for the fragment in json: nothing to change, and only the fragment on standard output.
	r = mustBind(t, "-n", ns, "--bucket", bucket, "--print-manifest", "--fragment", "-o", "json", "--yes")
	if r.Stdout != `{
  "spec": {
    "template": {
      "spec": {
        "serviceAccountName": "sdc",
        "securityContext": {
          "fsGroup": 65534
        }
      }
    }
  }
}
` || !strings.Contains(r.Stderr, "No changes") {
		t.Errorf("bind --print-manifest --fragment -o json: %s", r)
	}
}
