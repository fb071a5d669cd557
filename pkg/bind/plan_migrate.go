package bind

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/plan"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// MigrationPlan plans every ServiceAccount migrate moves as bind --mechanism pod-identity would, with its
// annotated role and without touching its permissions, from what ObserveMigration read; it is pure. SDC
// images that cannot use Pod Identity are refused all together (unless Force); a ServiceAccount that
// cannot be planned (its role is gone, say) is an error, or with AllNamespaces left out with a note.
func MigrationPlan(m *MigrateRequest, o *MigrationObserved) (*Migration, error) {
	mg := &Migration{Request: m, Cluster: o.Cluster, Identity: o.Identity, Agent: o.Agent, Notes: append([]string(nil), o.LeftOut...), Plan: &plan.Plan{}}
	c, id := o.Cluster, o.Identity
	if len(o.Targets) == 0 {
		return mg, nil
	}
	var problems, refusals []string
	for _, sa := range o.Targets {
		r := &Request{Namespace: sa.Namespace, ServiceAccount: sa.Name, FSGroup: vocab.LeaveFSGroup, Restart: m.Restart,
			TrustPolicyLimit: m.TrustPolicyLimit, Catalog: m.Catalog, Via: vocab.MechanismPodIdentity,
			RemoveIRSA: m.RemoveIRSA, Force: m.Force, KeepPermissions: true}
		ob := &Observed{Cluster: c, Identity: id, Now: o.Now, Agent: o.Agent, Region: o.Region,
			Namespace: &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: sa.Namespace}}, ServiceAccount: sa,
			Workloads: workloadsOf(sa, o.Deployments, o.Pods)}
		ob.Names = NamesFor(r, c, id, sa)
		if p, source, ok := migrationRoleOf(sa, o.Associations); ok && source == RoleFromAssociation {
			ob.Names = namesWithRole(r, ob.Names, p, source) // IRSA already removed: the association's role
		}
		if role := o.Roles[ob.Names.RoleName]; role != nil && role.TrustErr == nil {
			ob.Role = role
		} else if role != nil {
			problems = append(problems, fmt.Sprintf("%s/%s: the trust policy of IAM role %s: %v", sa.Namespace, sa.Name, role.Name, role.TrustErr))
			continue
		}
		d := o.Associations[sa.Namespace+"/"+sa.Name]
		if d.Err != nil {
			return nil, d.Err
		}
		ob.Association = d.Association
		res, err := planAll(r, ob)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s/%s: %v", sa.Namespace, sa.Name, err))
			continue
		}
		res.Command = "migrate"
		refusals = append(refusals, res.Refusals...)
		mg.Results = append(mg.Results, res)
		for _, w := range res.Warnings {
			mg.Warnings = append(mg.Warnings, sa.Namespace+"/"+sa.Name+": "+w)
		}
		for _, n := range res.Notes {
			mg.Notes = append(mg.Notes, sa.Namespace+"/"+sa.Name+": "+n)
		}
		prefix := sa.Namespace + "/" + sa.Name + ":"
		for _, ch := range res.Plan.Changes {
			cc := *ch
			cc.ID = prefix + ch.ID
			cc.Deps = nil
			for _, d := range ch.Deps {
				cc.Deps = append(cc.Deps, prefix+d)
			}
			mg.Plan.Changes = append(mg.Plan.Changes, &cc)
		}
	}
	sort.Strings(problems)
	switch {
	case len(problems) > 0 && !m.AllNamespaces:
		return nil, fmt.Errorf("migrate cannot move ServiceAccount %s/%s to EKS Pod Identity: %s", m.Namespace, m.ServiceAccount, strings.Join(problems, "; "))
	case len(problems) > 0:
		// One broken binding should not hold the others back; it is left out, and said so.
		for _, p := range problems {
			mg.Notes = append(mg.Notes, "left out: "+p)
		}
	}
	if len(refusals) > 0 {
		return nil, refused(refusals, "kubectl sdc bind ...")
	}
	return mg, nil
}
