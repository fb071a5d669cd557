package bind

// The end state of a bind plan, as pkg/gitops renders it for a controller: the resources bind would create
// or change, each whole (an existing role's merged trust, all its attached policies and tags; a policy's new
// default document), read from the plan's operations and what was observed. Pure, as the planner is.

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/gitops"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iamread"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/plan"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// Desired is what the plan of res makes true, for gitops. Resources the plan leaves unchanged are left out,
// except a role whose attachments change (its whole list is its desired state).
func (res *Result) Desired() (*gitops.Desired, error) {
	r, o, n := res.Request, res.Observed, res.Names
	d := &gitops.Desired{Cluster: res.Cluster.Name, Namespace: r.Namespace, ServiceAccount: r.ServiceAccount}
	own := &gitops.Account{ID: n.Account}
	var target *gitops.Account
	if t := o.Target; t != nil && t.Managed {
		target = &gitops.Account{ID: t.Parsed.Account}
	}
	roles := map[string]*gitops.Role{} // by account and name
	role := func(acct *gitops.Account, name string, observed *iamread.Role) *gitops.Role {
		key := acct.ID + " " + name
		if x, ok := roles[key]; ok {
			return x
		}
		x := &gitops.Role{Name: name, Path: "/"}
		if observed != nil {
			x.Exists, x.ARN, x.Trust = true, observed.ARN, observed.Trust
			x.Path = pathOfARN(observed.ARN, "role/")
			x.Description, x.MaxSessionDuration, x.Boundary = observed.Description, observed.MaxSessionDuration, observed.BoundaryARN
			x.Policies = slices.Clone(observed.Attached)
			x.Tags = maps.Clone(observed.Tags)
		}
		roles[key] = x
		return x
	}
	var roleOrder []string
	touch := func(acct *gitops.Account, name string, observed *iamread.Role) *gitops.Role {
		key := acct.ID + " " + name
		if !slices.Contains(roleOrder, key) {
			roleOrder = append(roleOrder, key)
		}
		return role(acct, name, observed)
	}
	for _, c := range res.Plan.Changes {
		if c.Action == plan.Unchanged {
			continue
		}
		acct, op, observedRole := own, c.Op, o.Role
		if in, ok := op.(inTarget); ok {
			if target == nil {
				return nil, fmt.Errorf("plan: a change in the target account without --target-profile (%s %s)", c.Kind, c.Name)
			}
			acct, op, observedRole = target, in.Op, o.Target.Role
		}
		switch op := op.(type) {
		case createProvider:
			own.Provider = &gitops.Provider{ARN: n.ProviderARN, URL: op.URL, ClientIDs: op.ClientIDs, Thumbprints: op.Thumbprints, Tags: op.Tags}
		case addClientID, tagProvider, providerWrites:
			p := o.Provider
			own.Provider = &gitops.Provider{ARN: p.ARN, URL: res.Cluster.Issuer, ClientIDs: slices.Clone(p.ClientIDs), Thumbprints: p.Thumbprints,
				Tags: maps.Clone(p.Tags), Exists: true}
			if !slices.Contains(p.ClientIDs, res.Audience) {
				own.Provider.ClientIDs = append(own.Provider.ClientIDs, res.Audience)
			}
			if w, ok := op.(providerWrites); ok && w.Tags != nil {
				op = *w.Tags
			}
			if t, ok := op.(tagProvider); ok {
				own.Provider.Tags = withTags(own.Provider.Tags, t.Tags, nil)
			}
		case writePolicy:
			doc, err := iampolicy.Parse([]byte(c.After))
			if err != nil {
				return nil, fmt.Errorf("the plan's document of %s: %w", op.ARN, err)
			}
			observed := o.Policy
			if acct == target {
				observed = o.Target.Policy
			}
			p := gitops.Policy{ARN: op.ARN, Name: op.Name, Path: pathOr(op.Path), Description: op.Description, Document: doc, Tags: op.Tags, Exists: !op.Create}
			if !op.Create && observed != nil {
				p.Path, p.Tags = pathOfARN(observed.ARN, "policy/"), withTags(observed.Tags, op.Retag, nil)
			}
			acct.Policies = append(acct.Policies, p)
		case tagPolicy:
			observed := o.Policy
			if acct == target {
				observed = o.Target.Policy
			}
			name := observed.ARN[strings.LastIndex(observed.ARN, "/")+1:]
			acct.Policies = append(acct.Policies, gitops.Policy{ARN: observed.ARN, Name: name, Path: pathOfARN(observed.ARN, "policy/"),
				Document: observed.Document, Tags: withTags(observed.Tags, op.Tags, nil), Exists: true})
		case writeTrust:
			x := touch(acct, op.Role, observedRole)
			trust, err := iampolicy.Parse([]byte(c.After))
			if err != nil {
				return nil, fmt.Errorf("the plan's trust of role %s: %w", op.Role, err)
			}
			x.Trust = trust
			if cr := op.Create; cr != nil {
				x.Path, x.Description, x.MaxSessionDuration, x.Boundary = pathOr(cr.Path), cr.Description, cr.MaxSessionDuration, cr.Boundary
				x.Tags = withTags(cr.Tags, op.Tags, nil)
				x.ARN = fmt.Sprintf("arn:%s:iam::%s:role%s%s", n.Partition, acct.ID, x.Path, x.Name)
				continue
			}
			x.Tags = withTags(x.Tags, op.Tags, op.Untag)
			if op.Boundary != "" {
				x.Boundary = op.Boundary
			}
			if s := op.Settings; s != nil {
				x.Description, x.MaxSessionDuration = s.Description, s.MaxSessionDuration
			}
		case attachPolicy:
			x := touch(acct, op.Role, observedRole)
			if !slices.Contains(x.Policies, op.PolicyARN) {
				x.Policies = append(x.Policies, op.PolicyARN)
			}
		case createAssociation:
			own.Associations = append(own.Associations, gitops.Association{Cluster: op.Cluster, Namespace: op.Namespace, ServiceAccount: op.ServiceAccount,
				RoleARN: op.RoleARN, Tags: op.Tags})
		case updateAssociation:
			a := o.Association
			own.Associations = append(own.Associations, gitops.Association{Cluster: op.Cluster, Namespace: a.Namespace, ServiceAccount: a.ServiceAccount,
				RoleARN: op.RoleARN, Tags: a.Tags, Exists: true})
		case createNamespace:
			d.Kube = append(d.Kube, gitops.KubeObject{What: "Namespace " + op.Name + ": kubectl-sdc would create it.",
				Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": op.Name}}})
		case applyServiceAccount:
			d.Kube = append(d.Kube, gitops.KubeObject{What: "ServiceAccount " + r.Namespace + "/" + r.ServiceAccount + ": " + serviceAccountWhat(r) + ".", Fields: true,
				Object: op.Config})
		case applyDeployment:
			d.Kube = append(d.Kube, gitops.KubeObject{What: "Deployment " + r.Namespace + "/" + *op.Config.Name + ": the pod spec's ServiceAccount and fsGroup.", Fields: true,
				Object: op.Config})
		case restartDeployment:
			d.Restarts = append(d.Restarts, op.Namespace+"/"+op.Name)
		default:
			return nil, fmt.Errorf("%s %s: a %T has no GitOps form", c.Kind, c.Name, op)
		}
	}
	for _, key := range roleOrder {
		id, _, _ := strings.Cut(key, " ")
		acct := own
		if target != nil && id == target.ID {
			acct = target
		}
		x := roles[key]
		if x.ARN == "" {
			x.ARN = n.RoleARN
		}
		acct.Roles = append(acct.Roles, *x)
	}
	d.Accounts = []gitops.Account{*own}
	if target != nil {
		d.Accounts = append(d.Accounts, *target)
	}
	return d, nil
}

// withTags is m with add's entries and without drop's keys, as a new map.
func withTags(m, add map[string]string, drop []string) map[string]string {
	out := maps.Clone(m)
	if out == nil {
		out = map[string]string{}
	}
	maps.Copy(out, add)
	for _, k := range drop {
		delete(out, k)
	}
	return out
}

// pathOfARN is the path of an IAM ARN ("/" when it has none); kind is "role/" or "policy/".
func pathOfARN(arn, kind string) string {
	_, rest, ok := strings.Cut(arn, ":"+kind)
	if !ok {
		return "/"
	}
	i := strings.LastIndex(rest, "/")
	if i < 0 {
		return "/"
	}
	return "/" + rest[:i+1]
}

func pathOr(p string) string {
	if p == "" {
		return "/"
	}
	return p
}

// serviceAccountWhat says what the ServiceAccount's fields do, for the comment above it.
func serviceAccountWhat(r *Request) string {
	if r.podIdentityMode() {
		return "no annotation: EKS Pod Identity needs none"
	}
	return "the " + vocab.RoleARNAnnotation + " annotation"
}
