// Package bindings is what kubectl sdc list shows: every binding of a namespace or cluster (a ServiceAccount
// and the AWS role its pods get), with doctor's verdict on each, and the roles kubectl-sdc made that no
// ServiceAccount points at any more. It reads nothing itself: it turns the facts doctor gathered once (the
// same constant number of Kubernetes lists and one batch IAM read as doctor -A) and doctor's checks into
// rows.
package bindings

import (
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/doctor"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// Status is doctor's verdict on a binding, without probes: the worst of its checks.
type Status string

// The statuses.
const (
	OK   Status = "ok"
	Warn Status = "warn"
	Fail Status = "fail"
)

// Binding is one binding: a ServiceAccount, how its pods get an AWS identity, and what doctor says.
type Binding struct {
	Namespace      string          `json:"namespace"`
	ServiceAccount string          `json:"serviceAccount"`
	Mechanism      vocab.Mechanism `json:"mechanism"`
	RoleARN        string          `json:"roleArn"`
	// TargetRoleARN is the EKS Pod Identity association's target role (EKS's own chain), "" for none.
	TargetRoleARN string `json:"targetRoleArn,omitempty"`
	// SubjectPattern is the pattern of the role's trust that admits the ServiceAccount, when the trust
	// does not name it (bind --subject-pattern: a role for many ServiceAccounts).
	SubjectPattern string `json:"subjectPattern,omitempty"`
	// Stages are the stages bind recorded on the role for this binding (tag kubectl-sdc/stages).
	Stages []string `json:"stages"`
	// Deployments are those whose pods run under the ServiceAccount.
	Deployments []string `json:"deployments"`
	Pods        Pods     `json:"pods"`
	Status      Status   `json:"status"`
	// Problems are the IDs of the checks that failed, then of those that warned, in doctor's order; the
	// first is the one to look at (doctor -n NS --service-account SA says more).
	Problems []string `json:"problems"`
}

// Pods counts the pods running under the ServiceAccount that have not terminated, and those of them that
// carry its AWS identity (for IRSA: AWS_ROLE_ARN of the annotated role and the projected token).
type Pods struct {
	Total        int `json:"total"`
	WithIdentity int `json:"withIdentity"`
}

// List is what -o json|yaml prints.
type List struct {
	Items []Binding `json:"items"`
}

// FromReport makes one Binding per annotated ServiceAccount of the facts (doctor's targets, sorted by
// namespace and name), judged by rep, which Judge made of the same facts. A ServiceAccount with several
// Deployments is one binding: its status is the worst of its targets' and of the cluster-wide checks.
func FromReport(f *doctor.Facts, rep *doctor.Report) List {
	b := NewBuilder(f)
	for i := range f.Targets {
		var tr *doctor.TargetReport
		if i < len(rep.Targets) {
			tr = &rep.Targets[i]
		}
		b.Add(i, tr)
	}
	return b.List(rep.Checks)
}

// Builder makes the bindings of the facts one target's report at a time, as doctor.JudgeEach hands them
// over, keeping of each report only which checks failed and warned: what FromReport makes of a whole
// report, without holding one.
type Builder struct {
	f     *doctor.Facts
	order map[string]int // a check's place in doctor.Checks()
	ids   []string       // the checks by place
	items []Binding
	index map[string]int // "namespace/name" to its item
	// fail and warn are, by item, the places of the checks that failed and (only) warned.
	fail, warn []uint64
}

// NewBuilder starts the bindings of f.
func NewBuilder(f *doctor.Facts) *Builder {
	b := &Builder{f: f, order: map[string]int{}, index: map[string]int{}}
	for i, c := range doctor.Checks() {
		b.order[c.ID] = i
		b.ids = append(b.ids, c.ID)
	}
	if len(b.ids) > 64 {
		panic("bindings.Builder keeps a check's place in a 64-bit mask: doctor has more checks")
	}
	return b
}

// Add takes the i-th target of the facts and its report (nil: not judged).
func (b *Builder) Add(i int, tr *doctor.TargetReport) {
	f, t := b.f, b.f.Targets[i]
	key := t.Namespace + "/" + t.ServiceAccount
	at, seen := b.index[key]
	if !seen {
		// doctor's targets are the annotated ServiceAccounts and those with an association (even one that
		// does not exist); RoleARN is the annotation's, else the association's.
		item := Binding{Namespace: t.Namespace, ServiceAccount: t.ServiceAccount, Mechanism: mechanismOf(t),
			RoleARN: t.RoleARN, Stages: []string{}, Deployments: []string{}, Problems: []string{}}
		if t.Chain {
			item.TargetRoleARN = t.AssumeRoleARN
		}
		item.SubjectPattern = patternOf(f, t)
		if t.Selection != nil && t.SelectionFrom == doctor.SelectionFromTag {
			item.Stages = append(item.Stages, t.Selection.Stages...)
		}
		item.Pods = podsOf(f.PodsIn(t.Namespace), t)
		at = len(b.items)
		b.index[key] = at
		b.items = append(b.items, item)
		b.fail, b.warn = append(b.fail, 0), append(b.warn, 0)
	}
	if t.Deployment != "" {
		b.items[at].Deployments = append(b.items[at].Deployments, t.Deployment)
	}
	if tr != nil {
		b.fail[at], b.warn[at] = b.note(b.fail[at], b.warn[at], tr.Checks)
	}
}

// note adds the failed and warned checks of rs to the masks.
func (b *Builder) note(fail, warn uint64, rs []doctor.Result) (uint64, uint64) {
	for _, r := range rs {
		switch r.Status {
		case doctor.Fail:
			fail |= 1 << b.order[r.ID]
		case doctor.Warn:
			warn |= 1 << b.order[r.ID]
		}
	}
	return fail, warn
}

// List is the bindings, each judged by its targets' checks and the cluster-wide ones.
func (b *Builder) List(cluster []doctor.Result) List {
	cf, cw := b.note(0, 0, cluster)
	l := List{Items: b.items}
	if l.Items == nil {
		l.Items = []Binding{}
	}
	for i := range l.Items {
		item := &l.Items[i]
		fail := b.fail[i] | cf
		warn := (b.warn[i] | cw) &^ fail
		for _, mask := range []uint64{fail, warn} {
			for p, id := range b.ids {
				if mask&(1<<p) != 0 {
					item.Problems = append(item.Problems, id)
				}
			}
		}
		switch {
		case fail != 0:
			item.Status = Fail
		case warn != 0:
			item.Status = Warn
		default:
			item.Status = OK
		}
	}
	return l
}

// mechanismOf is what serves the target: the annotation (IRSA), the association (EKS Pod Identity) or
// both. A target with neither is an annotated one whose annotation is empty: IRSA, as doctor checks it.
func mechanismOf(t *doctor.Target) vocab.Mechanism {
	return vocab.MechanismOf(t.UsesIRSA(), t.UsesPodIdentity())
}

// podsOf counts the pods (of one namespace) under the target's ServiceAccount that have not terminated, and
// those with its identity: IRSA's environment naming the annotated role, or EKS Pod Identity's when it has
// an association.
func podsOf(pods []*corev1.Pod, t *doctor.Target) Pods {
	var p Pods
	for _, pod := range pods {
		if pod.Spec.ServiceAccountName != t.ServiceAccount || pod.DeletionTimestamp != nil ||
			pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			continue
		}
		p.Total++
		if t.UsesIRSA() && doctor.HasIdentity(pod, t.RoleARN) || t.UsesPodIdentity() && doctor.HasPodIdentity(pod) {
			p.WithIdentity++
		}
	}
	return p
}

