package webhook

import (
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
	// The order EKS uses, as `kubectl describe pod` shows it on EKS.
	env := []corev1.EnvVar{{Name: "AWS_STS_REGIONAL_ENDPOINTS", Value: "regional"}}
	env = append(env, regionEnv(cfg)...)
	env = append(env,
		corev1.EnvVar{Name: "AWS_CONTAINER_CREDENTIALS_FULL_URI", Value: PodIdentityCredentialsURI},
		corev1.EnvVar{Name: "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", Value: PodIdentityTokenFile})
	expiration := DefaultExpiration
	return inject(pod, env,
		corev1.VolumeMount{Name: PodIdentityVolumeName, MountPath: PodIdentityMountPath, ReadOnly: true},
		corev1.ServiceAccountTokenProjection{Audience: PodIdentityAudience, ExpirationSeconds: &expiration, Path: PodIdentityTokenPath})
}
