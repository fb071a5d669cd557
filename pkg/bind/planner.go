package bind

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	applyappsv1 "k8s.io/client-go/applyconfigurations/apps/v1"
	applycorev1 "k8s.io/client-go/applyconfigurations/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/catalog"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/cluster"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/controlhub"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/grant"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/manifest"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/plan"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// Change kinds, as the plan and `-o json` name them.
const (
	KindProvider   = "IAM OIDC provider"
	KindPolicy     = "IAM policy"
	KindRole       = "IAM role"
	KindAttachment = "IAM role policy attachment"
	KindNamespace  = "Namespace"
	KindSA         = "ServiceAccount"
	KindDeployment = "Deployment"
	KindRestart    = "Deployment restart"
)

// Plan computes every change that makes the request true of the observed state. It is a pure function:
// it reads nothing, writes nothing and changes neither r nor o; each change carries the operation that
// Apply performs. With --mechanism pod-identity it refuses a cluster without the Pod Identity agent and SDC
// images that cannot use Pod Identity (unless --force), before anything is written.
func Plan(r *Request, o *Observed) (*Result, error) {
	res, err := planAll(r, o)
	if err != nil {
		return nil, err
	}
	if len(res.Refusals) > 0 {
		return nil, refused(res.Refusals, "kubectl sdc bind ...")
	}
	return res, nil
}

// planAll is Plan that keeps the image refusals in the result (migrate lists them for every
// ServiceAccount before it refuses).
func planAll(r *Request, o *Observed) (*Result, error) {
	res := &Result{Request: r, Observed: o, Cluster: o.Cluster, Identity: o.Identity, Names: o.Names,
		Audience: audienceFor(r, o.ServiceAccount)}
	if o.Role != nil && o.Role.ARN != "" {
		res.Names.RoleARN = o.Role.ARN // with its path, as IAM has it
	}
	if err := checkBoundary(res); err != nil {
		return nil, err
	}
	res.Warnings = append(res.Warnings, pathWarnings(res)...)
	pod := r.podIdentityMode()
	if pod {
		if err := checkAgent(res); err != nil {
			return nil, err
		}
	}
	p := &plan.Plan{}
	add := func(c *plan.Change) { p.Changes = append(p.Changes, c) }

	if !pod {
		prov, err := providerChange(res)
		if err != nil {
			return nil, err
		}
		add(prov)
	}
	var targetPolicy *iampolicy.Policy // the stages' permissions, where the stages assume a role
	if r.ownPolicy() {
		desired, sel, err := desiredPolicy(r, o)
		if err != nil {
			return nil, err
		}
		res.Selection = sel
		if r.AssumeRoleARN != "" {
			targetPolicy, desired = desired, assumeRolePolicy(r.AssumeRoleARN)
		}
		c, err := policyChange(res, desired)
		if err != nil {
			return nil, err
		}
		add(c)
	}
	role, err := roleChange(res)
	if err != nil {
		return nil, err
	}
	add(role)
	attachments, err := attachmentChanges(res)
	if err != nil {
		return nil, err
	}
	for _, c := range attachments {
		add(c)
	}
	if r.AssumeRoleARN != "" {
		targets, err := targetChanges(res, targetPolicy)
		if err != nil {
			return nil, err
		}
		for _, c := range targets {
			add(c)
		}
		if len(targets) > 0 {
			accountNotes(res, p.Changes)
		}
	}
	add(namespaceChange(res))
	var sa, assoc *plan.Change
	if pod {
		assoc = associationChange(res)
		add(assoc)
		sa = podIdentityServiceAccountChange(res)
	} else {
		sa = serviceAccountChange(res)
	}
	add(sa)
	var deploy *plan.Change
	if r.Deployment != "" {
		d, err := deploymentChange(res)
		if err != nil {
			return nil, err
		}
		if d != nil {
			add(d)
		}
		deploy = d
		if !pod {
			if c := restartChange(res, sa, d); c != nil {
				add(c)
			}
		}
	}
	if pod {
		var restarts []string
		for _, c := range podIdentityRestarts(res, assoc, deploy) {
			add(c)
			restarts = append(restarts, c.ID)
		}
		if deploy != nil && deploy.Action != plan.Unchanged {
			restarts = append(restarts, deploy.ID)
		}
		if c := revokeIRSAChange(res, role, restarts); c != nil {
			add(c)
		}
		checkImages(res)
	}
	res.Plan = p
	if err := checkOps(p); err != nil {
		return nil, err
	}
	return res, nil
}

