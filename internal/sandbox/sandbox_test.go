package sandbox_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox"
	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox/sandboxtest"
	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox/webhook"
)

// The package's sandbox runs two clusters (fleet_test.go); the tests here use the first, as before.
func TestMain(m *testing.M) { sandboxtest.MainWith(m, sandbox.Options{Clusters: 2}) }

// anonymous is an HTTP client that trusts the sandbox CA and presents no credentials, as IAM does.
func anonymous(t *testing.T, sb *sandbox.Sandbox) *http.Client {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(sb.CAPEM) {
		t.Fatal("sandbox CA PEM does not parse")
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

func getJSON(t *testing.T, c *http.Client, url string, into any) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s without credentials: %d %s", url, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, into); err != nil {
		t.Fatalf("GET %s: %v: %s", url, err, body)
	}
}

func TestDiscoveryAndJWKSAreAnonymous(t *testing.T) {
	sb := sandboxtest.Get(t)
	c := anonymous(t, sb)
	var disco struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	getJSON(t, c, sb.Issuer+"/.well-known/openid-configuration", &disco)
	if disco.Issuer != sb.Issuer {
		t.Errorf("discovery issuer = %q, want %q", disco.Issuer, sb.Issuer)
	}
	if !strings.HasPrefix(disco.JWKSURI, "https://127.0.0.1:") {
		t.Errorf("jwks_uri = %q, want a loopback https URL", disco.JWKSURI)
	}
	var jwks jose.JSONWebKeySet
	getJSON(t, c, disco.JWKSURI, &jwks)
	if len(jwks.Keys) == 0 {
		t.Fatal("JWKS has no keys")
	}
}

var seq atomic.Int64

func namespace(t *testing.T, c kubernetes.Interface) string {
	t.Helper()
	name := fmt.Sprintf("t%d-%d", time.Now().UnixNano()%100000, seq.Add(1))
	if _, err := c.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{}) })
	return name
}

func client(t *testing.T) kubernetes.Interface {
	c, err := kubernetes.NewForConfig(sandboxtest.Get(t).RESTConfig)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestTokenRequestTokenVerifiesAgainstJWKS(t *testing.T) {
	sb := sandboxtest.Get(t)
	c := client(t)
	ctx := context.Background()
	ns := namespace(t, c)
	if _, err := c.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "sdc"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tr, err := c.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "sdc", &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{Audiences: []string{"sts.amazonaws.com"}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var jwks jose.JSONWebKeySet
	getJSON(t, anonymous(t, sb), sb.Issuer+"/openid/v1/jwks", &jwks)

	tok, err := jwt.ParseSigned(tr.Status.Token, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	var claims jwt.Claims
	if err := tok.Claims(jwks, &claims); err != nil {
		t.Fatalf("token does not verify against the issuer's JWKS: %v", err)
	}
	if err := claims.Validate(jwt.Expected{Issuer: sb.Issuer, AnyAudience: jwt.Audience{"sts.amazonaws.com"}, Time: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if want := "system:serviceaccount:" + ns + ":sdc"; claims.Subject != want {
		t.Errorf("sub = %q, want %q", claims.Subject, want)
	}
	// And a key that is not the issuer's does not verify it.
	var other jose.JSONWebKeySet
	for _, k := range jwks.Keys {
		k.KeyID = "other"
		other.Keys = append(other.Keys, k)
	}
	if err := tok.Claims(other, &claims); err == nil {
		t.Error("token verified against a JWKS without its key ID")
	}
}

func TestDeploymentGetsPendingPods(t *testing.T) {
	c := client(t)
	ctx := context.Background()
	ns := namespace(t, c)
	labels := map[string]string{"app": "web"}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "example/web:1"}}},
			},
		},
	}
	if _, err := c.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pods := waitPods(t, c, ns, "app=web", 1)
	if pods[0].Status.Phase != corev1.PodPending {
		t.Errorf("pod phase = %s, want Pending (the sandbox has no nodes)", pods[0].Status.Phase)
	}
}

func waitPods(t *testing.T, c kubernetes.Interface, ns, selector string, n int) []corev1.Pod {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		list, err := c.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			t.Fatal(err)
		}
		if len(list.Items) >= n {
			return list.Items
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d pods with %s in %s after 30s, want %d", len(list.Items), selector, ns, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func envOf(c corev1.Container) map[string]string {
	m := map[string]string{}
	for _, e := range c.Env {
		m[e.Name] = e.Value
	}
	return m
}

