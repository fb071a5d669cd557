package doctor

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// kubePodEnv: the Deployment's pods carry AWS_ROLE_ARN equal to the annotation, the token file variable and
// the projected token volume. The webhook changes pods only when they are created.
var kubePodEnv = Check{
	ID: "kube.pod-env", Layer: LayerKubernetes, Scope: TargetScope,
	Needs: []string{"kube.deployment", "kube.role-annotation", "eks.pod-identity-association"},
	Run: func(_ context.Context, f *Facts, t *Target) Result {
		if t.Deploy == nil {
			return noDeployment(t)
		}
		if f.PodsErr != nil {
			return fail("the pods could not be listed", f.PodsErr.Error(),
				"kubectl apply -f docs/permissions/doctor-rbac.yaml   # and bind ClusterRole kubectl-sdc-doctor to you")
		}
		if len(t.Pods) == 0 {
			return skip(fmt.Sprintf("skipped: Deployment %s/%s has no pods that have not terminated", t.Namespace, t.Deployment), "")
		}
		if !t.UsesIRSA() {
			return podIdentityPodEnv(f, t)
		}
		r := irsaPodEnv(f, t)
		if r.Status == Pass && t.UsesPodIdentity() {
			n := 0
			for i := range t.Pods {
				if ok, _ := podIdentityEnvOf(t.Pods[i]); ok {
					n++
				}
			}
			r.Detail += fmt.Sprintf("; %d of them also carry EKS Pod Identity's environment (IRSA's comes first in the SDKs' chain)", n)
		}
		return r
	},
}

// irsaPodEnv checks the web identity environment of the target's pods.
func irsaPodEnv(f *Facts, t *Target) Result {
	if c, v := templateSets(t, vocab.EnvRoleARN); c != "" && v != t.RoleARN {
		return fail(fmt.Sprintf("Deployment %s/%s sets %s itself", t.Namespace, t.Deployment, vocab.EnvRoleARN),
			fmt.Sprintf("container %s sets %s=%s, and the webhook never overwrites what the Deployment sets; the annotation says %s", c, vocab.EnvRoleARN, v, t.RoleARN),
			command("kubectl", "set", "env", "deployment/"+t.Deployment, "-n", t.Namespace, vocab.EnvRoleARN+"-"))
	}
	annotatedAt := vocab.RoleAnnotationTime(t.SA)
	var stale, skipped, wrong, elsewhere []string
	pending := 0
	for i := range t.Pods {
		p := t.Pods[i]
		if serviceAccountOf(&p.Spec) != t.ServiceAccount {
			// Left over from an older template whose rollout has not finished: not this identity's pods.
			elsewhere = append(elsewhere, p.Name)
			continue
		}
		if p.Status.Phase == corev1.PodPending {
			pending++
		}
		arn, hasToken := podIdentity(p)
		switch {
		case arn == t.RoleARN && hasToken:
			// carries the identity: nothing to report
		case arn != "":
			wrong = append(wrong, fmt.Sprintf("%s (%s=%s)", p.Name, vocab.EnvRoleARN, arn))
		case !annotatedAt.IsZero() && p.CreationTimestamp.Time.Before(annotatedAt):
			stale = append(stale, p.Name)
		case p.CreationTimestamp.Time.Equal(annotatedAt) && webhookRegistered(f):
			// Both times have whole seconds, so the same second is ambiguous: with a webhook in place the
			// pod most likely came first; without one, the webhook's absence explains it.
			stale = append(stale, p.Name)
		default:
			skipped = append(skipped, p.Name)
		}
	}
	if len(elsewhere) == len(t.Pods) {
		return noPodUnderServiceAccount(t, elsewhere)
	}
	state := podsState(t, elsewhere)
	if pending > 0 {
		state += fmt.Sprintf(", %d of them Pending (a pending pod already carries what the webhook gave it at creation)", pending)
	}
	if len(elsewhere) > 0 {
		state += fmt.Sprintf("; pods %s of an older template run under another ServiceAccount and go when the rollout finishes", strings.Join(elsewhere, ", "))
	}
	if len(stale)+len(skipped)+len(wrong) == 0 {
		return pass(fmt.Sprintf("pods carry %s=%s and the token volume", vocab.EnvRoleARN, t.RoleARN), state)
	}
	var why []string
	title := ""
	if len(wrong) > 0 {
		why = append(why, fmt.Sprintf("pods %s carry another role: the annotation changed after they were created", strings.Join(wrong, ", ")))
		title = "pods carry another role than the annotation"
	}
	if len(stale) > 0 {
		why = append(why, fmt.Sprintf("pods %s started before the role annotation (%s): the webhook changes pods only when they are created", strings.Join(stale, ", "), annotatedAt.UTC().Format(time.RFC3339)))
		if title == "" {
			title = "pods predate the role annotation and have no AWS identity"
		}
	}
	if len(skipped) > 0 {
		why = append(why, fmt.Sprintf("pods %s were created after the annotation but have no %s or token volume: the webhook skipped them (is it registered? see kube.webhook; does the pod annotation %s name their containers?)", strings.Join(skipped, ", "), vocab.EnvRoleARN, vocab.SkipContainersAnnotation))
		if title == "" {
			title = "the webhook did not give the pods an AWS identity"
		}
	}
	return fail(fmt.Sprintf("Deployment %s/%s: %s", t.Namespace, t.Deployment, title), state+"; "+strings.Join(why, "; "), rolloutFix(t))
}

