package doctor

import (
	"context"
	"fmt"
	"strings"
)

// iamOIDCProvider: an IAM OIDC provider for this exact issuer exists in the account.
var iamOIDCProvider = Check{
	ID: "iam.oidc-provider", Layer: LayerIAM, Scope: ClusterScope,
	Needs:   []string{"cluster.issuer", "aws.identity"},
	Applies: func(f *Facts, _ *Target) bool { return usesIRSA(f) }, // EKS Pod Identity needs no provider
	Run: func(_ context.Context, f *Facts, _ *Target) Result {
		if f.ProviderErr != nil {
			return fail("the IAM OIDC provider could not be read", fmt.Sprintf("%s: %v", f.ProviderARN, f.ProviderErr),
				"grant iam:GetOpenIDConnectProvider to the credentials doctor uses (see docs/permissions/doctor-policy.json)")
		}
		if f.Provider == nil {
			return fail("no IAM OIDC provider for the cluster's issuer",
				fmt.Sprintf("account %s has no %s: STS refuses every token of this cluster (InvalidIdentityToken: No OpenIDConnect provider found in your account for %s)",
					f.Identity.Account, f.ProviderARN, f.Cluster.Issuer),
				clusterFix(f, command("aws", "iam", "create-open-id-connect-provider", "--url", f.Cluster.Issuer, "--client-id-list", "sts.amazonaws.com")))
		}
		return pass("IAM OIDC provider exists for the issuer",
			fmt.Sprintf("%s, client IDs: %s", f.Provider.ARN, strings.Join(f.Provider.ClientIDs, ", ")))
	},
}

// clusterFix repairs a cluster-wide IAM fact: with a target whose bind command is fully known, running
// bind for it makes the provider and its audience again; otherwise the given command.
func clusterFix(f *Facts, otherwise string) string {
	for _, t := range f.Targets {
		if t.Selection != nil && t.SA != nil {
			return bindFix(f, t)
		}
	}
	return otherwise
}