func tokenVolume(p *corev1.Pod) *corev1.ServiceAccountTokenProjection {
	for _, v := range p.Spec.Volumes {
		if v.Name == webhook.TokenVolumeName && v.Projected != nil {
			for _, s := range v.Projected.Sources {
				if s.ServiceAccountToken != nil {
					return s.ServiceAccountToken
				}
			}
		}
	}
	return nil
}

func mounted(c corev1.Container) bool {
	return slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool {
		return m.Name == webhook.TokenVolumeName && m.MountPath == webhook.TokenMountPath && m.ReadOnly
	})
}

func TestWebhookMutatesPodsOfAnnotatedServiceAccounts(t *testing.T) {
	const role = "arn:aws:iam::123456789012:role/sdc"
	tests := []struct {
		name        string
		saAnnots    map[string]string
		podAnnots   map[string]string
		containers  []corev1.Container
		init        []corev1.Container
		wantMutated bool
		check       func(t *testing.T, p *corev1.Pod)
	}{
		{
			name:        "no annotation: left alone",
			saAnnots:    nil,
			wantMutated: false,
		},
		{
			name:        "role-arn: env, region and a token volume with the defaults",
			saAnnots:    map[string]string{webhook.RoleARNAnnotation: role},
			wantMutated: true,
			check: func(t *testing.T, p *corev1.Pod) {
				env := envOf(p.Spec.Containers[0])
				want := map[string]string{"AWS_ROLE_ARN": role, "AWS_WEB_IDENTITY_TOKEN_FILE": webhook.TokenFile, "AWS_REGION": sandbox.Region, "AWS_DEFAULT_REGION": sandbox.Region}
				for k, v := range want {
					if env[k] != v {
						t.Errorf("env %s = %q, want %q", k, env[k], v)
					}
				}
				if _, ok := env["AWS_STS_REGIONAL_ENDPOINTS"]; ok {
					t.Error("AWS_STS_REGIONAL_ENDPOINTS set without the annotation")
				}
				v := tokenVolume(p)
				if v == nil || v.Audience != "sts.amazonaws.com" || v.ExpirationSeconds == nil || *v.ExpirationSeconds != 86400 || v.Path != "token" {
					t.Errorf("token volume = %+v, want audience sts.amazonaws.com, 86400 s, path token", v)
				}
				if !mounted(p.Spec.Containers[0]) {
					t.Error("token volume not mounted read-only at " + webhook.TokenMountPath)
				}
			},
		},
		{
			name:        "sts-regional-endpoints, audience and token-expiration annotations",
			saAnnots:    map[string]string{webhook.RoleARNAnnotation: role, webhook.RegionalSTSAnnotaion: "true", webhook.AudienceAnnotation: "example.com/aud", webhook.ExpirationAnnotation: "3600"},
			wantMutated: true,
			check: func(t *testing.T, p *corev1.Pod) {
				if got := envOf(p.Spec.Containers[0])["AWS_STS_REGIONAL_ENDPOINTS"]; got != "regional" {
					t.Errorf("AWS_STS_REGIONAL_ENDPOINTS = %q, want regional", got)
				}
				if v := tokenVolume(p); v == nil || v.Audience != "example.com/aud" || *v.ExpirationSeconds != 3600 {
					t.Errorf("token volume = %+v, want audience example.com/aud and 3600 s", v)
				}
			},
		},
		{
			name:        "token-expiration below the minimum becomes 600",
			saAnnots:    map[string]string{webhook.RoleARNAnnotation: role, webhook.ExpirationAnnotation: "60"},
			wantMutated: true,
			check: func(t *testing.T, p *corev1.Pod) {
				if v := tokenVolume(p); v == nil || *v.ExpirationSeconds != 600 {
					t.Errorf("token volume = %+v, want 600 s", v)
				}
			},
		},
		{
			name:      "skip-containers and init containers",
			saAnnots:  map[string]string{webhook.RoleARNAnnotation: role},
			podAnnots: map[string]string{webhook.SkipContainersAnnot: "sidecar"},
			containers: []corev1.Container{
				{Name: "main", Image: "example/main:1"},
				{Name: "sidecar", Image: "example/sidecar:1"},
			},
			init:        []corev1.Container{{Name: "setup", Image: "example/setup:1"}},
			wantMutated: true,
			check: func(t *testing.T, p *corev1.Pod) {
				for _, c := range p.Spec.Containers {
					_, has := envOf(c)["AWS_ROLE_ARN"]
					if has != (c.Name == "main") || mounted(c) != (c.Name == "main") {
						t.Errorf("container %s: role env %v, mounted %v", c.Name, has, mounted(c))
					}
				}
				if envOf(p.Spec.InitContainers[0])["AWS_ROLE_ARN"] != role || !mounted(p.Spec.InitContainers[0]) {
					t.Error("init container not mutated")
				}
			},
		},
		{
			name:     "user env is never overwritten",
			saAnnots: map[string]string{webhook.RoleARNAnnotation: role},
			containers: []corev1.Container{{Name: "main", Image: "example/main:1", Env: []corev1.EnvVar{
				{Name: "AWS_REGION", Value: "eu-west-1"}, {Name: "AWS_ROLE_ARN", Value: "arn:aws:iam::123456789012:role/mine"},
			}}},
			wantMutated: true,
			check: func(t *testing.T, p *corev1.Pod) {
				env := envOf(p.Spec.Containers[0])
				if env["AWS_REGION"] != "eu-west-1" || env["AWS_ROLE_ARN"] != "arn:aws:iam::123456789012:role/mine" {
					t.Errorf("user env overwritten: %v", env)
				}
				if env["AWS_WEB_IDENTITY_TOKEN_FILE"] != webhook.TokenFile || env["AWS_DEFAULT_REGION"] != sandbox.Region {
					t.Errorf("missing injected env: %v", env)
				}
				n := 0
				for _, e := range p.Spec.Containers[0].Env {
					if e.Name == "AWS_REGION" {
						n++
					}
				}
				if n != 1 {
					t.Errorf("AWS_REGION appears %d times", n)
				}
			},
		},
	}
	c := client(t)
	ns := namespace(t, c)
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			sa := fmt.Sprintf("sa%d", i)
			if _, err := c.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa, Annotations: tc.saAnnots}}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			containers := tc.containers
			if containers == nil {
				containers = []corev1.Container{{Name: "main", Image: "example/main:1"}}
			}
			pod := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: sa + "-pod", Annotations: tc.podAnnots},
				Spec:       corev1.PodSpec{ServiceAccountName: sa, Containers: containers, InitContainers: tc.init},
			}
			got, err := c.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if mutated := tokenVolume(got) != nil; mutated != tc.wantMutated {
				t.Fatalf("mutated = %v, want %v; pod spec: %+v", mutated, tc.wantMutated, got.Spec)
			}
			if tc.check != nil {
				tc.check(t, got)
			}
		})
	}
}

