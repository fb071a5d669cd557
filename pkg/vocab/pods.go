package vocab

import (
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// What pods and ServiceAccounts say about a pod's AWS identity, read the same way by bind and doctor.
const (
	// SkipContainersAnnotation (on a pod) names the containers the pod identity webhook leaves alone.
	SkipContainersAnnotation = "eks.amazonaws.com/skip-containers"
	// EnvAccessKeyID and EnvSecretAccessKey are static credentials, which the SDKs' chains take before any
	// role (and which doctor flags in a Deployment).
	EnvAccessKeyID     = "AWS_ACCESS_KEY_ID"
	EnvSecretAccessKey = "AWS_SECRET_ACCESS_KEY"
)

// RoleAnnotationTime is when the role annotation of sa was last written, from its managed fields; zero
// when unknown. A pod created before it has not been given the role by the webhook.
func RoleAnnotationTime(sa *corev1.ServiceAccount) time.Time {
	var t time.Time
	if sa == nil {
		return t
	}
	for _, f := range sa.ManagedFields {
		if f.FieldsV1 != nil && f.Time != nil && strings.Contains(string(f.FieldsV1.Raw), `"f:`+RoleARNAnnotation+`"`) && f.Time.After(t) {
			t = f.Time.Time
		}
	}
	return t
}

// PodEnv is the first non-empty value a container of the pod (init containers first) sets name to, and
// that container's name; "" when none does.
func PodEnv(p *corev1.Pod, name string) (container, value string) {
	for _, cs := range [][]corev1.Container{p.Spec.InitContainers, p.Spec.Containers} {
		for _, c := range cs {
			for _, e := range c.Env {
				if e.Name == name && e.Value != "" {
					return c.Name, e.Value
				}
			}
		}
	}
	return "", ""
}
