package doctor

import (
	"context"
	"fmt"
	"strings"
)

// clusterIssuer: the cluster's service account issuer is known, and by which source.
var clusterIssuer = Check{
	ID: "cluster.issuer", Layer: LayerCluster, Scope: ClusterScope,
	Run: func(_ context.Context, f *Facts, _ *Target) Result {
		if f.ClusterErr != nil {
			return fail("the cluster's OIDC issuer was not found", f.ClusterErr.Error(),
				"kubectl sdc doctor --eks-cluster <NAME> --region <REGION>   # name the EKS cluster of this context")
		}
		c := f.Cluster
		var facts []string
		facts = append(facts, "cluster "+c.Name)
		if c.Region != "" {
			facts = append(facts, "region "+c.Region)
		}
		if c.AccountID != "" {
			facts = append(facts, "account "+c.AccountID)
		}
		facts = append(facts, c.Warnings...)
		return pass(fmt.Sprintf("issuer %s (found by %s)", c.Issuer, c.Source), strings.Join(facts, ", "))
	},
}
