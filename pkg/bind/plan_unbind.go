package bind

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/grant"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iamread"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/plan"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// UnbindPlan computes every change that undoes the binding of r's ServiceAccount in the observed state,
// removing only what is the binding's, for each mechanism the request removes (every one by default): for
// EKS Pod Identity, the ServiceAccount's association, then the role's statement for pods.eks.amazonaws.com
// when nothing else can be using it (podIdentityStatement); for IRSA, its subject in the role's trust and
// the annotations bind set on the ServiceAccount (released by server-side apply). The role goes when it
// then trusts nobody and kubectl-sdc made it; once no mechanism serves the binding any more, its statements
// leave the role's kubectl-sdc policy (which goes when none is left and nothing else has it attached) and
// its tags leave a shared role. With the flags: the ServiceAccount bind created, the provider no role
// trusts and the restart of the pods that still carry the role. It is a pure function, like Plan: it reads
// nothing, writes nothing and changes neither r nor o.
//
// The IAM changes come before the ServiceAccount's in the apply order, so that a run cut short still finds
// the role through the annotation when it runs again; the association goes first, as bind makes it last.
func UnbindPlan(r *UnbindRequest, o *UnbindObserved) (*UnbindResult, error) {
	res := &UnbindResult{Request: r, Observed: o, Cluster: o.Cluster, Identity: o.Identity, Names: o.Names}
	if o.Role != nil && o.Role.ARN != "" {
		res.Names.RoleARN = o.Role.ARN // with its path, as IAM has it
	}
	u := &unbinding{res: res, r: r, o: o, subject: vocab.Subject(r.Namespace, r.ServiceAccount)}
	annotated := o.ServiceAccount != nil && namesRole(o.ServiceAccount.Annotations[vocab.RoleARNAnnotation], res.Names)
	associated := o.Association != nil && namesRole(o.Association.RoleARN, res.Names)
	res.Mechanism = vocab.MechanismOf(annotated && r.removes(vocab.MechanismIRSA), associated && r.removes(vocab.MechanismPodIdentity))
	switch {
	case annotated && !r.removes(vocab.MechanismIRSA):
		u.stays, u.staysWhy = vocab.MechanismIRSA, "--mechanism "+string(r.Mechanism)+" leaves the annotation"
	case associated && !r.removes(vocab.MechanismPodIdentity):
		u.stays, u.staysWhy = vocab.MechanismPodIdentity, "--mechanism "+string(r.Mechanism)+" leaves the association"
	}
	u.association()
	u.role()
	u.policies()
	if r.PruneProvider {
		u.provider()
	}
	u.serviceAccount()
	u.deployments()
	res.Plan = &plan.Plan{Changes: u.changes}
	if err := checkOps(res.Plan); err != nil {
		return nil, err
	}
	return res, nil
}

// unbinding is UnbindPlan's working state.
type unbinding struct {
	res     *UnbindResult
	r       *UnbindRequest
	o       *UnbindObserved
	subject string
	changes []*plan.Change
	// stays is the mechanism that still serves the binding after the plan (--mechanism removed the other):
	// then the binding's statements and tags stay, and the role is never deleted. "" when none does.
	stays    vocab.Mechanism
	staysWhy string
	// associationGoes: the ServiceAccount's association is deleted (before the role is changed).
	associationGoes bool
	// roleGoes: the role is deleted; trustAfter is its trust once the plan is applied (nil when it goes).
	roleGoes   bool
	trustAfter *iampolicy.Policy
	// iam are the IDs of the IAM (and EKS) changes, which the ServiceAccount's change waits for.
	iam []string
}

func (u *unbinding) add(c *plan.Change) {
	u.changes = append(u.changes, c)
	if c.Kind != KindSA && c.Kind != KindRestart {
		u.iam = append(u.iam, c.ID)
	}
}

func (u *unbinding) warn(format string, a ...any) {
	u.res.Warnings = append(u.res.Warnings, fmt.Sprintf(format, a...))
}

