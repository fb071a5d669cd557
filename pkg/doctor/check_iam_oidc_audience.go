package doctor

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// iamOIDCAudience: the provider's client IDs include every audience the ServiceAccounts use.
var iamOIDCAudience = Check{
	ID: "iam.oidc-audience", Layer: LayerIAM, Scope: ClusterScope,
	Needs:   []string{"iam.oidc-provider"},
	Applies: func(f *Facts, _ *Target) bool { return usesIRSA(f) },
	Run: func(_ context.Context, f *Facts, _ *Target) Result {
		users := map[string][]string{} // audience -> ServiceAccounts using it
		seen := map[string]bool{}      // a ServiceAccount is a target once per Deployment under it
		for _, t := range f.Targets {
			if t.SA == nil || !t.UsesIRSA() {
				continue
			}
			who := t.Namespace + "/" + t.ServiceAccount
			if !seen[who] {
				seen[who] = true
				users[t.Audience()] = append(users[t.Audience()], who)
			}
		}
		if len(users) == 0 {
			users[vocab.DefaultAudience] = nil
		}
		auds := make([]string, 0, len(users))
		for a := range users {
			auds = append(auds, a)
		}
		sort.Strings(auds)
		var missing, fixes []string
		for _, a := range auds {
			if slices.Contains(f.Provider.ClientIDs, a) {
				continue
			}
			who := ""
			if len(users[a]) > 0 {
				who = " (used by " + strings.Join(users[a], ", ") + ")"
			}
			missing = append(missing, a+who)
			fixes = append(fixes, command("aws", "iam", "add-client-id-to-open-id-connect-provider",
				"--open-id-connect-provider-arn", f.Provider.ARN, "--client-id", a))
		}
		have := strings.Join(f.Provider.ClientIDs, ", ")
		if have == "" {
			have = "none"
		}
		if len(missing) > 0 {
			return fail("the IAM OIDC provider does not accept the audience "+strings.Join(auds, ", "),
				fmt.Sprintf("client IDs of %s: %s; missing: %s. STS refuses these tokens (InvalidIdentityToken: Incorrect token audience)",
					f.Provider.ARN, have, strings.Join(missing, "; ")),
				strings.Join(fixes, " && "))
		}
		return pass("the IAM OIDC provider accepts audience "+strings.Join(auds, ", "), "client IDs: "+have)
	},
}
