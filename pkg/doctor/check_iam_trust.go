package doctor

import (
	"context"
	"fmt"
	"strings"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
)

// iamTrust: the role's trust policy lets this ServiceAccount's token, from this cluster's provider and with
// its audience, call sts:AssumeRoleWithWebIdentity. Evaluated with pkg/iampolicy, the rules STS applies.
var iamTrust = Check{
	ID: "iam.trust", Layer: LayerIAM, Scope: TargetScope,
	Needs: []string{"iam.role", "cluster.issuer"},
	Run: func(_ context.Context, f *Facts, t *Target) Result {
		r := f.Roles[t.RoleARN]
		req := trustRequest(f, t, t.Subject(), t.Audience())
		d := iampolicy.Evaluate(req, r.Trust)
		if d.Allowed() {
			return pass(fmt.Sprintf("role %s trusts ServiceAccount %s/%s", r.Name, t.Namespace, t.ServiceAccount),
				fmt.Sprintf("%s admits sub=%s, aud=%s through %s", statementLabel(r.Trust, d.StatementIndex), t.Subject(), t.Audience(), f.ProviderARN))
		}
		reasons := explainTrust(f, t, r.Trust, d)
		long := make([]string, len(reasons))
		for i, x := range reasons {
			long[i] = x.long
		}
		return fail(fmt.Sprintf("role %s does not trust ServiceAccount %s/%s: %s", r.Name, t.Namespace, t.ServiceAccount, reasons[0].short),
			fmt.Sprintf("STS needs a statement admitting sub=%s, aud=%s through %s; %s", t.Subject(), t.Audience(), f.ProviderARN, strings.Join(long, "; ")),
			bindFix(f, t))
	},
}
