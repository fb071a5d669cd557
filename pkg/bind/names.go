package bind

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	sdcaws "github.com/kubectl-sdc/kubectl-sdc/pkg/aws"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/cluster"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

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

// namesRole reports whether a role annotation names the binding's role (by name in the caller's account;
// the path does not matter to IAM's names).
func namesRole(annotation string, n Names) bool {
	p, ok := vocab.ParseRoleARN(annotation)
	return ok && p.Account == n.Account && strings.EqualFold(p.Name, n.RoleName)
}

// NamesFor derives every name and ARN bind manages from the request, the cluster, the caller and the
// ServiceAccount as it is (nil when it does not exist). The role is --role-name's; else the one the
// ServiceAccount's annotation names, when that is a role of this account (so roles made by earlier
// versions, or named by hand, keep serving it); else vocab.DefaultName. The policy bind makes is
// --policy-name's, else named like the role: one policy per role, shared by the role's bindings. Both are
// at --role-path, else at the annotated role's path, else at "/".
func NamesFor(r *Request, c *cluster.Cluster, id sdcaws.Identity, sa *corev1.ServiceAccount) Names {
	n := Names{Partition: id.Partition, Account: id.Account}
	n.IssuerHostPath = vocab.IssuerHostPath(c.Issuer)
	n.ProviderARN = vocab.ProviderARN(n.Partition, n.Account, c.Issuer)
	n.BindingID = vocab.BindingID(vocab.ClusterKey(c.ARN, c.Issuer), r.Namespace, r.ServiceAccount)
	n.RolePath = r.Guardrails.RolePath
	switch annotated, ok := annotatedRole(sa, id); {
	case r.RoleName != "":
		n.RoleName, n.RoleSource = r.RoleName, RoleFromFlag
	case ok:
		return namesWithRole(r, n, annotated, RoleFromAnnotation)
	default:
		n.RoleName, n.RoleSource = vocab.DefaultName(c.Name, c.Region, r.Namespace, r.ServiceAccount, vocab.MaxRoleName), RoleByDefault
	}
	return withPolicyName(r, n)
}

// namesWithRole is n with the role p, found by source. A role that is gone is made again where p says,
// unless --role-path says where.
func namesWithRole(r *Request, n Names, p vocab.ParsedRoleARN, source string) Names {
	n.RoleName, n.RoleSource = p.Name, source
	if n.RolePath = r.Guardrails.RolePath; n.RolePath == "" {
		n.RolePath = p.Path
	}
	return withPolicyName(r, n)
}

// withPolicyName places the role at its path and names the policy bind makes: --policy-name's, else the
// role's, at the role's path.
func withPolicyName(r *Request, n Names) Names {
	if n.RolePath == "" {
		n.RolePath = "/"
	}
	// Where the role will be made; one found elsewhere (IAM finds roles by name) keeps its own ARN.
	n.RoleARN = vocab.RoleARNAt(n.Partition, n.Account, n.RolePath, n.RoleName)
	n.PolicyName, n.PolicyARN = "", ""
	if r.ownPolicy() {
		n.PolicyName = r.PolicyName
		if n.PolicyName == "" {
			n.PolicyName = n.RoleName
		}
		n.PolicyARN = vocab.PolicyARNAt(n.Partition, n.Account, n.RolePath, n.PolicyName)
	}
	return n
}

// annotatedRole is the role the ServiceAccount's annotation names, when it is a well-formed role ARN of
// the caller's account and partition.
func annotatedRole(sa *corev1.ServiceAccount, id sdcaws.Identity) (vocab.ParsedRoleARN, bool) {
	if sa == nil {
		return vocab.ParsedRoleARN{}, false
	}
	p, ok := vocab.ParseRoleARN(sa.Annotations[vocab.RoleARNAnnotation])
	if !ok || p.Account != id.Account || p.Partition != id.Partition {
		return vocab.ParsedRoleARN{}, false
	}
	return p, true
}

// Names are the ARNs and names of everything bind manages; all derivable before anything exists.
type Names struct {
	Partition      string `json:"partition"`
	Account        string `json:"account"`
	IssuerHostPath string `json:"-"`
	ProviderARN    string `json:"oidcProviderArn"`
	PolicyName     string `json:"-"`
	PolicyARN      string `json:"policyArn,omitempty"`
	RoleName       string `json:"-"`
	RoleARN        string `json:"roleArn"`
	// RolePath is the path bind creates the role and its policy at (see NamesFor).
	RolePath string `json:"-"`
	// RoleSource says where the role name came from: RoleFromFlag, RoleFromAnnotation or RoleByDefault.
	RoleSource string `json:"-"`
	// BindingID identifies this binding (cluster, namespace, ServiceAccount) in a shared policy's Sids.
	BindingID string `json:"-"`
}
