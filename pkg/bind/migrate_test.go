package bind

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sdcaws "github.com/kubectl-sdc/kubectl-sdc/pkg/aws"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

func TestMigrationTargets(t *testing.T) {
	t.Parallel()
	id := sdcaws.Identity{Account: tAccount, Partition: "aws"}
	sa := func(ns, name, annotation string) corev1.ServiceAccount {
		s := corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: map[string]string{}}}
		if annotation != "" {
			s.Annotations[vocab.RoleARNAnnotation] = annotation
		}
		return s
	}
	sas := []corev1.ServiceAccount{
		sa("b", "sdc", tRole), sa("a", "sdc", tRole), sa("a", "bare", ""), sa("c", "moved", ""),
		sa("d", "elsewhere", "arn:aws:iam::210987654321:role/x"), sa("e", "broken", "not-an-arn"),
	}
	associated := map[string]bool{"c/moved": true}

	all, notes, err := migrationTargets(&MigrateRequest{AllNamespaces: true}, sas, associated, id)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range all {
		got = append(got, s.Namespace+"/"+s.Name)
	}
	if strings.Join(got, ",") != "a/sdc,b/sdc,c/moved" {
		t.Errorf("-A targets %v", got)
	}
	if len(notes) != 2 || !strings.Contains(strings.Join(notes, "\n"), "role arn:aws:iam::210987654321:role/x of account 210987654321") ||
		!strings.Contains(strings.Join(notes, "\n"), `"not-an-arn" is not a role ARN`) {
		t.Errorf("notes %q", notes)
	}

	for _, c := range []struct{ ns, name, want string }{
		{"a", "bare", "has no eks.amazonaws.com/role-arn annotation, so it is not bound by IRSA and there is nothing to migrate"},
		{"d", "elsewhere", "an EKS Pod Identity association can name only a role of the cluster's account (123456789012)"},
		{"z", "sdc", "ServiceAccount z/sdc does not exist"},
	} {
		_, _, err := migrationTargets(&MigrateRequest{Namespace: c.ns, ServiceAccount: c.name}, sas, associated, id)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s/%s: %v, want %q", c.ns, c.name, err, c.want)
		}
	}
	one, _, err := migrationTargets(&MigrateRequest{Namespace: "c", ServiceAccount: "moved"}, sas, associated, id)
	if err != nil || len(one) != 1 {
		t.Errorf("an already moved ServiceAccount: %v %v", one, err)
	}
}

func TestWorkloadsOf(t *testing.T) {
	t.Parallel()
	deploy := func(ns, name, sa string) appsv1.Deployment {
		return appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{ServiceAccountName: sa}}}}
	}
	pod := func(ns, app string) corev1.Pod {
		return corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: app + "-1", Labels: map[string]string{"app": app}}}
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "ns1", Name: "sdc"}}
	ws := workloadsOf(sa, []appsv1.Deployment{deploy("ns1", "web", "sdc"), deploy("ns1", "other", "default"), deploy("ns2", "sdc", "sdc"), deploy("ns1", "etl", "sdc")},
		[]corev1.Pod{pod("ns1", "web"), pod("ns2", "web"), pod("ns1", "etl"), pod("ns1", "other")})
	if len(ws) != 2 || ws[0].Deployment.Name != "etl" || ws[1].Deployment.Name != "web" || len(ws[0].Pods) != 1 || len(ws[1].Pods) != 1 || ws[1].Pods[0].Namespace != "ns1" {
		t.Errorf("workloads %+v", ws)
	}
}
