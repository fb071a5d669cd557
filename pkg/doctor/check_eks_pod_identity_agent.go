package doctor

import (
	"context"
	"fmt"
	"strings"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// eksPodIdentityAgent: the cluster runs the EKS Pod Identity agent (the eks-pod-identity-agent add-on
// ACTIVE, or EKS Auto Mode), without which an association gives pods nothing and SDC's SDK falls back to
// the node's role. Only when a target has an association.
var eksPodIdentityAgent = Check{
	ID: "eks.pod-identity-agent", Layer: LayerCluster, Scope: ClusterScope,
	Needs:   []string{"cluster.issuer", "aws.identity"},
	Applies: func(f *Facts, _ *Target) bool { return usesPodIdentity(f) },
	Run: func(_ context.Context, f *Facts, _ *Target) Result {
		c, a := f.Cluster, f.Agent
		switch {
		case a == nil:
			return skip("skipped: the agent was not read", "")
		case a.Err != nil:
			return fail("whether the cluster runs the EKS Pod Identity agent could not be read", a.Err.Error(),
				"grant eks:DescribeAddon and eks:DescribeCluster to the credentials doctor uses (docs/permissions/doctor-policy.json)")
		case a.Serves():
			return pass("the EKS Pod Identity agent serves the cluster", a.Describe())
		}
		return fail(fmt.Sprintf("cluster %s does not run the EKS Pod Identity agent", c.Name),
			a.Describe()+fmt.Sprintf(": pods of ServiceAccounts with an association get no credentials from it, and SDC's AWS SDK falls back to the node's role without a word (%s)", associatedList(f)),
			vocab.InstallAgentCommand(c.Name, c.Region)+" && "+command("aws", "eks", "wait", "addon-active", "--cluster-name", c.Name, "--addon-name", vocab.PodIdentityAgentAddon, "--region", c.Region))
	},
}

// associatedList names the targets with an association, the first 20 and how many more.
func associatedList(f *Facts) string {
	var names []string
	n := 0
	for _, t := range f.Targets {
		if !t.UsesPodIdentity() {
			continue
		}
		if n++; n <= 20 {
			names = append(names, t.Namespace+"/"+t.ServiceAccount)
		}
	}
	if n > 20 {
		names = append(names, fmt.Sprintf("and %d more", n-20))
	}
	return "associated: " + strings.Join(names, ", ")
}
