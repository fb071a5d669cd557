package bind

import (
	"fmt"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/eksread"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/grant"
	"slices"
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
		u.targetSide(a)
	}
	c.Op = deleteAssociation{Cluster: cl, ID: a.ID}
	u.associationGoes = true
}

// targetSide: what bind put in the account of the association's target role for this binding goes with the
// association, with --target-profile: the statement of the target's trust that admits the association's
// role, and this binding's statements of the policy bind keeps there; the policy goes when none is left
// and nothing else has it attached, the role when kubectl-sdc made it and its trust then admits nobody.
// Without --target-profile, nothing there changes and unbind says what stays.
func (u *unbinding) targetSide(a *eksread.Association) {
	o, r, n := u.o, u.r, u.res.Names
	tp, _ := vocab.ParseRoleARN(a.TargetRoleARN)
	sess := iampolicy.PodIdentitySession{ClusterARN: o.Cluster.ARN, ClusterName: o.Cluster.Name, Namespace: r.Namespace, ServiceAccount: r.ServiceAccount,
		DisableSessionTags: a.DisableSessionTags}
	edit := RevokePodIdentityTarget{RoleARN: a.RoleARN, Session: sess, ExternalID: a.ExternalID}
	t := o.Target
	if t == nil || !t.Managed || t.ARN != a.TargetRoleARN {
		stmt := iampolicy.PodIdentityTargetStatement(a.RoleARN, sess, a.ExternalID).Canonical()
		u.warn("the association's target role %s (account %s) stays, and so does what bind put there: the statement of its trust that admits role %s (%s) and this binding's statements of policy %s; unbind takes them out with --target-profile PROFILE (credentials of account %s), but once the association is gone it no longer knows the target: remove them with that account's credentials if nothing else needs them (aws iam get-role --role-name %s)",
			a.TargetRoleARN, tp.Account, a.RoleARN, strings.Join(strings.Fields(string(stmt)), " "), vocab.PolicyARNAt(tp.Partition, tp.Account, tp.Path, tp.Name), tp.Account, tp.Name)
		return
	}
	where := fmt.Sprintf("in account %s (the target account, --target-profile %s)", t.Parsed.Account, t.Profile)
	c := &plan.Change{ID: idTargetRole, Kind: KindRole, Name: t.ARN, Format: "json", Action: plan.Unchanged, Deps: []string{idAssociation}, Notes: []string{where}}
	u.add(c)
	if t.Role == nil {
		c.Notes = append(c.Notes, "does not exist")
		return
	}
	after, revoked := edit.Apply(t.Role.Trust)
	policyGoes := false
	if p := t.Policy; p != nil && managedByBind(p.Tags) && p.Document != nil && slices.Contains(grant.Bindings(p.Document), n.BindingID) {
		pc := &plan.Change{ID: idTargetPolicy, Kind: KindPolicy, Name: t.PolicyARN, Format: "json", Before: string(p.Document.Canonical()), Deps: []string{idAssociation}, Notes: []string{where}}
		u.add(pc)
		attached := slices.Contains(t.Role.Attached, t.PolicyARN)
		removed, _ := grant.Remove(p.Document, n.BindingID)
		others := p.AttachmentCount
		if attached {
			others--
		}
		switch {
		case len(removed.Statements) > 0:
			pc.Action, pc.After = plan.Update, string(removed.Canonical())
			pc.Notes = append(pc.Notes, fmt.Sprintf("a new default version without this binding's statements; %d other binding(s) keep theirs", len(grant.Bindings(removed))))
			pc.Op = inTarget{removeGrant{ARN: t.PolicyARN, Binding: n.BindingID}}
		case others > 0:
			pc.Action = plan.Unchanged
			pc.Notes = append(pc.Notes, fmt.Sprintf("holds only this binding's statements, but is attached to %d other entities: it stays", others))
		default:
			policyGoes = true
			pc.Action = plan.Delete
			pc.Notes = append(pc.Notes, "holds only this binding's statements and nothing else has it attached")
			pc.Op = inTarget{deletePolicy{ARN: t.PolicyARN, OnlyVersion: p.DefaultVersion == "v1"}}
			if attached {
				d := &plan.Change{ID: "target-detach", Kind: KindAttachment, Name: t.ARN + " <- " + t.PolicyARN, Action: plan.Delete,
					Deps: []string{idAssociation}, Notes: []string{where}, Op: inTarget{detachPolicy{Role: t.Parsed.Name, PolicyARN: t.PolicyARN}}}
				u.add(d)
				pc.Deps = []string{d.ID}
			}
		}
	}
	if !revoked {
		c.Notes = append(c.Notes, "its trust has no statement bind wrote for this binding")
		return
	}
	c.Before = string(t.Role.Trust.Canonical())
	if len(after.Statements) > 0 {
		c.Action, c.After = plan.Update, string(after.Canonical())
		c.Notes = append(c.Notes, "the statement that admits role "+a.RoleARN+" for this ServiceAccount goes; every other statement stays")
		c.Op = inTarget{writeTrust{Role: t.Parsed.Name, Edit: edit, Update: true}}
		return
	}
	attached := len(t.Role.Attached)
	if policyGoes && slices.Contains(t.Role.Attached, t.PolicyARN) {
		attached--
	}
	if !managedByBind(t.Role.Tags) || attached > 0 || len(t.Role.InlineNames) > 0 {
		c.Notes = append(c.Notes, "its trust admits nobody else, but it has policies or was not made by kubectl-sdc: it stays as it is")
		u.warn("IAM role %s (account %s) admits only this binding's role, and unbind leaves it (IAM cannot remove the last statement of a trust; it has policies bind did not put there, or kubectl-sdc did not make it): delete it with that account's credentials if nothing needs it",
			t.ARN, t.Parsed.Account)
		return
	}
	c.Action, c.After = plan.Delete, ""
	c.Notes = append(c.Notes, "admits nobody once this binding's statement goes, and kubectl-sdc made it")
	c.Op = inTarget{deleteRole{Name: t.Parsed.Name}}
	if policyGoes && slices.Contains(t.Role.Attached, t.PolicyARN) {
		c.Deps = append(c.Deps, "target-detach")
	}
}
