package doctor

import (
	"context"
	"fmt"
)

// awsIdentity: the AWS credentials work, and belong to the cluster's account when that is known.
var awsIdentity = Check{
	ID: "aws.identity", Layer: LayerAWS, Scope: ClusterScope,
	Run: func(_ context.Context, f *Facts, _ *Target) Result {
		if f.IdentityErr != nil {
			return fail("the AWS credentials do not work", f.IdentityErr.Error(),
				"aws sts get-caller-identity   # fix the credentials it uses, or pass --profile NAME")
		}
		id := f.Identity
		if f.Cluster != nil && f.Cluster.AccountID != "" && f.Cluster.AccountID != id.Account {
			return fail(fmt.Sprintf("the AWS credentials are for account %s, the cluster is in account %s", id.Account, f.Cluster.AccountID),
				fmt.Sprintf("credentials %s; cluster %s (%s): the OIDC provider and the roles must be read in the cluster's account", id.ARN, f.Cluster.Name, f.Cluster.ARN),
				"kubectl sdc doctor --profile <PROFILE-OF-ACCOUNT-"+f.Cluster.AccountID+">")
		}
		return pass(fmt.Sprintf("account %s as %s", id.Account, id.ARN), "")
	},
}