// revoke is the trust edit of this unbind for IRSA.
func (u *unbinding) revoke() RevokeWebIdentity {
	n := u.res.Names
	return RevokeWebIdentity{Provider: n.ProviderARN, Host: n.IssuerHostPath, Subject: u.subject}
}

// afterAssociation are the dependencies of a change of the role: the association's delete, when planned.
func (u *unbinding) afterAssociation() []string {
	if u.associationGoes {
		return []string{idAssociation}
	}
	return nil
}

// role: the binding's subject leaves the trust's statements of bind's shape (IRSA) and the Pod Identity
// statement goes when nothing else can be using it; a role that then trusts nobody is deleted when
// kubectl-sdc made it and carries nothing bind did not put there, its policies detached first.
func (u *unbinding) role() {
	n, o, r := u.res.Names, u.o, u.r
	c := &plan.Change{ID: "role", Kind: KindRole, Name: n.RoleARN, Format: "json", Action: plan.Unchanged, Deps: u.afterAssociation()}
	u.add(c)
	if o.Role == nil {
		c.Notes = []string{"IAM shows no role " + n.RoleName + ": deleted already (or made seconds ago and not visible yet: then run unbind again in a few seconds)"}
		return
	}
	role := o.Role
	var edits TrustEdits
	var did []string
	if r.removes(vocab.MechanismIRSA) {
		edits = append(edits, u.revoke())
		if _, listed := u.revoke().Apply(role.Trust); listed {
			did = append(did, "removes "+u.subject+" (IRSA)")
		}
	}
	piGoes, piWhy := u.podIdentityStatement()
	if piGoes {
		edits = append(edits, RevokePodIdentity{})
		did = append(did, fmt.Sprintf("removes the EKS Pod Identity statement (%s): no other association of cluster %s names the role, and its tags name no other binding", vocab.PodIdentityService, o.Cluster.Name))
	}
	edit := edits.one()
	revoked, listed := edits.Apply(role.Trust)
	u.trustAfter = revoked
	if r.removes(vocab.MechanismIRSA) {
		if d := iampolicy.Evaluate(iampolicy.WebIdentityRequest(n.ProviderARN, n.IssuerHostPath, u.subject, audienceOfSA(o.ServiceAccount)), revoked); d.Allowed() &&
			d.StatementIndex >= 0 && d.StatementIndex < len(revoked.Statements) &&
			iampolicy.MatchingPattern(iampolicy.SubjectPatterns(iampolicy.NewPolicy(revoked.Statements[d.StatementIndex]), n.ProviderARN, n.IssuerHostPath), u.subject) != "" {
			pat := iampolicy.MatchingPattern(iampolicy.SubjectPatterns(iampolicy.NewPolicy(revoked.Statements[d.StatementIndex]), n.ProviderARN, n.IssuerHostPath), u.subject)
			u.warn("IAM role %s's trust admits every ServiceAccount matching %s (bind --subject-pattern), and so still ServiceAccount %s/%s: without the annotation its pods get no role environment, but any token of the ServiceAccount can still assume the role. To take that away, narrow the pattern so it no longer matches (aws iam update-assume-role-policy --role-name %s), or delete or rename the ServiceAccount; unbind does not change a pattern other ServiceAccounts are bound through",
				n.RoleName, pat, r.Namespace, r.ServiceAccount, n.RoleName)
		} else if d.Allowed() {
			u.warn("IAM role %s's trust still admits ServiceAccount %s/%s through %s, which is not a statement bind writes (a wildcard or another condition): unbind leaves it alone (taking one ServiceAccount out of it would need a Deny, which is not unbind's to add); change it by hand if the ServiceAccount must lose the role (aws iam update-assume-role-policy --role-name %s)",
				n.RoleName, r.Namespace, r.ServiceAccount, statementName(revoked, d.StatementIndex), n.RoleName)
		}
	}
	// A role shared on purpose records this binding's stages and assumed role under keys of its own, which
	// go with the binding's last mechanism.
	var untag []string
	for _, k := range []string{vocab.TagStages + "/" + n.BindingID, vocab.TagAssumeRoleARN + "/" + n.BindingID} {
		if role.Tags[k] != "" && u.stays == "" {
			untag = append(untag, k)
		}
	}
	c.Before = string(role.Trust.Canonical())
	var kept []string
	if piWhy != "" {
		kept = append(kept, piWhy)
	}
	if u.stays != "" {
		kept = append(kept, fmt.Sprintf("%s still serves the binding (%s): the role keeps it", u.stays.Title(), u.staysWhy))
	}
	switch {
	case !listed && len(untag) == 0:
		c.Notes = append([]string{"its trust names neither " + u.subject + " through this cluster's provider nor EKS Pod Identity for it"}, kept...)
		if r.Mechanism == vocab.MechanismPodIdentity {
			c.Notes[0] = "its trust keeps what it has"
		}
		return
	case !listed:
		c.Action = plan.Update
		c.Notes = append([]string{"untag " + strings.Join(untag, ", ")}, kept...)
		c.Op = writeTrust{Role: n.RoleName, Edit: edit, Untag: untag}
		return
	case iampolicy.TrustsAnyone(revoked):
		c.Action, c.After = plan.Update, string(revoked.Canonical())
		c.Notes = append(did, "every other statement and subject stays")
		if r.removes(vocab.MechanismIRSA) {
			c.Notes = append(c.Notes, fmt.Sprintf("admits %d ServiceAccount(s) of this cluster by name afterwards", len(iampolicy.WebIdentitySubjects(revoked, n.ProviderARN, n.IssuerHostPath))))
		}
		c.Notes = append(c.Notes, kept...)
		if len(untag) > 0 {
			c.Notes = append(c.Notes, "untag "+strings.Join(untag, ", "))
		}
		c.Op = writeTrust{Role: n.RoleName, Update: true, Edit: edit, Untag: untag}
		return
	}
	// Without an Allow: the role serves nobody once this binding goes.
	if u.stays != "" {
		c.Notes = append([]string{"its trust would admit nobody, yet " + u.stays.Title() + " still serves the binding through it: it stays as it is"}, kept...)
		u.warn("IAM role %s's trust would admit nobody once this unbind's statements are removed, yet %s still serves ServiceAccount %s/%s through the role (%s), so unbind leaves the role as it is: kubectl sdc doctor -n %s --service-account %s says what its trust lacks",
			n.RoleName, u.stays.Title(), r.Namespace, r.ServiceAccount, u.staysWhy, r.Namespace, r.ServiceAccount)
		return
	}
	if role.Tags[vocab.ManagedByKey] != vocab.ManagedByValue {
		c.Notes = []string{"not made by kubectl-sdc: never deleted"}
		u.warn("IAM role %s was not made by kubectl-sdc (it has no %s=%s tag), so unbind does not delete it; the statement that admits %s is the last of its trust, which IAM cannot leave empty, so the trust stays as it is and still admits the ServiceAccount: delete the role, or give its trust another statement, by hand if it must lose it",
			n.RoleName, vocab.ManagedByKey, vocab.ManagedByValue, u.subject)
		return
	}
	if len(role.InlineNames) > 0 {
		c.Notes = []string{"has inline policies bind did not make: it stays"}
		u.warn("IAM role %s has inline policies bind did not make (%s), so unbind does not delete it, and its trust still admits %s (the last statement, which IAM cannot remove): delete them (aws iam delete-role-policy --role-name %s --policy-name NAME) and run unbind again",
			n.RoleName, strings.Join(role.InlineNames, ", "), u.subject, n.RoleName)
		return
	}
	u.roleGoes, u.trustAfter = true, nil
	c.Action, c.After = plan.Delete, ""
	who := u.subject
	if piGoes {
		who = "EKS Pod Identity"
		if _, listed := u.revoke().Apply(role.Trust); listed && r.removes(vocab.MechanismIRSA) {
			who = u.subject + " and EKS Pod Identity"
		}
	}
	c.Notes = []string{fmt.Sprintf("trusts nobody once %s is removed, and kubectl-sdc made it (tag %s=%s)", who, vocab.ManagedByKey, vocab.ManagedByValue)}
	for _, k := range []string{vocab.TagAssumeRoleARN, vocab.TagAssumeRoleARN + "/" + n.BindingID} {
		if target := role.Tags[k]; target != "" {
			u.warn("the stages of this binding assume IAM role %s (tag %s), which unbind leaves alone: its trust still names role %s, and what grants the stages' permissions there stays; remove the statement (and the stages' policy bind --target-profile made beside it) with that account's credentials if nothing else needs them (aws iam get-role --role-name %s)",
				target, k, role.ARN, vocab.RoleNameOf(target))
		}
	}
	guard := &trustGuard{Role: n.RoleName, Edit: edit, Read: o.Now}
	del := deleteRole{Name: n.RoleName, Guard: guard}
	c.Deps = nil
	for _, a := range role.Attached {
		d := u.detach(a, guard)
		d.Deps = u.afterAssociation()
		c.Deps = append(c.Deps, d.ID)
		del.Guard = nil // the detaches checked the trust a moment before
	}
	if len(role.Attached) == 0 {
		c.Deps = u.afterAssociation()
	}
	if len(role.Attached) > 0 {
		c.Notes = append(c.Notes, fmt.Sprintf("its managed policies (%d) are detached first", len(role.Attached)))
	}
	c.Op = del
}

