package sandbox

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox/awsfront"
)

// EKS authenticates kubectl's bearer tokens (from `aws eks get-token` or the sandbox's exec plugin) with
// an authenticator the apiserver asks through a token webhook: the token is a presigned
// sts:GetCallerIdentity that names the cluster, and the caller's IAM identity maps to Kubernetes users
// through the cluster's access entries. The sandbox does the same: one TLS webhook serves every cluster
// (POST /authenticate/<cluster>, TokenReview v1), verifies tokens with the AWS front, and maps the IAM users
// the sandbox made for its profiles (sandbox-admin, sandbox-N-admin) in the cluster's account to
// system:masters, as EKS's cluster-creator and admin access entries would. Any other identity is refused,
// as EKS refuses a principal without an access entry.

// authenticator is the sandbox's token webhook.
type authenticator struct {
	url   string // https://127.0.0.1:<port>
	caPEM []byte

	mu     sync.Mutex
	front  *awsfront.Front            // nil until the AWS endpoint is up
	admins map[string]map[string]bool // cluster -> IAM user ARNs mapped to system:masters
}

func (a *authenticator) setFront(f *awsfront.Front) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.front = f
}

// setAdmins records the IAM users (ARNs) that administer the clusters of their account.
func (a *authenticator) setAdmins(clusters []*Cluster, arns []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.admins = map[string]map[string]bool{}
	for _, c := range clusters {
		m := map[string]bool{}
		for _, arn := range arns {
			if strings.Contains(arn, ":"+c.AccountID+":") {
				m[arn] = true
			}
		}
		a.admins[c.Name] = m
	}
}

// startAuthenticator serves the token webhook on loopback, with a certificate of its own CA.
func (s *Sandbox) startAuthenticator() error {
	p, err := newPKI()
	if err != nil {
		return err
	}
	certPEM, keyPEM, err := p.issue("sandbox-authenticator", nil, []string{"127.0.0.1"})
	if err != nil {
		return err
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	a := &authenticator{url: "https://" + ln.Addr().String(), caPEM: p.caPEM}
	srv := &http.Server{Handler: a, TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}, ReadHeaderTimeout: 10 * time.Second}
	s.servers = append(s.servers, srv)
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	s.authn = a
	return nil
}

// ServeHTTP answers one TokenReview for the cluster named in the path.
func (a *authenticator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	cluster, ok := strings.CutPrefix(r.URL.Path, "/authenticate/")
	if !ok || r.Method != http.MethodPost {
		http.Error(w, "POST a TokenReview to /authenticate/<cluster>", http.StatusNotFound)
		return
	}
	var review authenticationv1.TokenReview
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&review); err != nil {
		http.Error(w, "the body is not a TokenReview: "+err.Error(), http.StatusBadRequest)
		return
	}
	review.Status = a.review(r, cluster, review.Spec.Token)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(&authenticationv1.TokenReview{
		TypeMeta: review.TypeMeta, Status: review.Status,
	})
}

func (a *authenticator) review(r *http.Request, cluster, token string) authenticationv1.TokenReviewStatus {
	a.mu.Lock()
	front, admins := a.front, a.admins[cluster]
	a.mu.Unlock()
	refuse := func(format string, args ...any) authenticationv1.TokenReviewStatus {
		return authenticationv1.TokenReviewStatus{Error: fmt.Sprintf(format, args...)}
	}
	if front == nil {
		return refuse("the sandbox's AWS endpoint is not up yet")
	}
	if admins == nil {
		return refuse("no sandbox cluster %q", cluster)
	}
	id, err := front.VerifyKubeToken(r.Context(), token, cluster, time.Now())
	if err != nil {
		return refuse("%v", err)
	}
	if !admins[id.CanonicalARN] {
		return refuse("%s has no access entry in EKS cluster %s", id.ARN, cluster)
	}
	// The user is named and described as EKS names an IAM user of an access entry.
	return authenticationv1.TokenReviewStatus{
		Authenticated: true,
		User: authenticationv1.UserInfo{
			Username: id.ARN,
			UID:      "aws-iam-authenticator:" + id.Account + ":" + id.CanonicalARN,
			Groups:   []string{"system:masters"},
			Extra: map[string]authenticationv1.ExtraValue{
				"arn":          {id.ARN},
				"canonicalArn": {id.CanonicalARN},
				"accessKeyId":  {id.AccessKeyID},
				"sessionName":  {id.SessionName},
			},
		},
	}
}

// writeWebhookKubeconfig writes the kubeconfig kube-apiserver reads to reach a token webhook.
func writeWebhookKubeconfig(path, url string, caPEM []byte) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["authenticator"] = &clientcmdapi.Cluster{Server: url, CertificateAuthorityData: caPEM}
	cfg.AuthInfos["kube-apiserver"] = &clientcmdapi.AuthInfo{}
	cfg.Contexts["webhook"] = &clientcmdapi.Context{Cluster: "authenticator", AuthInfo: "kube-apiserver"}
	cfg.CurrentContext = "webhook"
	return clientcmd.WriteToFile(*cfg, path)
}