// podIdentityPodEnv checks that the pods of a ServiceAccount served by EKS Pod Identity carry what the
// webhook injects for an association: the agent's credentials URI, the token file and the projected
// eks-pod-identity-token volume (audience pods.eks.amazonaws.com).
func podIdentityPodEnv(f *Facts, t *Target) Result {
	if c, v := templateSets(t, vocab.EnvContainerCredentialsURI); c != "" && v != vocab.PodIdentityCredentialsURI {
		return fail(fmt.Sprintf("Deployment %s/%s sets %s itself", t.Namespace, t.Deployment, vocab.EnvContainerCredentialsURI),
			fmt.Sprintf("container %s sets %s=%s, and the webhook never overwrites what the Deployment sets: the SDK asks that address instead of the Pod Identity agent at %s", c, vocab.EnvContainerCredentialsURI, v, vocab.PodIdentityCredentialsURI),
			command("kubectl", "set", "env", "deployment/"+t.Deployment, "-n", t.Namespace, vocab.EnvContainerCredentialsURI+"-"))
	}
	associatedAt := time.Time{}
	if a := t.Association; a != nil {
		associatedAt = a.Modified
		if associatedAt.IsZero() {
			associatedAt = a.Created
		}
	}
	var stale, skipped, elsewhere []string
	for i := range t.Pods {
		p := t.Pods[i]
		if serviceAccountOf(&p.Spec) != t.ServiceAccount {
			elsewhere = append(elsewhere, p.Name)
			continue
		}
		ok, _ := podIdentityEnvOf(p)
		switch {
		case ok:
		case !associatedAt.IsZero() && p.CreationTimestamp.Time.Before(associatedAt.Truncate(time.Second)):
			stale = append(stale, p.Name)
		default:
			skipped = append(skipped, p.Name)
		}
	}
	if len(elsewhere) == len(t.Pods) {
		return noPodUnderServiceAccount(t, elsewhere)
	}
	state := podsState(t, elsewhere)
	if len(stale)+len(skipped) == 0 {
		return pass(fmt.Sprintf("pods carry %s, %s and the %s volume", vocab.EnvContainerCredentialsURI, vocab.EnvContainerTokenFile, vocab.PodIdentityTokenVolume), state)
	}
	var why []string
	title := ""
	if len(stale) > 0 {
		why = append(why, fmt.Sprintf("pods %s started before the association (%s): the webhook changes pods only when they are created", strings.Join(stale, ", "), associatedAt.UTC().Format(time.RFC3339)))
		title = "pods predate the EKS Pod Identity association and have no AWS identity from it"
	}
	if len(skipped) > 0 {
		why = append(why, fmt.Sprintf("pods %s were created after the association but have no %s or token volume: the webhook skipped them (is it registered? see kube.webhook; does the pod annotation %s name their containers?)", strings.Join(skipped, ", "), vocab.EnvContainerCredentialsURI, vocab.SkipContainersAnnotation))
		if title == "" {
			title = "the webhook did not give the pods EKS Pod Identity's environment"
		}
	}
	return fail(fmt.Sprintf("Deployment %s/%s: %s", t.Namespace, t.Deployment, title), state+"; "+strings.Join(why, "; "), replaceFix(t, append(stale, skipped...)))
}

