package doctor

import (
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/catalog"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/eksread"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// Where a target's permissions were learned from.
const (
	SelectionFromFlags = "--stage flags"
	SelectionFromTag   = "role tag " + vocab.TagStages
)

// Target is one ServiceAccount and (when one runs under it) one Deployment.
type Target struct {
	Namespace, ServiceAccount, Deployment string
	// DeploymentGiven is true when --deployment named the Deployment: then it must exist and use the
	// ServiceAccount.
	DeploymentGiven bool

	SA     *corev1.ServiceAccount // nil when it does not exist
	Deploy *appsv1.Deployment     // nil when none
	// Pods are the Deployment's pods that have not terminated: the ones running, or (on a cluster without
	// room) waiting to run, with whatever the webhook gave them at creation.
	Pods []*corev1.Pod

	// RoleARN is the value of the role annotation, as written (it may be malformed or empty); for a
	// ServiceAccount served by EKS Pod Identity alone, the role its association names.
	RoleARN string
	// Annotation is the role annotation's value, "" when there is none.
	Annotation string

	// Associated says the ServiceAccount has an EKS Pod Identity association (the cluster's list names
	// one); Association is it, described (nil when the describe failed: AssociationErr, or it was deleted
	// since it was listed).
	Associated     bool
	Association    *eksread.Association
	AssociationErr error
	associationID  string
	// candidateRole is the role bind would have made for this ServiceAccount, read when the annotation is
	// missing or malformed so that the fix can be rebuilt from its tag.
	candidateRole string

	// Selection is the stages and parameters the permissions are checked against; nil when unknown.
	Selection     *catalog.Selection
	SelectionFrom string
	SelectionErr  error

	// AssumeRoleARN is the role the stages assume (SDC's "Assume Another Role"), "" for none;
	// AssumeRoleFrom says where it was learned.
	AssumeRoleARN, AssumeRoleFrom string
	// Chain is true when AssumeRoleARN is the Pod Identity association's target role: EKS assumes it (EKS's
	// own chain), not the stages.
	Chain bool

	// probeCreds are the temporary credentials probe.assume-role obtained through web identity,
	// probePodCreds those EKS Auth handed out for Pod Identity, and targetCreds those of the role the
	// stages assume, obtained with either: kept in memory for the probes only, never printed, logged or
	// written.
	probeCreds, probePodCreds, targetCreds *ststypes.Credentials
}

// UsesIRSA reports whether IRSA concerns the target: it has the role annotation, or nothing else (no Pod
// Identity association), in which case IRSA is what doctor checks, as before Pod Identity existed.
func (t *Target) UsesIRSA() bool { return t.Annotation != "" || !t.Associated }

// UsesPodIdentity reports whether the target has an EKS Pod Identity association.
func (t *Target) UsesPodIdentity() bool { return t.Associated }

// associationRole is the role the association names when it is a role of the caller's account (the
// only kind doctor can read), "" otherwise.
func (t *Target) associationRole(f *Facts) string {
	if t.Association == nil || f.Identity == nil {
		return ""
	}
	if p, ok := vocab.ParseRoleARN(t.Association.RoleARN); ok && p.Account == f.Identity.Account {
		return t.Association.RoleARN
	}
	return ""
}

// usesIRSA reports whether IRSA concerns the run: a target uses it, or there is no target at all.
func usesIRSA(f *Facts) bool {
	if len(f.Targets) == 0 {
		return true
	}
	for _, t := range f.Targets {
		if t.UsesIRSA() {
			return true
		}
	}
	return false
}

// usesPodIdentity reports whether a target has an association.
func usesPodIdentity(f *Facts) bool {
	for _, t := range f.Targets {
		if t.UsesPodIdentity() {
			return true
		}
	}
	return false
}

// Audience is the token audience the ServiceAccount's pods use.
func (t *Target) Audience() string {
	if t.SA != nil {
		if a := t.SA.Annotations[vocab.AudienceAnnotation]; a != "" {
			return a
		}
	}
	return vocab.DefaultAudience
}

// Subject is the token subject of the ServiceAccount.
func (t *Target) Subject() string {
	return vocab.Subject(t.Namespace, t.ServiceAccount)
}

// roleToRead is the role whose IAM facts apply to t: the annotated one when well-formed and in the
// caller's account, else the role bind would have made.
func (t *Target) roleToRead(f *Facts) string {
	if f.Identity == nil {
		return ""
	}
	if parsed, ok := vocab.ParseRoleARN(t.RoleARN); ok {
		if parsed.Account == f.Identity.Account {
			return t.RoleARN
		}
		return ""
	}
	if f.Cluster == nil {
		return ""
	}
	t.candidateRole = vocab.RoleARN(f.Identity.Partition, f.Identity.Account,
		vocab.DefaultName(f.Cluster.Name, f.Cluster.Region, t.Namespace, t.ServiceAccount, vocab.MaxRoleName))
	return t.candidateRole
}

// role is the IAM facts of the target's role (annotated, or the candidate); nil when not read.
func (t *Target) role(f *Facts) *Role {
	if r := f.Roles[t.RoleARN]; r != nil {
		return r
	}
	if t.candidateRole != "" {
		return f.Roles[t.candidateRole]
	}
	return nil
}

// resolveSelection decides which permissions to check: the flags', else the role tag's.
func (t *Target) resolveSelection(f *Facts) {
	if f.Options.Selection != nil {
		sel := *f.Options.Selection
		t.Selection, t.SelectionFrom = &sel, SelectionFromFlags
		return
	}
	r := t.role(f)
	if r == nil || !r.Exists {
		return
	}
	v, ok := r.Tags[vocab.TagStages]
	if f.Cluster != nil {
		// A role shared on purpose records each binding's stages under its own key.
		if own, found := r.Tags[vocab.TagStages+"/"+vocab.BindingID(vocab.ClusterKey(f.Cluster.ARN, f.Cluster.Issuer), t.Namespace, t.ServiceAccount)]; found {
			v, ok = own, true
		}
	}
	if !ok {
		return
	}
	sel, err := catalog.DecodeTag(v)
	if err != nil {
		t.SelectionErr = err
		return
	}
	t.Selection, t.SelectionFrom = &sel, SelectionFromTag
}

// serviceAccountOf is the ServiceAccount a pod template runs under.
func serviceAccountOf(spec *corev1.PodSpec) string {
	if spec.ServiceAccountName != "" {
		return spec.ServiceAccountName
	}
	if spec.DeprecatedServiceAccount != "" {
		return spec.DeprecatedServiceAccount
	}
	return "default"
}

// buildTargets picks the targets from the lists: one ServiceAccount (and each Deployment under it, or the
// one --deployment names), or with -A (or Annotated) every annotated ServiceAccount of the lists (which are
// of one namespace, or all) and every Deployment under one.
func buildTargets(f *Facts) []*Target {
	o := f.Options
	assoc := map[string]string{} // namespace/name -> association ID
	for _, a := range f.Associations {
		assoc[a.Key()] = a.ID
	}
	var targets []*Target
	// A target's Deployment and pods are decoded when it is judged (Facts.load); here only the names of
	// the Deployments and the ServiceAccounts they run under are read.
	add := func(ns, sa string, deployment string, given bool) {
		t := &Target{Namespace: ns, ServiceAccount: sa, SA: f.ServiceAccount(ns, sa), Deployment: deployment, DeploymentGiven: given}
		if t.SA != nil {
			t.Annotation = t.SA.Annotations[vocab.RoleARNAnnotation]
			t.RoleARN = t.Annotation
		}
		t.associationID, t.Associated = assoc[ns+"/"+sa], assoc[ns+"/"+sa] != ""
		targets = append(targets, t)
	}
	deploymentsUsing := func(ns, sa string) []string {
		var out []string
		for _, d := range f.store().deploymentsOf(ns) {
			if d.serviceAccount == sa {
				out = append(out, d.name)
			}
		}
		return out
	}

	if !o.everyAnnotated() {
		ns, sa := o.Namespace, o.ServiceAccount
		if o.Deployment != "" {
			if !o.ServiceAccountSet {
				for _, d := range f.store().deploymentsOf(ns) {
					if d.name == o.Deployment {
						sa = d.serviceAccount
					}
				}
			}
			add(ns, sa, o.Deployment, true)
			return targets
		}
		ds := deploymentsUsing(ns, sa)
		if len(ds) == 0 {
			add(ns, sa, "", false)
		}
		for _, d := range ds {
			add(ns, sa, d, false)
		}
		return targets
	}

	// Every annotated ServiceAccount, and every one with an association (even one that does not exist:
	// an association may name a ServiceAccount that was never made, which kube.service-account reports).
	var annotated []*corev1.ServiceAccount
	inScope := map[string]bool{}
	for i := range f.ServiceAccounts {
		sa := &f.ServiceAccounts[i]
		_, ok := sa.Annotations[vocab.RoleARNAnnotation]
		if (ok || assoc[sa.Namespace+"/"+sa.Name] != "") && (o.AllNamespaces || sa.Namespace == o.Namespace) {
			annotated = append(annotated, sa)
			inScope[sa.Namespace+"/"+sa.Name] = true
		}
	}
	for _, a := range f.Associations {
		if !inScope[a.Key()] && f.ServiceAccount(a.Namespace, a.ServiceAccount) == nil {
			annotated = append(annotated, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: a.Namespace, Name: a.ServiceAccount}})
			inScope[a.Key()] = true
		}
	}
	sort.Slice(annotated, func(i, j int) bool {
		if annotated[i].Namespace != annotated[j].Namespace {
			return annotated[i].Namespace < annotated[j].Namespace
		}
		return annotated[i].Name < annotated[j].Name
	})
	for _, sa := range annotated {
		ds := deploymentsUsing(sa.Namespace, sa.Name)
		sort.Strings(ds)
		if len(ds) == 0 {
			add(sa.Namespace, sa.Name, "", false)
		}
		for _, d := range ds {
			add(sa.Namespace, sa.Name, d, false)
		}
	}
	return targets
}

// podsOf are the Deployment's pods that have not terminated (pods: those of its namespace).
func podsOf(pods []*corev1.Pod, d *appsv1.Deployment) []*corev1.Pod {
	if d.Spec.Selector == nil {
		return nil
	}
	var sel labels.Selector
	if len(d.Spec.Selector.MatchExpressions) == 0 {
		// The API server validated the selector when it took the Deployment: no need to again, a namespace's
		// pods at a time (validating was a tenth of judging a target).
		sel = labels.SelectorFromValidatedSet(d.Spec.Selector.MatchLabels)
	} else {
		var err error
		if sel, err = metav1.LabelSelectorAsSelector(d.Spec.Selector); err != nil {
			return nil
		}
	}
	if sel.Empty() {
		return nil
	}
	var out []*corev1.Pod
	for _, p := range pods {
		if p.Namespace != d.Namespace || !sel.Matches(labels.Set(p.Labels)) {
			continue
		}
		if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// allContainers are the init containers and containers of a pod spec.
func allContainers(spec *corev1.PodSpec) []corev1.Container {
	out := make([]corev1.Container, 0, len(spec.InitContainers)+len(spec.Containers))
	out = append(out, spec.InitContainers...)
	return append(out, spec.Containers...)
}
