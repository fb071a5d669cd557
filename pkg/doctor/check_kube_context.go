package doctor

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// kubeContext: the kube context resolves and its API server answers.
var kubeContext = Check{
	ID: "kube.context", Layer: LayerCluster, Scope: ClusterScope,
	Run: func(_ context.Context, f *Facts, _ *Target) Result {
		if f.KubeErr != nil {
			detail := fmt.Sprintf("GET %s/version: %v", f.KubeServer, f.KubeErr)
			if apierrors.IsUnauthorized(f.KubeErr) {
				// It answered: "does not answer" would send the user after the network.
				return fail(fmt.Sprintf("the API server of kube context %q refuses its credentials (401 Unauthorized)", f.KubeContext), detail,
					fmt.Sprintf("kubectl --context %s get --raw /version   # then fix the context's user: token, client certificate, or the AWS profile its exec plugin uses", shellQuote(f.KubeContext)))
			}
			return fail(fmt.Sprintf("the API server of kube context %q does not answer", f.KubeContext), detail,
				fmt.Sprintf("kubectl --context %s cluster-info   # check the server and credentials; or pick another context: kubectl config get-contexts", shellQuote(f.KubeContext)))
		}
		return pass(fmt.Sprintf("kube context %q answers", f.KubeContext),
			fmt.Sprintf("server %s, Kubernetes %s", f.KubeServer, f.KubeVersion.GitVersion))
	},
}
