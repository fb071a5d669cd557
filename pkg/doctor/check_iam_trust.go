package doctor

import (
	"context"
	"fmt"
	"strings"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// iamTrust: the role's trust policy lets this ServiceAccount's token, from this cluster's provider and with
// its audience, call sts:AssumeRoleWithWebIdentity (IRSA); and, for a ServiceAccount with an EKS Pod
// Identity association, lets pods.eks.amazonaws.com call sts:AssumeRole and sts:TagSession on the
// association's role with the session tags EKS Auth sets (conditions on aws:RequestTag/kubernetes-namespace,
// kubernetes-service-account and the others are evaluated with the association's values). Evaluated with
// pkg/iampolicy, the rules STS applies.
var iamTrust = Check{
	ID: "iam.trust", Layer: LayerIAM, Scope: TargetScope,
	Needs: []string{"iam.role", "cluster.issuer"},
	Run: func(_ context.Context, f *Facts, t *Target) Result {
		var passed []string
		if t.UsesIRSA() {
			r := f.Roles[t.RoleARN]
			req := trustRequest(f, t, t.Subject(), t.Audience())
			d := iampolicy.Evaluate(req, r.Trust)
			if !d.Allowed() {
				reasons := explainTrust(f, t, r.Trust, d)
				long := make([]string, len(reasons))
				for i, x := range reasons {
					long[i] = x.long
				}
				return fail(fmt.Sprintf("role %s does not trust ServiceAccount %s/%s: %s", r.Name, t.Namespace, t.ServiceAccount, reasons[0].short),
					fmt.Sprintf("STS needs a statement admitting sub=%s, aud=%s through %s; %s", t.Subject(), t.Audience(), f.ProviderARN, strings.Join(long, "; ")),
					bindFix(f, t))
			}
			passed = append(passed, fmt.Sprintf("%s admits sub=%s, aud=%s through %s", statementLabel(r.Trust, d.StatementIndex), t.Subject(), t.Audience(), f.ProviderARN))
		}
		if t.UsesPodIdentity() {
			res, ok := podIdentityTrust(f, t)
			if !ok {
				return res
			}
			passed = append(passed, res.Detail)
		}
		r := f.Roles[t.RoleARN]
		switch {
		case t.UsesIRSA() && t.UsesPodIdentity():
			return pass(fmt.Sprintf("role %s trusts ServiceAccount %s/%s, through IRSA and EKS Pod Identity", r.Name, t.Namespace, t.ServiceAccount), strings.Join(passed, "; "))
		case t.UsesPodIdentity():
			return pass(fmt.Sprintf("role %s trusts EKS Pod Identity for ServiceAccount %s/%s", vocab.RoleNameOf(t.Association.RoleARN), t.Namespace, t.ServiceAccount), strings.Join(passed, "; "))
		}
		return pass(fmt.Sprintf("role %s trusts ServiceAccount %s/%s", r.Name, t.Namespace, t.ServiceAccount), strings.Join(passed, "; "))
	},
}

// podIdentityTrust judges the association's role's trust for EKS Pod Identity: ok with a pass's detail,
// else the result to report.
func podIdentityTrust(f *Facts, t *Target) (Result, bool) {
	role := t.associationRole(f)
	r := f.Roles[role]
	if r == nil || !r.Exists || r.Trust == nil {
		return skip("skipped: the association's role cannot be judged", "see eks.pod-identity-association"), false
	}
	s := podIdentitySession(f, t)
	d, action := iampolicy.AdmitsPodIdentity(r.Trust, s, role)
	if d.Allowed() {
		tags := "with session tags"
		if s.DisableSessionTags {
			tags = "without session tags (the association disables them)"
		}
		return Result{Detail: fmt.Sprintf("%s lets %s assume %s %s for %s/%s", statementLabel(r.Trust, d.StatementIndex), vocab.PodIdentityService, r.Name, tags, t.Namespace, t.ServiceAccount)}, true
	}
	reasons := explainPodIdentityTrust(r.Trust, s, role, action, d)
	long := make([]string, len(reasons))
	for i, x := range reasons {
		long[i] = x.long
	}
	needs := vocab.ActionAssumeRole + " and " + vocab.ActionTagSession
	if s.DisableSessionTags {
		needs = vocab.ActionAssumeRole
	}
	return fail(fmt.Sprintf("role %s does not trust EKS Pod Identity for ServiceAccount %s/%s: %s", r.Name, t.Namespace, t.ServiceAccount, reasons[0].short),
		fmt.Sprintf("EKS Auth needs %s allowed to %s (EKS answers the pods AccessDeniedException: Unauthorized Exception! EKS does not have permissions to assume the associated role); %s",
			needs, vocab.PodIdentityService, strings.Join(long, "; ")),
		podIdentityBindFix(f, t)), false
}
