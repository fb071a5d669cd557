package bind

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"

	sdcaws "github.com/kubectl-sdc/kubectl-sdc/pkg/aws"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/plan"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// unbind's EKS Pod Identity side: the ServiceAccount's association is deleted, then the role loses the
// statement that trusts pods.eks.amazonaws.com when nothing else can be using it.

// RevokePodIdentity removes the trust statements of the EKS user guide's shape (iampolicy.RevokePodIdentity),
// which bind adds for EKS Pod Identity; statements of another shape stay.
type RevokePodIdentity struct{}

// Apply removes the statements.
func (RevokePodIdentity) Apply(p *iampolicy.Policy) (*iampolicy.Policy, bool) {
	return iampolicy.RevokePodIdentity(p)
}

// Holds reports whether no statement of the guide's shape is left (a trust that is gone holds too).
func (RevokePodIdentity) Holds(p *iampolicy.Policy) bool {
	return !iampolicy.HasPodIdentityStatement(p)
}

// Subjects names the service principal while the trust has the statement.
func (RevokePodIdentity) Subjects(p *iampolicy.Policy) []string {
	if iampolicy.HasPodIdentityStatement(p) {
		return []string{vocab.PodIdentityService}
	}
	return nil
}

func (RevokePodIdentity) String() string { return "remove the EKS Pod Identity statement" }

// TrustEdits are several edits of one trust made together, in order, by one run of writeTrust's loop.
type TrustEdits []TrustEdit

// Apply makes every edit.
func (es TrustEdits) Apply(p *iampolicy.Policy) (*iampolicy.Policy, bool) {
	out, changed := p.Clone(), false
	for _, e := range es {
		var c bool
		out, c = e.Apply(out)
		changed = changed || c
	}
	return out, changed
}

// Holds reports whether every edit holds.
func (es TrustEdits) Holds(p *iampolicy.Policy) bool {
	for _, e := range es {
		if !e.Holds(p) {
			return false
		}
	}
	return true
}

