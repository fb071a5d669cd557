package bind

import (
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/catalog"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
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
		if r.target() != "" {
			targetPolicy, desired = desired, chainPolicy(r)
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
	if r.target() != "" {
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
	if p, ok := vocab.ParseRoleARN(r.target()); ok {
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