// Orphan is a role kubectl-sdc made for this cluster that no ServiceAccount points at any more, one per
// binding it was made for (or still trusts), with the command that removes it.
type Orphan struct {
	RoleName       string `json:"roleName"`
	RoleARN        string `json:"roleArn"`
	Namespace      string `json:"namespace"`
	ServiceAccount string `json:"serviceAccount"`
	Command        string `json:"command"`
}

// Orphans is the clean-up list: the roles of f.Account (which Options.ReadAccount read) tagged
// app.kubernetes.io/managed-by=kubectl-sdc and kubectl-sdc/cluster of this cluster (and, when both know
// it, its ARN) that no ServiceAccount of f (which must be the cluster's, -A) is annotated with and no EKS
// Pod Identity association of the cluster names. Each ServiceAccount the role's trust still lists through
// this cluster's provider (else the one its tags name) is a row; namespace, when not "", keeps the rows of
// that namespace. Sorted by role, namespace and name. Without the account read, the ServiceAccounts or
// every association's role (a read that failed would make every role an orphan) there are none: the caller
// reports why (AssociationsUnread).
func Orphans(f *doctor.Facts, namespace string) []Orphan {
	out := []Orphan{}
	if f.Account == nil || f.Cluster == nil || f.Identity == nil || f.ServiceAccountsErr != nil || AssociationsUnread(f) != nil {
		return out
	}
	pointed := map[string]bool{}
	point := func(arn string) {
		if p, ok := vocab.ParseRoleARN(arn); ok && p.Account == f.Identity.Account {
			pointed[strings.ToLower(p.Name)] = true
		}
	}
	for i := range f.ServiceAccounts {
		point(f.ServiceAccounts[i].Annotations[vocab.RoleARNAnnotation])
	}
	for _, t := range f.Targets {
		if t.Association != nil {
			point(t.Association.RoleARN)
		}
	}
	host := vocab.IssuerHostPath(f.Cluster.Issuer)
	for name, r := range f.Account.Roles {
		t := r.Tags
		if t[vocab.ManagedByKey] != vocab.ManagedByValue || t[vocab.TagCluster] != f.Cluster.Name || pointed[strings.ToLower(name)] ||
			t[vocab.TagClusterARN] != "" && f.Cluster.ARN != "" && t[vocab.TagClusterARN] != f.Cluster.ARN {
			continue
		}
		var pairs [][2]string
		for _, s := range iampolicy.WebIdentitySubjects(r.Trust, f.ProviderARN, host) {
			if ns, sa, ok := vocab.ParseSubject(s); ok {
				pairs = append(pairs, [2]string{ns, sa})
			}
		}
		if len(pairs) == 0 && t[vocab.TagNamespace] != "" && t[vocab.TagServiceAccount] != "" {
			pairs = append(pairs, [2]string{t[vocab.TagNamespace], t[vocab.TagServiceAccount]})
		}
		if len(pairs) == 0 {
			if namespace == "" {
				out = append(out, Orphan{RoleName: name, RoleARN: r.ARN,
					Command: "aws iam delete-role --role-name " + name + "   # it names no ServiceAccount; detach its policies first"})
			}
			continue
		}
		for _, p := range pairs {
			if namespace != "" && p[0] != namespace {
				continue
			}
			out = append(out, Orphan{RoleName: name, RoleARN: r.ARN, Namespace: p[0], ServiceAccount: p[1],
				Command: strings.Join([]string{"kubectl sdc unbind -n", p[0], "--service-account", p[1], "--role-name", name}, " ")})
		}
	}
	slices.SortFunc(out, func(a, b Orphan) int {
		return strings.Compare(a.RoleName+"\x00"+a.Namespace+"\x00"+a.ServiceAccount, b.RoleName+"\x00"+b.Namespace+"\x00"+b.ServiceAccount)
	})
	return out
}

// AssociationsUnread is why the roles the cluster's EKS Pod Identity associations name are not all known:
// the list failed, or a describe did (nil when every association was read, or the cluster has none to
// list). Without them no role can be called an orphan.
func AssociationsUnread(f *doctor.Facts) error {
	if f.AssociationsErr != nil {
		return f.AssociationsErr
	}
	for _, t := range f.Targets {
		if t.Associated && t.AssociationErr != nil {
			return t.AssociationErr
		}
	}
	return nil
}

// patternOf is the subject pattern through which the role's trust admits the target's ServiceAccount, ""
// when the trust names it (or has no pattern for it).
func patternOf(f *doctor.Facts, t *doctor.Target) string {
	r := f.Roles[t.RoleARN]
	if r == nil || r.Trust == nil || f.Cluster == nil || !t.UsesIRSA() {
		return ""
	}
	subject := vocab.Subject(t.Namespace, t.ServiceAccount)
	if slices.Contains(iampolicy.WebIdentitySubjects(r.Trust, f.ProviderARN, f.Cluster.Issuer), subject) {
		return ""
	}
	return iampolicy.MatchingPattern(iampolicy.SubjectPatterns(r.Trust, f.ProviderARN, f.Cluster.Issuer), subject)
}
