// Package sandbox runs a local stand-in for an EKS cluster and its AWS account, built from real parts:
// etcd, kube-apiserver and kube-controller-manager built from source, a pod identity webhook that behaves as
// the EKS one documents, and moto's AWS server behind a front that adds what real IAM and STS do and moto
// does not. Tests, benchmarks and `make demo` run the plugin against it.
package sandbox

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox/awsfront"
	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox/webhook"
)

// Fixed facts of every sandbox.
const (
	ContextName = "sandbox"
	ClusterName = "sandbox"
	Region      = "us-west-2"
	// WebhookConfigName is the MutatingWebhookConfiguration the sandbox registers, named as on EKS.
	WebhookConfigName = "pod-identity-webhook"
	// KubeVersion is the minor version the control plane is built at (hack/tools/go.mod).
	KubeVersion = "1.34"
)

// Options configure Start.
type Options struct {
	Dir    string          // state directory: kubeconfig, env, audit.log, ready and logs are written here
	BinDir string          // where etcd, kube-apiserver and kube-controller-manager are
	Faults awsfront.Faults // initial fault settings of the AWS front
	Log    io.Writer       // progress and the servers' request logs; nil discards them
}

// Sandbox is a running sandbox.
type Sandbox struct {
	Dir                   string
	KubeconfigPath        string
	RESTConfig            *rest.Config // admin (system:masters)
	APIServerURL          string
	Issuer                string // the service-account issuer, equal to APIServerURL
	CAPEM                 []byte // the CA of the apiserver's serving certificate
	ServiceAccountKeyPath string // PEM of the key the apiserver signs service-account tokens with
	AWSEndpoint           string
	AccountID             string
	Region                string
	AccessKeyID           string
	SecretAccessKey       string
	Front                 *awsfront.Front

	opts      Options
	log       *log.Logger
	spawn     *spawner
	procs     []*process
	servers   []*http.Server
	moto      *awsfront.Moto
	pki       *pki
	adminCert []byte
	adminKey  []byte
	kcmCert   []byte
	kcmKey    []byte
	stopOnce  sync.Once
	frontRef  atomic.Pointer[awsfront.Front] // Front, for the webhook, which starts before it
}

