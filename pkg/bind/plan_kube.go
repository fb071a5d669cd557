package bind

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	applyappsv1 "k8s.io/client-go/applyconfigurations/apps/v1"
	applycorev1 "k8s.io/client-go/applyconfigurations/core/v1"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/controlhub"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/manifest"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/plan"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

func namespaceChange(res *Result) *plan.Change {
	ns := res.Request.Namespace
	c := &plan.Change{ID: "namespace", Kind: KindNamespace, Name: ns, Format: "yaml"}
	if res.Observed.Namespace != nil {
		c.Action = plan.Unchanged
		return c
	}
	c.Action = plan.Create
	c.After = toYAML(map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}})
	c.Op = createNamespace{Name: ns}
	return c
}

// ownsField reports whether manager's Apply entry in managedFields owns the field path fragment, e.g.
// `"f:eks.amazonaws.com/sts-regional-endpoints"`.
func ownsField(fields []metav1.ManagedFieldsEntry, manager, fragment string) bool {
	for _, f := range fields {
		if f.Manager == manager && f.Operation == metav1.ManagedFieldsOperationApply && f.FieldsV1 != nil &&
			strings.Contains(string(f.FieldsV1.Raw), fragment) {
			return true
		}
	}
	return false
}

// serviceAccountChange: the role annotation (and the regional STS one) by server-side apply; annotations
// and labels of other managers stay. A ServiceAccount bind creates is marked so (vocab.CreatedAnnotation),
// and the mark is part of every later apply, which would otherwise remove it.
func serviceAccountChange(res *Result) *plan.Change {
	r, n, sa := res.Request, res.Names, res.Observed.ServiceAccount
	want := map[string]string{vocab.RoleARNAnnotation: n.RoleARN}
	if r.RegionalSTS {
		want[vocab.RegionalSTSAnnotation] = "true"
	}
	switch {
	case sa == nil:
		want[vocab.CreatedAnnotation] = "true"
	case sa.Annotations[vocab.CreatedAnnotation] != "":
		want[vocab.CreatedAnnotation] = sa.Annotations[vocab.CreatedAnnotation]
	}
	c := &plan.Change{ID: "serviceaccount", Kind: KindSA, Name: r.Namespace + "/" + r.ServiceAccount, Format: "yaml",
		Deps: []string{"namespace", "role"}}
	view := func(annots map[string]string) string {
		return toYAML(map[string]any{"apiVersion": "v1", "kind": "ServiceAccount",
			"metadata": map[string]any{"name": r.ServiceAccount, "namespace": r.Namespace, "annotations": annots}})
	}
	c.After = view(want)
	op := applyServiceAccount{Config: applycorev1.ServiceAccount(r.ServiceAccount, r.Namespace).WithAnnotations(want)}
	if sa == nil {
		c.Action = plan.Create
		c.Op = op
		return c
	}
	current := map[string]string{}
	for k := range want {
		if v, ok := sa.Annotations[k]; ok {
			current[k] = v
		}
	}
	// Turning regional endpoints off removes the annotation only if bind set it; another tool's stays.
	removeRegional := !r.RegionalSTS && sa.Annotations[vocab.RegionalSTSAnnotation] != "" &&
		ownsField(sa.ManagedFields, vocab.FieldManager, `"f:`+vocab.RegionalSTSAnnotation+`"`)
	if removeRegional {
		current[vocab.RegionalSTSAnnotation] = sa.Annotations[vocab.RegionalSTSAnnotation]
	}
	c.Before = view(current)
	if !removeRegional && mapsEqual(current, want) {
		c.Action = plan.Unchanged
		return c
	}
	c.Action = plan.Update
	c.Notes = []string{"server-side apply as " + vocab.FieldManager + ": other annotations and labels stay"}
	c.Op = op
	return c
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if bv, ok := b[k]; !ok || bv != v {
			return false
		}
	}
	return true
}

