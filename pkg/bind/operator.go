package bind

import (
	"context"
	"slices"
	"strings"

	applycorev1 "k8s.io/client-go/applyconfigurations/core/v1"

	sdcaws "github.com/kubectl-sdc/kubectl-sdc/pkg/aws"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/cluster"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/plan"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// OperatorRights is what the caller may do with bind and unbind in a cluster, asked of IAM's policy
// simulator and Kubernetes' access reviews for the writes of a representative binding (the namespace and
// ServiceAccount given, bind's default names): each list holds what is missing, as need.String says it.
type OperatorRights struct {
	Principal string
	// Bind is what a bind without a permissions boundary misses; BindWithBoundary what one with Boundary
	// misses (bind-policy-boundary.json allows roles only with it); PodIdentity what a bind with
	// --mechanism pod-identity misses besides (nil on a cluster that is not EKS's); Unbind what an unbind of
	// what bind made misses.
	Bind, BindWithBoundary, PodIdentity, Unbind []string
	Boundary                                    string
	// Unchecked says why nothing could be asked ("" when it was).
	Unchecked string
	Calls     int
}

// OperatorRights asks what the caller (id) may do with bind and unbind in cluster c, for a binding of
// namespace/serviceAccount; boundary is the permissions boundary a bind would name (the organization's).
// It writes nothing.
func (b *Binder) OperatorRights(ctx context.Context, c *cluster.Cluster, id sdcaws.Identity, namespace, serviceAccount, boundary string) OperatorRights {
	out := OperatorRights{Principal: id.ARN, Boundary: boundary}
	n := NamesFor(&Request{Namespace: namespace, ServiceAccount: serviceAccount}, c, id, nil)
	n.PolicyName, n.PolicyARN = n.RoleName, vocab.PolicyARNAt(n.Partition, n.Account, n.RolePath, n.RoleName)
	managed := map[string]string{vocab.ManagedByKey: vocab.ManagedByValue}
	f := factsOf(c, n.Partition, n.Account, c.Region, nil, nil, nil, nil)
	for _, arn := range []string{n.RoleARN, n.PolicyARN, n.ProviderARN} {
		f.Tags[arn] = managed // bind tags what it makes, and unbind deletes only what carries the tag
	}
	sa := applyServiceAccountFor(namespace, serviceAccount)
	bindOps := []operation{
		createProvider{URL: c.Issuer, Tags: managed},
		writePolicy{ARN: n.PolicyARN, Name: n.PolicyName, Create: true, Tags: managed},
		writePolicy{ARN: n.PolicyARN, Name: n.PolicyName},
		writeTrust{Role: n.RoleName, Create: &createRole{Name: n.RoleName, Tags: managed}},
		writeTrust{Role: n.RoleName, Update: true},
		attachPolicy{Role: n.RoleName, PolicyARN: n.PolicyARN},
		createNamespace{Name: namespace},
		sa,
		restartDeployment{Namespace: namespace, Name: serviceAccount},
	}
	unbindOps := []operation{
		writeTrust{Role: n.RoleName, Update: true},
		detachPolicy{Role: n.RoleName, PolicyARN: n.PolicyARN},
		deleteRole{Name: n.RoleName},
		removeGrant{ARN: n.PolicyARN},
		deletePolicy{ARN: n.PolicyARN},
		sa,
		deleteServiceAccount{Namespace: namespace, Name: serviceAccount},
	}
	var podIdentityOps []operation
	if c.RequireEKS() == nil {
		podIdentityOps = append(podIdentityOps, createAssociation{Cluster: c.Name, Namespace: namespace, ServiceAccount: serviceAccount, RoleARN: n.RoleARN, Tags: managed})
	}
	withBoundary := []operation{writeTrust{Role: n.RoleName, Create: &createRole{Name: n.RoleName, Tags: managed, Boundary: boundary}}}
	// One plan holds them all, so that one check asks about every write; each list is read back by change.
	p := &plan.Plan{}
	add := func(ops []operation, kind string) {
		for _, op := range ops {
			p.Changes = append(p.Changes, &plan.Change{Kind: kind, Action: plan.Update, Op: op})
		}
	}
	add(bindOps, "bind")
	add(podIdentityOps, "pod identity")
	if boundary != "" {
		add(withBoundary, "bind with boundary")
	}
	add(unbindOps, "unbind")
	pf := b.preflight(ctx, p, f, principalOf(id, b.AWS), nil)
	out.Calls = pf.Calls
	if len(pf.Unchecked) > 0 {
		out.Unchecked = pf.Unchecked[0]
	}
	for _, ch := range p.Changes {
		for _, d := range ch.Denied {
			switch ch.Kind {
			case "bind":
				out.Bind = append(out.Bind, d)
			case "bind with boundary":
				out.BindWithBoundary = append(out.BindWithBoundary, d)
			case "pod identity":
				out.PodIdentity = append(out.PodIdentity, d)
			default:
				out.Unbind = append(out.Unbind, d)
			}
		}
	}
	// A bind with the boundary needs the rest of bind too: all but the role's creation without it.
	for _, d := range out.Bind {
		if !isCreateRoleWithoutBoundary(d) {
			out.BindWithBoundary = append(out.BindWithBoundary, d)
		}
	}
	for _, l := range []*[]string{&out.Bind, &out.BindWithBoundary, &out.PodIdentity, &out.Unbind} {
		slices.Sort(*l)
		*l = slices.Compact(*l)
	}
	return out
}

func applyServiceAccountFor(namespace, name string) applyServiceAccount {
	return applyServiceAccount{Config: applycorev1.ServiceAccount(name, namespace)}
}

// isCreateRoleWithoutBoundary tells a refusal of iam:CreateRole without a permissions boundary.
func isCreateRoleWithoutBoundary(denied string) bool {
	head, _, _ := strings.Cut(denied, ": ")
	return strings.HasPrefix(head, "iam:CreateRole on ") && !strings.Contains(head, " with permissions boundary ")
}
