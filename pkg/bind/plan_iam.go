package bind

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/catalog"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/grant"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iamread"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/plan"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// managedTags are the tags on everything bind makes in IAM, plus extra: who made it, and for which
// binding (cluster name and ARN, namespace, ServiceAccount), so that a later bind can tell whose it is.
func managedTags(res *Result, extra map[string]string) map[string]string {
	m := maps.Clone(res.Request.Guardrails.Tags) // --tag values; bind's own keys are refused there
	if m == nil {
		m = map[string]string{}
	}
	m[vocab.ManagedByKey], m[vocab.TagCluster] = vocab.ManagedByValue, res.Cluster.Name
	if res.Cluster.ARN != "" {
		m[vocab.TagClusterARN] = res.Cluster.ARN
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

// bindingTags name the binding on the role and policy bind makes for it.
func bindingTags(res *Result) map[string]string {
	return map[string]string{vocab.TagNamespace: res.Request.Namespace, vocab.TagServiceAccount: res.Request.ServiceAccount}
}

// owner says whose binding an IAM resource's kubectl-sdc tags name, "" when they name this binding (or no
// binding: a resource not made by kubectl-sdc, or made for a cluster only).
func owner(tags map[string]string, res *Result) string {
	return ownerOf(tags, res.Cluster, res.Request.Namespace, res.Request.ServiceAccount)
}

// providerDoc is how the plan shows an OIDC provider.
type providerDoc struct {
	URL            string   `json:"Url"`
	ClientIDList   []string `json:"ClientIDList"`
	ThumbprintList []string `json:"ThumbprintList,omitempty"`
}

// providerChange: the IAM OIDC provider for the cluster's issuer, with the audience as a client ID.
func providerChange(res *Result) (*plan.Change, error) {
	n, o := res.Names, res.Observed
	c := &plan.Change{ID: "provider", Kind: KindProvider, Name: n.ProviderARN, Format: "json"}
	if o.Provider == nil {
		if o.ThumbprintErr != nil {
			return nil, o.ThumbprintErr
		}
		c.Action = plan.Create
		c.After = indentJSON(providerDoc{URL: res.Cluster.Issuer, ClientIDList: []string{res.Audience}, ThumbprintList: []string{o.Thumbprint}})
		c.Op = createProvider{URL: res.Cluster.Issuer, ClientIDs: []string{res.Audience}, Thumbprints: []string{o.Thumbprint}, Tags: managedTags(res, nil)}
		return c, nil
	}
	before := providerDoc{URL: res.Cluster.Issuer, ClientIDList: o.Provider.ClientIDs, ThumbprintList: o.Provider.Thumbprints}
	var retag map[string]string
	if managedByBind(o.Provider.Tags) {
		retag = userTagChanges(res, o.Provider.Tags)
	}
	hasAudience := slices.Contains(o.Provider.ClientIDs, res.Audience)
	if hasAudience && len(retag) == 0 {
		c.Action = plan.Unchanged
		return c, nil
	}
	c.Action = plan.Update
	var op providerWrites
	if !hasAudience {
		after := before
		after.ClientIDList = append(slices.Clone(before.ClientIDList), res.Audience)
		c.Before, c.After = indentJSON(before), indentJSON(after)
		c.Notes = []string{"adds client ID " + res.Audience}
		op.ClientID = &addClientID{ProviderARN: n.ProviderARN, ClientID: res.Audience}
	}
	if len(retag) > 0 {
		c.Notes = append(c.Notes, tagNotes(o.Provider.Tags, retag)...)
		op.Tags = &tagProvider{ARN: n.ProviderARN, Tags: retag}
	}
	switch {
	case op.Tags == nil:
		c.Op = *op.ClientID
	case op.ClientID == nil:
		c.Op = *op.Tags
	default:
		c.Op = op
	}
	return c, nil
}

// policyChange: the customer managed policy with the permissions asked for. It is the role's one
// kubectl-sdc policy: this binding's statements are made exactly the desired ones and every other
// binding's stay (pkg/grant); a new default version when that changes the document (Apply makes room when
// IAM's five versions are used up, and checks afterwards that no concurrent writer dropped them).
func policyChange(res *Result, desired *iampolicy.Policy) (*plan.Change, error) {
	n, r, o := res.Names, res.Request, res.Observed
	var current *iampolicy.Policy
	if o.Policy != nil {
		if o.Policy.Tags[vocab.ManagedByKey] != vocab.ManagedByValue {
			return nil, &FlagError{Flag: "--policy-name", Value: n.PolicyName, Rule: fmt.Sprintf(
				"IAM policy %s exists and was not made by kubectl-sdc (no %s=%s tag), so bind will not change it: choose another name with --policy-name, or attach it as it is with --attach-policy-arn",
				n.PolicyARN, vocab.ManagedByKey, vocab.ManagedByValue)}
		}
		if who := owner(o.Policy.Tags, res); who != "" && r.RoleName == "" && r.PolicyName == "" {
			return nil, fmt.Errorf("IAM policy %s was made by kubectl-sdc for %s (its tags say so), not for ServiceAccount %s/%s: bind will not change another binding's policy; to share it on purpose, name it with --policy-name (or the role with --role-name)",
				n.PolicyARN, who, r.Namespace, r.ServiceAccount)
		}
		current = o.Policy.Document
	}
	merged, changed := grant.Merge(current, n.BindingID, desired)
	if err := merged.Validate(iampolicy.Identity); err != nil {
		return nil, fmt.Errorf("IAM policy %s holds the permissions of every binding of role %s (%d binding(s) with this one), and with this binding's it would break IAM's rules: %v; bind this ServiceAccount to a role of its own (leave out --role-name), or give it a policy of its own beside with --policy-name NAME (IAM allows %d managed policies per role)",
			n.PolicyARN, n.RoleName, len(grant.Bindings(merged)), err, vocab.MaxAttachedPolicies)
	}
	c := &plan.Change{ID: "policy", Kind: KindPolicy, Name: n.PolicyARN, Format: "json", After: string(merged.Canonical())}
	op := writePolicy{ARN: n.PolicyARN, Name: n.PolicyName, Path: n.RolePath, Binding: n.BindingID, Want: string(desired.Compact()),
		Description: fmt.Sprintf("Permissions of the ServiceAccounts of role %s, made by kubectl-sdc", n.RoleName),
		Tags:        managedTags(res, bindingTags(res))}
	if bindings := len(grant.Bindings(merged)); bindings > 1 {
		c.Notes = append(c.Notes, fmt.Sprintf("serves %d bindings of role %s; this binding's statements are the ones whose Sid names %s", bindings, n.RoleName, n.BindingID))
	}
	c.Notes = append(c.Notes, fmt.Sprintf("%d of %d characters", merged.Size(), vocab.MaxManagedPolicy))
	policyWrite(res, c, op, o.Policy, current, changed, func(op operation) operation { return op })
	if changed && o.Policy != nil {
		c.Notes = append([]string{fmt.Sprintf("a new default version (%s stays as the previous one); other bindings' statements stay", o.Policy.DefaultVersion)}, c.Notes...)
	}
	return c, nil
}

// policyWrite decides the change of a policy bind keeps, from what exists (nil: it is created): a create,
// a retag alone, a new default version (retagged too), or nothing; in puts an operation in its account.
func policyWrite(res *Result, c *plan.Change, op writePolicy, existing *iamread.Policy, current *iampolicy.Policy, changed bool, in func(operation) operation) {
	if existing == nil {
		op.Create = true
		c.Action, c.Op = plan.Create, in(op)
		return
	}
	c.Before = string(current.Canonical())
	retag := userTagChanges(res, existing.Tags)
	if !changed && len(retag) == 0 {
		c.Action = plan.Unchanged
		return
	}
	c.Action = plan.Update
	c.Notes = append(c.Notes, tagNotes(existing.Tags, retag)...)
	if !changed {
		c.Op = in(tagPolicy{ARN: op.ARN, Tags: retag})
		return
	}
	op.Retag = retag
	c.Op = in(op)
}

// roleChange: the role whose trust lets this ServiceAccount assume it through the provider. The trust is
// kept compact: the subject joins the :sub list of a statement of bind's own shape, else one is added;
// every other statement stays as it is (pkg/iampolicy AdmitSubject). Apply re-reads and checks it.
func roleChange(res *Result) (*plan.Change, error) {
	n, r, o := res.Names, res.Request, res.Observed
	var existing *iampolicy.Policy
	if o.Role == nil && r.KeepPermissions {
		return nil, fmt.Errorf("IAM role %s (named by %s) does not exist: migrate keeps a ServiceAccount's role and its permissions, so there must be one; bind the ServiceAccount first (kubectl sdc bind -n %s --service-account %s --mechanism pod-identity --stage ...)",
			n.RoleARN, n.RoleSource, r.Namespace, r.ServiceAccount)
	}
	if o.Role != nil {
		existing = o.Role.Trust
		if who := owner(o.Role.Tags, res); who != "" && r.RoleName == "" {
			return nil, fmt.Errorf("IAM role %s (found by %s) was made by kubectl-sdc for %s (its tags say so), not for ServiceAccount %s/%s: bind will not change another binding's role; to share the role on purpose, pass --role-name %s",
				n.RoleARN, n.RoleSource, who, r.Namespace, r.ServiceAccount, n.RoleName)
		}
	}
	want, err := wantTrust(res, existing)
	if err != nil {
		return nil, err
	}
	trust, trustChanged := want.trust, want.changed
	if o.Role != nil && trustChanged {
		if other := otherClusterOf(res, o.Role.Tags, existing); other != "" {
			res.Warnings = append(res.Warnings, fmt.Sprintf(
				"IAM role %s is shared with bindings of %s: kubectl-sdc serialises the edits of its trust only among the runs against one cluster, so a bind or unbind there at the same moment as this one could drop this edit (or this one drop its): run them one at a time, or give each cluster a role of its own",
				n.RoleARN, other))
		}
	}
	if err := trust.ValidateWithin(iampolicy.Trust, r.trustLimit()); err != nil {
		return nil, &FlagError{Flag: "--role-name", Value: n.RoleName, Rule: "adding this ServiceAccount to the role's trust policy would break IAM's rules: " + err.Error()}
	}
	var stagesTag string
	if len(res.Selection.Stages) > 0 {
		var err error
		if stagesTag, err = catalog.EncodeTag(res.Selection); err != nil {
			return nil, err
		}
	}
	c := &plan.Change{ID: "role", Kind: KindRole, Name: n.RoleARN, Format: "json", After: string(trust.Canonical())}
	size := want.size
	op := writeTrust{Role: n.RoleName, Edit: want.edit}
	tags := map[string]string{}
	switch {
	case stagesTag == "":
	case r.RoleName != "":
		// A role shared on purpose records each binding's stages under its own key (for doctor and list):
		// one key for all would flip at every bind of another binding, and no rerun would be a no-op.
		tags[vocab.TagStages+"/"+n.BindingID] = stagesTag
	default:
		tags[vocab.TagStages] = stagesTag
	}
	targetKey := assumeRoleTagKey(res)
	if r.AssumeRoleARN != "" {
		tags[targetKey] = r.AssumeRoleARN
	}
	if o.Role == nil {
		c.Action = plan.Create
		for k, v := range bindingTags(res) {
			tags[k] = v
		}
		c.Notes = []string{want.trusts, size}
		if stagesTag != "" {
			c.Notes = append(c.Notes, "tag "+vocab.TagStages+"="+stagesTag)
		}
		if r.AssumeRoleARN != "" {
			c.Notes = append(c.Notes, "tag "+targetKey+"="+r.AssumeRoleARN)
		}
		op.Create = newRole(res, string(trust.Compact()), managedTags(res, tags))
		c.Notes = append(c.Notes, createNotes(op.Create)...)
		for _, k := range []string{vocab.TagStages + "/" + n.BindingID, vocab.TagAssumeRoleARN + "/" + n.BindingID} {
			if tags[k] != "" {
				// Should another bind create the shared role first, this binding still records its own there.
				if op.Tags == nil {
					op.Tags = map[string]string{}
				}
				op.Tags[k] = tags[k]
			}
		}
		c.Op = op
		return c, nil
	}
	c.Before = string(o.Role.Trust.Canonical())
	retag := map[string]string{}
	for k, v := range tags {
		if o.Role.Tags[k] != v {
			retag[k] = v
		}
	}
	if res.Cluster.ARN != "" && o.Role.Tags[vocab.ManagedByKey] == vocab.ManagedByValue && o.Role.Tags[vocab.TagClusterARN] == "" {
		retag[vocab.TagClusterARN] = res.Cluster.ARN // a role of an earlier version learns its cluster's ARN
	}
	if len(o.Role.Tags)+len(retag) > vocab.MaxRoleTags {
		delete(retag, vocab.TagStages+"/"+n.BindingID)
	}
	c.Notes = []string{size}
	op.Tags = retag
	if old, ok := o.Role.Tags[targetKey]; ok && r.AssumeRoleARN == "" {
		// The binding assumes no role any more: doctor must not keep checking the old one.
		op.Untag = []string{targetKey}
		c.Notes = append(c.Notes, fmt.Sprintf("untag %s (was %s): the stages assume no other role now", targetKey, old))
	}
	guarded, err := roleGuardrails(res, o.Role, c, &op)
	if err != nil {
		return nil, err
	}
	retag = op.Tags
	if !trustChanged && len(retag) == 0 && !guarded && len(op.Untag) == 0 {
		c.Action = plan.Unchanged
		return c, nil
	}
	c.Action = plan.Update
	if trustChanged {
		c.Notes = append([]string{want.admits}, c.Notes...)
		op.Update = true
	}
	c.Notes = append(c.Notes, tagNotes(o.Role.Tags, retag)...)
	c.Op = op
	return c, nil
}

// trustWant is the trust a role must have for the binding, and how the plan says so.
type trustWant struct {
	trust   *iampolicy.Policy
	changed bool
	edit    TrustEdit
	// trusts (a new role), admits (a changed trust) and size are the plan's notes.
	trusts, admits, size string
}

// wantTrust is the binding's trust, edited from the role's (nil: a new role) for the request's mechanism.
func wantTrust(res *Result, existing *iampolicy.Policy) (trustWant, error) {
	if res.Request.podIdentityMode() {
		return podIdentityTrust(res, existing)
	}
	n, r := res.Names, res.Request
	subject := vocab.Subject(r.Namespace, r.ServiceAccount)
	req := iampolicy.WebIdentityRequest(n.ProviderARN, n.IssuerHostPath, subject, res.Audience)
	if r.SubjectPattern != "" {
		return patternTrust(res, existing)
	}
	if pat := iampolicy.MatchingPattern(iampolicy.SubjectPatterns(existing, n.ProviderARN, n.IssuerHostPath), subject); pat != "" && iampolicy.Evaluate(req, existing).Allowed() {
		// A role for many ServiceAccounts: its pattern admits this one already, and naming it too would
		// only grow the trust.
		return trustWant{trust: existing.Clone(), edit: AdmitWebIdentity{Provider: n.ProviderARN, Host: n.IssuerHostPath, Subject: subject, Audience: res.Audience},
			size: fmt.Sprintf("trust policy: %d of %d characters; admits %s through the pattern %s", existing.Size(), r.trustLimit(), subject, pat)}, nil
	}
	trust, changed := iampolicy.AdmitSubject(existing, n.ProviderARN, n.IssuerHostPath, subject, res.Audience)
	if d := iampolicy.Evaluate(req, trust); !d.Allowed() {
		return trustWant{}, fmt.Errorf("IAM role %s's trust policy would still not admit ServiceAccount %s/%s: %s; bind adds Allow statements but never removes or changes another statement, so change that one by hand (aws iam update-assume-role-policy) or use another role",
			n.RoleName, r.Namespace, r.ServiceAccount, d)
	}
	subjects := iampolicy.WebIdentitySubjects(trust, n.ProviderARN, n.IssuerHostPath)
	if err := trustFits(res, trust, subjects); err != nil {
		return trustWant{}, err
	}
	return trustWant{trust: trust, changed: changed,
		edit:   AdmitWebIdentity{Provider: n.ProviderARN, Host: n.IssuerHostPath, Subject: subject, Audience: res.Audience},
		trusts: "trusts " + n.ProviderARN + " for " + subject,
		admits: "admits " + subject + "; every other statement and subject stays",
		size:   fmt.Sprintf("trust policy: %d of %d characters; admits %d ServiceAccount(s) of this cluster by name", trust.Size(), r.trustLimit(), len(subjects)),
	}, nil
}

// patternTrust is the trust with --subject-pattern's statement merged in (every other statement stays).
func patternTrust(res *Result, existing *iampolicy.Policy) (trustWant, error) {
	n, r := res.Names, res.Request
	subject := vocab.Subject(r.Namespace, r.ServiceAccount)
	trust, changed := iampolicy.AdmitSubjectPattern(existing, n.ProviderARN, n.IssuerHostPath, r.SubjectPattern, res.Audience)
	if d := iampolicy.Evaluate(iampolicy.WebIdentityRequest(n.ProviderARN, n.IssuerHostPath, subject, res.Audience), trust); !d.Allowed() {
		return trustWant{}, fmt.Errorf("IAM role %s's trust policy would still not admit ServiceAccount %s/%s: %s; bind adds Allow statements but never removes or changes another statement, so change that one by hand (aws iam update-assume-role-policy) or use another role",
			n.RoleName, r.Namespace, r.ServiceAccount, d)
	}
	if size, limit := trust.Size(), r.trustLimit(); size > limit {
		return trustWant{}, &FlagError{Flag: "--subject-pattern", Value: r.SubjectPattern, Rule: fmt.Sprintf("its statement would make role %s's trust policy %d characters long, over the account's quota of %d", n.RoleName, size, limit)}
	}
	admitted := fmt.Sprintf("admits %d existing ServiceAccount(s) today", len(res.Observed.PatternAdmits))
	if len(res.Observed.PatternAdmits) > 0 {
		admitted += ": " + strings.Join(res.Observed.PatternAdmits, ", ")
	}
	return trustWant{trust: trust, changed: changed,
		edit:   AdmitWebIdentityPattern{Provider: n.ProviderARN, Host: n.IssuerHostPath, Pattern: r.SubjectPattern, Audience: res.Audience},
		trusts: "trusts " + n.ProviderARN + " for every ServiceAccount matching " + r.SubjectPattern + " (StringLike on :sub)",
		admits: "admits every ServiceAccount matching " + r.SubjectPattern + " (StringLike on :sub); every other statement and subject stays",
		size:   fmt.Sprintf("trust policy: %d of %d characters; the pattern %s", trust.Size(), r.trustLimit(), admitted),
	}, nil
}

// trustFits refuses a trust policy over the account's quota, before anything is written, with how many
// ServiceAccounts fit and the two ways out.
func trustFits(res *Result, trust *iampolicy.Policy, subjects []string) error {
	limit := res.Request.trustLimit()
	size := trust.Size()
	if size <= limit {
		return nil
	}
	subject := vocab.Subject(res.Request.Namespace, res.Request.ServiceAccount)
	each := len(subject) + 3 // the quoted subject and a comma
	fit := len(subjects) - 1 - (size-limit+each-1)/each
	if fit < 0 {
		fit = 0
	}
	more := ""
	if limit < vocab.MaxTrustPolicyRaised {
		more = fmt.Sprintf(", or have the account's role trust policy length quota raised (IAM allows up to %d) and pass --trust-policy-limit", vocab.MaxTrustPolicyRaised)
	}
	return fmt.Errorf("admitting ServiceAccount %s/%s would make role %s's trust policy %d characters, over the %d IAM allows (each ServiceAccount of this length costs about %d; about %d fit in this role as it is): give this ServiceAccount a role of its own (leave out --role-name: per-ServiceAccount roles are the default)%s",
		res.Request.Namespace, res.Request.ServiceAccount, res.Names.RoleName, size, limit, each, fit, more)
}

// attachmentChanges: the bind's own policy and every --attach-policy-arn attached to the role. Policies
// attached by others stay attached.
func attachmentChanges(res *Result) ([]*plan.Change, error) {
	n, r, o := res.Names, res.Request, res.Observed
	arns := slices.Clone(r.AttachPolicyARNs)
	if n.PolicyARN != "" {
		arns = append([]string{n.PolicyARN}, arns...)
	}
	var out []*plan.Change
	attached := 0
	if o.Role != nil {
		attached = len(o.Role.Attached)
	}
	for _, a := range arns {
		c := &plan.Change{ID: "attach:" + a, Kind: KindAttachment, Name: n.RoleName + " <- " + a, Deps: []string{"role"}}
		if a == n.PolicyARN {
			c.Deps = append(c.Deps, "policy")
		}
		if o.Role != nil && slices.Contains(o.Role.Attached, a) {
			c.Action = plan.Unchanged
		} else {
			c.Action = plan.Create
			c.Op = attachPolicy{Role: n.RoleName, PolicyARN: a}
			attached++
		}
		out = append(out, c)
	}
	if attached > vocab.MaxAttachedPolicies {
		return nil, fmt.Errorf("role %s would have %d managed policies attached, over IAM's default quota of %d: attach fewer with --attach-policy-arn, or bind this ServiceAccount to a role of its own (leave out --role-name)",
			n.RoleName, attached, vocab.MaxAttachedPolicies)
	}
	return out, nil
}

// otherClusterOf names another cluster whose bindings share a role, from what the role says: its ownership
// tags (the cluster that made it), or a web identity statement of another cluster's OIDC provider; "" when
// nothing says so.
func otherClusterOf(res *Result, tags map[string]string, trust *iampolicy.Policy) string {
	c := res.Cluster
	switch {
	case tags[vocab.TagClusterARN] != "" && c.ARN != "" && tags[vocab.TagClusterARN] != c.ARN:
		return "cluster " + tags[vocab.TagClusterARN]
	case tags[vocab.TagClusterARN] == "" && tags[vocab.TagCluster] != "" && tags[vocab.TagCluster] != c.Name:
		return "cluster " + tags[vocab.TagCluster]
	}
	if trust == nil || res.Names.ProviderARN == "" {
		return ""
	}
	for _, st := range trust.Statements {
		if st.Principal == nil {
			continue
		}
		for _, p := range st.Principal.Values["Federated"] {
			if strings.Contains(p, ":oidc-provider/") && p != res.Names.ProviderARN {
				return "the cluster of OIDC provider " + p
			}
		}
	}
	return ""
}
