package doctor

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/controlhub"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// kubeFSGroup: warn when the pods have no fsGroup and their containers do not all run as one user. The
// projected token is then readable by root only, and SDC runs as uid 20159.
var kubeFSGroup = Check{
	ID: "kube.fs-group", Layer: LayerKubernetes, Scope: TargetScope,
	Needs: []string{"kube.deployment"},
	Run: func(_ context.Context, f *Facts, t *Target) Result {
		if t.Deploy == nil {
			return noDeployment(t)
		}
		spec := &t.Deploy.Spec.Template.Spec
		if sc := spec.SecurityContext; sc != nil && sc.FSGroup != nil {
			return pass(fmt.Sprintf("fsGroup %d", *sc.FSGroup), "the projected token is group-readable for every container")
		}
		users := map[string][]string{} // runAsUser -> containers
		for _, c := range allContainers(spec) {
			u := "the image's user"
			switch {
			case c.SecurityContext != nil && c.SecurityContext.RunAsUser != nil:
				u = fmt.Sprintf("uid %d", *c.SecurityContext.RunAsUser)
			case spec.SecurityContext != nil && spec.SecurityContext.RunAsUser != nil:
				u = fmt.Sprintf("uid %d", *spec.SecurityContext.RunAsUser)
			}
			users[u] = append(users[u], c.Name)
		}
		if len(users) <= 1 {
			return pass("no fsGroup, and every container runs as one user", "Kubernetes then gives the projected token to that user")
		}
		var parts []string
		for u, cs := range users {
			parts = append(parts, fmt.Sprintf("%s (%s)", strings.Join(cs, ", "), u))
		}
		sort.Strings(parts)
		fix := command("kubectl", "patch", "deployment", t.Deployment, "-n", t.Namespace, "--type=strategic",
			"-p", fmt.Sprintf(`{"spec":{"template":{"spec":{"securityContext":{"fsGroup":%d}}}}}`, vocab.DefaultFSGroup))
		if t.Selection != nil {
			fix = bindFix(f, t)
		}
		detail := "containers: " + strings.Join(parts, ", ") + fmt.Sprintf(": the projected AWS token is then readable by root only, and a non-root SDC (uid %d) cannot read it", vocab.SDCUID)
		if ch := controlhub.Inspect(t.Deploy); ch.Managed {
			detail, fix = detail+". "+ch.Why(t.Namespace, t.Deployment), controlHubFix(t)
		}
		return warn(fmt.Sprintf("Deployment %s/%s sets no fsGroup and its containers run as different users", t.Namespace, t.Deployment),
			detail, fix)
	},
}
