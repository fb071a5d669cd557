package bind

import (
	"reflect"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/eksread"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/plan"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

const tAssociation = "a-0123456789abcdefg"

// afterPodBind is what ObserveUnbind reads after bind --mechanism pod-identity of ns1/sdc: the role trusts
// only the EKS Pod Identity service, the ServiceAccount has no annotation, the association names the role,
// and no other association of the cluster does.
func afterPodBind(t *testing.T) *UnbindObserved {
	t.Helper()
	o := afterBind(t)
	o.Role.Trust = iampolicy.NewPolicy(iampolicy.PodIdentityStatement())
	o.ServiceAccount.Annotations, o.ServiceAccount.ManagedFields = nil, nil
	podAssociation(o, tRole)
	return o
}

// podAssociation gives the ServiceAccount an association naming role, as the observation reads it.
func podAssociation(o *UnbindObserved, role string) {
	o.AssociationRead, o.OtherAssociationsRead = true, true
	o.Association = &eksread.Association{Summary: eksread.Summary{ID: tAssociation, Namespace: "ns1", ServiceAccount: "sdc"},
		Cluster: "demo", RoleARN: role, Tags: map[string]string{vocab.ManagedByKey: vocab.ManagedByValue, vocab.TagCluster: "demo"}}
}

// afterMigrate is the state migrate leaves without --remove-irsa: IRSA's annotation and subject, and the
// association naming the same role, whose trust has both statements.
func afterMigrate(t *testing.T) *UnbindObserved {
	t.Helper()
	o := afterBind(t)
	o.Role.Trust, _ = iampolicy.AdmitPodIdentity(o.Role.Trust, iampolicy.PodIdentitySession{ClusterARN: tCluster, ClusterName: "demo", Namespace: "ns1", ServiceAccount: "sdc"})
	podAssociation(o, tRole)
	return o
}

func hasPodIdentity(t *testing.T, doc string) bool {
	t.Helper()
	return iampolicy.HasPodIdentityStatement(mustParse(t, doc))
}

// The table of unbind's EKS Pod Identity decisions.
func TestUnbindPlanPodIdentity(t *testing.T) {
	t.Parallel()
	detach := "detach:" + tPolicy
	policy := "policy:" + tPolicy
	other := vocab.BindingID(tCluster, "ns2", "other")
	cases := []struct {
		name      string
		state     func(*testing.T) *UnbindObserved
		req       func(*UnbindRequest)
		actions   map[string]plan.Action
		mechanism vocab.Mechanism
		warning   string // a substring of a warning, when one is expected
		note      string // a substring of a note of the role's change, when one is expected
		check     func(*testing.T, *UnbindResult)
	}{
		{name: "Pod Identity alone: the association goes, then the role (trusting nobody), its attachment and policy",
			state:     afterPodBind,
			actions:   map[string]plan.Action{"association": plan.Delete, "role": plan.Delete, detach: plan.Delete, policy: plan.Delete, "serviceaccount": plan.Unchanged},
			mechanism: vocab.MechanismPodIdentity,
			check: func(t *testing.T, res *UnbindResult) {
				c := byID(res)
				if op := c["association"].Op.(deleteAssociation); op != (deleteAssociation{Cluster: "demo", ID: tAssociation}) {
					t.Errorf("association op %+v", op)
				}
				if !reflect.DeepEqual(c[detach].Deps, []string{"association"}) || !reflect.DeepEqual(c["role"].Deps, []string{detach}) {
					t.Errorf("the role is taken apart after the association goes: detach deps %v, role deps %v", c[detach].Deps, c["role"].Deps)
				}
				want := TrustEdits{RevokeWebIdentity{Provider: tProvider, Host: tHost, Subject: tSubject}, RevokePodIdentity{}}
				if op := c[detach].Op.(detachPolicy); op.Guard == nil || !reflect.DeepEqual(op.Guard.Edit, want) {
					t.Errorf("the guard checks the trust without the Pod Identity statement (and the subject, should a bind have added it since): %+v", op.Guard)
				}
				if res.Plan.Changes[0].ID != "association" {
					t.Errorf("the association is the first change: %s", res.Plan.Changes[0].ID)
				}
			}},
		{name: "both (migrate without --remove-irsa): one trust edit removes both, the role goes, the annotation is released",
			state:     afterMigrate,
			actions:   map[string]plan.Action{"association": plan.Delete, "role": plan.Delete, detach: plan.Delete, policy: plan.Delete, "serviceaccount": plan.Update},
			mechanism: vocab.MechanismBoth,
			check: func(t *testing.T, res *UnbindResult) {
				guard := byID(res)[detach].Op.(detachPolicy).Guard
				want := TrustEdits{RevokeWebIdentity{Provider: tProvider, Host: tHost, Subject: tSubject}, RevokePodIdentity{}}
				if !reflect.DeepEqual(guard.Edit, want) {
					t.Errorf("edit %#v, want both in one", guard.Edit)
				}
			}},
		{name: "both, --mechanism irsa: the subject goes, the Pod Identity statement, association, statements and tags stay",
			state:   afterMigrate,
			req:     func(r *UnbindRequest) { r.Mechanism = vocab.MechanismIRSA },
			actions: map[string]plan.Action{"role": plan.Update, policy: plan.Unchanged, "serviceaccount": plan.Update}, mechanism: vocab.MechanismIRSA,
			note: "EKS Pod Identity still serves the binding",
			check: func(t *testing.T, res *UnbindResult) {
				c := byID(res)
				if !hasPodIdentity(t, c["role"].After) || len(iampolicy.WebIdentitySubjects(mustParse(t, c["role"].After), tProvider, tHost)) != 0 {
					t.Errorf("trust after: %s", c["role"].After)
				}
				if op := c["role"].Op.(writeTrust); op.Edit != TrustEdit(RevokeWebIdentity{Provider: tProvider, Host: tHost, Subject: tSubject}) || len(op.Untag) != 0 {
					t.Errorf("role op %+v", op)
				}
			}},
		{name: "both, --mechanism pod-identity: the association and the statement go, IRSA's subject, annotation and statements stay",
			state:   afterMigrate,
			req:     func(r *UnbindRequest) { r.Mechanism = vocab.MechanismPodIdentity },
			actions: map[string]plan.Action{"association": plan.Delete, "role": plan.Update, policy: plan.Unchanged, "serviceaccount": plan.Unchanged}, mechanism: vocab.MechanismPodIdentity,
			check: func(t *testing.T, res *UnbindResult) {
				c := byID(res)
				if hasPodIdentity(t, c["role"].After) || len(iampolicy.WebIdentitySubjects(mustParse(t, c["role"].After), tProvider, tHost)) != 1 {
					t.Errorf("trust after: %s", c["role"].After)
				}
				if !reflect.DeepEqual(c["role"].Deps, []string{"association"}) {
					t.Errorf("role deps %v", c["role"].Deps)
				}
			}},
		{name: "another association of the cluster names the role: its statement and the role stay, the binding's policy goes",
			state: func(t *testing.T) *UnbindObserved {
				o := afterPodBind(t)
				o.OtherAssociations = []string{"ns2/other"}
				return o
			},
			actions: map[string]plan.Action{"association": plan.Delete, "role": plan.Unchanged, detach: plan.Delete, policy: plan.Delete, "serviceaccount": plan.Unchanged},
			note:    "association(s) ns2/other of cluster demo name the role too", mechanism: vocab.MechanismPodIdentity},
		{name: "a role shared on purpose (another binding's stages tag): its statement stays, this binding's tag goes",
			state: func(t *testing.T) *UnbindObserved {
				o := afterPodBind(t)
				o.Role.Tags[vocab.TagStages+"/"+other] = "v1 s3"
				o.Role.Tags[vocab.TagStages+"/"+o.Names.BindingID] = "v1 s3"
				o.OtherAssociationsRead = false // the tags answered: the cluster's associations are not read
				return o
			},
			actions: map[string]plan.Action{"association": plan.Delete, "role": plan.Update, detach: plan.Delete, policy: plan.Delete, "serviceaccount": plan.Unchanged},
			note:    "the role's tags name another binding (tag " + vocab.TagStages + "/" + other + ")", mechanism: vocab.MechanismPodIdentity,
			check: func(t *testing.T, res *UnbindResult) {
				op := byID(res)["role"].Op.(writeTrust)
				if op.Update || !reflect.DeepEqual(op.Untag, []string{vocab.TagStages + "/" + res.Names.BindingID}) {
					t.Errorf("role op %+v: only this binding's tag goes", op)
				}
			}},
		{name: "a role shared on purpose whose other bindings are gone: its maker's ownership tags do not keep the statement",
			state: func(t *testing.T) *UnbindObserved {
				o := afterPodBind(t)
				o.Role.Tags[vocab.TagServiceAccount] = "maker" // the binding that made it, unbound since
				o.Role.Tags[vocab.TagStages+"/"+o.Names.BindingID] = "v1 s3"
				return o
			},
			actions:   map[string]plan.Action{"association": plan.Delete, "role": plan.Delete, detach: plan.Delete, policy: plan.Delete, "serviceaccount": plan.Unchanged},
			mechanism: vocab.MechanismPodIdentity},
		{name: "a role made for another ServiceAccount (its ownership tags): the statement stays",
			state: func(t *testing.T) *UnbindObserved {
				o := afterPodBind(t)
				o.Role.Tags[vocab.TagServiceAccount] = "etl"
				o.OtherAssociationsRead = false
				return o
			},
			actions: map[string]plan.Action{"association": plan.Delete, "role": plan.Unchanged, detach: plan.Delete, policy: plan.Delete, "serviceaccount": plan.Unchanged},
			note:    "ServiceAccount ns1/etl", mechanism: vocab.MechanismPodIdentity},
		{name: "a role kubectl-sdc did not make keeps its statement",
			state: func(t *testing.T) *UnbindObserved {
				o := afterPodBind(t)
				o.Role.Tags = map[string]string{}
				o.OtherAssociationsRead = false
				return o
			},
			actions: map[string]plan.Action{"association": plan.Delete, "role": plan.Unchanged, detach: plan.Delete, policy: plan.Delete, "serviceaccount": plan.Unchanged},
			note:    "kubectl-sdc did not make the role", mechanism: vocab.MechanismPodIdentity},
		{name: "the association names another role than the annotation's: it stays, and the command that removes it is given",
			state: func(t *testing.T) *UnbindObserved {
				o := afterBind(t)
				podAssociation(o, "arn:aws:iam::123456789012:role/sdc-elsewhere")
				return o
			},
			actions: map[string]plan.Action{"association": plan.Unchanged, "role": plan.Delete, detach: plan.Delete, policy: plan.Delete, "serviceaccount": plan.Update},
			warning: "--mechanism pod-identity --role-name sdc-elsewhere", mechanism: vocab.MechanismIRSA},
		{name: "an association kubectl-sdc did not make stays, and so do the statement, the role and the binding's permissions",
			state: func(t *testing.T) *UnbindObserved {
				o := afterPodBind(t)
				o.Association.Tags = map[string]string{"owner": "platform"}
				return o
			},
			actions: map[string]plan.Action{"association": plan.Unchanged, "role": plan.Unchanged, policy: plan.Unchanged, "serviceaccount": plan.Unchanged},
			warning: "aws eks delete-pod-identity-association --cluster-name demo --association-id " + tAssociation, note: "the ServiceAccount's association stays",
			mechanism: vocab.MechanismPodIdentity},
		{name: "the association was deleted by hand (--orphans' command, --role-name): the statement, the role and the policy go",
			state: func(t *testing.T) *UnbindObserved {
				o := afterPodBind(t)
				o.Association = nil
				return o
			},
			req:     func(r *UnbindRequest) { r.RoleName = tRoleName },
			actions: map[string]plan.Action{"role": plan.Delete, detach: plan.Delete, policy: plan.Delete, "serviceaccount": plan.Unchanged},
			check: func(t *testing.T, res *UnbindResult) {
				if res.Mechanism != "" || !reflect.DeepEqual(byID(res)[detach].Deps, []string(nil)) {
					t.Errorf("mechanism %q (nothing served the ServiceAccount), detach deps %v", res.Mechanism, byID(res)[detach].Deps)
				}
			}},
		{name: "--mechanism pod-identity of an IRSA binding: nothing to do",
			state: func(t *testing.T) *UnbindObserved {
				o := afterBind(t)
				o.AssociationRead, o.OtherAssociationsRead = true, true
				return o
			},
			req:     func(r *UnbindRequest) { r.Mechanism = vocab.MechanismPodIdentity },
			actions: map[string]plan.Action{"association": plan.Unchanged, "role": plan.Unchanged, policy: plan.Unchanged, "serviceaccount": plan.Unchanged}},
		{name: "nothing bound: nothing to do",
			state: func(t *testing.T) *UnbindObserved {
				o := afterPodBind(t)
				o.Association, o.Role, o.Policies[tPolicy] = nil, nil, nil
				return o
			},
			actions: map[string]plan.Action{"role": plan.Unchanged, policy: plan.Unchanged, "serviceaccount": plan.Unchanged}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := unbindRequest()
			if c.req != nil {
				c.req(r)
			}
			res := unbindPlan(t, r, c.state(t))
			if got := unbindActions(res); !reflect.DeepEqual(got, c.actions) {
				t.Errorf("actions %v\nwant    %v", got, c.actions)
			}
			if res.Mechanism != c.mechanism && c.check == nil {
				t.Errorf("mechanism %q, want %q", res.Mechanism, c.mechanism)
			}
			if c.warning != "" && !warned(res, c.warning) {
				t.Errorf("no warning with %q: %v", c.warning, res.Warnings)
			}
			if c.warning == "" && len(res.Warnings) > 0 {
				t.Errorf("warnings: %v", res.Warnings)
			}
			if c.note != "" && !strings.Contains(strings.Join(byID(res)["role"].Notes, "\n"), c.note) {
				t.Errorf("role notes %q, want one with %q", byID(res)["role"].Notes, c.note)
			}
			if c.check != nil {
				c.check(t, res)
			}
		})
	}
}

