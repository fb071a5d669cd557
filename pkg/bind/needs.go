package bind

// What each operation needs the caller to be allowed, as data: the AWS action on its resource with the
// condition keys the request carries (the keys IAM evaluates: aws:RequestTag/*, aws:TagKeys,
// aws:ResourceTag/* of an existing resource, iam:PermissionsBoundary, iam:PolicyARN, iam:PassedToService),
// or the Kubernetes verb on its resource. The preflight (preflight.go) asks IAM's policy simulator and
// Kubernetes' SelfSubjectAccessReview about them before anything is written.

import (
	"sort"
	"strings"

	authorizationv1 "k8s.io/api/authorization/v1"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/cluster"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/eksread"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iamread"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// need is one permission a write needs: an AWS action on a resource (Action, Resource, Context), or a
// Kubernetes verb (Kube).
type need struct {
	Action   string // e.g. "iam:CreateRole"
	Resource string // its ARN
	Context  map[string][]string
	// Target: asked of --target-profile's identity, in the account of the role the stages assume.
	Target bool
	Kube   *authorizationv1.ResourceAttributes
}

// String says the need as a refusal names it: "iam:CreateRole on arn:..." or "create namespaces".
func (n need) String() string {
	if k := n.Kube; k != nil {
		s := k.Verb + " " + k.Resource
		if k.Group != "" {
			s += "." + k.Group
		}
		if k.Name != "" {
			s += " " + k.Name
		}
		if k.Namespace != "" {
			s += " in namespace " + k.Namespace
		}
		return s
	}
	s := n.Action + " on " + n.Resource
	if b := n.Context["iam:PermissionsBoundary"]; len(b) > 0 {
		s += " with permissions boundary " + b[0]
	}
	if p := n.Context["iam:PolicyARN"]; len(p) > 0 {
		s += " (policy " + p[0] + ")"
	}
	return s
}

// permFacts name the resources of a plan's needs: the account and partition its IAM writes go to, the
// cluster, and what was observed of existing resources (a role's ARN with its path, every resource's tags).
type permFacts struct {
	Partition, Account string
	Cluster            *cluster.Cluster
	// Region is where the EKS calls go (the cluster's).
	Region    string
	RoleARNs  map[string]string            // role name → ARN, as IAM shows it
	AssocARNs map[string]string            // association ID → ARN, as EKS shows it
	Tags      map[string]map[string]string // ARN → the resource's tags
	// Target names the resources of the account of the role the stages assume; nil without one.
	Target *permFacts
}

func (f *permFacts) roleARN(name, path string) string {
	if arn, ok := f.RoleARNs[name]; ok {
		return arn
	}
	if path == "" {
		path = "/"
	}
	return "arn:" + f.Partition + ":iam::" + f.Account + ":role" + path + name
}

func (f *permFacts) clusterARN(name string) string {
	if f.Cluster != nil && f.Cluster.Name == name && f.Cluster.ARN != "" {
		return f.Cluster.ARN
	}
	return "arn:" + f.Partition + ":eks:" + f.Region + ":" + f.Account + ":cluster/" + name
}

func (f *permFacts) associationARN(clusterName, id string) string {
	if arn, ok := f.AssocARNs[id]; ok {
		return arn
	}
	return "arn:" + f.Partition + ":eks:" + f.Region + ":" + f.Account + ":podidentityassociation/" + clusterName + "/" + id
}

// on is a need of action on an existing resource: its tags are aws:ResourceTag/* keys of the request.
func (f *permFacts) on(action, arn string, ctx map[string][]string) need {
	c := map[string][]string{}
	for k, v := range f.Tags[arn] {
		c["aws:ResourceTag/"+k] = []string{v}
	}
	for k, v := range ctx {
		c[k] = v
	}
	return need{Action: action, Resource: arn, Context: c}
}

// tagging is the context of a request that carries tags: aws:RequestTag/<key> and aws:TagKeys.
func tagging(tags map[string]string) map[string][]string {
	if len(tags) == 0 {
		return nil
	}
	c := map[string][]string{}
	keys := make([]string, 0, len(tags))
	for k, v := range tags {
		c["aws:RequestTag/"+k] = []string{v}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	c["aws:TagKeys"] = keys
	return c
}

// merged is a context with another's keys added.
func merged(a, b map[string][]string) map[string][]string {
	c := map[string][]string{}
	for k, v := range a {
		c[k] = v
	}
	for k, v := range b {
		c[k] = v
	}
	return c
}

func kubeNeed(verb, group, resource, namespace, name string) need {
	return need{Kube: &authorizationv1.ResourceAttributes{Verb: verb, Group: group, Resource: resource, Namespace: namespace, Name: name}}
}

func (op createProvider) needs(f *permFacts) []need {
	arn := "arn:" + f.Partition + ":iam::" + f.Account + ":oidc-provider/" + strings.TrimPrefix(op.URL, "https://")
	out := []need{{Action: "iam:CreateOpenIDConnectProvider", Resource: arn, Context: tagging(op.Tags)}}
	if len(op.Tags) > 0 { // IAM asks for the tagging permission too when a create carries tags
		out = append(out, need{Action: "iam:TagOpenIDConnectProvider", Resource: arn, Context: tagging(op.Tags)})
	}
	return out
}

func (op addClientID) needs(f *permFacts) []need {
	return []need{f.on("iam:AddClientIDToOpenIDConnectProvider", op.ProviderARN, nil)}
}

func (op tagProvider) needs(f *permFacts) []need {
	return []need{f.on("iam:TagOpenIDConnectProvider", op.ARN, tagging(op.Tags))}
}

func (op providerWrites) needs(f *permFacts) []need {
	var out []need
	if op.ClientID != nil {
		out = append(out, op.ClientID.needs(f)...)
	}
	if op.Tags != nil {
		out = append(out, op.Tags.needs(f)...)
	}
	return out
}

func (op writeTrust) needs(f *permFacts) []need {
	var out []need
	if c := op.Create; c != nil {
		arn := f.roleARN(c.Name, c.Path)
		ctx := tagging(c.Tags)
		if c.Boundary != "" {
			ctx = merged(ctx, map[string][]string{"iam:PermissionsBoundary": {c.Boundary}})
		}
		out = append(out, need{Action: "iam:CreateRole", Resource: arn, Context: ctx})
		if len(c.Tags) > 0 {
			out = append(out, need{Action: "iam:TagRole", Resource: arn, Context: tagging(c.Tags)})
		}
		return out
	}
	arn := f.roleARN(op.Role, "")
	if op.Update {
		out = append(out, f.on("iam:UpdateAssumeRolePolicy", arn, nil))
	}
	if len(op.Tags) > 0 {
		out = append(out, f.on("iam:TagRole", arn, tagging(op.Tags)))
	}
	if len(op.Untag) > 0 {
		keys := append([]string(nil), op.Untag...)
		sort.Strings(keys)
		out = append(out, f.on("iam:UntagRole", arn, map[string][]string{"aws:TagKeys": keys}))
	}
	if op.Boundary != "" {
		out = append(out, f.on("iam:PutRolePermissionsBoundary", arn, map[string][]string{"iam:PermissionsBoundary": {op.Boundary}}))
	}
	if op.Settings != nil {
		out = append(out, f.on("iam:UpdateRole", arn, nil))
	}
	return out
}

func (op writePolicy) needs(f *permFacts) []need {
	var out []need
	if op.Create {
		out = append(out, need{Action: "iam:CreatePolicy", Resource: op.ARN, Context: tagging(op.Tags)})
		if len(op.Tags) > 0 {
			out = append(out, need{Action: "iam:TagPolicy", Resource: op.ARN, Context: tagging(op.Tags)})
		}
	} else {
		out = append(out, f.on("iam:ListPolicyVersions", op.ARN, nil), f.on("iam:CreatePolicyVersion", op.ARN, nil))
	}
	if len(op.Retag) > 0 {
		out = append(out, f.on("iam:TagPolicy", op.ARN, tagging(op.Retag)))
	}
	return out
}

func (op attachPolicy) needs(f *permFacts) []need {
	return []need{f.on("iam:AttachRolePolicy", f.roleARN(op.Role, ""), map[string][]string{"iam:PolicyARN": {op.PolicyARN}})}
}

func (op tagPolicy) needs(f *permFacts) []need {
	if len(op.Tags) == 0 {
		return nil
	}
	return []need{f.on("iam:TagPolicy", op.ARN, tagging(op.Tags))}
}

func (op inTarget) needs(f *permFacts) []need {
	t := f.Target
	if t == nil {
		t = f
	}
	out := op.Op.needs(t)
	for i := range out {
		out[i].Target = true
	}
	return out
}

// passRole is what EKS asks of whoever creates or updates an association: iam:PassRole of its role to
// pods.eks.amazonaws.com.
func (f *permFacts) passRole(roleARN string) need {
	return f.on("iam:PassRole", roleARN, map[string][]string{"iam:PassedToService": {vocab.PodIdentityService}})
}

func (op createAssociation) needs(f *permFacts) []need {
	return []need{
		{Action: "eks:CreatePodIdentityAssociation", Resource: f.clusterARN(op.Cluster), Context: tagging(op.Tags)},
		f.passRole(op.RoleARN),
	}
}

func (op updateAssociation) needs(f *permFacts) []need {
	return []need{f.on("eks:UpdatePodIdentityAssociation", f.associationARN(op.Cluster, op.ID), nil), f.passRole(op.RoleARN)}
}

func (op deleteAssociation) needs(f *permFacts) []need {
	return []need{f.on("eks:DeletePodIdentityAssociation", f.associationARN(op.Cluster, op.ID), nil)}
}

func (op detachPolicy) needs(f *permFacts) []need {
	return []need{f.on("iam:DetachRolePolicy", f.roleARN(op.Role, ""), map[string][]string{"iam:PolicyARN": {op.PolicyARN}})}
}

func (op deleteRole) needs(f *permFacts) []need {
	return []need{f.on("iam:DeleteRole", f.roleARN(op.Name, ""), nil)}
}

func (op removeGrant) needs(f *permFacts) []need {
	return []need{f.on("iam:ListPolicyVersions", op.ARN, nil), f.on("iam:CreatePolicyVersion", op.ARN, nil)}
}

func (op deletePolicy) needs(f *permFacts) []need {
	out := []need{f.on("iam:DeletePolicy", op.ARN, nil)}
	if !op.OnlyVersion {
		out = append(out, f.on("iam:DeletePolicyVersion", op.ARN, nil))
	}
	return out
}

func (op deleteProvider) needs(f *permFacts) []need {
	return []need{f.on("iam:DeleteOpenIDConnectProvider", op.ARN, nil)}
}

func (op createNamespace) needs(*permFacts) []need {
	return []need{kubeNeed("create", "", "namespaces", "", "")}
}

func (op applyServiceAccount) needs(*permFacts) []need {
	return []need{kubeNeed("patch", "", "serviceaccounts", *op.Config.Namespace, *op.Config.Name)}
}

func (op applyDeployment) needs(*permFacts) []need {
	return []need{kubeNeed("patch", "apps", "deployments", *op.Config.Namespace, *op.Config.Name)}
}

func (op restartDeployment) needs(*permFacts) []need {
	return []need{kubeNeed("patch", "apps", "deployments", op.Namespace, op.Name)}
}

func (op deleteServiceAccount) needs(*permFacts) []need {
	return []need{kubeNeed("delete", "", "serviceaccounts", op.Namespace, op.Name)}
}

// factsOf collects what the needs are named from: the partition and account of the caller, the cluster,
// and the observed roles, policies, provider and association (ARN and tags).
func factsOf(c *cluster.Cluster, partition, account, region string, roles []*iamread.Role, policies []*iamread.Policy, provider *iamread.Provider, assoc []*eksread.Association) *permFacts {
	f := &permFacts{Partition: partition, Account: account, Cluster: c, Region: region, RoleARNs: map[string]string{}, AssocARNs: map[string]string{}, Tags: map[string]map[string]string{}}
	if f.Region == "" && c != nil {
		f.Region = c.Region
	}
	for _, r := range roles {
		if r != nil {
			f.RoleARNs[r.Name] = r.ARN
			f.Tags[r.ARN] = r.Tags
		}
	}
	for _, p := range policies {
		if p != nil {
			f.Tags[p.ARN] = p.Tags
		}
	}
	if provider != nil {
		f.Tags[provider.ARN] = provider.Tags
	}
	for _, a := range assoc {
		if a != nil && a.ARN != "" {
			f.AssocARNs[a.ID] = a.ARN
			f.Tags[a.ARN] = a.Tags
		}
	}
	return f
}

func (op withExternalID) needs(f *permFacts) []need { return op.Op.needs(f) }
