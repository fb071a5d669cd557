package doctor

import (
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// staticCredentialKeys are the variables with which the AWS SDK's default chain stops before web identity.
var staticCredentialKeys = []string{vocab.EnvAccessKeyID, vocab.EnvSecretAccessKey}

// kubeStaticCredentials: no container sets static AWS keys, directly or through envFrom: SDC's AWS SDK
// takes them before the web identity token and ignores IRSA without a word.
var kubeStaticCredentials = Check{
	ID: "kube.static-credentials", Layer: LayerKubernetes, Scope: TargetScope,
	Needs: []string{"kube.deployment"},
	Run: func(_ context.Context, f *Facts, t *Target) Result {
		if t.Deploy == nil {
			return noDeployment(t)
		}
		spec := &t.Deploy.Spec.Template.Spec
		var found, unknown, fixes []string
		var patch []string // JSON patch operations removing envFrom entries, last first
		for _, group := range []struct {
			path       string
			containers []corev1.Container
		}{{"initContainers", spec.InitContainers}, {"containers", spec.Containers}} {
			for ci, c := range group.containers {
				var direct []string
				for _, e := range c.Env {
					if slices.Contains(staticCredentialKeys, e.Name) {
						how := "set directly"
						if e.ValueFrom != nil {
							how = "set from " + valueSource(e.ValueFrom)
						}
						direct = append(direct, e.Name)
						found = append(found, fmt.Sprintf("container %s: %s %s", c.Name, e.Name, how))
					}
				}
				if len(direct) > 0 {
					words := []string{"kubectl", "set", "env", "deployment/" + t.Deployment, "-n", t.Namespace, "-c", c.Name}
					for _, k := range direct {
						words = append(words, k+"-")
					}
					fixes = append(fixes, command(words...))
				}
				for ei := len(c.EnvFrom) - 1; ei >= 0; ei-- {
					ef := c.EnvFrom[ei]
					kind, name := "", ""
					switch {
					case ef.SecretRef != nil:
						kind, name = "Secret", ef.SecretRef.Name
					case ef.ConfigMapRef != nil:
						kind, name = "ConfigMap", ef.ConfigMapRef.Name
					default:
						continue
					}
					if err := f.EnvSourcesErr[kind]; err != nil {
						unknown = append(unknown, fmt.Sprintf("container %s takes its environment from %s %s, whose keys could not be read (%v)", c.Name, kind, name, err))
						continue
					}
					src := f.EnvSources[envSourceKey(kind, t.Namespace, name)]
					if src == nil {
						continue
					}
					var keys []string
					for _, k := range src.Keys {
						if slices.Contains(staticCredentialKeys, ef.Prefix+k) {
							keys = append(keys, ef.Prefix+k)
						}
					}
					if len(keys) > 0 {
						found = append(found, fmt.Sprintf("container %s: %s through envFrom %s %s", c.Name, strings.Join(keys, ", "), kind, name))
						patch = append(patch, fmt.Sprintf(`{"op":"remove","path":"/spec/template/spec/%s/%d/envFrom/%d"}`, group.path, ci, ei))
					}
				}
			}
		}
		if len(patch) > 0 {
			fixes = append(fixes, command("kubectl", "patch", "deployment", t.Deployment, "-n", t.Namespace, "--type=json", "-p", "["+strings.Join(patch, ",")+"]"))
		}
		ignored := "the web identity token, so IRSA is ignored"
		if !t.UsesIRSA() {
			ignored = "EKS Pod Identity's container credentials, so EKS Pod Identity is ignored"
		}
		if len(found) > 0 {
			return fail(fmt.Sprintf("Deployment %s/%s sets static AWS credentials", t.Namespace, t.Deployment),
				strings.Join(found, "; ")+": SDC's AWS SDK takes these before "+ignored,
				strings.Join(fixes, " && "))
		}
		note := ""
		if t.UsesPodIdentity() {
			wins, irsaFixes, irsaNote := irsaEnvThatWins(t)
			if len(wins) > 0 {
				return fail(fmt.Sprintf("Deployment %s/%s: IRSA's environment would win over EKS Pod Identity", t.Namespace, t.Deployment),
					strings.Join(wins, "; ")+": the AWS SDKs' credential chain tries web identity before the container credentials of Pod Identity",
					strings.Join(irsaFixes, " && "))
			}
			note = irsaNote
		}
		if len(unknown) > 0 {
			return warn("static AWS credentials cannot be ruled out", strings.Join(unknown, "; "),
				"kubectl describe deployment "+shellQuote(t.Deployment)+" -n "+shellQuote(t.Namespace)+"   # make sure none of its environment sources holds AWS_ACCESS_KEY_ID or AWS_SECRET_ACCESS_KEY")
		}
		switch {
		case t.UsesPodIdentity() && note != "":
			return pass("no static AWS credentials; IRSA serves the pods before EKS Pod Identity until IRSA is removed", note)
		case t.UsesPodIdentity():
			return pass("no static AWS credentials, and no IRSA environment that would win over EKS Pod Identity", note)
		}
		return pass("no static AWS credentials in the Deployment", "")
	},
}

// irsaEnvThatWins finds, for a ServiceAccount with an EKS Pod Identity association, web identity
// environment that the SDKs would use first: set in the Deployment itself, or injected into pods by an
// annotation that has since been removed. With the annotation still there, IRSA winning is the plan
// (migrate keeps it until --remove-irsa): note says so.
func irsaEnvThatWins(t *Target) (wins, fixes []string, note string) {
	for _, c := range allContainers(&t.Deploy.Spec.Template.Spec) {
		var names []string
		for _, e := range c.Env {
			if e.Name == vocab.EnvRoleARN || e.Name == vocab.EnvWebIdentityTokenFile {
				names = append(names, e.Name)
			}
		}
		if len(names) == 0 {
			continue
		}
		wins = append(wins, fmt.Sprintf("container %s sets %s in the Deployment", c.Name, strings.Join(names, ", ")))
		words := []string{"kubectl", "set", "env", "deployment/" + t.Deployment, "-n", t.Namespace, "-c", c.Name}
		for _, n := range names {
			words = append(words, n+"-")
		}
		fixes = append(fixes, command(words...))
	}
	if t.Annotation != "" {
		return wins, fixes, fmt.Sprintf("the %s annotation gives the pods IRSA's environment, which the SDKs use first: they use role %s through web identity until IRSA is removed (%s)",
			vocab.RoleARNAnnotation, t.Annotation, migrateFix(t, true))
	}
	var stale, names []string
	for i := range t.Pods {
		p := t.Pods[i]
		if serviceAccountOf(&p.Spec) != t.ServiceAccount {
			continue
		}
		for _, c := range allContainers(&p.Spec) {
			if v := envValue(c, vocab.EnvRoleARN); v != "" && templateValue(t, vocab.EnvRoleARN) == "" {
				stale = append(stale, fmt.Sprintf("%s (%s=%s)", p.Name, vocab.EnvRoleARN, v))
				names = append(names, p.Name)
				break
			}
		}
	}
	if len(stale) > 0 {
		wins = append(wins, fmt.Sprintf("pods %s carry IRSA's environment from a role annotation since removed", strings.Join(stale, ", ")))
		fixes = append(fixes, replaceFix(t, names))
	}
	return wins, fixes, ""
}

func envValue(c corev1.Container, name string) string {
	v := ""
	for _, e := range c.Env {
		if e.Name == name {
			v = e.Value // a later entry of the same name wins, as in the container
		}
	}
	return v
}

// templateValue is the value the Deployment itself gives name, "" when none does.
func templateValue(t *Target, name string) string {
	_, v := templateSets(t, name)
	return v
}

func valueSource(v *corev1.EnvVarSource) string {
	switch {
	case v.SecretKeyRef != nil:
		return fmt.Sprintf("Secret %s key %s", v.SecretKeyRef.Name, v.SecretKeyRef.Key)
	case v.ConfigMapKeyRef != nil:
		return fmt.Sprintf("ConfigMap %s key %s", v.ConfigMapKeyRef.Name, v.ConfigMapKeyRef.Key)
	}
	return "a reference"
}
