package bind

import (
	"fmt"
	"strings"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/plan"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// unbind's EKS Pod Identity side: the ServiceAccount's association is deleted, then the role loses the
// statement that trusts pods.eks.amazonaws.com when nothing else can be using it.

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
	c.Before = associationView(cl, a.Namespace, a.ServiceAccount, a.RoleARN,
		associationChain{TargetRoleARN: a.TargetRoleARN, DisableSessionTags: a.DisableSessionTags, Policy: a.Policy})
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
	if a.TargetRoleARN != "" {
		// The target's account is not unbind's to change: say exactly what bind put there.
		tp, _ := vocab.ParseRoleARN(a.TargetRoleARN)
		sess := iampolicy.PodIdentitySession{ClusterARN: o.Cluster.ARN, ClusterName: cl, Namespace: r.Namespace, ServiceAccount: r.ServiceAccount,
			DisableSessionTags: a.DisableSessionTags}
		stmt := iampolicy.PodIdentityTargetStatement(a.RoleARN, sess, a.ExternalID).Canonical()
		c.Notes = append(c.Notes, "its target role "+a.TargetRoleARN+" stays: it is in account "+tp.Account)
		u.warn("the association's target role %s (account %s) stays, and so does what bind put there: the statement of its trust that admits role %s (%s) and this binding's statements of policy %s; remove them with that account's credentials if nothing else needs them (aws iam get-role --role-name %s)",
			a.TargetRoleARN, tp.Account, a.RoleARN, strings.Join(strings.Fields(string(stmt)), " "), vocab.PolicyARNAt(tp.Partition, tp.Account, tp.Path, tp.Name), tp.Name)
	}
	c.Op = deleteAssociation{Cluster: cl, ID: a.ID}
	u.associationGoes = true
}
