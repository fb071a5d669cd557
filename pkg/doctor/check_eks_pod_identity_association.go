package doctor

import (
	"context"
	"fmt"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// eksPodIdentityAssociation: the ServiceAccount's EKS Pod Identity association exists and names an
// existing role of the cluster's account; with IRSA beside it, whether both name the same role (IRSA's
// environment wins in the SDKs' chain, so the pods use the annotation's until IRSA is removed).
var eksPodIdentityAssociation = Check{
	ID: "eks.pod-identity-association", Layer: LayerAWS, Scope: TargetScope,
	Needs:   []string{"cluster.issuer", "aws.identity"},
	Applies: func(_ *Facts, t *Target) bool { return t.UsesPodIdentity() },
	Run: func(_ context.Context, f *Facts, t *Target) Result {
		a := t.Association
		name := vocab.AssociationName(f.Cluster.Name, t.Namespace, t.ServiceAccount)
		switch {
		case t.AssociationErr != nil:
			return fail("the EKS Pod Identity association could not be read", t.AssociationErr.Error(),
				"grant eks:DescribePodIdentityAssociation to the credentials doctor uses (docs/permissions/doctor-policy.json)")
		case a == nil:
			return fail(fmt.Sprintf("the EKS Pod Identity association of %s is gone", name),
				"it was listed, then deleted before doctor described it", podIdentityBindFix(f, t))
		}
		role, ok := vocab.ParseRoleARN(a.RoleARN)
		if !ok || role.Account != f.Identity.Account {
			return fail(fmt.Sprintf("association %s names %s, not a role of account %s", a.ID, a.RoleARN, f.Identity.Account),
				"EKS Pod Identity assumes only roles of the cluster's account (a role elsewhere is reached through targetRoleArn)", podIdentityBindFix(f, t))
		}
		r := f.Roles[a.RoleARN]
		switch {
		case r == nil:
			return skip("skipped: the association's role was not read", "")
		case r.Err != nil:
			return fail("the association's role "+role.Name+" could not be read", r.Err.Error(),
				"grant iam:GetRole to the credentials doctor uses (docs/permissions/doctor-policy.json)")
		case !r.Exists:
			return fail(fmt.Sprintf("association %s names role %s, which does not exist", a.ID, role.Name),
				fmt.Sprintf("EKS Auth refuses the pods of %s/%s (AccessDeniedException), and SDC's AWS SDK falls back to the node's role", t.Namespace, t.ServiceAccount),
				podIdentityBindFix(f, t))
		}
		detail := fmt.Sprintf("%s (%s), created %s", a.ARN, name, a.Created.UTC().Format("2006-01-02T15:04:05Z"))
		if a.TargetRoleARN != "" {
			detail += "; it then assumes target role " + a.TargetRoleARN + " (see iam.assume-role-target)"
		}
		if a.DisableSessionTags {
			detail += "; session tags disabled"
		}
		if t.Annotation != "" && t.Annotation != a.RoleARN {
			return warn(fmt.Sprintf("the association names role %s, the IRSA annotation %s", role.Name, vocab.RoleNameOf(t.Annotation)),
				detail+fmt.Sprintf(": IRSA's environment comes first in the AWS SDKs' credential chain, so the pods use %s until IRSA is removed, and %s after", t.Annotation, a.RoleARN),
				migrateFix(t, false))
		}
		return pass(fmt.Sprintf("association %s names role %s", a.ID, role.Name), detail)
	},
}

// podIdentityBindFix is the bind command that makes a target's Pod Identity healthy.
func podIdentityBindFix(f *Facts, t *Target) string {
	return bindFixWith(f, t, "--mechanism", string(vocab.MechanismPodIdentity))
}

// migrateFix is the migrate command for the target (with --remove-irsa when asked).
func migrateFix(t *Target, removeIRSA bool) string {
	words := []string{"kubectl", "sdc", "migrate", "-n", t.Namespace, "--service-account", t.ServiceAccount}
	if removeIRSA {
		words = append(words, "--remove-irsa")
	}
	return command(words...)
}
