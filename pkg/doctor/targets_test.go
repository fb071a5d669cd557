package doctor

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/catalog"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

func describeTargets(ts []*Target) string {
	var out []string
	for _, t := range ts {
		s := t.Namespace + "/" + t.ServiceAccount
		if t.Deployment != "" {
			s += ">" + t.Deployment
		}
		out = append(out, s)
	}
	return strings.Join(out, " ")
}

func TestBuildTargets(t *testing.T) {
	t.Parallel()
	annotated := func(ns, name string) corev1.ServiceAccount {
		return corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name,
			Annotations: map[string]string{vocab.RoleARNAnnotation: "arn:aws:iam::123456789012:role/" + ns + "-" + name}}}
	}
	plain := func(ns, name string) corev1.ServiceAccount {
		return corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	}
	deployment := func(ns, name, sa string) appsv1.Deployment {
		return appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{ServiceAccountName: sa}}}}
	}
	sas := []corev1.ServiceAccount{annotated("b", "sdc"), plain("a", "default"), annotated("a", "sdc"), annotated("a", "etl"), annotated("c", "idle")}
	deps := []appsv1.Deployment{deployment("a", "sdc", "sdc"), deployment("a", "sdc2", "sdc"), deployment("a", "web", ""), deployment("b", "x", "sdc"), deployment("a", "etl", "etl")}
	cases := []struct {
		name string
		o    Options
		want string
	}{
		{"-A: every annotated ServiceAccount and each Deployment under one", Options{AllNamespaces: true},
			"a/etl>etl a/sdc>sdc a/sdc>sdc2 b/sdc>x c/idle"},
		{"every annotated ServiceAccount of one namespace (list)", Options{Namespace: "a", Annotated: true},
			"a/etl>etl a/sdc>sdc a/sdc>sdc2"},
		{"one ServiceAccount and its Deployments", Options{Namespace: "a", ServiceAccount: "sdc"}, "a/sdc>sdc a/sdc>sdc2"},
		{"one ServiceAccount without Deployments", Options{Namespace: "c", ServiceAccount: "idle"}, "c/idle"},
		{"--deployment: its ServiceAccount is the target", Options{Namespace: "a", ServiceAccount: "sdc", Deployment: "web"}, "a/default>web"},
		{"--deployment with --service-account", Options{Namespace: "a", ServiceAccount: "sdc", ServiceAccountSet: true, Deployment: "web"}, "a/sdc>web"},
		{"--deployment that does not exist", Options{Namespace: "a", ServiceAccount: "sdc", Deployment: "nope"}, "a/sdc>nope"},
	}
	for _, c := range cases {
		f := &Facts{Options: c.o, ServiceAccounts: sas, Deployments: deps}
		if got := describeTargets(buildTargets(f)); got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}

func TestPodsOfLeavesOutOthersAndTerminated(t *testing.T) {
	t.Parallel()
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "sdc"},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "sdc"}}}}
	now := metav1.Now()
	pod := func(ns, name, app string, phase corev1.PodPhase, deleting bool) corev1.Pod {
		p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"app": app}}, Status: corev1.PodStatus{Phase: phase}}
		if deleting {
			p.DeletionTimestamp = &now
		}
		return p
	}
	pods := []corev1.Pod{pod("a", "p2", "sdc", corev1.PodRunning, false), pod("a", "p1", "sdc", corev1.PodPending, false),
		pod("b", "p3", "sdc", corev1.PodRunning, false), pod("a", "p4", "web", corev1.PodRunning, false),
		pod("a", "p5", "sdc", corev1.PodSucceeded, false), pod("a", "p6", "sdc", corev1.PodFailed, false), pod("a", "p7", "sdc", corev1.PodRunning, true)}
	ptrs := make([]*corev1.Pod, len(pods))
	for i := range pods {
		ptrs[i] = &pods[i]
	}
	var names []string
	for _, p := range podsOf(ptrs, d) {
		names = append(names, p.Name)
	}
	if got := strings.Join(names, ","); got != "p1,p2" {
		t.Errorf("podsOf = %s, want p1,p2", got)
	}
}

func TestBindFix(t *testing.T) {
	t.Parallel()
	f := fixture(t)
	f.Roles["arn:aws:iam::123456789012:role/shared"] = &Role{Name: "shared", Exists: true, Tags: map[string]string{
		vocab.ManagedByKey: vocab.ManagedByValue, vocab.TagNamespace: "team", vocab.TagServiceAccount: "first"}}
	cases := []struct {
		name string
		t    Target
		want string
	}{
		{"the original guide's shorthand", Target{Namespace: "ns1", ServiceAccount: "sdc", Deployment: "sdc",
			Selection: &catalog.Selection{Stages: []string{"s3"}, Params: map[string]string{"bucket": "b", "prefix": "in/"}}},
			"kubectl sdc bind -n ns1 --service-account sdc --deployment sdc --bucket b --prefix in/"},
		{"stages and parameters", Target{Namespace: "etl", ServiceAccount: "sdc",
			Selection: &catalog.Selection{Stages: []string{"kinesis-consumer", "s3-destination"}, Params: map[string]string{"stream": "orders", "application": "orders sdc", "bucket": "b"}}},
			"kubectl sdc bind -n etl --service-account sdc --stage kinesis-consumer --stage s3-destination --set 'application=orders sdc' --bucket b --set stream=orders"},
		{"a role made by hand: bind follows the annotation", Target{Namespace: "ns1", ServiceAccount: "sdc", RoleARN: "arn:aws:iam::123456789012:role/hand-made",
			Selection: &catalog.Selection{Stages: []string{"s3"}, Params: map[string]string{"bucket": "b"}}},
			"kubectl sdc bind -n ns1 --service-account sdc --bucket b"},
		{"a role shared on purpose, made for another binding", Target{Namespace: "ns1", ServiceAccount: "sdc", RoleARN: "arn:aws:iam::123456789012:role/shared",
			Selection: &catalog.Selection{Stages: []string{"s3"}, Params: map[string]string{"bucket": "b"}}},
			"kubectl sdc bind -n ns1 --service-account sdc --bucket b --role-name shared"},
		{"bind's default name", Target{Namespace: "ns1", ServiceAccount: "sdc", RoleARN: fxRole,
			Selection: &catalog.Selection{Stages: []string{"s3"}, Params: map[string]string{"bucket": "b"}}},
			"kubectl sdc bind -n ns1 --service-account sdc --bucket b"},
		{"nothing known", Target{Namespace: "ns1", ServiceAccount: "sdc"},
			"kubectl sdc bind -n ns1 --service-account sdc --stage <STAGE> [--set KEY=VALUE ...]"},
	}
	for _, c := range cases {
		if got := bindFix(f, &c.t); got != c.want {
			t.Errorf("%s:\n got  %s\n want %s", c.name, got, c.want)
		}
	}
	if got := shellQuote("it's"); got != `'it'\''s'` {
		t.Errorf("shellQuote = %s", got)
	}
}
