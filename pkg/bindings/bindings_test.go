package bindings

import (
	"errors"
	"fmt"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sdcaws "github.com/kubectl-sdc/kubectl-sdc/pkg/aws"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/catalog"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/cluster"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/doctor"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/eksread"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iamread"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

const (
	account  = "123456789012"
	issuer   = "https://oidc.eks.us-west-2.amazonaws.com/id/ABCD"
	host     = "oidc.eks.us-west-2.amazonaws.com/id/ABCD"
	provider = "arn:aws:iam::123456789012:oidc-provider/" + host
	arnA     = "arn:aws:iam::123456789012:role/sdc-a"
	arnB     = "arn:aws:iam::123456789012:role/sdc-b"
)

func pod(ns, name, sa, role string, phase corev1.PodPhase) corev1.Pod {
	p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: corev1.PodSpec{ServiceAccountName: sa,
		Containers: []corev1.Container{{Name: "sdc"}}}, Status: corev1.PodStatus{Phase: phase}}
	if role != "" {
		p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "AWS_ROLE_ARN", Value: role}, {Name: "AWS_WEB_IDENTITY_TOKEN_FILE", Value: "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"}}
		p.Spec.Volumes = []corev1.Volume{{Name: "aws-iam-token", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
			Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Audience: "sts.amazonaws.com", Path: "token"}}}}}}}
	}
	return p
}

func result(id string, s doctor.Status) doctor.Result { return doctor.Result{ID: id, Status: s} }

