// Package webhook is the sandbox's imitation of the Amazon EKS pod identity webhook: for pods whose
// ServiceAccount carries eks.amazonaws.com/role-arn it injects the web identity environment and a projected
// token volume, exactly as the EKS webhook documents, so the plugin can be tested against the same outcome.
package webhook

import (
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// The annotations and names the EKS webhook uses.
const (
	AnnotationPrefix     = "eks.amazonaws.com"
	RoleARNAnnotation    = AnnotationPrefix + "/role-arn"
	AudienceAnnotation   = AnnotationPrefix + "/audience"
	RegionalSTSAnnotaion = AnnotationPrefix + "/sts-regional-endpoints"
	ExpirationAnnotation = AnnotationPrefix + "/token-expiration"
	SkipContainersAnnot  = AnnotationPrefix + "/skip-containers"

	DefaultAudience   = "sts.amazonaws.com"
	DefaultExpiration = int64(86400)
	MinExpiration     = int64(600)

	TokenVolumeName = "aws-iam-token"
	TokenMountPath  = "/var/run/secrets/eks.amazonaws.com/serviceaccount"
	TokenPath       = "token"
	TokenFile       = TokenMountPath + "/" + TokenPath
)

// Config is the webhook's own setting (what EKS passes as flags).
type Config struct {
	Region string // injected as AWS_REGION and AWS_DEFAULT_REGION when set
}

// Mutate returns the pod as the webhook would admit it, and whether it changed anything. sa is the pod's
// ServiceAccount (nil when it does not exist). pod is not modified.
func Mutate(cfg Config, pod *corev1.Pod, sa *corev1.ServiceAccount) (*corev1.Pod, bool) {
	if sa == nil {
		return pod, false
	}
	roleARN := sa.Annotations[RoleARNAnnotation]
	if roleARN == "" {
		return pod, false
	}
	audience := DefaultAudience
	if a := sa.Annotations[AudienceAnnotation]; a != "" {
		audience = a
	}
	expiration := DefaultExpiration
	if s := sa.Annotations[ExpirationAnnotation]; s != "" {
		if v, err := strconv.ParseInt(s, 10, 64); err == nil {
			expiration = max(v, MinExpiration)
		}
	}
	env := []corev1.EnvVar{}
	if sa.Annotations[RegionalSTSAnnotaion] == "true" {
		env = append(env, corev1.EnvVar{Name: "AWS_STS_REGIONAL_ENDPOINTS", Value: "regional"})
	}
	env = append(env, regionEnv(cfg)...)
	env = append(env,
		corev1.EnvVar{Name: "AWS_ROLE_ARN", Value: roleARN},
		corev1.EnvVar{Name: "AWS_WEB_IDENTITY_TOKEN_FILE", Value: TokenFile})
	return inject(pod, env,
		corev1.VolumeMount{Name: TokenVolumeName, MountPath: TokenMountPath, ReadOnly: true},
		corev1.ServiceAccountTokenProjection{Audience: audience, ExpirationSeconds: &expiration, Path: TokenPath})
}

// regionEnv is the region the webhook is set up with, in both variables the SDKs read; none without one.
func regionEnv(cfg Config) []corev1.EnvVar {
	if cfg.Region == "" {
		return nil
	}
	return []corev1.EnvVar{{Name: "AWS_DEFAULT_REGION", Value: cfg.Region}, {Name: "AWS_REGION", Value: cfg.Region}}
}

// inject returns a copy of pod with env and mount added to every container not listed in the pod's
// skip-containers annotation, and the projected token volume the mount names unless the pod has a volume of
// that name; and whether anything changed (when nothing did, pod itself). pod is not modified.
func inject(pod *corev1.Pod, env []corev1.EnvVar, mount corev1.VolumeMount, token corev1.ServiceAccountTokenProjection) (*corev1.Pod, bool) {
	skip := map[string]bool{}
	for _, name := range strings.Split(pod.Annotations[SkipContainersAnnot], ",") {
		if name = strings.TrimSpace(name); name != "" {
			skip[name] = true
		}
	}
	out := pod.DeepCopy()
	changed := false
	mutateAll := func(cs []corev1.Container) {
		for i := range cs {
			if !skip[cs[i].Name] && addEnvAndMount(&cs[i], env, mount) {
				changed = true
			}
		}
	}
	mutateAll(out.Spec.InitContainers)
	mutateAll(out.Spec.Containers)
	if !changed {
		return pod, false
	}
	if !hasVolume(out.Spec.Volumes, mount.Name) {
		out.Spec.Volumes = append(out.Spec.Volumes, corev1.Volume{
			Name: mount.Name,
			VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
				Sources: []corev1.VolumeProjection{{ServiceAccountToken: &token}},
			}},
		})
	}
	return out, true
}

// addEnvAndMount adds the variables the container does not set itself (the webhook never overwrites a
// user's env) and the mount unless something is mounted at its path or under its name already.
func addEnvAndMount(c *corev1.Container, env []corev1.EnvVar, mount corev1.VolumeMount) bool {
	changed := false
	have := map[string]bool{}
	for _, e := range c.Env {
		have[e.Name] = true
	}
	for _, e := range env {
		if !have[e.Name] {
			c.Env = append(c.Env, e)
			changed = true
		}
	}
	for _, m := range c.VolumeMounts {
		if m.MountPath == mount.MountPath || m.Name == mount.Name {
			return changed
		}
	}
	c.VolumeMounts = append(c.VolumeMounts, mount)
	return true
}

func hasVolume(vs []corev1.Volume, name string) bool {
	for _, v := range vs {
		if v.Name == name {
			return true
		}
	}
	return false
}
