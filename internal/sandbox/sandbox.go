// Package sandbox runs a local stand-in for an EKS cluster (or a fleet of them) and its AWS accounts, built
// from real parts: etcd, kube-apiserver and kube-controller-manager built from source, a pod identity
// webhook that behaves as the EKS one documents, and moto's AWS server behind a front that adds what real
// IAM and STS do and moto does not. Tests, benchmarks and `make demo` run the plugin against it.
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
	Dir      string          // state directory: kubeconfig, env, audit.log, ready and logs are written here
	BinDir   string          // where etcd, kube-apiserver and kube-controller-manager are
	Clusters int             // how many clusters to run, 1 to MaxClusters; 0 means 1
	Faults   awsfront.Faults // initial fault settings of the AWS front
	Log      io.Writer       // progress and the servers' request logs; nil discards them
	// BeforeReady, when set, runs once everything is up and before DIR/ready is written, so that what it
	// writes into DIR is there for whoever waits for ready (the CLI's state file).
	BeforeReady func(*Sandbox) error
}

// Sandbox is a running sandbox. The fields from KubeconfigPath to SecretAccessKey describe the first
// cluster ("sandbox"); Clusters has them all.
type Sandbox struct {
	Dir                   string
	KubeconfigPath        string       // DIR/kubeconfig: a context per cluster, "sandbox" current
	RESTConfig            *rest.Config // admin (system:masters) of the first cluster
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
	// PodIdentityAgentURL is the first cluster's EKS Pod Identity agent on loopback, the value a pod's
	// AWS_CONTAINER_CREDENTIALS_FULL_URI takes on this machine (DIR/env: SANDBOX_POD_IDENTITY_AGENT_URL).
	PodIdentityAgentURL string

	Clusters           []*Cluster    // every cluster, in order: sandbox, sandbox-2, ...
	AWSConfigPath      string        // DIR/aws/config: a profile per cluster and TargetProfile
	AWSCredentialsPath string        // DIR/aws/credentials: their keys
	Target             TargetAccount // the second AWS account

	opts     Options
	log      *log.Logger
	spawn    *spawner
	servers  []*http.Server
	moto     *awsfront.Moto
	authn    *authenticator
	stopOnce sync.Once
	frontRef atomic.Pointer[awsfront.Front] // Front, for the webhook, which starts before it
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
	if opts.Clusters == 0 {
		opts.Clusters = 1
	}
	if opts.Clusters < 1 || opts.Clusters > MaxClusters {
		return nil, fmt.Errorf("sandbox: %d clusters asked for; run 1 to %d", opts.Clusters, MaxClusters)
	}
	s := &Sandbox{
		Dir:                   dir,
		KubeconfigPath:        filepath.Join(dir, "kubeconfig"),
		ServiceAccountKeyPath: filepath.Join(dir, "pki", "sa.key"),
		Region:                Region,
		AWSConfigPath:         filepath.Join(dir, "aws", "config"),
		AWSCredentialsPath:    filepath.Join(dir, "aws", "credentials"),
		opts:                  opts,
		log:                   log.New(opts.Log, "sdc-sandbox: ", log.Ltime),
		spawn:                 newSpawner(),
	}
	for i := 1; i <= opts.Clusters; i++ {
		s.Clusters = append(s.Clusters, newCluster(i, dir, opts, s.log, s.spawn, &s.frontRef))
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
	if opts.BeforeReady != nil {
		if err := opts.BeforeReady(s); err != nil {
			return nil, err
		}
	}
	// ready is written last: whoever waits for it finds everything else in place.
	if err := os.WriteFile(filepath.Join(dir, "ready"), []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o644); err != nil {
		return nil, err
	}
	s.log.Printf("ready in %s: %d cluster(s), apiserver %s, AWS endpoint %s", time.Since(started).Round(10*time.Millisecond), len(s.Clusters), s.APIServerURL, s.AWSEndpoint)
	return s, nil
}

// prepareDir removes what an earlier sandbox left in Dir (only the sandbox's own files) and writes each
// cluster's PKI.
func (s *Sandbox) prepareDir() error {
	for _, name := range []string{"kubeconfig", "env", "ready", "clusters", "aws"} {
		if err := os.RemoveAll(filepath.Join(s.Dir, name)); err != nil {
			return err
		}
	}
	for _, c := range s.Clusters {
		if err := c.prepareDir(); err != nil {
			return err
		}
	}
	return os.MkdirAll(filepath.Join(s.Dir, "aws"), 0o700)
}

// prepareDir clears the cluster's own files from its directory and writes its PKI.
func (s *Cluster) prepareDir() error {
	for _, name := range []string{"etcd", "pki", "logs", "audit.log", "audit-policy.yaml", "admin.kubeconfig",
		"controller-manager.kubeconfig", "authn-webhook.kubeconfig"} {
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
	// moto takes a second or two to start; let it do so while etcd and the apiservers come up.
	motoErr := make(chan error, 1)
	go func() {
		m, err := awsfront.StartMoto(ctx, awsfront.MotoOptions{Dir: filepath.Join(s.Dir, "logs"), Log: s.opts.Log})
		s.moto = m
		motoErr <- err
	}()
	// The apiservers check bearer tokens with the sandbox's authenticator; it must listen before they start.
	if err := s.startAuthenticator(); err != nil {
		<-motoErr
		return fmt.Errorf("token authenticator: %w", err)
	}
	// The clusters start side by side: on two cores that is about as fast as one after the other, and on
	// more it is faster.
	errs := make([]error, len(s.Clusters))
	var wg sync.WaitGroup
	for i, c := range s.Clusters {
		c.authnURL, c.authnCAPEM = s.authn.url+"/authenticate/"+c.Name, s.authn.caPEM
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.startControlPlane(ctx); err != nil {
				errs[i] = fmt.Errorf("cluster %s: %w", c.Name, err)
			}
		}()
	}
	wg.Wait()
	if err := <-motoErr; err != nil {
		return fmt.Errorf("moto: %w", err)
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	first := s.Clusters[0]
	s.RESTConfig, s.APIServerURL, s.Issuer, s.CAPEM = first.RESTConfig, first.APIServerURL, first.Issuer, first.CAPEM
	if err := s.startFront(ctx); err != nil {
		return fmt.Errorf("AWS front: %w", err)
	}
	s.authn.setFront(s.Front)
	if err := s.setUpAWS(ctx); err != nil {
		return err
	}
	if err := s.startPodIdentityAgents(); err != nil {
		return err
	}
	if err := s.writeFleetKubeconfig(); err != nil {
		return err
	}
	for _, c := range s.Clusters {
		if err := c.waitControllers(ctx); err != nil {
			return fmt.Errorf("cluster %s: kube-controller-manager: %w", c.Name, err)
		}
	}
	return nil
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
func (s *Cluster) startWebhook(ctx context.Context, client kubernetes.Interface) error {
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
	first := s.Clusters[0].eksCluster()
	var clusters []awsfront.EKSCluster
	for _, c := range s.Clusters {
		clusters = append(clusters, c.eksCluster())
	}
	front, err := awsfront.New(awsfront.Config{
		MotoURL:  s.moto.URL,
		Region:   s.Region,
		EKS:      &first,
		Clusters: clusters,
		Faults:   s.opts.Faults,
		Log:      s.opts.Log,
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
		// A profile per cluster (what each context's exec plugin names) and one for the second account.
		"AWS_CONFIG_FILE":                  s.AWSConfigPath,
		"AWS_SHARED_CREDENTIALS_FILE":      s.AWSCredentialsPath,
		"SANDBOX_TARGET_ACCOUNT_ID":        s.Target.AccountID,
		"SANDBOX_TARGET_ACCESS_KEY_ID":     s.Target.AccessKeyID,
		"SANDBOX_TARGET_SECRET_ACCESS_KEY": s.Target.SecretAccessKey,
		"SANDBOX_TARGET_PROFILE":           s.Target.Profile,
		"SANDBOX_TARGET_ROLE_ARN":          s.Target.RoleARN,
		// The first cluster's EKS Pod Identity agent, for AWS_CONTAINER_CREDENTIALS_FULL_URI on this machine.
		"SANDBOX_POD_IDENTITY_AGENT_URL": s.PodIdentityAgentURL,
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

// AuditLogPath is the first cluster's apiserver audit log (JSON lines, level Metadata).
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
		var wg sync.WaitGroup
		for _, c := range s.Clusters {
			wg.Add(1)
			go func() { defer wg.Done(); c.stop() }()
		}
		wg.Wait()
		if s.moto != nil {
			_ = s.moto.Stop()
		}
		s.spawn.close()
	})
}
