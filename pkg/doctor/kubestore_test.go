package doctor

import (
	"fmt"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
)

// TestKubeStoreGivesBackWhatItKept: a namespace's Deployments and pods come back decoded as they were
// kept, in list order, also after their view was dropped for others; each Deployment's ServiceAccount and
// envFrom kinds are known without decoding it. (Semantic: times come back in the local zone, as from the
// API server's own protobuf.)
func TestKubeStoreGivesBackWhatItKept(t *testing.T) {
	f := fixture(t)
	d := f.Deployments[0]
	d.Spec.Template.Spec.Containers[0].EnvFrom = []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cm"}}}}
	var deployments []appsv1.Deployment
	var pods []corev1.Pod
	for i := range storeViews + 10 {
		x := *d.DeepCopy()
		x.Namespace = fmt.Sprintf("ns-%03d", i)
		deployments = append(deployments, x)
		for j := range 3 {
			p := *f.Pods[0].DeepCopy()
			p.Namespace, p.Name = x.Namespace, fmt.Sprintf("pod-%d", j)
			pods = append(pods, p)
		}
	}
	f.Deployments, f.Pods = deployments, pods
	for round := range 2 { // the second round finds the first namespaces' views dropped
		for i := range deployments {
			ns := deployments[i].Namespace
			got := f.DeploymentsIn(ns)
			if len(got) != 1 || !equality.Semantic.DeepEqual(*got[0], deployments[i]) {
				t.Fatalf("round %d: namespace %s's Deployments came back as %v", round, ns, got)
			}
			gotPods := f.PodsIn(ns)
			if len(gotPods) != 3 || !equality.Semantic.DeepEqual(*gotPods[2], pods[3*i+2]) {
				t.Fatalf("round %d: namespace %s's pods came back otherwise", round, ns)
			}
		}
	}
	sd := f.store().deploymentsOf("ns-001")
	if len(sd) != 1 || sd[0].name != d.Name || sd[0].serviceAccount != "sdc" || sd[0].envFromSecret || !sd[0].envFromConfigMap {
		t.Errorf("the kept Deployment's header: %+v", sd)
	}
	if got := f.DeploymentsIn("nowhere"); got != nil {
		t.Errorf("a namespace without objects has Deployments %v", got)
	}
}
