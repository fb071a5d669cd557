package bind

// SDC's "Assume Another Role": with the Instance Profile method (the default credential chain, where IRSA or
// EKS Pod Identity lives) an AWS stage assumes a role ARN, typically in the account that holds the data,
// with SDC's session tag. bind --assume-role-arn makes the permissions live there: the binding's role may
// only make SDC's call on exactly that role (sts:AssumeRole, and sts:TagSession for SDC's tag key), whose
// trust admits it and whose policy holds the stages' permissions. With --target-profile bind makes the
// target side true as well (in the same plan); without it, it changes nothing in the target account and
// prints what its owners must add.

import (
	"fmt"
	"slices"
	"strings"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/grant"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/plan"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// Change IDs of the target account's changes.
const (
	idTargetRole   = "target-role"
	idTargetPolicy = "target-policy"
	idTargetAttach = "target-attach"
)

// assumeRoleTagKey is the role tag that records the binding's target: one key on a role made for the
// binding, a key per binding on a role shared on purpose (as the stages tag).
func assumeRoleTagKey(res *Result) string {
	if res.Request.RoleName != "" {
		return vocab.TagAssumeRoleARN + "/" + res.Names.BindingID
	}
	return vocab.TagAssumeRoleARN
}

// targetChanges plans the target account's side of --assume-role-arn: its role's trust admits the
// binding's role, and the policy bind keeps there holds the stages' permissions (stages; nil when the
// binding grants none) and is attached. With --target-profile these are changes of the plan, each saying
// its account; without, nothing there changes and the result carries the Handoff its owners need.
func targetChanges(res *Result, stages *iampolicy.Policy) ([]*plan.Change, error) {
	n, t := res.Names, res.Observed.Target
	if n.RoleARN == t.ARN {
		return nil, &FlagError{Flag: res.Request.targetFlag(), Value: t.ARN, Rule: "names the binding's own role: give the role in the other account that the stages assume"}
	}
	if !t.Managed {
		res.Handoff = handoff(res, stages)
		who := "the stages to assume " + t.ARN
		if res.Request.chain() {
			who = "EKS Pod Identity to assume " + t.ARN + " with role " + n.RoleARN
		}
		res.Warnings = append(res.Warnings, fmt.Sprintf(
			"bind changes nothing in account %s (no --target-profile): for %s, its owners must add the trust statement below to that role's trust policy%s, or run bind again with --target-profile PROFILE (credentials of account %s)",
			t.Parsed.Account, who, map[bool]string{true: " and attach the policy below to it", false: ""}[stages != nil], t.Parsed.Account))
		if e, ok := targetEdit(res).(AdmitPodIdentityTarget); ok && e.ExternalID == externalIDPlaceholder {
			res.Warnings = append(res.Warnings, fmt.Sprintf(
				"the statement's sts:ExternalId is the association's externalId, which EKS makes when the association gets its target: once bind has applied, read it with aws eks describe-pod-identity-association --cluster-name %s --association-id ID --query association.externalId (the ID: aws eks list-pod-identity-associations --cluster-name %s --namespace %s --service-account %s)",
				res.Cluster.Name, res.Cluster.Name, res.Request.Namespace, res.Request.ServiceAccount))
		}
		return nil, nil
	}
	where := fmt.Sprintf("in account %s (the target account, --target-profile %s)", t.Parsed.Account, t.Profile)
	role, err := targetRoleChange(res, where)
	if err != nil {
		return nil, err
	}
	out := []*plan.Change{role}
	if stages == nil {
		return out, nil
	}
	pol, err := targetPolicyChange(res, stages, where)
	if err != nil {
		return nil, err
	}
	att := &plan.Change{ID: idTargetAttach, Kind: KindAttachment, Name: t.ARN + " <- " + t.PolicyARN, Deps: []string{idTargetRole, idTargetPolicy},
		Notes: []string{where}}
	if t.Role != nil && slices.Contains(t.Role.Attached, t.PolicyARN) {
		att.Action = plan.Unchanged
	} else {
		if t.Role != nil && len(t.Role.Attached)+1 > vocab.MaxAttachedPolicies {
			return nil, fmt.Errorf("IAM role %s has %d managed policies attached, IAM's default quota: detach one there, or attach the stages' policy by hand (the policy bind would attach is %s)",
				t.ARN, len(t.Role.Attached), t.PolicyARN)
		}
		att.Action = plan.Create
		att.Op = inTarget{attachPolicy{Role: t.Parsed.Name, PolicyARN: t.PolicyARN}}
	}
	return append(out, pol, att), nil
}

// targetRoleChange: the target role exists (bind creates it when missing) and its trust lets the
// binding's role assume it. A trust that admits it already (naming it, or its whole account) is left as
// it is; otherwise the role's ARN joins a statement of bind's shape, or one is added, every other
// statement staying (the same read-edit-write-verify loop as the binding's own trust).
func targetRoleChange(res *Result, where string) (*plan.Change, error) {
	n, t := res.Names, res.Observed.Target
	edit := targetEdit(res)
	c := &plan.Change{ID: idTargetRole, Kind: KindRole, Name: t.ARN, Format: "json", Deps: []string{"role"}}
	if res.Request.chain() {
		c.Deps = append(c.Deps, idAssociation) // the external ID is EKS's answer to the association's write
	}
	op := writeTrust{Role: t.Parsed.Name, Edit: edit}
	var existing *iampolicy.Policy
	if t.Role != nil {
		existing = t.Role.Trust
	}
	trust, changed := existing, false
	if existing == nil || !edit.Holds(existing) {
		trust, changed = edit.Apply(existing)
	}
	if !edit.Holds(trust) {
		return nil, fmt.Errorf("IAM role %s's trust policy would still not let role %s assume it %s: %s; bind adds Allow statements but never removes or changes another statement, so its owners must change that one",
			t.ARN, n.RoleARN, edit.how(), edit.refusal(trust))
	}
	if err := trust.Validate(iampolicy.Trust); err != nil {
		return nil, fmt.Errorf("admitting role %s to the trust policy of IAM role %s would break IAM's rules: %v", n.RoleARN, t.ARN, err)
	}
	c.After = string(trust.Canonical())
	if t.Role == nil {
		c.Action = plan.Create
		tags := managedTags(res, nil)
		how := "assume (Assume Another Role)"
		if res.Request.chain() {
			how = "get through EKS Pod Identity's target role"
		}
		op.Create = &createRole{Name: t.Parsed.Name, Trust: string(trust.Compact()), Tags: tags,
			Description: fmt.Sprintf("Role the SDC stages of ServiceAccount %s/%s on cluster %s %s, made by kubectl-sdc",
				res.Request.Namespace, res.Request.ServiceAccount, res.Cluster.Name, how)}
		if t.Parsed.Path != "/" {
			op.Create.Path = t.Parsed.Path
		}
		c.Notes = append([]string{where, "trusts role " + n.RoleARN + " (sts:AssumeRole, sts:TagSession" + edit.conditions() + ")"}, createNotes(op.Create)...)
		c.Op = targetTrustOp(res, op)
		return c, nil
	}
	c.Before = string(existing.Canonical())
	c.Notes = []string{where}
	var retag map[string]string
	if managedByBind(t.Role.Tags) {
		retag = userTagChanges(res, t.Role.Tags)
	}
	if !changed && len(retag) == 0 {
		c.Action = plan.Unchanged
		c.Notes = append(c.Notes, "its trust lets role "+n.RoleARN+" assume it")
		return c, nil
	}
	c.Action = plan.Update
	if changed {
		op.Update = true
		why := "SDC tags its sessions"
		if res.Request.chain() {
			why = "EKS Pod Identity's second hop" + edit.conditions()
		}
		c.Notes = append(c.Notes, "admits role "+n.RoleARN+" (sts:AssumeRole, sts:TagSession: "+why+"); every other statement stays")
	}
	c.Notes = append(c.Notes, tagNotes(t.Role.Tags, retag)...)
	op.Tags = retag
	c.Op = targetTrustOp(res, op)
	return c, nil
}

// targetPolicyChange: the policy bind keeps on the target role, named like it, holding this binding's
// statements (pkg/grant: a target role shared by several bindings keeps each one's).
func targetPolicyChange(res *Result, stages *iampolicy.Policy, where string) (*plan.Change, error) {
	n, t := res.Names, res.Observed.Target
	var current *iampolicy.Policy
	if t.Policy != nil {
		if !managedByBind(t.Policy.Tags) {
			return nil, &FlagError{Flag: "--assume-role-arn", Value: t.ARN, Rule: fmt.Sprintf(
				"bind keeps the stages' permissions in IAM policy %s, which exists in account %s and was not made by kubectl-sdc (no %s=%s tag), so bind will not change it: attach the stages' policy by hand (bind --dry-run without --target-profile prints it)",
				t.PolicyARN, t.Parsed.Account, vocab.ManagedByKey, vocab.ManagedByValue)}
		}
		current = t.Policy.Document
	}
	merged, changed := grant.Merge(current, n.BindingID, stages)
	if err := merged.Validate(iampolicy.Identity); err != nil {
		return nil, fmt.Errorf("IAM policy %s holds the stages' permissions of every binding that assumes role %s, and with this binding's it would break IAM's rules: %v", t.PolicyARN, t.ARN, err)
	}
	c := &plan.Change{ID: idTargetPolicy, Kind: KindPolicy, Name: t.PolicyARN, Format: "json", After: string(merged.Canonical()),
		Notes: []string{where, fmt.Sprintf("the stages' permissions, for the sessions of role %s", n.RoleARN)}}
	op := writePolicy{ARN: t.PolicyARN, Name: t.Parsed.Name, Binding: n.BindingID, Want: string(stages.Compact()),
		Description: fmt.Sprintf("Permissions of the SDC stages that assume role %s, made by kubectl-sdc", t.ARN),
		Tags:        managedTags(res, nil)}
	if t.Parsed.Path != "/" {
		op.Path = t.Parsed.Path
	}
	policyWrite(res, c, op, t.Policy, current, changed, func(op operation) operation { return inTarget{op} })
	return c, nil
}

// handoff is what the target account's owners must add, as documents to paste.
func handoff(res *Result, stages *iampolicy.Policy) *Handoff {
	t := res.Observed.Target
	h := &Handoff{Account: t.Parsed.Account, RoleARN: t.ARN,
		TrustStatement: iampolicy.AssumeRoleStatement(res.Names.RoleARN).Canonical()}
	if e, ok := targetEdit(res).(AdmitPodIdentityTarget); ok {
		h.TrustStatement = iampolicy.PodIdentityTargetStatement(e.RoleARN, e.Session, e.ExternalID).Canonical()
	}
	if stages != nil {
		h.Policy = stages.Canonical()
	}
	return h
}

// accountNotes say, on the binding's own IAM changes, which account they are in, when the plan also
// changes the target account (whose changes say theirs).
func accountNotes(res *Result, changes []*plan.Change) {
	for _, c := range changes {
		if strings.HasPrefix(c.ID, "target-") || !strings.HasPrefix(c.Kind, "IAM ") {
			continue
		}
		c.Notes = append([]string{fmt.Sprintf("in account %s (the binding's, as %s)", res.Names.Account, res.Identity.ARN)}, c.Notes...)
	}
}

// chainPolicy is what the binding's role is allowed toward the target: with --assume-role-arn,
// sts:AssumeRole on exactly that role and sts:TagSession on it for SDC's session tag only; with
// --target-role-arn, the same for EKS Pod Identity's session tags.
func chainPolicy(r *Request) *iampolicy.Policy {
	if r.chain() {
		return iampolicy.PodIdentityTargetPolicy(r.TargetRoleARN)
	}
	return iampolicy.SDCAssumeRolePolicy(r.AssumeRoleARN)
}

// externalIDPlaceholder stands, in a plan's documents, for the external ID EKS makes for an association
// that gets its target role in this plan: bind reads it from EKS's answer and writes the target's trust
// with it.
const externalIDPlaceholder = "<the externalId EKS returns for the association>"

// chainExternalID is the association's external ID, when it exists with this target already; "" when EKS
// makes it during the apply.
func chainExternalID(res *Result) string {
	if a := res.Observed.Association; a != nil && a.TargetRoleARN == res.Request.TargetRoleARN && a.ExternalID != "" {
		return a.ExternalID
	}
	return ""
}

// targetEdit is the change the target's trust needs: the binding's role admitted as SDC assumes it, or as
// EKS Auth's second hop does.
func targetEdit(res *Result) targetTrustEdit {
	n := res.Names
	if !res.Request.chain() {
		return AdmitRole{RoleARN: n.RoleARN}
	}
	ext := chainExternalID(res)
	s := session(res)
	if ext == "" && s.DisableSessionTags {
		ext = externalIDPlaceholder
	}
	return AdmitPodIdentityTarget{RoleARN: n.RoleARN, TargetARN: res.Request.TargetRoleARN, Session: s, ExternalID: ext}
}

// targetTrustOp is the target trust's write, in the target account; one whose trust waits for the external
// ID EKS makes takes it from the association's write first.
func targetTrustOp(res *Result, op writeTrust) operation {
	if e, ok := op.Edit.(AdmitPodIdentityTarget); ok && e.ExternalID == externalIDPlaceholder {
		return inTarget{withExternalID{Op: op}}
	}
	return inTarget{op}
}
