package doctor

import (
	"context"
	"fmt"
	"strings"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/controlhub"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// kubeDeployment: the Deployment exists and runs under the ServiceAccount.
var kubeDeployment = Check{
	ID: "kube.deployment", Layer: LayerKubernetes, Scope: TargetScope,
	Needs: []string{"kube.context"},
	Run: func(_ context.Context, f *Facts, t *Target) Result {
		if f.DeploymentsErr != nil {
			return fail("the Deployments could not be listed", f.DeploymentsErr.Error(),
				"kubectl apply -f docs/permissions/doctor-rbac.yaml   # and bind ClusterRole kubectl-sdc-doctor to you")
		}
		if t.Deploy == nil {
			if t.DeploymentGiven {
				return fail(fmt.Sprintf("Deployment %s/%s does not exist", t.Namespace, t.Deployment), deploymentsIn(f, t.Namespace),
					bindFix(f, t)+" --create-deployment --image streamsets/datacollector:<VERSION>")
			}
			if f.Options.everyAnnotated() {
				return skip(fmt.Sprintf("no Deployment runs under ServiceAccount %s/%s", t.Namespace, t.ServiceAccount), deploymentsIn(f, t.Namespace))
			}
			fix := strings.Replace(bindFix(f, t), " --service-account "+shellQuote(t.ServiceAccount), " --service-account "+shellQuote(t.ServiceAccount)+" --deployment <DEPLOYMENT>", 1)
			if controlHubIn(f, t.Namespace) {
				// SDC here is Control Hub's: bind --deployment would not last, the Control Hub YAML does.
				fix = controlHubFix(t)
			}
			return warn(fmt.Sprintf("no Deployment in %s runs under ServiceAccount %s", t.Namespace, t.ServiceAccount),
				deploymentsIn(f, t.Namespace)+"; SDC gets this ServiceAccount's role only when its pods run under it", fix)
		}
		if sa := serviceAccountOf(&t.Deploy.Spec.Template.Spec); sa != t.ServiceAccount {
			detail, fix := fmt.Sprintf("its pods get the identity of ServiceAccount %s (%s), not role %s", sa, roleOfSA(f, t.Namespace, sa), orNone(t.RoleARN)), bindFix(f, t)
			if ch := controlhub.Inspect(t.Deploy); ch.Managed {
				detail, fix = detail+". "+ch.Why(t.Namespace, t.Deployment), controlHubFix(t)
			}
			return fail(fmt.Sprintf("Deployment %s/%s runs under ServiceAccount %s, not %s", t.Namespace, t.Deployment, sa, t.ServiceAccount),
				detail, fix)
		}
		return pass(fmt.Sprintf("Deployment %s/%s runs under ServiceAccount %s", t.Namespace, t.Deployment, t.ServiceAccount),
			fmt.Sprintf("%d pod(s) not terminated", len(t.Pods)))
	},
}

// deploymentsIn lists a namespace's Deployments and the ServiceAccount each runs under.
func deploymentsIn(f *Facts, ns string) string {
	var ds []string
	for _, d := range f.DeploymentsIn(ns) {
		by := ""
		if ch := controlhub.Inspect(d); ch.Managed {
			by = ", managed by StreamSets Control Hub: " + ch.Describe()
		}
		ds = append(ds, fmt.Sprintf("%s (ServiceAccount %s%s)", d.Name, serviceAccountOf(&d.Spec.Template.Spec), by))
	}
	if len(ds) == 0 {
		return "namespace " + ns + " has no Deployments"
	}
	return "Deployments in " + ns + ": " + strings.Join(ds, ", ")
}

// controlHubIn reports whether a Deployment of the namespace is managed by a StreamSets Control Hub agent.
func controlHubIn(f *Facts, ns string) bool {
	for _, d := range f.DeploymentsIn(ns) {
		if controlhub.Inspect(d).Managed {
			return true
		}
	}
	return false
}

// controlHubFix is the fix for a Deployment that Control Hub manages: the fragment for the Control Hub
// deployment's YAML, since a patch would be lost at its next restart.
func controlHubFix(t *Target) string {
	return command("kubectl", "sdc", "manifest", "-n", t.Namespace, "--service-account", t.ServiceAccount, "--fragment") +
		"   # then " + controlhub.Advice
}

func roleOfSA(f *Facts, ns, name string) string {
	sa := f.ServiceAccount(ns, name)
	switch {
	case sa == nil:
		return "it does not exist"
	case sa.Annotations[vocab.RoleARNAnnotation] != "":
		return "role " + sa.Annotations[vocab.RoleARNAnnotation]
	}
	return "no role annotation"
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// noDeployment is the skip of the checks that look at a Deployment when there is none.
func noDeployment(t *Target) Result {
	return skip(fmt.Sprintf("skipped: no Deployment runs under ServiceAccount %s/%s", t.Namespace, t.ServiceAccount), "")
}
