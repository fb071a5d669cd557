package doctor

import (
	"context"
	"fmt"
	"strings"

	admissionv1 "k8s.io/api/admissionregistration/v1"
)

// The names the EKS pod identity webhook is registered under.
const (
	webhookConfigName = "pod-identity-webhook"
	webhookName       = "iam-for-pods.amazonaws.com"
)

// kubeWebhook: a pod identity mutating webhook is registered and sees pod creations.
var kubeWebhook = Check{
	ID: "kube.webhook", Layer: LayerKubernetes, Scope: ClusterScope,
	Needs: []string{"kube.context"},
	Run: func(_ context.Context, f *Facts, _ *Target) Result {
		if f.WebhooksErr != nil {
			return fail("the mutating webhook configurations could not be listed", f.WebhooksErr.Error(),
				"kubectl apply -f docs/permissions/doctor-rbac.yaml   # and bind ClusterRole kubectl-sdc-doctor to you")
		}
		var found []string
		seesPods := false
		for _, cfg := range f.Webhooks {
			for _, w := range cfg.Webhooks {
				if !isPodIdentityWebhook(cfg.Name, w.Name) {
					continue
				}
				found = append(found, fmt.Sprintf("%s (MutatingWebhookConfiguration %s)", w.Name, cfg.Name))
				if coversPodCreate(w.Rules) {
					seesPods = true
				}
			}
		}
		if len(found) == 0 {
			return fail("no pod identity webhook is registered",
				fmt.Sprintf("none of the %d MutatingWebhookConfigurations is the EKS pod identity webhook (%s): new pods get no AWS_ROLE_ARN and no token, and SDC's AWS SDK falls back to the node's role", len(f.Webhooks), webhookName),
				"EKS runs this webhook on its control plane (if it is gone there, open an AWS support case); on other clusters install github.com/aws/amazon-eks-pod-identity-webhook; then restart the workloads: kubectl rollout restart deployment/<NAME> -n <NAMESPACE>")
		}
		if !seesPods {
			return warn("the pod identity webhook does not see pod creations", strings.Join(found, ", ")+": no rule covers CREATE of pods (v1)",
				"kubectl edit mutatingwebhookconfiguration "+webhookConfigName+"   # add a rule: operations [CREATE], apiGroups [\"\"], apiVersions [v1], resources [pods]")
		}
		return pass("pod identity webhook registered", strings.Join(found, ", "))
	},
}

// webhookRegistered reports whether a pod identity webhook that sees pod creations is registered.
func webhookRegistered(f *Facts) bool {
	for _, cfg := range f.Webhooks {
		for _, w := range cfg.Webhooks {
			if isPodIdentityWebhook(cfg.Name, w.Name) && coversPodCreate(w.Rules) {
				return true
			}
		}
	}
	return false
}

func isPodIdentityWebhook(configName, name string) bool {
	return name == webhookName || configName == webhookConfigName || strings.Contains(name, "pod-identity")
}

func coversPodCreate(rules []admissionv1.RuleWithOperations) bool {
	has := func(list []string, v string) bool {
		for _, x := range list {
			if x == v || x == "*" {
				return true
			}
		}
		return false
	}
	for _, r := range rules {
		ops := false
		for _, o := range r.Operations {
			if o == admissionv1.Create || o == admissionv1.OperationAll {
				ops = true
			}
		}
		if ops && has(r.APIGroups, "") && has(r.APIVersions, "v1") && has(r.Resources, "pods") {
			return true
		}
	}
	return false
}