// One row per ServiceAccount, whatever the number of its Deployments; the worst verdict of its targets and
// of the cluster-wide checks; failures before warnings in the problems, in doctor's order.
func TestFromReport(t *testing.T) {
	t.Parallel()
	f := &doctor.Facts{
		Targets: []*doctor.Target{
			{Namespace: "a", ServiceAccount: "sdc", Deployment: "one", RoleARN: arnA,
				Selection: &catalog.Selection{Stages: []string{"s3", "sqs-consumer"}}, SelectionFrom: doctor.SelectionFromTag},
			{Namespace: "a", ServiceAccount: "sdc", Deployment: "two", RoleARN: arnA,
				Selection: &catalog.Selection{Stages: []string{"s3", "sqs-consumer"}}, SelectionFrom: doctor.SelectionFromTag},
			{Namespace: "b", ServiceAccount: "idle", RoleARN: arnB,
				Selection: &catalog.Selection{Stages: []string{"s3"}}, SelectionFrom: doctor.SelectionFromFlags},
		},
		Pods: []corev1.Pod{
			pod("a", "one-x", "sdc", arnA, corev1.PodRunning),
			pod("a", "two-x", "sdc", "", corev1.PodPending),
			pod("a", "done", "sdc", arnA, corev1.PodSucceeded),
			pod("a", "other", "default", arnA, corev1.PodRunning),
		},
	}
	rep := &doctor.Report{
		Checks: []doctor.Result{result("kube.context", doctor.Pass), result("kube.webhook", doctor.Pass)},
		Targets: []doctor.TargetReport{
			{Checks: []doctor.Result{result("iam.trust-scope", doctor.Warn), result("kube.pod-env", doctor.Pass)}},
			{Checks: []doctor.Result{result("iam.trust-scope", doctor.Warn), result("kube.pod-env", doctor.Fail)}},
			{Checks: []doctor.Result{result("iam.role", doctor.Pass), result("kube.deployment", doctor.Skip)}},
		},
	}
	got := FromReport(f, rep)
	want := List{Items: []Binding{
		{Namespace: "a", ServiceAccount: "sdc", Mechanism: vocab.MechanismIRSA, RoleARN: arnA, Stages: []string{"s3", "sqs-consumer"},
			Deployments: []string{"one", "two"}, Pods: Pods{Total: 2, WithIdentity: 1}, Status: Fail, Problems: []string{"kube.pod-env", "iam.trust-scope"}},
		{Namespace: "b", ServiceAccount: "idle", Mechanism: vocab.MechanismIRSA, RoleARN: arnB, Stages: []string{},
			Deployments: []string{}, Status: OK, Problems: []string{}},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("FromReport:\n got %+v\nwant %+v", got, want)
	}
	// A cluster-wide warning is every binding's.
	rep.Checks[1].Status = doctor.Warn
	got = FromReport(f, rep)
	if b := got.Items[1]; b.Status != Warn || !reflect.DeepEqual(b.Problems, []string{"kube.webhook"}) {
		t.Errorf("with the webhook warning: %+v", b)
	}
	if b := got.Items[0]; b.Status != Fail || !reflect.DeepEqual(b.Problems, []string{"kube.pod-env", "kube.webhook", "iam.trust-scope"}) {
		t.Errorf("with the webhook warning: %+v", b)
	}
}

// The mechanism is what serves the ServiceAccount: the annotation, the association or both; the role is the
// annotation's, else the association's (doctor's RoleARN); pods count as having the identity by the
// environment of the mechanism they use. An association whose ServiceAccount does not exist is a binding.
func TestFromReportMechanisms(t *testing.T) {
	t.Parallel()
	piPod := func(name, sa string) corev1.Pod {
		p := pod("a", name, sa, "", corev1.PodRunning)
		p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: vocab.EnvContainerCredentialsURI, Value: vocab.PodIdentityCredentialsURI},
			{Name: vocab.EnvContainerTokenFile, Value: vocab.PodIdentityTokenFile}}
		p.Spec.Volumes = []corev1.Volume{{Name: vocab.PodIdentityTokenVolume, VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
			Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Audience: vocab.PodIdentityService, Path: "t"}}}}}}}
		return p
	}
	assoc := func(role string) *eksread.Association { return &eksread.Association{RoleARN: role} }
	f := &doctor.Facts{
		Targets: []*doctor.Target{
			{Namespace: "a", ServiceAccount: "both", RoleARN: arnA, Annotation: arnA, Associated: true, Association: assoc(arnA)},
			{Namespace: "a", ServiceAccount: "irsa", RoleARN: arnA, Annotation: arnA},
			{Namespace: "a", ServiceAccount: "missing", RoleARN: arnB, Associated: true, Association: assoc(arnB)},
			{Namespace: "a", ServiceAccount: "pi", RoleARN: arnB, Associated: true, Association: assoc(arnB)},
		},
		Pods: []corev1.Pod{
			pod("a", "both-irsa", "both", arnA, corev1.PodRunning), piPod("both-pi", "both"), pod("a", "both-none", "both", "", corev1.PodRunning),
			piPod("irsa-pi", "irsa"), pod("a", "irsa-x", "irsa", arnA, corev1.PodRunning),
			piPod("pi-x", "pi"), pod("a", "pi-irsa", "pi", arnB, corev1.PodRunning),
		},
	}
	rep := &doctor.Report{Targets: make([]doctor.TargetReport, 4)}
	rep.Targets[2].Checks = []doctor.Result{result("kube.service-account", doctor.Fail)}
	got := map[string]string{}
	for _, b := range FromReport(f, rep).Items {
		got[b.ServiceAccount] = fmt.Sprintf("%s %s %d/%d %s", b.Mechanism, b.RoleARN, b.Pods.WithIdentity, b.Pods.Total, b.Status)
	}
	want := map[string]string{
		"both":    "irsa+pod-identity " + arnA + " 2/3 ok",
		"irsa":    "irsa " + arnA + " 1/2 ok",
		"missing": "pod-identity " + arnB + " 0/0 fail",
		"pi":      "pod-identity " + arnB + " 1/2 ok",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("bindings:\n got %v\nwant %v", got, want)
	}
}

func TestFromReportEmpty(t *testing.T) {
	t.Parallel()
	if got := FromReport(&doctor.Facts{}, &doctor.Report{}); got.Items == nil || len(got.Items) != 0 {
		t.Errorf("%+v: want an empty, non-nil list (json: [])", got)
	}
}