// detach plans detaching policy a from the role (guard, when set, checks the trust first).
func (u *unbinding) detach(a string, guard *trustGuard) *plan.Change {
	n := u.res.Names
	d := &plan.Change{ID: "detach:" + a, Kind: KindAttachment, Name: n.RoleName + " <- " + a, Action: plan.Delete,
		Op: detachPolicy{Role: n.RoleName, PolicyARN: a, Guard: guard}}
	u.add(d)
	return d
}

// statementName names a statement of p for a message: its Sid, else its position.
func statementName(p *iampolicy.Policy, i int) string {
	if p == nil || i < 0 || i >= len(p.Statements) {
		return "a statement"
	}
	if sid := p.Statements[i].Sid; sid != "" {
		return "statement " + sid
	}
	return fmt.Sprintf("statement %d", i+1)
}

// audienceOfSA is the audience of the ServiceAccount's tokens, as audienceFor says.
func audienceOfSA(sa *corev1.ServiceAccount) string {
	return audienceFor(&Request{}, sa)
}

// policies: this binding's statements leave the kubectl-sdc policies that hold them (pkg/grant); a policy
// left without statements is deleted when nothing else has it attached (detached from the role first).
func (u *unbinding) policies() {
	n, o := u.res.Names, u.o
	if u.stays != "" {
		u.add(&plan.Change{ID: "policy:" + n.PolicyARN, Kind: KindPolicy, Name: n.PolicyARN, Action: plan.Unchanged,
			Notes: []string{fmt.Sprintf("this binding's statements stay: %s still serves it (%s)", u.stays.Title(), u.staysWhy)}})
		return
	}
	arns := make([]string, 0, len(o.Policies))
	for a := range o.Policies {
		if a != n.PolicyARN {
			arns = append(arns, a)
		}
	}
	slices.Sort(arns)
	arns = append([]string{n.PolicyARN}, arns...)
	for _, a := range arns {
		u.policy(a, o.Policies[a])
	}
}

