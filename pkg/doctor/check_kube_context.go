package doctor

import (
	"context"
	"fmt"
)

// kubeContext: the kube context resolves and its API server answers.
var kubeContext = Check{
	ID: "kube.context", Layer: LayerCluster, Scope: ClusterScope,
	Run: func(_ context.Context, f *Facts, _ *Target) Result {
		if f.KubeErr != nil {
			return fail(fmt.Sprintf("the API server of kube context %q does not answer", f.KubeContext),
				fmt.Sprintf("GET %s/version: %v", f.KubeServer, f.KubeErr),
				fmt.Sprintf("kubectl --context %s cluster-info   # check the server and credentials; or pick another context: kubectl config get-contexts", shellQuote(f.KubeContext)))
		}
		return pass(fmt.Sprintf("kube context %q answers", f.KubeContext),
			fmt.Sprintf("server %s, Kubernetes %s", f.KubeServer, f.KubeVersion.GitVersion))
	},
}