// Subjects are every edit's.
func (es TrustEdits) Subjects(p *iampolicy.Policy) []string {
	var out []string
	for _, e := range es {
		for _, s := range e.Subjects(p) {
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	return out
}

func (es TrustEdits) String() string {
	names := make([]string, len(es))
	for i, e := range es {
		names[i] = e.String()
	}
	return strings.Join(names, ", ")
}

// one is the edit to run: the only one, else all of them.
func (es TrustEdits) one() TrustEdit {
	if len(es) == 1 {
		return es[0]
	}
	return es
}

// deleteAssociation deletes the ServiceAccount's association; one already gone is done.
type deleteAssociation struct{ Cluster, ID string }

func (op deleteAssociation) apply(ctx context.Context, a *applier) error {
	if a.eks == nil {
		return fmt.Errorf("internal: no EKS client for cluster %s", op.Cluster)
	}
	_, err := a.eks.DeletePodIdentityAssociation(ctx, &eks.DeletePodIdentityAssociationInput{ClusterName: aws.String(op.Cluster), AssociationId: aws.String(op.ID)})
	if sdcaws.IsNotFound(err) {
		return nil
	}
	return err
}

// otherBinding names a binding other than this one that the role's kubectl-sdc tags record, "" when there
// is none. A role shared on purpose (--role-name) records each binding under keys of its own (stages,
// assumed role), which unbind removes with the binding: those keys decide, and its ownership tags, which
// name whichever binding made it, count only when they name another cluster. A role made for one binding
// has no such keys: its ownership tags decide.
func otherBinding(tags map[string]string, o *UnbindObserved, r *UnbindRequest) string {
	var own, others []string
	for k := range tags {
		for _, prefix := range []string{vocab.TagStages + "/", vocab.TagAssumeRoleARN + "/"} {
			if id, ok := strings.CutPrefix(k, prefix); ok && id == o.Names.BindingID {
				own = append(own, k)
			} else if ok {
				others = append(others, k)
			}
		}
	}
	if len(others) > 0 {
		slices.Sort(others)
		return "another binding (tag " + others[0] + ")"
	}
	who := ownerOf(tags, o.Cluster, r.Namespace, r.ServiceAccount)
	if len(own) == 0 {
		return who
	}
	if who != "" && ownerOf(tags, o.Cluster, tags[vocab.TagNamespace], tags[vocab.TagServiceAccount]) != "" {
		return who // made for a binding of another cluster
	}
	return ""
}

// podIdentityStatementMayGo reports whether the role's tags let its Pod Identity statement go: the request
// removes Pod Identity, kubectl-sdc made the role, its trust has the statement and its tags name no other
// binding. Whether another association of the cluster names the role is the last question, asked only then.
func podIdentityStatementMayGo(r *UnbindRequest, o *UnbindObserved) bool {
	role := o.Role
	return r.removes(vocab.MechanismPodIdentity) && role != nil && role.Tags[vocab.ManagedByKey] == vocab.ManagedByValue &&
		iampolicy.HasPodIdentityStatement(role.Trust) && otherBinding(role.Tags, o, r) == ""
}

// podIdentityStatement decides whether the role's Pod Identity statement goes. It has no conditions, so it
// serves every association that names the role, in any cluster: it goes only when kubectl-sdc made the
// role, no other association of this cluster names it and its tags name no other binding. When it stays
// for such a reason, why is returned (for the plan).
func (u *unbinding) podIdentityStatement() (goes bool, why string) {
	r, o := u.r, u.o
	role := o.Role
	switch {
	case !r.removes(vocab.MechanismPodIdentity) || role == nil || !iampolicy.HasPodIdentityStatement(role.Trust):
		return false, ""
	case u.stays == vocab.MechanismPodIdentity:
		return false, "its EKS Pod Identity statement stays: " + u.staysWhy
	case !o.AssociationRead:
		return false, "its EKS Pod Identity statement stays: cluster " + o.Cluster.Name + " was found without its EKS name, so its associations were not read (name it with --eks-cluster)"
	case role.Tags[vocab.ManagedByKey] != vocab.ManagedByValue:
		return false, "its EKS Pod Identity statement stays: kubectl-sdc did not make the role, and the statement (which has no conditions) may serve associations elsewhere"
	}
	if who := otherBinding(role.Tags, o, r); who != "" {
		return false, "its EKS Pod Identity statement stays: the role's tags name " + who + ", which it serves too (the statement has no conditions)"
	}
	if !o.OtherAssociationsRead {
		return false, "its EKS Pod Identity statement stays: the cluster's other associations were not read"
	}
	if len(o.OtherAssociations) > 0 {
		return false, fmt.Sprintf("its EKS Pod Identity statement stays: association(s) %s of cluster %s name the role too", strings.Join(o.OtherAssociations, ", "), o.Cluster.Name)
	}
	return true, ""
}

// association: the ServiceAccount's association is deleted when it names the role unbound; one that names
// another role stays, as an annotation that names another role does.
func (u *unbinding) association() {
	r, o, n := u.r, u.o, u.res.Names
	if !o.AssociationRead || !r.removes(vocab.MechanismPodIdentity) {
		return
	}
	cl := o.Cluster.Name
	c := &plan.Change{ID: idAssociation, Kind: KindAssociation, Name: vocab.AssociationName(cl, r.Namespace, r.ServiceAccount),
		Format: "yaml", Action: plan.Unchanged}
	a := o.Association
	if a == nil {
		if r.Mechanism == vocab.MechanismPodIdentity {
			c.Notes = []string{"does not exist"}
			u.add(c)
		}
		return
	}
	u.add(c)
	c.Before = associationView(cl, a.Namespace, a.ServiceAccount, a.RoleARN)
	if !namesRole(a.RoleARN, n) {
		c.Notes = []string{"names role " + a.RoleARN + ", not " + n.RoleARN + ": it stays as it is"}
		u.warn("ServiceAccount %s/%s's EKS Pod Identity association %s names role %s, not the role unbound (%s), so it stays; to remove it: kubectl sdc unbind -n %s --service-account %s --mechanism pod-identity --role-name %s",
			r.Namespace, r.ServiceAccount, a.ID, a.RoleARN, n.RoleARN, r.Namespace, r.ServiceAccount, vocab.RoleNameOf(a.RoleARN))
		return
	}
	if a.Tags[vocab.ManagedByKey] != vocab.ManagedByValue {
		// As for an annotation another tool set: what kubectl-sdc did not make is not unbind's to remove.
		c.Notes = []string{"not made by kubectl-sdc (no " + vocab.ManagedByKey + "=" + vocab.ManagedByValue + " tag): it stays, and so do the role's statement and this binding's permissions"}
		u.stays, u.staysWhy = vocab.MechanismPodIdentity, "the ServiceAccount's association stays"
		u.warn("ServiceAccount %s/%s's EKS Pod Identity association %s was not made by kubectl-sdc (it has no %s=%s tag), so unbind leaves it, and with it the role's EKS Pod Identity statement and this binding's permissions; delete it where it is managed, or: aws eks delete-pod-identity-association --cluster-name %s --association-id %s --region %s, then run unbind again",
			r.Namespace, r.ServiceAccount, a.ID, vocab.ManagedByKey, vocab.ManagedByValue, cl, a.ID, o.Cluster.Region)
		return
	}
	c.Action = plan.Delete
	c.Notes = []string{fmt.Sprintf("eks:DeletePodIdentityAssociation %s: EKS Auth hands the ServiceAccount's pods no more credentials (those already handed out stay valid until they expire), and pods created from now on get no EKS Pod Identity environment", a.ID)}
	c.Op = deleteAssociation{Cluster: cl, ID: a.ID}
	u.associationGoes = true
}
