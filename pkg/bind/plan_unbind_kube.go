package bind

import (
	"fmt"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	applycorev1 "k8s.io/client-go/applyconfigurations/core/v1"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/controlhub"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/plan"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// serviceAccount: the annotations bind set are released by server-side apply (another manager's stay);
// with --delete-service-account a ServiceAccount bind created is deleted instead. Either happens after
// every IAM change.
func (u *unbinding) serviceAccount() {
	n, o, r := u.res.Names, u.o, u.r
	sa := o.ServiceAccount
	c := &plan.Change{ID: "serviceaccount", Kind: KindSA, Name: r.Namespace + "/" + r.ServiceAccount, Format: "yaml",
		Action: plan.Unchanged, Deps: slices.Clone(u.iam)}
	u.add(c)
	if sa == nil {
		c.Notes = []string{"does not exist"}
		return
	}
	if !r.removes(vocab.MechanismIRSA) {
		c.Notes = []string{"--mechanism " + string(r.Mechanism) + ": IRSA's annotations stay as they are"}
		if r.DeleteServiceAccount {
			u.warn("--delete-service-account: ServiceAccount %s/%s stays, since --mechanism %s leaves its IRSA binding", r.Namespace, r.ServiceAccount, r.Mechanism)
		}
		return
	}
	view := func(annots map[string]string) string {
		return toYAML(map[string]any{"apiVersion": "v1", "kind": "ServiceAccount",
			"metadata": map[string]any{"name": r.ServiceAccount, "namespace": r.Namespace, "annotations": annots}})
	}
	annotated := sa.Annotations[vocab.RoleARNAnnotation]
	if annotated != "" && !namesRole(annotated, n) {
		c.Notes = []string{"its annotation names role " + annotated + ", not " + n.RoleARN + ": it stays as it is"}
		return
	}
	if r.DeleteServiceAccount && u.stays != "" {
		u.warn("--delete-service-account: ServiceAccount %s/%s stays, since %s still serves it (%s)", r.Namespace, r.ServiceAccount, u.stays.Title(), u.staysWhy)
	} else if r.DeleteServiceAccount {
		if sa.Annotations[vocab.CreatedAnnotation] == "true" {
			c.Action, c.Before = plan.Delete, view(sa.Annotations)
			c.Notes = []string{"bind created it (annotation " + vocab.CreatedAnnotation + ")"}
			c.Op = deleteServiceAccount{Namespace: r.Namespace, Name: r.ServiceAccount, UID: string(sa.UID)}
			return
		}
		u.warn("ServiceAccount %s/%s was not created by bind (it has no %s annotation), so --delete-service-account leaves it; only the annotations bind set are released",
			r.Namespace, r.ServiceAccount, vocab.CreatedAnnotation)
	}
	// Only what kubectl-sdc owns is released; a value another manager also set stays, and is said to.
	release := []string{vocab.RoleARNAnnotation, vocab.RegionalSTSAnnotation}
	current, after := map[string]string{}, map[string]string{}
	var roleStays bool
	var setBy []string
	for _, k := range release {
		v, ok := sa.Annotations[k]
		if !ok {
			continue
		}
		fragment := `"f:` + k + `"`
		ours := ownsField(sa.ManagedFields, vocab.FieldManager, fragment)
		foreign := slices.DeleteFunc(fieldOwners(sa.ManagedFields, fragment), func(m string) bool { return m == vocab.FieldManager })
		if ours {
			current[k] = v
			if len(foreign) > 0 {
				after[k] = v
			}
		}
		if k == vocab.RoleARNAnnotation && (len(foreign) > 0 || !ours) {
			roleStays, setBy = true, foreign
		}
	}
	if roleStays {
		by := "a writer other than kubectl-sdc"
		if len(setBy) > 0 {
			by = strings.Join(setBy, ", ")
		}
		u.warn("ServiceAccount %s/%s's %s annotation is set by %s, so it stays after unbind: remove it with kubectl annotate serviceaccount -n %s %s %s-",
			r.Namespace, r.ServiceAccount, vocab.RoleARNAnnotation, by, r.Namespace, r.ServiceAccount, vocab.RoleARNAnnotation)
	}
	if len(current) == 0 {
		c.Notes = []string{"carries no annotation kubectl-sdc set"}
		return
	}
	ac, err := applycorev1.ExtractServiceAccount(sa, vocab.FieldManager)
	if err != nil {
		// The managed fields do not parse: release by applying nothing but the mark bind keeps.
		ac = applycorev1.ServiceAccount(r.ServiceAccount, r.Namespace)
		if v := sa.Annotations[vocab.CreatedAnnotation]; v != "" {
			ac.WithAnnotations(map[string]string{vocab.CreatedAnnotation: v})
		}
	}
	for _, k := range release {
		delete(ac.Annotations, k)
	}
	c.Action = plan.Update
	c.Before, c.After = view(current), view(after)
	c.Notes = []string{"server-side apply as " + vocab.FieldManager + " without them: annotations and labels of other managers stay"}
	c.Op = applyServiceAccount{Config: ac}
}

// fieldOwners are the managers whose managed fields hold the fragment.
func fieldOwners(fields []metav1.ManagedFieldsEntry, fragment string) []string {
	var out []string
	for _, f := range fields {
		if f.FieldsV1 != nil && strings.Contains(string(f.FieldsV1.Raw), fragment) && !slices.Contains(out, f.Manager) {
			out = append(out, f.Manager)
		}
	}
	return out
}

// deployments: the Deployments under the ServiceAccount keep their pods' role environment until they
// restart; with --restart, those whose pods still carry it are restarted (Control Hub's are not: its agent
// restarts them).
func (u *unbinding) deployments() {
	r, o := u.r, u.o
	if len(o.Deployments) == 0 {
		return
	}
	var names []string
	for _, d := range o.Deployments {
		names = append(names, d.Name)
	}
	if !r.Restart {
		u.res.Notes = append(u.res.Notes, fmt.Sprintf("Deployment(s) %s run under ServiceAccount %s/%s: their pods keep the role's environment until they restart (kubectl rollout restart, or unbind --restart)",
			strings.Join(names, ", "), r.Namespace, r.ServiceAccount))
		return
	}
	role := u.res.Names.RoleARN
	if a := o.ServiceAccount; a != nil && a.Annotations[vocab.RoleARNAnnotation] != "" {
		role = a.Annotations[vocab.RoleARNAnnotation] // what the webhook gave the pods
	}
	carries := func(p *corev1.Pod) bool {
		return r.removes(vocab.MechanismIRSA) && hasRoleEnv(p, role) || u.associationGoes && podIdentityEnv(p)
	}
	for i := range o.Deployments {
		d := &o.Deployments[i]
		stale := stalePods(d, o.Pods, r.ServiceAccount, carries)
		if len(stale) == 0 {
			continue
		}
		if ch := controlhub.Inspect(d); ch.Managed {
			u.warn("%d pod(s) of Deployment %s/%s still carry role %s (%s): restart %s from Control Hub (unbind does not restart a Deployment Control Hub manages)",
				len(stale), r.Namespace, d.Name, role, strings.Join(stale, ", "), ch.Describe())
			continue
		}
		u.add(&plan.Change{ID: "restart:" + d.Name, Kind: KindRestart, Name: r.Namespace + "/" + d.Name, Action: plan.Update,
			Deps:  []string{"serviceaccount"},
			Notes: []string{fmt.Sprintf("%d pod(s) still carry the role's environment (%s): restarting them as `kubectl rollout restart` does", len(stale), strings.Join(stale, ", "))},
			Op:    restartDeployment{Namespace: r.Namespace, Name: d.Name}})
	}
}

// stalePods are the Deployment's pods under the ServiceAccount that have not terminated and carry the
// identity unbind removes, leaving out those that a restart asked for after they started is already
// replacing.
func stalePods(d *appsv1.Deployment, pods []corev1.Pod, sa string, carries func(*corev1.Pod) bool) []string {
	if d.Spec.Selector == nil {
		return nil
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || sel.Empty() {
		return nil
	}
	restartedAt, _ := time.Parse(time.RFC3339, d.Spec.Template.Annotations[vocab.RestartedAtAnnotation])
	var out []string
	for i := range pods {
		p := &pods[i]
		if p.Namespace != d.Namespace || !sel.Matches(labels.Set(p.Labels)) || p.DeletionTimestamp != nil ||
			p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed || p.Spec.ServiceAccountName != sa || !carries(p) {
			continue
		}
		if !restartedAt.IsZero() && !restartedAt.Before(p.CreationTimestamp.Time.Truncate(time.Second)) {
			continue // a restart asked for after it started is replacing it
		}
		out = append(out, p.Name)
	}
	slices.Sort(out)
	return out
}