// podIdentityEnvOf reports whether every container of the pod (but those the webhook is told to skip)
// carries the Pod Identity environment and the pod the projected token volume for pods.eks.amazonaws.com.
func podIdentityEnvOf(p *corev1.Pod) (ok bool, missing string) {
	skip := skippedContainers(p)
	if !slices.Contains(tokenAudiences(p), vocab.PodIdentityService) {
		return false, "the " + vocab.PodIdentityTokenVolume + " volume"
	}
	for _, c := range allContainers(&p.Spec) {
		if skip[c.Name] {
			continue
		}
		uri, file := envValue(c, vocab.EnvContainerCredentialsURI), envValue(c, vocab.EnvContainerTokenFile)
		if uri == "" || file == "" {
			return false, "container " + c.Name + "'s environment"
		}
	}
	return true, ""
}

// HasPodIdentity reports whether a pod carries EKS Pod Identity's environment and token volume as the
// webhook injects them for a ServiceAccount with an association.
func HasPodIdentity(p *corev1.Pod) bool {
	ok, _ := podIdentityEnvOf(p)
	return ok
}

// HasIdentity reports whether a pod carries the web identity of roleARN as the webhook injects it: the
// AWS_ROLE_ARN variable and the projected token (what kube.pod-env checks, pod by pod).
func HasIdentity(p *corev1.Pod, roleARN string) bool {
	arn, hasToken := podIdentity(p)
	return roleARN != "" && arn == roleARN && hasToken
}

// podIdentity is the AWS_ROLE_ARN the pod's containers carry ("" when none does) and whether they also
// have the token file variable and the pod the projected token volume.
func podIdentity(p *corev1.Pod) (roleARN string, hasToken bool) {
	skip := skippedContainers(p)
	volume := len(tokenAudiences(p)) > 0
	tokenEnv := true
	seen := false
	for _, c := range allContainers(&p.Spec) {
		if skip[c.Name] {
			continue
		}
		arn, file := envValue(c, vocab.EnvRoleARN), envValue(c, vocab.EnvWebIdentityTokenFile)
		if !seen {
			roleARN, seen = arn, true
		} else if arn != roleARN {
			roleARN = ""
		}
		if file == "" {
			tokenEnv = false
		}
	}
	return roleARN, volume && tokenEnv
}

// noPodUnderServiceAccount skips the check when every pod of the Deployment (those in elsewhere) still runs
// under another ServiceAccount, from an older template.
func noPodUnderServiceAccount(t *Target, elsewhere []string) Result {
	return skip(fmt.Sprintf("skipped: no pod of Deployment %s/%s runs under ServiceAccount %s yet", t.Namespace, t.Deployment, t.ServiceAccount),
		fmt.Sprintf("pods %s run under another ServiceAccount (an older template)", strings.Join(elsewhere, ", ")))
}

// podsState counts the target's pods that run under its ServiceAccount (all but those in elsewhere).
func podsState(t *Target, elsewhere []string) string {
	return fmt.Sprintf("%d pod(s) under ServiceAccount %s not terminated", len(t.Pods)-len(elsewhere), t.ServiceAccount)
}

// skippedContainers are the containers the pod's skip-containers annotation tells the webhook to leave alone.
func skippedContainers(p *corev1.Pod) map[string]bool {
	skip := map[string]bool{}
	for _, n := range strings.Split(p.Annotations[vocab.SkipContainersAnnotation], ",") {
		if n = strings.TrimSpace(n); n != "" {
			skip[n] = true
		}
	}
	return skip
}

// tokenAudiences are the audiences of the pod's projected service-account tokens that name one.
func tokenAudiences(p *corev1.Pod) []string {
	var out []string
	for _, v := range p.Spec.Volumes {
		if v.Projected == nil {
			continue
		}
		for _, s := range v.Projected.Sources {
			if s.ServiceAccountToken != nil && s.ServiceAccountToken.Audience != "" {
				out = append(out, s.ServiceAccountToken.Audience)
			}
		}
	}
	return out
}

// templateSets reports the first container of the Deployment's template that sets name, and its value.
func templateSets(t *Target, name string) (container, value string) {
	for _, c := range allContainers(&t.Deploy.Spec.Template.Spec) {
		for _, e := range c.Env {
			if e.Name == name {
				return c.Name, e.Value
			}
		}
	}
	return "", ""
}