func (u *unbinding) policy(arn string, p *iamread.Policy) {
	n, o, r := u.res.Names, u.o, u.r
	named := arn == n.PolicyARN
	c := &plan.Change{ID: "policy:" + arn, Kind: KindPolicy, Name: arn, Format: "json", Action: plan.Unchanged}
	show := func(note string) {
		if named { // other policies are shown only when this binding has statements there
			c.Notes = []string{note}
			u.add(c)
		}
	}
	if p == nil {
		show("does not exist")
		return
	}
	attachedHere := o.Role != nil && slices.Contains(o.Role.Attached, arn)
	if p.Tags[vocab.ManagedByKey] != vocab.ManagedByValue {
		show("not made by kubectl-sdc: unbind leaves it")
		return
	}
	ours := slices.Contains(grant.Bindings(p.Document), n.BindingID) ||
		len(grant.Bindings(p.Document)) == 0 && p.Tags[vocab.TagNamespace] == r.Namespace && p.Tags[vocab.TagServiceAccount] == r.ServiceAccount
	if !ours || p.Document == nil {
		show("holds no statement of this binding")
		return
	}
	u.add(c)
	removed, _ := grant.Remove(p.Document, n.BindingID)
	c.Before = string(p.Document.Canonical())
	if len(removed.Statements) > 0 {
		c.Action, c.After = plan.Update, string(removed.Canonical())
		c.Notes = []string{fmt.Sprintf("a new default version without this binding's statements (Sids naming %s); %d other binding(s) keep theirs", n.BindingID, len(grant.Bindings(removed)))}
		c.Op = removeGrant{ARN: arn, Binding: n.BindingID}
		return
	}
	others := p.AttachmentCount
	if attachedHere {
		others--
	}
	if others > 0 {
		c.Notes = []string{fmt.Sprintf("attached to %d entities besides role %s: it stays", others, n.RoleName)}
		u.warn("IAM policy %s holds only this binding's statements but is attached to %d other user(s), group(s) or role(s) besides role %s, so unbind neither deletes it nor empties it (IAM needs a statement): detach it from them (aws iam list-entities-for-policy --policy-arn %s) and run unbind again",
			arn, others, n.RoleName, arn)
		return
	}
	c.Action = plan.Delete
	c.Notes = []string{"holds only this binding's statements and nothing else has it attached: its other versions go first"}
	c.Op = deletePolicy{ARN: arn, OnlyVersion: p.DefaultVersion == "v1"}
	if attachedHere {
		id := "detach:" + arn
		if !u.roleGoes {
			u.detach(arn, nil)
		}
		c.Deps = []string{id}
	}
}