func TestPodsCreatedBeforeTheAnnotationStayUnmutated(t *testing.T) {
	c := client(t)
	ctx := context.Background()
	ns := namespace(t, c)
	if _, err := c.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "sdc"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	newPod := func(name string) *corev1.Pod {
		p, err := c.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec:       corev1.PodSpec{ServiceAccountName: "sdc", Containers: []corev1.Container{{Name: "sdc", Image: "example/sdc:1"}}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	newPod("before")
	sa, err := c.CoreV1().ServiceAccounts(ns).Get(ctx, "sdc", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sa.Annotations = map[string]string{webhook.RoleARNAnnotation: "arn:aws:iam::123456789012:role/sdc"}
	if _, err := c.CoreV1().ServiceAccounts(ns).Update(ctx, sa, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	after := newPod("after")
	before, err := c.CoreV1().Pods(ns).Get(ctx, "before", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if tokenVolume(before) != nil || envOf(before.Spec.Containers[0])["AWS_ROLE_ARN"] != "" {
		t.Error("a pod created before the annotation was changed")
	}
	if tokenVolume(after) == nil {
		t.Error("a pod created after the annotation was not mutated")
	}
}

func TestWebhookIsRegisteredAsOnEKS(t *testing.T) {
	c := client(t)
	cfg, err := c.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(context.Background(), sandbox.WebhookConfigName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Webhooks) != 1 || *cfg.Webhooks[0].FailurePolicy != "Ignore" {
		t.Errorf("webhooks = %+v, want one with failurePolicy Ignore", cfg.Webhooks)
	}
}