// Start brings a sandbox up and returns once it is ready; on failure everything started is stopped again.
func Start(ctx context.Context, opts Options) (sb *Sandbox, err error) {
	if opts.Dir == "" || opts.BinDir == "" {
		return nil, errors.New("sandbox: Dir and BinDir are required")
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	s := &Sandbox{
		Dir:                   dir,
		KubeconfigPath:        filepath.Join(dir, "kubeconfig"),
		ServiceAccountKeyPath: filepath.Join(dir, "pki", "sa.key"),
		Region:                Region,
		opts:                  opts,
		log:                   log.New(opts.Log, "sdc-sandbox: ", log.Ltime),
		spawn:                 newSpawner(),
	}
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()
	if err := s.prepareDir(); err != nil {
		return nil, err
	}
	started := time.Now()
	if err := s.start(ctx); err != nil {
		return nil, err
	}
	if err := s.writeEnv(); err != nil {
		return nil, err
	}
	// ready is written last: whoever waits for it finds everything else in place.
	if err := os.WriteFile(filepath.Join(dir, "ready"), []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o644); err != nil {
		return nil, err
	}
	s.log.Printf("ready in %s: apiserver %s, AWS endpoint %s", time.Since(started).Round(10*time.Millisecond), s.APIServerURL, s.AWSEndpoint)
	return s, nil
}

// prepareDir removes what an earlier sandbox left in Dir (only the sandbox's own files) and writes the PKI.
func (s *Sandbox) prepareDir() error {
	for _, name := range []string{"etcd", "pki", "logs", "audit.log", "audit-policy.yaml", "kubeconfig",
		"controller-manager.kubeconfig", "env", "ready"} {
		if err := os.RemoveAll(filepath.Join(s.Dir, name)); err != nil {
			return err
		}
	}
	for _, d := range []string{s.Dir, filepath.Join(s.Dir, "pki"), filepath.Join(s.Dir, "logs")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	p, err := newPKI()
	if err != nil {
		return err
	}
	s.CAPEM = p.caPEM
	servingCert, servingKey, err := p.issue("kube-apiserver", nil,
		[]string{"127.0.0.1", "localhost", "10.96.0.1", "kubernetes", "kubernetes.default", "kubernetes.default.svc"})
	if err != nil {
		return err
	}
	s.adminCert, s.adminKey, err = p.issue("sandbox-admin", []string{"system:masters"}, nil)
	if err != nil {
		return err
	}
	// The controller-manager runs every controller under its own name (no per-controller credentials), so
	// it needs more than the system:kube-controller-manager role grants: in a throwaway sandbox, all of it.
	kcmCert, kcmKey, err := p.issue("system:kube-controller-manager", []string{"system:masters"}, nil)
	if err != nil {
		return err
	}
	saKey, saPub, err := serviceAccountKey()
	if err != nil {
		return err
	}
	if err := writeFiles(filepath.Join(s.Dir, "pki"), map[string][]byte{
		"ca.crt": p.caPEM,
		// The chain the apiserver presents is leaf then CA, like a real issuer's: IAM's thumbprint is the
		// SHA-1 of its last certificate.
		"apiserver-chain.crt": append(append([]byte{}, servingCert...), p.caPEM...),
		"apiserver.key":       servingKey,
		"sa.key":              saKey,
		"sa.pub":              saPub,
	}); err != nil {
		return err
	}
	s.pki = p
	s.kcmCert, s.kcmKey = kcmCert, kcmKey
	return os.WriteFile(filepath.Join(s.Dir, "audit-policy.yaml"), []byte(auditPolicy), 0o644)
}

func (s *Sandbox) start(ctx context.Context) error {
	// moto takes a second or two to start; let it do so while etcd and the apiserver come up.
	motoErr := make(chan error, 1)
	go func() {
		m, err := awsfront.StartMoto(ctx, awsfront.MotoOptions{Dir: filepath.Join(s.Dir, "logs"), Log: s.opts.Log})
		s.moto = m
		motoErr <- err
	}()
	etcdURL, err := s.startEtcd(ctx)
	if err != nil {
		<-motoErr
		return fmt.Errorf("etcd: %w", err)
	}
	port, err := freePort()
	if err != nil {
		<-motoErr
		return err
	}
	if err := s.startAPIServer(ctx, etcdURL, port); err != nil {
		<-motoErr
		return fmt.Errorf("kube-apiserver: %w", err)
	}
	if err := s.writeKubeconfig(s.KubeconfigPath, "sandbox-admin", s.adminCert, s.adminKey); err != nil {
		<-motoErr
		return err
	}
	if err := s.writeKubeconfig(filepath.Join(s.Dir, "controller-manager.kubeconfig"), "kube-controller-manager", s.kcmCert, s.kcmKey); err != nil {
		<-motoErr
		return err
	}
	if err := s.startControllerManager(); err != nil {
		<-motoErr
		return fmt.Errorf("kube-controller-manager: %w", err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", s.KubeconfigPath)
	if err != nil {
		<-motoErr
		return err
	}
	s.RESTConfig = cfg
	// The sandbox's own client (the webhook reads a ServiceAccount per pod) must keep up with bulk seeding.
	own := rest.CopyConfig(cfg)
	own.QPS, own.Burst = 500, 1000
	client, err := kubernetes.NewForConfig(own)
	if err != nil {
		<-motoErr
		return err
	}
	if err := s.startWebhook(ctx, client); err != nil {
		<-motoErr
		return fmt.Errorf("pod identity webhook: %w", err)
	}
	if err := allowIssuerDiscovery(ctx, client); err != nil {
		<-motoErr
		return err
	}
	if err := <-motoErr; err != nil {
		return fmt.Errorf("moto: %w", err)
	}
	if err := s.startFront(ctx); err != nil {
		return fmt.Errorf("AWS front: %w", err)
	}
	// The controller-manager is ready for Deployments once its ServiceAccount controller has made "default".
	return poll(ctx, s.procs[len(s.procs)-1], 30*time.Second, func() error {
		_, err := client.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		return err
	})
}

// allowIssuerDiscovery lets anyone read the OIDC discovery document and JWKS, as EKS does (IAM and STS
// fetch them without credentials).
func allowIssuerDiscovery(ctx context.Context, client kubernetes.Interface) error {
	crb := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "service-account-issuer-discovery-unauthenticated"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "system:service-account-issuer-discovery"},
		Subjects:   []rbacv1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "Group", Name: "system:unauthenticated"}},
	}
	_, err := client.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("binding issuer discovery to system:unauthenticated: %w", err)
	}
	return nil
}

