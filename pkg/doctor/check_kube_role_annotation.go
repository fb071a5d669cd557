package doctor

import (
	"context"
	"fmt"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// kubeRoleAnnotation: the ServiceAccount carries eks.amazonaws.com/role-arn with a well-formed role ARN.
var kubeRoleAnnotation = Check{
	ID: "kube.role-annotation", Layer: LayerKubernetes, Scope: TargetScope,
	Needs:   []string{"kube.service-account"},
	Applies: func(_ *Facts, t *Target) bool { return t.UsesIRSA() },
	Run: func(_ context.Context, f *Facts, t *Target) Result {
		candidate := ""
		if r := f.Roles[t.candidateRole]; r != nil && r.Exists {
			candidate = fmt.Sprintf("; role %s exists (bind's name for this ServiceAccount), and bind annotates the ServiceAccount with it", r.ARN)
		}
		if t.RoleARN == "" {
			return fail(fmt.Sprintf("ServiceAccount %s/%s has no %s annotation", t.Namespace, t.ServiceAccount, vocab.RoleARNAnnotation),
				"the webhook gives its pods no AWS identity, so SDC uses the node's role"+candidate, bindFix(f, t))
		}
		if _, ok := vocab.ParseRoleARN(t.RoleARN); !ok {
			return fail(fmt.Sprintf("annotation %s = %q is not a role ARN", vocab.RoleARNAnnotation, t.RoleARN),
				"want arn:<partition>:iam::<12-digit account>:role/[<path>/]<name>; pods get it as AWS_ROLE_ARN and STS refuses it"+candidate,
				bindFix(f, t))
		}
		return pass("annotated with role "+t.RoleARN, "")
	},
}