// provider: with --prune-provider, the cluster's OIDC provider goes when no role of the account trusts it
// once this plan is applied, and kubectl-sdc made it.
func (u *unbinding) provider() {
	n, o := u.res.Names, u.o
	c := &plan.Change{ID: "provider", Kind: KindProvider, Name: n.ProviderARN, Action: plan.Unchanged, Deps: []string{"role"}}
	u.add(c)
	if o.Provider == nil {
		c.Notes = []string{"does not exist"}
		return
	}
	var trusting []string
	for name, t := range o.Trusts {
		if strings.EqualFold(name, n.RoleName) && o.Role != nil {
			t = u.trustAfter // as this plan leaves it (nil: deleted)
		}
		if iampolicy.TrustsProvider(t, n.ProviderARN) {
			trusting = append(trusting, name)
		}
	}
	slices.Sort(trusting)
	if len(trusting) > 0 {
		shown := trusting[:min(3, len(trusting))]
		more := ""
		if len(trusting) > len(shown) {
			more = fmt.Sprintf(" and %d more", len(trusting)-len(shown))
		}
		c.Notes = []string{fmt.Sprintf("stays: %d role(s) trust it (%s%s)", len(trusting), strings.Join(shown, ", "), more)}
		return
	}
	if o.Provider.Tags[vocab.ManagedByKey] != vocab.ManagedByValue {
		c.Notes = []string{"no role trusts it, but kubectl-sdc did not make it: it stays"}
		u.warn("no role of the account trusts IAM OIDC provider %s any more, but it was not made by kubectl-sdc (no %s=%s tag), so --prune-provider leaves it: delete it by hand if nothing else uses it (aws iam delete-open-id-connect-provider --open-id-connect-provider-arn %s)",
			n.ProviderARN, vocab.ManagedByKey, vocab.ManagedByValue, n.ProviderARN)
		return
	}
	c.Action = plan.Delete
	c.Before = indentJSON(providerDoc{URL: u.res.Cluster.Issuer, ClientIDList: o.Provider.ClientIDs, ThumbprintList: o.Provider.Thumbprints})
	c.Format = "json"
	c.Notes = []string{"no role of the account trusts it once this plan is applied, and kubectl-sdc made it"}
	c.Op = deleteProvider{ARN: n.ProviderARN}
}