// startWebhook serves the pod identity webhook over TLS on loopback and registers it with the apiserver.
func (s *Sandbox) startWebhook(ctx context.Context, client kubernetes.Interface) error {
	certPEM, keyPEM, err := s.pki.issue("pod-identity-webhook", nil, []string{"127.0.0.1"})
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
	h := &webhook.Handler{
		Config:          webhook.Config{Region: s.Region},
		ServiceAccounts: client.CoreV1(),
		PodIdentity:     s.podIdentityAssociated,
		Log:             log.New(s.opts.Log, "", log.Ltime),
	}
	srv := &http.Server{Handler: h, TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}, ReadHeaderTimeout: 10 * time.Second}
	s.servers = append(s.servers, srv)
	go func() { _ = srv.ServeTLS(ln, "", "") }()

	url := fmt.Sprintf("https://%s/mutate", ln.Addr())
	ignore := admissionregistrationv1.Ignore
	none := admissionregistrationv1.SideEffectClassNone
	timeout := int32(10)
	cfg := &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: WebhookConfigName},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name:                    "iam-for-pods.amazonaws.com",
			ClientConfig:            admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: s.CAPEM},
			Rules:                   []admissionregistrationv1.RuleWithOperations{{Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create}, Rule: admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}}}},
			FailurePolicy:           &ignore,
			SideEffects:             &none,
			TimeoutSeconds:          &timeout,
			AdmissionReviewVersions: []string{"v1"},
		}},
	}
	if _, err := client.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, cfg, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("registering MutatingWebhookConfiguration %s: %w", WebhookConfigName, err)
	}
	return nil
}

// startFront bootstraps the AWS account in moto and serves the front that the sandbox hands out.
func (s *Sandbox) startFront(ctx context.Context) error {
	front, err := awsfront.New(awsfront.Config{
		MotoURL: s.moto.URL,
		Region:  s.Region,
		EKS: &awsfront.EKSCluster{
			Name: ClusterName, Endpoint: s.APIServerURL, CAData: s.CAPEM, Issuer: s.Issuer, Version: KubeVersion,
		},
		Faults: s.opts.Faults,
		Log:    s.opts.Log,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: front, ReadHeaderTimeout: 10 * time.Second}
	s.servers = append(s.servers, srv)
	go func() { _ = srv.Serve(ln) }()
	s.Front = front
	s.frontRef.Store(front)
	s.AWSEndpoint = "http://" + ln.Addr().String()
	// Bootstrap goes through moto directly, so it is neither delayed nor counted by the front's knobs.
	creds, err := front.Bootstrap(ctx)
	if err != nil {
		return err
	}
	s.AccountID, s.AccessKeyID, s.SecretAccessKey = creds.AccountID, creds.AccessKeyID, creds.SecretAccessKey
	return nil
}

// EnvMap is what DIR/env exports: the variables that point kubectl, the aws CLI and the plugin at the sandbox.
func (s *Sandbox) EnvMap() map[string]string {
	return map[string]string{
		"KUBECONFIG":                s.KubeconfigPath,
		"AWS_ENDPOINT_URL":          s.AWSEndpoint,
		"AWS_ACCESS_KEY_ID":         s.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY":     s.SecretAccessKey,
		"AWS_REGION":                s.Region,
		"AWS_DEFAULT_REGION":        s.Region, // the aws CLI v1 reads only this one
		"AWS_EC2_METADATA_DISABLED": "true",
		"SDC_SANDBOX_DIR":           s.Dir,
	}
}

// Env returns EnvMap as sorted KEY=VALUE lines.
func (s *Sandbox) Env() []string {
	m := s.EnvMap()
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// UnsetEnv are variables that would make AWS clients ignore the sandbox's credentials; DIR/env unsets them.
var UnsetEnv = []string{"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"}

func (s *Sandbox) writeEnv() error {
	var b strings.Builder
	b.WriteString("# Point kubectl, the aws CLI and kubectl-sdc at the sandbox: . " + filepath.Join(s.Dir, "env") + "\n")
	b.WriteString("unset " + strings.Join(UnsetEnv, " ") + "\n")
	for _, kv := range s.Env() {
		k, v, _ := strings.Cut(kv, "=")
		b.WriteString("export " + k + "=" + strconv.Quote(v) + "\n")
	}
	return os.WriteFile(filepath.Join(s.Dir, "env"), []byte(b.String()), 0o600)
}

// AuditLogPath is the apiserver's audit log (JSON lines, level Metadata).
func (s *Sandbox) AuditLogPath() string { return filepath.Join(s.Dir, "audit.log") }

// Stop stops everything the sandbox started, in reverse order, and removes DIR/ready.
func (s *Sandbox) Stop() {
	s.stopOnce.Do(func() {
		_ = os.Remove(filepath.Join(s.Dir, "ready"))
		for _, srv := range s.servers {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_ = srv.Shutdown(ctx)
			cancel()
		}
		for i := len(s.procs) - 1; i >= 0; i-- {
			s.procs[i].stop(10 * time.Second)
		}
		if s.moto != nil {
			_ = s.moto.Stop()
		}
		s.spawn.close()
	})
}
