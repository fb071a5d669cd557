package doctor

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// iamRole: the annotated role exists, in the account of the credentials and the OIDC provider.
var iamRole = Check{
	ID: "iam.role", Layer: LayerIAM, Scope: TargetScope,
	Needs: []string{"kube.role-annotation", "eks.pod-identity-association", "aws.identity"},
	Run: func(_ context.Context, f *Facts, t *Target) Result {
		parsed, _ := vocab.ParseRoleARN(t.RoleARN)
		account, name := parsed.Account, parsed.Name
		if account != f.Identity.Account {
			return fail(fmt.Sprintf("role %s is in account %s, the credentials and the OIDC provider checked are in %s", name, account, f.Identity.Account),
				"a role's trust can only name an OIDC provider of its own account, and doctor reads IAM with the credentials given: check account "+account+" with its credentials",
				"kubectl sdc doctor -n "+shellQuote(t.Namespace)+" --service-account "+shellQuote(t.ServiceAccount)+" --profile <PROFILE-OF-ACCOUNT-"+account+">")
		}
		r := f.Roles[t.RoleARN]
		switch {
		case r == nil:
			return skip("skipped: the role was not read", "")
		case r.Err != nil:
			return fail("role "+name+" could not be read", r.Err.Error(),
				"grant iam:GetRole, iam:ListAttachedRolePolicies, iam:ListRolePolicies and iam:GetRolePolicy to the credentials doctor uses (docs/permissions/doctor-policy.json)")
		case !r.Exists:
			return fail(fmt.Sprintf("role %s does not exist", name),
				fmt.Sprintf("account %s has no role %s: STS refuses the pods (AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity)", account, name),
				bindFix(f, t))
		case r.ActualARN != "" && r.ActualARN != t.RoleARN:
			return fail(fmt.Sprintf("the annotation names %s, but the role's ARN is %s", t.RoleARN, r.ActualARN),
				"the path in the annotated ARN is wrong, and STS matches the whole ARN",
				command("kubectl", "annotate", "serviceaccount", t.ServiceAccount, "-n", t.Namespace, vocab.RoleARNAnnotation+"="+r.ActualARN, "--overwrite"))
		case r.TrustErr != nil:
			return fail(fmt.Sprintf("the trust policy of role %s does not parse", name), r.TrustErr.Error(), bindFix(f, t))
		}
		return pass("role "+name+" exists", describeTags(r.Tags))
	},
}

func describeTags(tags map[string]string) string {
	var parts []string
	for _, k := range []string{vocab.ManagedByKey, vocab.TagCluster, vocab.TagStages} {
		if v, ok := tags[k]; ok {
			parts = append(parts, k+"="+v)
		}
	}
	if len(parts) == 0 {
		keys := make([]string, 0, len(tags))
		for k := range tags {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if len(keys) == 0 {
			return "no tags"
		}
		return "tags: " + strings.Join(keys, ", ")
	}
	return "tags: " + strings.Join(parts, ", ")
}
