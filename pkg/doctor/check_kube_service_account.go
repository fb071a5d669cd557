package doctor

import (
	"context"
	"fmt"
)

// kubeServiceAccount: the target ServiceAccount exists.
var kubeServiceAccount = Check{
	ID: "kube.service-account", Layer: LayerKubernetes, Scope: TargetScope,
	Needs: []string{"kube.context"},
	Run: func(_ context.Context, f *Facts, t *Target) Result {
		if f.ServiceAccountsErr != nil {
			return fail("the ServiceAccounts could not be listed", f.ServiceAccountsErr.Error(),
				"kubectl apply -f docs/permissions/doctor-rbac.yaml   # and bind ClusterRole kubectl-sdc-doctor to you")
		}
		if t.SA == nil {
			return fail(fmt.Sprintf("ServiceAccount %s/%s does not exist", t.Namespace, t.ServiceAccount),
				"pods cannot run under it, and no role can be bound to it", bindFix(f, t))
		}
		return pass(fmt.Sprintf("ServiceAccount %s/%s exists", t.Namespace, t.ServiceAccount), "")
	},
}
