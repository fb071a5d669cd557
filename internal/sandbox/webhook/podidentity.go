package webhook

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// What EKS injects into the pods of a ServiceAccount that has an EKS Pod Identity association.
const (
	PodIdentityAudience       = "pods.eks.amazonaws.com"
	PodIdentityVolumeName     = "eks-pod-identity-token"
	PodIdentityMountPath      = "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount"
	PodIdentityTokenPath      = "eks-pod-identity-token"
	PodIdentityTokenFile      = PodIdentityMountPath + "/" + PodIdentityTokenPath
	PodIdentityCredentialsURI = "http://169.254.170.23/v1/credentials"
)

// PodIdentityLookup tells whether the ServiceAccount namespace/name has a Pod Identity association in
// effect; the sandbox answers it from its AWS front's state.
type PodIdentityLookup func(namespace, serviceAccount string) bool

// MutatePodIdentity returns the pod as EKS admits it for a ServiceAccount with a Pod Identity association,
// and whether anything changed: the container credentials environment and the projected token with the
// audience pods.eks.amazonaws.com, in every container not listed in eks.amazonaws.com/skip-containers.
// A variable the container sets itself is left as it is. pod is not modified.
func MutatePodIdentity(cfg Config, pod *corev1.Pod) (*corev1.Pod, bool) {
	skip := map[string]bool{}
	for _, name := range strings.Split(pod.Annotations[SkipContainersAnnot], ",") {
		if name = strings.TrimSpace(name); name != "" {
			skip[name] = true
		}
	}
	// The order EKS uses, as `kubectl describe pod` shows it on EKS.
	env := []corev1.EnvVar{{Name: "AWS_STS_REGIONAL_ENDPOINTS", Value: "regional"}}
	if cfg.Region != "" {
		env = append(env,
			corev1.EnvVar{Name: "AWS_DEFAULT_REGION", Value: cfg.Region},
			corev1.EnvVar{Name: "AWS_REGION", Value: cfg.Region})
	}
	env = append(env,
		corev1.EnvVar{Name: "AWS_CONTAINER_CREDENTIALS_FULL_URI", Value: PodIdentityCredentialsURI},
		corev1.EnvVar{Name: "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", Value: PodIdentityTokenFile})
	mount := corev1.VolumeMount{Name: PodIdentityVolumeName, MountPath: PodIdentityMountPath, ReadOnly: true}

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
	if !hasVolume(out.Spec.Volumes, PodIdentityVolumeName) {
		expiration := DefaultExpiration
		out.Spec.Volumes = append(out.Spec.Volumes, corev1.Volume{
			Name: PodIdentityVolumeName,
			VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
				Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{
					Audience:          PodIdentityAudience,
					ExpirationSeconds: &expiration,
					Path:              PodIdentityTokenPath,
				}}},
			}},
		})
	}
	return out, true
}

// addEnvAndMount adds the variables the container does not set and the mount unless something is mounted
// at its path or under its name already.
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
