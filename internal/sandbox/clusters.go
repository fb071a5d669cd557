package sandbox

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox/awsfront"
	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox/credential"
)

// A sandbox runs one or more clusters, as a fleet would: each its own etcd, kube-apiserver (with its own CA,
// service-account issuer and JWKS), controller-manager and pod identity webhook, known to the AWS endpoint
// as an EKS cluster in its region. They share one AWS (moto behind the front) and one kubeconfig.

// MaxClusters bounds Options.Clusters: each cluster costs about 390 MiB and a few seconds of CPU to start.
const MaxClusters = 8

// SecondRegion is where the even-numbered clusters (sandbox-2, sandbox-4, ...) run.
const SecondRegion = "eu-west-1"

// The sandbox's second AWS account, the "other account" of cross-account setups: an admin with its own
// keys (profile TargetProfile) and a role there that trusts the sandbox's account.
const (
	TargetAccountID = "210987654321"
	TargetProfile   = "sandbox-target"
	TargetAdminUser = "sandbox-target-admin"
	TargetRoleName  = "sandbox-target"
)

// Cluster is one of the sandbox's clusters.
type Cluster struct {
	Name                  string // EKS cluster name: "sandbox", "sandbox-2", ...
	Context               string // its kube context in DIR/kubeconfig, equal to Name
	Profile               string // the AWS profile its context's exec plugin names, equal to Name
	Region                string // us-west-2 for odd-numbered clusters, eu-west-1 for even ones
	AccountID             string // the sandbox's account, 123456789012
	Dir                   string // its etcd, pki, logs and audit.log: DIR for the first cluster, DIR/clusters/NAME after
	AdminKubeconfigPath   string // a client-certificate kubeconfig (system:masters) of this cluster alone
	RESTConfig            *rest.Config
	APIServerURL          string
	Issuer                string // the service-account issuer, equal to APIServerURL
	CAPEM                 []byte // the CA of this cluster's apiserver serving certificate
	ServiceAccountKeyPath string
	// The keys of Profile: IAM user sandbox-admin for the first cluster, sandbox-N-admin for cluster N.
	UserName, UserARN, AccessKeyID, SecretAccessKey string
	// PodIdentityAgentURL is this cluster's EKS Pod Identity agent on loopback (its /v1/credentials).
	PodIdentityAgentURL string

	opts       Options
	log        *log.Logger
	spawn      *spawner
	procs      []*process
	servers    []*http.Server
	apiserver  *process
	pki        *pki
	adminCert  []byte
	adminKey   []byte
	kcmCert    []byte
	kcmKey     []byte
	authnURL   string // the token webhook this cluster's apiserver asks about bearer tokens
	authnCAPEM []byte
	client     kubernetes.Interface
	// front is the sandbox's AWS front, for the webhook (which starts before it) to ask about Pod Identity.
	front *atomic.Pointer[awsfront.Front]
}

// TargetAccount is the sandbox's second AWS account.
type TargetAccount struct {
	AccountID, AccessKeyID, SecretAccessKey string
	Profile                                 string // TargetProfile
	RoleARN                                 string // arn:aws:iam::210987654321:role/sandbox-target
}

// clusterName is the name of the i-th cluster (from 1).
func clusterName(i int) string {
	if i == 1 {
		return ClusterName
	}
	return ClusterName + "-" + strconv.Itoa(i)
}

// newCluster describes the i-th cluster (from 1) of a sandbox in dir.
func newCluster(i int, dir string, opts Options, lg *log.Logger, sp *spawner, front *atomic.Pointer[awsfront.Front]) *Cluster {
	name := clusterName(i)
	c := &Cluster{
		Name: name, Context: name, Profile: name, Region: Region, AccountID: awsfront.DefaultAccountID,
		Dir: dir, UserName: awsfront.AdminUser,
		opts: opts, log: lg, spawn: sp, front: front,
	}
	if i > 1 {
		c.Dir = filepath.Join(dir, "clusters", name)
		c.UserName = name + "-admin"
	}
	if i%2 == 0 {
		c.Region = SecondRegion
	}
	c.AdminKubeconfigPath = filepath.Join(c.Dir, "admin.kubeconfig")
	c.ServiceAccountKeyPath = filepath.Join(c.Dir, "pki", "sa.key")
	return c
}

