package sandbox_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox/sandboxtest"
)

// podToken is a token of ns/sa for audience, bound to pod when pod is not nil: what the kubelet projects.
func podToken(t *testing.T, c kubernetes.Interface, ns, sa, audience string, pod *corev1.Pod) string {
	t.Helper()
	spec := authenticationv1.TokenRequestSpec{Audiences: []string{audience}}
	if pod != nil {
		spec.BoundObjectRef = &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID}
	}
	tr, err := c.CoreV1().ServiceAccounts(ns).CreateToken(context.Background(), sa, &authenticationv1.TokenRequest{Spec: spec}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return tr.Status.Token
}

// agentGet sends the container credentials request as the SDKs do, to url with token as Authorization
// (none when empty) and host as the Host header (the URL's when empty).
func agentGet(t *testing.T, url, token, host string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	if host != "" {
		req.Host = host
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The sandbox's EKS Pod Identity agent answers a pod's token with the credentials of its association's role
// (as AWS SDK for Go v2's own container provider reads them, and STS knows them), and refuses as EKS's agent
// does: no token, a token that is no JWT, a request through another address, and EKS Auth's refusals
// (no association, the wrong audience, another cluster's token) with EKS Auth's status and code.
func TestPodIdentityAgent(t *testing.T) {
	sb := sandboxtest.Get(t)
	c := client(t)
	ctx := context.Background()
	ns := namespace(t, c)
	for _, sa := range []string{"sdc", "plain"} {
		if _, err := c.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	associate(t, sb, ns, "sdc")
	pod := createPod(t, c, ns, "sdc-0", "sdc", nil, corev1.Container{Name: "app", Image: "example/app:1"})
	plain := createPod(t, c, ns, "plain-0", "plain", nil, corev1.Container{Name: "app", Image: "example/app:1"})
	token := podToken(t, c, ns, "sdc", "pods.eks.amazonaws.com", pod)

	if !strings.HasPrefix(sb.PodIdentityAgentURL, "http://127.0.0.1:") || !strings.HasSuffix(sb.PodIdentityAgentURL, "/v1/credentials") ||
		sb.EnvMap()["SANDBOX_POD_IDENTITY_AGENT_URL"] != sb.PodIdentityAgentURL {
		t.Fatalf("agent URL %q, env %q", sb.PodIdentityAgentURL, sb.EnvMap()["SANDBOX_POD_IDENTITY_AGENT_URL"])
	}
	status, body := agentGet(t, sb.PodIdentityAgentURL, token, "")
	var js map[string]string
	if err := json.Unmarshal([]byte(body), &js); status != http.StatusOK || err != nil {
		t.Fatalf("agent: HTTP %d %s (%v)", status, body, err)
	}
	exp, err := time.Parse(time.RFC3339Nano, js["Expiration"])
	if js["AccessKeyId"] == "" || js["SecretAccessKey"] == "" || js["Token"] == "" || js["AccountId"] != sb.AccountID || err != nil || !exp.After(time.Now().Add(50*time.Minute)) {
		t.Errorf("the container credentials JSON: %s", body)
	}

	// The SDK's container provider, as a pod's SDK would use it, and STS on the credentials it got.
	creds, err := endpointcreds.New(sb.PodIdentityAgentURL, func(o *endpointcreds.Options) { o.AuthorizationToken = token }).Retrieve(ctx)
	if err != nil {
		t.Fatalf("aws-sdk-go-v2 endpointcreds: %v", err)
	}
	id, err := sts.New(sts.Options{Region: sb.Region, BaseEndpoint: aws.String(sb.AWSEndpoint), Credentials: aws.NewCredentialsCache(aws.CredentialsProviderFunc(
		func(context.Context) (aws.Credentials, error) { return creds, nil }))}).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || !strings.Contains(aws.ToString(id.Arn), ":assumed-role/pi-"+ns+"-sdc/eks-sandbox-sdc-0-") {
		t.Errorf("GetCallerIdentity with the agent's credentials: %v %v", aws.ToString(id.Arn), err)
	}

	second := sb.Clusters[1].PodIdentityAgentURL
	for _, tc := range []struct {
		name, url, token, host string
		status                 int
		says                   string
	}{
		{"no token", sb.PodIdentityAgentURL, "", "", 400, "Service account token cannot be empty"},
		{"not a JWT", sb.PodIdentityAgentURL, "not-a-token", "", 400, "Service account token cannot be parsed"},
		{"another address", sb.PodIdentityAgentURL, token, "169.254.169.254", 403, "Called agent through invalid address"},
		{"no association", sb.PodIdentityAgentURL, podToken(t, c, ns, "plain", "pods.eks.amazonaws.com", plain), "", 404, "(ResourceNotFoundException): No Pod Identity Association found for service account plain"},
		{"IRSA's audience", sb.PodIdentityAgentURL, podToken(t, c, ns, "sdc", "sts.amazonaws.com", pod), "", 400, "(InvalidTokenException): The service account token's audience"},
		{"another cluster's agent", second, token, "", 400, "(InvalidTokenException):"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := agentGet(t, tc.url, tc.token, tc.host)
			if status != tc.status || !strings.Contains(body, tc.says) {
				t.Errorf("HTTP %d %q; want %d saying %q", status, body, tc.status, tc.says)
			}
		})
	}
}