// audienceFor is the audience the ServiceAccount's tokens carry: the request's when given, else the
// ServiceAccount's eks.amazonaws.com/audience annotation, else sts.amazonaws.com. doctor judges the trust
// with the same rule (its Target.Audience), so the two agree about one ServiceAccount.
func audienceFor(r *Request, sa *corev1.ServiceAccount) string {
	if r.Audience != "" {
		return r.Audience
	}
	if sa != nil && sa.Annotations[vocab.AudienceAnnotation] != "" {
		return sa.Annotations[vocab.AudienceAnnotation]
	}
	return vocab.DefaultAudience
}

// desiredPolicy is the permissions the request grants (stages or a policy file; nil for neither), in the
// account where they apply: the binding's, or with --assume-role-arn the target role's.
func desiredPolicy(r *Request, o *Observed) (*iampolicy.Policy, catalog.Selection, error) {
	if r.PolicyDocument != nil {
		return r.PolicyDocument, catalog.Selection{}, nil
	}
	if !r.grants() {
		return nil, catalog.Selection{}, nil
	}
	region := o.Cluster.Region
	if region == "" {
		region = o.Region
	}
	account := o.Names.Account
	if p, ok := vocab.ParseRoleARN(r.AssumeRoleARN); ok {
		account = p.Account
	}
	doc, sel, err := r.Catalog.Render(r.Selection, catalog.Target{Partition: o.Names.Partition, Region: region, Account: account})
	if err != nil {
		return nil, sel, err
	}
	p, err := iampolicy.Parse(doc)
	if err != nil {
		return nil, sel, fmt.Errorf("the catalog rendered an invalid policy: %w", err)
	}
	return p, sel, p.Validate(iampolicy.Identity)
}

func indentJSON(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b) + "\n"
}

func toYAML(v any) string {
	b, err := yaml.Marshal(v)
	if err != nil {
		return fmt.Sprintf("# %v\n", err)
	}
	return string(b)
}

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

// ownerOf is owner for the binding of namespace/serviceAccount in cluster c.
func ownerOf(tags map[string]string, c *cluster.Cluster, namespace, serviceAccount string) string {
	if tags[vocab.ManagedByKey] != vocab.ManagedByValue {
		return ""
	}
	ns, sa := tags[vocab.TagNamespace], tags[vocab.TagServiceAccount]
	otherCluster := tags[vocab.TagClusterARN] != "" && c.ARN != "" && tags[vocab.TagClusterARN] != c.ARN ||
		tags[vocab.TagCluster] != "" && tags[vocab.TagCluster] != c.Name
	if ns == "" && sa == "" && !otherCluster {
		return ""
	}
	if !otherCluster && ns == namespace && sa == serviceAccount {
		return ""
	}
	cl := tags[vocab.TagClusterARN]
	if cl == "" {
		cl = tags[vocab.TagCluster]
	}
	return fmt.Sprintf("ServiceAccount %s/%s of cluster %s", ns, sa, cl)
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
	if o.Policy == nil {
		op.Create = true
		c.Action, c.Op = plan.Create, op
		return c, nil
	}
	c.Before = string(current.Canonical())
	retag := userTagChanges(res, o.Policy.Tags)
	if !changed && len(retag) == 0 {
		c.Action = plan.Unchanged
		return c, nil
	}
	c.Action = plan.Update
	c.Notes = append(c.Notes, tagNotes(o.Policy.Tags, retag)...)
	if !changed {
		c.Op = tagPolicy{ARN: n.PolicyARN, Tags: retag}
		return c, nil
	}
	c.Notes = append([]string{fmt.Sprintf("a new default version (%s stays as the previous one); other bindings' statements stay", o.Policy.DefaultVersion)}, c.Notes...)
	op.Retag = retag
	c.Op = op
	return c, nil
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
	trust, changed := iampolicy.AdmitSubject(existing, n.ProviderARN, n.IssuerHostPath, subject, res.Audience)
	req := iampolicy.WebIdentityRequest(n.ProviderARN, n.IssuerHostPath, subject, res.Audience)
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