// Cluster returns the cluster called name, or nil.
func (s *Sandbox) Cluster(name string) *Cluster {
	for _, c := range s.Clusters {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// ClusterNames lists the clusters' names in order.
func (s *Sandbox) ClusterNames() []string {
	names := make([]string, len(s.Clusters))
	for i, c := range s.Clusters {
		names[i] = c.Name
	}
	return names
}

// AuditLogPath is this cluster's apiserver audit log (JSON lines, level Metadata).
func (s *Cluster) AuditLogPath() string { return filepath.Join(s.Dir, "audit.log") }

// AuditEvents returns the completed requests in this cluster's audit log whose user agent starts with prefix.
func (s *Cluster) AuditEvents(userAgentPrefix string) ([]AuditEvent, error) {
	return auditEvents(s.AuditLogPath(), userAgentPrefix)
}

// StopAPIServer stops this cluster's kube-apiserver and leaves the rest of the sandbox running: the way to
// make one cluster of a fleet unreachable. It stays stopped. The apiserver refuses connections as soon as it
// gets SIGTERM but waits for the controller-manager's watches to end before it exits, so it gets SIGKILL
// after APIServerStopGrace.
func (s *Cluster) StopAPIServer() {
	s.apiserver.stop(APIServerStopGrace)
}

// APIServerStopGrace is how long StopAPIServer (and `sdc-sandbox stop-apiserver`) waits after SIGTERM.
const APIServerStopGrace = 5 * time.Second

// APIServerPID is the process id of this cluster's kube-apiserver.
func (s *Cluster) APIServerPID() int {
	if s.apiserver == nil || s.apiserver.cmd.Process == nil {
		return 0
	}
	return s.apiserver.cmd.Process.Pid
}

// startControlPlane brings up the cluster's Kubernetes side: etcd, the apiserver, the controller-manager,
// the pod identity webhook and anonymous issuer discovery.
func (s *Cluster) startControlPlane(ctx context.Context) error {
	etcdURL, err := s.startEtcd(ctx)
	if err != nil {
		return fmt.Errorf("etcd: %w", err)
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	if err := s.startAPIServer(ctx, etcdURL, port); err != nil {
		return fmt.Errorf("kube-apiserver: %w", err)
	}
	if err := s.writeKubeconfig(s.AdminKubeconfigPath, "sandbox-admin", s.adminCert, s.adminKey); err != nil {
		return err
	}
	if err := s.writeKubeconfig(filepath.Join(s.Dir, "controller-manager.kubeconfig"), "kube-controller-manager", s.kcmCert, s.kcmKey); err != nil {
		return err
	}
	if err := s.startControllerManager(); err != nil {
		return fmt.Errorf("kube-controller-manager: %w", err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", s.AdminKubeconfigPath)
	if err != nil {
		return err
	}
	s.RESTConfig = cfg
	// The sandbox's own client (the webhook reads a ServiceAccount per pod) must keep up with bulk seeding.
	own := rest.CopyConfig(cfg)
	own.QPS, own.Burst = 500, 1000
	client, err := kubernetes.NewForConfig(own)
	if err != nil {
		return err
	}
	s.client = client
	if err := s.startWebhook(ctx, client); err != nil {
		return fmt.Errorf("pod identity webhook: %w", err)
	}
	return allowIssuerDiscovery(ctx, client)
}

// waitControllers returns once the controller-manager is ready for Deployments: its ServiceAccount
// controller has made "default".
func (s *Cluster) waitControllers(ctx context.Context) error {
	return poll(ctx, s.procs[len(s.procs)-1], 30*time.Second, func() error {
		_, err := s.client.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		return err
	})
}

// stop stops what the cluster started, in reverse order.
func (s *Cluster) stop() {
	for _, srv := range s.servers {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = srv.Shutdown(ctx)
		cancel()
	}
	for i := len(s.procs) - 1; i >= 0; i-- {
		s.procs[i].stop(10 * time.Second)
	}
}

// eksCluster is the cluster as the AWS front describes it.
func (s *Cluster) eksCluster() awsfront.EKSCluster {
	return awsfront.EKSCluster{
		Name: s.Name, Endpoint: s.APIServerURL, CAData: s.CAPEM, Issuer: s.Issuer, Version: KubeVersion,
		Region: s.Region, AccountID: s.AccountID,
	}
}

// ExecCredentialAPIVersion is the ExecCredential version the kubeconfig asks its exec plugin for.
const ExecCredentialAPIVersion = "client.authentication.k8s.io/v1beta1"

// writeFleetKubeconfig writes DIR/kubeconfig: a context per cluster, whose user runs the sandbox's exec
// credential plugin with the cluster's AWS profile in AWS_PROFILE (as `aws eks update-kubeconfig --profile`
// writes it), the first cluster's context current.
func (s *Sandbox) writeFleetKubeconfig() error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding this program to run as the exec credential plugin: %w", err)
	}
	cfg := clientcmdapi.NewConfig()
	for _, c := range s.Clusters {
		cfg.Clusters[c.Name] = &clientcmdapi.Cluster{Server: c.APIServerURL, CertificateAuthorityData: c.CAPEM}
		cfg.AuthInfos[c.Profile] = &clientcmdapi.AuthInfo{Exec: &clientcmdapi.ExecConfig{
			APIVersion: ExecCredentialAPIVersion,
			Command:    exe,
			Args:       []string{"credential", "--cluster-name", c.Name, "--region", c.Region},
			Env: []clientcmdapi.ExecEnvVar{
				{Name: "AWS_PROFILE", Value: c.Profile},
				{Name: credential.Env, Value: "1"},
			},
			InteractiveMode: clientcmdapi.NeverExecInteractiveMode,
		}}
		cfg.Contexts[c.Context] = &clientcmdapi.Context{Cluster: c.Name, AuthInfo: c.Profile}
	}
	cfg.CurrentContext = s.Clusters[0].Context
	return clientcmd.WriteToFile(*cfg, s.KubeconfigPath)
}