// The clean-up list: kubectl-sdc's roles of this cluster that no ServiceAccount names, one row per binding,
// each with the unbind that removes it.
func TestOrphans(t *testing.T) {
	t.Parallel()
	mine := func(extra map[string]string) map[string]string {
		m := map[string]string{vocab.ManagedByKey: vocab.ManagedByValue, vocab.TagCluster: "demo", vocab.TagClusterARN: "arn:aws:eks:us-west-2:123456789012:cluster/demo"}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	trust := func(subjects ...string) *iampolicy.Policy {
		var p *iampolicy.Policy
		for _, s := range subjects {
			p, _ = iampolicy.AdmitSubject(p, provider, host, s, "")
		}
		return p
	}
	role := func(name string, tags map[string]string, p *iampolicy.Policy) *iamread.Role {
		return &iamread.Role{Name: name, ARN: "arn:aws:iam::123456789012:role/" + name, Tags: tags, Trust: p}
	}
	f := &doctor.Facts{
		Cluster:     &cluster.Cluster{Name: "demo", ARN: "arn:aws:eks:us-west-2:123456789012:cluster/demo", Issuer: issuer},
		Identity:    &sdcaws.Identity{Account: account, Partition: "aws"},
		ProviderARN: provider,
		ServiceAccounts: []corev1.ServiceAccount{{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "live",
			Annotations: map[string]string{vocab.RoleARNAnnotation: "arn:aws:iam::123456789012:role/sdc-live"}}}},
		Account: &iamread.Account{Roles: map[string]*iamread.Role{
			"sdc-live":      role("sdc-live", mine(nil), trust("system:serviceaccount:a:live")),
			"sdc-gone":      role("sdc-gone", mine(map[string]string{vocab.TagNamespace: "a", vocab.TagServiceAccount: "gone"}), trust("system:serviceaccount:a:gone")),
			"sdc-shared":    role("sdc-shared", mine(nil), trust("system:serviceaccount:b:x", "system:serviceaccount:a:y")),
			"sdc-tags-only": role("sdc-tags-only", mine(map[string]string{vocab.TagNamespace: "c", vocab.TagServiceAccount: "z"}), iampolicy.NewPolicy()),
			"sdc-elsewhere": role("sdc-elsewhere", mine(map[string]string{vocab.TagClusterARN: "arn:aws:eks:eu-west-1:123456789012:cluster/demo"}), trust("system:serviceaccount:a:q")),
			"hand-made":     role("hand-made", map[string]string{}, trust("system:serviceaccount:a:h")),
			// EKS Pod Identity roles trust the service principal, not a ServiceAccount: their tags name the binding.
			"sdc-associated":   role("sdc-associated", mine(map[string]string{vocab.TagNamespace: "d", vocab.TagServiceAccount: "pi"}), iampolicy.NewPolicy(iampolicy.PodIdentityStatement())),
			"sdc-unassociated": role("sdc-unassociated", mine(map[string]string{vocab.TagNamespace: "d", vocab.TagServiceAccount: "was"}), iampolicy.NewPolicy(iampolicy.PodIdentityStatement())),
		}},
		Targets: []*doctor.Target{{Namespace: "d", ServiceAccount: "pi", Associated: true,
			Association: &eksread.Association{RoleARN: "arn:aws:iam::123456789012:role/sdc-associated"}}},
	}
	got := Orphans(f, "")
	var rows []string
	for _, o := range got {
		rows = append(rows, o.RoleName+" "+o.Namespace+"/"+o.ServiceAccount+": "+o.Command)
	}
	want := []string{
		"sdc-gone a/gone: kubectl sdc unbind -n a --service-account gone --role-name sdc-gone",
		"sdc-shared a/y: kubectl sdc unbind -n a --service-account y --role-name sdc-shared",
		"sdc-shared b/x: kubectl sdc unbind -n b --service-account x --role-name sdc-shared",
		"sdc-tags-only c/z: kubectl sdc unbind -n c --service-account z --role-name sdc-tags-only",
		"sdc-unassociated d/was: kubectl sdc unbind -n d --service-account was --role-name sdc-unassociated",
	}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("orphans:\n got %q\nwant %q", rows, want)
	}
	if got := Orphans(f, "b"); len(got) != 1 || got[0].ServiceAccount != "x" || got[0].RoleARN != "arn:aws:iam::123456789012:role/sdc-shared" {
		t.Errorf("namespace b: %+v", got)
	}
	f.Targets[0].Association, f.Targets[0].AssociationErr = nil, errors.New("throttled")
	if got := Orphans(f, ""); got == nil || len(got) != 0 || AssociationsUnread(f) == nil {
		t.Errorf("without an association's role (its role would look orphaned): %+v", got)
	}
	f.Targets = nil
	f.ServiceAccountsErr = errors.New("forbidden")
	if got := Orphans(f, ""); got == nil || len(got) != 0 {
		t.Errorf("without the ServiceAccounts (every role would look orphaned): %+v", got)
	}
	f.ServiceAccountsErr, f.Account = nil, nil
	if got := Orphans(f, ""); got == nil || len(got) != 0 {
		t.Errorf("without the account read: %+v", got)
	}
}