// Applying the plan's changes to the observation and planning again finds nothing to do, for each state.
func TestUnbindPlanPodIdentityIsANoOpOnceApplied(t *testing.T) {
	t.Parallel()
	for name, state := range map[string]func(*testing.T) *UnbindObserved{"pod-identity": afterPodBind, "both": afterMigrate} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			o := state(t)
			res := unbindPlan(t, unbindRequest(), o)
			o.Association, o.Role, o.Policies[tPolicy] = nil, nil, nil
			o.ServiceAccount.Annotations = nil
			if again := unbindPlan(t, unbindRequest(), o); again.Plan.HasChanges() {
				t.Errorf("after %v, again: %v", unbindActions(res), unbindActions(again))
			}
		})
	}
}

// --restart restarts the Deployments whose pods carry what unbind removes: EKS Pod Identity's environment
// when the association goes, IRSA's only when IRSA goes.
func TestUnbindPlanPodIdentityRestarts(t *testing.T) {
	t.Parallel()
	deploy := func(name string) appsv1.Deployment {
		return appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns1"}, Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{ServiceAccountName: "sdc", Containers: []corev1.Container{{Name: "sdc"}}}}}}
	}
	pod := func(app string, env ...corev1.EnvVar) corev1.Pod {
		return corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: app + "-pod", Namespace: "ns1", Labels: map[string]string{"app": app}, CreationTimestamp: metav1.NewTime(tNow.Add(-time.Hour))},
			Spec: corev1.PodSpec{ServiceAccountName: "sdc", Containers: []corev1.Container{{Name: "sdc", Env: env}}}}
	}
	pi := []corev1.EnvVar{{Name: vocab.EnvContainerCredentialsURI, Value: vocab.PodIdentityCredentialsURI}, {Name: vocab.EnvContainerTokenFile, Value: vocab.PodIdentityTokenFile}}
	o := afterMigrate(t)
	o.Deployments = []appsv1.Deployment{deploy("pi"), deploy("irsa")}
	o.Pods = []corev1.Pod{pod("pi", pi...), pod("irsa", corev1.EnvVar{Name: vocab.EnvRoleARN, Value: tRole})}
	for m, want := range map[vocab.Mechanism][]string{"": {"restart:pi", "restart:irsa"}, vocab.MechanismPodIdentity: {"restart:pi"}, vocab.MechanismIRSA: {"restart:irsa"}} {
		r := unbindRequest()
		r.Restart, r.Mechanism = true, m
		var got []string
		for _, c := range unbindPlan(t, r, o).Plan.Changes {
			if c.Kind == KindRestart {
				got = append(got, c.ID)
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("--mechanism %q: restarts %v, want %v", m, got, want)
		}
	}
}
