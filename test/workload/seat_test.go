package workload

import (
	"context"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox/sandboxtest"
)

// EKS's Pod Identity agent address, as the webhook writes it into AWS_CONTAINER_CREDENTIALS_FULL_URI.
const eksAgentHost = "169.254.170.23"

// seat is a pod's AWS environment rebuilt on this machine: the variables the webhook injected into the
// pod's first container, with the token files it names written under root (a token the apiserver bound
// to that pod, with the audience and lifetime of the pod's projected volume) and the Pod Identity agent's
// address mapped onto the sandbox's loopback agent.
type seat struct {
	pod  string
	root string
	env  []string // the pod's variables, mapped; nothing else
}

// identityPod waits for a pod of the Deployment app that carries an AWS identity (IRSA's or Pod
// Identity's variables): only pods created after the binding have them.
func identityPod(t *testing.T, ns, app string) corev1.Pod {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		pods, err := kube(t).CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + app})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pods.Items {
			if p.DeletionTimestamp != nil || len(p.Spec.Containers) == 0 {
				continue
			}
			for _, e := range p.Spec.Containers[0].Env {
				if e.Name == "AWS_ROLE_ARN" || e.Name == "AWS_CONTAINER_CREDENTIALS_FULL_URI" {
					return p
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no pod of %s/%s with an AWS identity in its environment after 60s (%d pods)", ns, app, len(pods.Items))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// newSeat rebuilds the environment of the Deployment's pod.
func newSeat(t *testing.T, ns, app string) seat {
	t.Helper()
	sb := sandboxtest.Get(t)
	pod := identityPod(t, ns, app)
	c := pod.Spec.Containers[0]
	s := seat{pod: pod.Name, root: t.TempDir()}
	for _, e := range c.Env {
		if e.ValueFrom != nil {
			continue // from the downward API or a Secret: none of the webhook's
		}
		v := e.Value
		switch e.Name {
		case "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE":
			v = s.writeToken(t, pod, c, v)
		case "AWS_CONTAINER_CREDENTIALS_FULL_URI":
			u, err := url.Parse(v)
			if err != nil || u.Hostname() != eksAgentHost {
				t.Fatalf("%s=%q: not EKS's Pod Identity agent", e.Name, v)
			}
			agent, err := url.Parse(sb.PodIdentityAgentURL)
			if err != nil {
				t.Fatal(err)
			}
			u.Host = agent.Host
			v = u.String()
		}
		s.env = append(s.env, e.Name+"="+v)
	}
	return s
}

// writeToken writes, under the seat's root, the token the kubelet would project to file: the pod's volume
// mounted at a prefix of file, its serviceAccountToken source at the rest. The token is requested for the
// pod's ServiceAccount, with that source's audience and lifetime, bound to the pod.
func (s seat) writeToken(t *testing.T, pod corev1.Pod, c corev1.Container, file string) string {
	t.Helper()
	for _, m := range c.VolumeMounts {
		rel, ok := strings.CutPrefix(file, strings.TrimSuffix(m.MountPath, "/")+"/")
		if !ok {
			continue
		}
		for _, v := range pod.Spec.Volumes {
			if v.Name != m.Name || v.Projected == nil {
				continue
			}
			for _, src := range v.Projected.Sources {
				if p := src.ServiceAccountToken; p != nil && path.Clean(p.Path) == rel {
					spec := authenticationv1.TokenRequestSpec{
						Audiences:         []string{p.Audience},
						ExpirationSeconds: p.ExpirationSeconds,
						BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID},
					}
					tr, err := kube(t).CoreV1().ServiceAccounts(pod.Namespace).CreateToken(context.Background(), pod.Spec.ServiceAccountName,
						&authenticationv1.TokenRequest{Spec: spec}, metav1.CreateOptions{})
					if err != nil {
						t.Fatalf("a token of %s/%s bound to pod %s: %v", pod.Namespace, pod.Spec.ServiceAccountName, pod.Name, err)
					}
					local := filepath.Join(s.root, filepath.FromSlash(file))
					if err := os.MkdirAll(filepath.Dir(local), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(local, []byte(tr.Status.Token), 0o600); err != nil {
						t.Fatal(err)
					}
					return local
				}
			}
		}
	}
	t.Fatalf("pod %s/%s: no projected service-account token volume is mounted at %s", pod.Namespace, pod.Name, file)
	return ""
}

// environ is the environment a chain runs in: the pod's variables, the sandbox's AWS endpoint, the region
// (when the pod has none), a HOME of its own without ~/.aws, the PATH to find the tools, and IMDS off (no
// node role here: a chain that found nothing must fail, not ask this machine's metadata service).
// Nothing else of the developer's or the sandbox's environment, in particular none of its keys.
//
// The endpoint is given twice, as AWS_ENDPOINT_URL and as STS's own AWS_ENDPOINT_URL_STS: aws-sdk-go-v2's
// LoadDefaultConfig resolves the general AWS_ENDPOINT_URL only after the credential chain, so the STS
// client its web identity provider makes calls the real STS (measured: "lookup sts.us-west-2.amazonaws.com")
// while the service's own variable reaches it. A pod on EKS sets neither, so this is the sandbox's concern
// alone.
func (s seat) environ(t *testing.T) []string {
	t.Helper()
	sb := sandboxtest.Get(t)
	home, err := os.MkdirTemp(s.root, "home-")
	if err != nil {
		t.Fatal(err)
	}
	env := append([]string{}, s.env...)
	has := func(k string) bool {
		for _, kv := range env {
			if strings.HasPrefix(kv, k+"=") {
				return true
			}
		}
		return false
	}
	for _, k := range []string{"AWS_REGION", "AWS_DEFAULT_REGION"} {
		if !has(k) {
			env = append(env, k+"="+sb.Region)
		}
	}
	return append(env, "AWS_ENDPOINT_URL="+sb.AWSEndpoint, "AWS_ENDPOINT_URL_STS="+sb.AWSEndpoint, "AWS_EC2_METADATA_DISABLED=true", "HOME="+home, "PATH="+os.Getenv("PATH"))
}