// deploymentChange: the Deployment runs under the ServiceAccount with the fsGroup; with
// --create-deployment a missing one is created in the original guide's shape. A Deployment that a
// StreamSets Control Hub agent manages is never changed (its agent would create it again without the
// change): it is nil then, and the result carries a warning and the fragment for the Control Hub
// deployment's YAML.
func deploymentChange(res *Result) (*plan.Change, error) {
	r, d := res.Request, res.Observed.Deployment
	c := &plan.Change{ID: "deployment", Kind: KindDeployment, Name: r.Namespace + "/" + r.Deployment, Format: "yaml",
		Deps: []string{"serviceaccount"}}
	if d == nil && !r.CreateDeployment {
		return nil, &FlagError{Flag: "--deployment", Value: r.Deployment, Rule: fmt.Sprintf(
			"no such Deployment in namespace %s: create it first, or add --create-deployment --image IMAGE", r.Namespace)}
	}
	identity := r.podIdentity()
	managed := map[string]any{"serviceAccountName": r.ServiceAccount}
	if r.FSGroup != vocab.LeaveFSGroup {
		managed["securityContext"] = map[string]any{"fsGroup": r.FSGroup}
	}
	view := func(spec map[string]any) string {
		return toYAML(map[string]any{"apiVersion": "apps/v1", "kind": "Deployment",
			"metadata": map[string]any{"name": r.Deployment, "namespace": r.Namespace},
			"spec":     map[string]any{"template": map[string]any{"spec": spec}}})
	}
	if d == nil {
		identity.Name, identity.Image = r.Deployment, r.Image
		ac, err := manifest.Deployment(identity)
		if err != nil {
			return nil, err
		}
		ac.WithNamespace(r.Namespace)
		c.Action = plan.Create
		c.After = toYAML(ac)
		c.Op = applyDeployment{Config: ac}
		return c, nil
	}
	current := map[string]any{"serviceAccountName": d.Spec.Template.Spec.ServiceAccountName}
	if r.FSGroup != vocab.LeaveFSGroup {
		var fs any
		if sc := d.Spec.Template.Spec.SecurityContext; sc != nil && sc.FSGroup != nil {
			fs = *sc.FSGroup
		}
		current["securityContext"] = map[string]any{"fsGroup": fs}
	}
	c.Before, c.After = view(current), view(managed)
	if ch := controlhub.Inspect(d); ch.Managed {
		if c.Before == c.After {
			c.Action = plan.Unchanged
			c.Notes = []string{"managed by StreamSets Control Hub (" + ch.Describe() + "), whose YAML already sets these fields"}
			return c, nil
		}
		fragment, err := manifest.Fragment(identity)
		if err != nil {
			return nil, err
		}
		res.Fragment = fragment
		res.Warnings = append(res.Warnings, ch.Why(r.Namespace, r.Deployment)+
			". bind leaves it alone and does the rest; to run it under ServiceAccount "+r.ServiceAccount+", "+controlhub.Advice+" (the lines follow)")
		return nil, nil
	}
	if c.Before == c.After {
		c.Action = plan.Unchanged
		return c, nil
	}
	c.Action = plan.Update
	c.Notes = []string{"server-side apply of these fields only; every other field stays; the pods roll"}
	if r.CreateDeployment {
		c.Notes = append(c.Notes, "exists already: its image and other fields are left as they are")
	}
	// Start from every field kubectl-sdc already owns (all of them, when bind created the Deployment): an
	// apply that left them out would remove them, selector and containers included.
	ac, err := applyappsv1.ExtractDeployment(d, vocab.FieldManager)
	if err != nil {
		return nil, fmt.Errorf("reading the fields %s manages on Deployment %s/%s: %w", vocab.FieldManager, r.Namespace, r.Deployment, err)
	}
	manifest.SetPodIdentity(ac, identity)
	c.Op = applyDeployment{Config: ac}
	return c, nil
}

// restartChange: pods that started before the role annotation have no AWS identity (the webhook mutates
// pods only when they are created); restart them the way `kubectl rollout restart` does, unless the
// Deployment change already rolls them. Pods created after the annotation that still lack it were skipped
// by the webhook (or there is none): a restart would not help, so that is only noted.
//
// A Deployment Control Hub manages is not restarted by bind either: the user is told to restart it from
// Control Hub. deploy is nil when bind leaves such a Deployment alone.
func restartChange(res *Result, sa, deploy *plan.Change) *plan.Change {
	r, o := res.Request, res.Observed
	if !r.Restart || o.Deployment == nil || deploy == nil || deploy.Action != plan.Unchanged {
		return nil
	}
	annotatedAt := o.Now
	if sa.Action == plan.Unchanged {
		annotatedAt = vocab.RoleAnnotationTime(o.ServiceAccount)
		// A restart asked for after the annotation is a rollout under way: the old pods go when the new
		// ones are ready. Asking again would only start another rollout.
		if t, err := time.Parse(time.RFC3339, o.Deployment.Spec.Template.Annotations[vocab.RestartedAtAnnotation]); err == nil && !t.Before(annotatedAt.Truncate(time.Second)) {
			return nil
		}
	}
	var stale, skipped []string
	for _, p := range o.Pods {
		// Pods under another ServiceAccount belong to an older template that a rollout is already replacing.
		if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed ||
			p.Spec.ServiceAccountName != r.ServiceAccount {
			continue
		}
		if hasRoleEnv(&p, res.Names.RoleARN) {
			continue
		}
		if p.CreationTimestamp.Time.Before(annotatedAt) {
			stale = append(stale, p.Name)
		} else {
			skipped = append(skipped, p.Name)
		}
	}
	if len(skipped) > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("pods %s started after the role annotation but have no AWS_ROLE_ARN: is the pod identity webhook running? (kubectl sdc doctor)", strings.Join(skipped, ", ")))
	}
	if len(stale) == 0 {
		return nil
	}
	if ch := controlhub.Inspect(o.Deployment); ch.Managed {
		res.Warnings = append(res.Warnings, fmt.Sprintf("%d pod(s) of Deployment %s/%s started before the role annotation (%s) and have no AWS identity: restart %s from Control Hub (bind does not restart a Deployment Control Hub manages)",
			len(stale), r.Namespace, r.Deployment, strings.Join(stale, ", "), ch.Describe()))
		return nil
	}
	return &plan.Change{ID: "restart", Kind: KindRestart, Name: r.Namespace + "/" + r.Deployment, Action: plan.Update,
		Deps:  []string{"serviceaccount"},
		Notes: []string{fmt.Sprintf("%d pod(s) started before the role annotation (%s): restarting them as `kubectl rollout restart` does", len(stale), strings.Join(stale, ", "))},
		Op:    restartDeployment{Namespace: r.Namespace, Name: r.Deployment}}
}

func hasRoleEnv(p *corev1.Pod, roleARN string) bool {
	_, v := vocab.PodEnv(p, vocab.EnvRoleARN)
	return v == roleARN
}
