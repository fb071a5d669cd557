package sandbox

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Binary names the sandbox runs from Options.BinDir (built by `make sandbox-bin`).
const (
	EtcdBinary              = "etcd"
	APIServerBinary         = "kube-apiserver"
	ControllerManagerBinary = "kube-controller-manager"
)

const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: Metadata
`

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	seen := map[int]bool{}
	for len(ports) < n {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		if !seen[p] {
			seen[p] = true
			ports = append(ports, p)
		}
	}
	return ports, nil
}

func binary(binDir, name string) (string, error) {
	p := filepath.Join(binDir, name)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("%s not found in %s: run `make sandbox-bin` to build the control plane (%w)", name, binDir, err)
	}
	return p, nil
}

// startEtcd runs a single-member etcd on loopback, without fsync: the sandbox's data is thrown away anyway.
func (s *Cluster) startEtcd(ctx context.Context) (string, error) {
	bin, err := binary(s.opts.BinDir, EtcdBinary)
	if err != nil {
		return "", err
	}
	ports, err := freePorts(2)
	if err != nil {
		return "", err
	}
	client := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	peer := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	args := []string{
		"--name=sandbox", "--data-dir=" + filepath.Join(s.Dir, "etcd"),
		"--listen-client-urls=" + client, "--advertise-client-urls=" + client,
		"--listen-peer-urls=" + peer, "--initial-advertise-peer-urls=" + peer,
		"--initial-cluster=sandbox=" + peer, "--unsafe-no-fsync", "--log-level=warn",
	}
	p, err := s.spawn.run("etcd", bin, args, nil, filepath.Join(s.Dir, "logs", "etcd.log"))
	if err != nil {
		return "", err
	}
	s.procs = append(s.procs, p)
	err = poll(ctx, p, 20*time.Second, func() error {
		resp, err := http.Get(client + "/health")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if !strings.Contains(string(body), `"health":"true"`) {
			return fmt.Errorf("etcd not healthy: %s", body)
		}
		return nil
	})
	return client, err
}

// startAPIServer runs kube-apiserver as EKS configures what the plugin depends on: a TLS endpoint with its
// own CA, a service-account issuer whose discovery document and JWKS anyone may read, RBAC, and an audit log.
func (s *Cluster) startAPIServer(ctx context.Context, etcdURL string, port int) error {
	bin, err := binary(s.opts.BinDir, APIServerBinary)
	if err != nil {
		return err
	}
	pkiDir := filepath.Join(s.Dir, "pki")
	s.APIServerURL = fmt.Sprintf("https://127.0.0.1:%d", port)
	s.Issuer = s.APIServerURL
	args := []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(port),
		"--cert-dir=" + pkiDir,
		"--tls-cert-file=" + filepath.Join(pkiDir, "apiserver-chain.crt"),
		"--tls-private-key-file=" + filepath.Join(pkiDir, "apiserver.key"),
		"--client-ca-file=" + filepath.Join(pkiDir, "ca.crt"),
		"--service-account-issuer=" + s.Issuer,
		"--service-account-jwks-uri=" + s.Issuer + "/openid/v1/jwks",
		"--service-account-key-file=" + filepath.Join(pkiDir, "sa.pub"),
		"--service-account-signing-key-file=" + s.ServiceAccountKeyPath,
		"--api-audiences=" + s.Issuer,
		"--authorization-mode=RBAC",
		"--service-cluster-ip-range=10.96.0.0/16",
		"--audit-policy-file=" + filepath.Join(s.Dir, "audit-policy.yaml"),
		"--audit-log-path=" + s.AuditLogPath(),
		"--audit-log-format=json", "--audit-log-mode=blocking", "--audit-log-maxbackup=0",
		"--profiling=false", "--v=0",
	}
	if s.authnURL != "" {
		// Bearer tokens from the exec credential plugin are checked as EKS checks them (authn.go).
		path := filepath.Join(s.Dir, "authn-webhook.kubeconfig")
		if err := writeWebhookKubeconfig(path, s.authnURL, s.authnCAPEM); err != nil {
			return err
		}
		args = append(args, "--authentication-token-webhook-config-file="+path, "--authentication-token-webhook-version=v1")
	}
	p, err := s.spawn.run("kube-apiserver", bin, args, nil, filepath.Join(s.Dir, "logs", "kube-apiserver.log"))
	if err != nil {
		return err
	}
	s.procs = append(s.procs, p)
	s.apiserver = p
	hc, err := s.adminHTTPClient()
	if err != nil {
		return err
	}
	return poll(ctx, p, 60*time.Second, func() error {
		resp, err := hc.Get(s.APIServerURL + "/readyz")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			body, _ := io.ReadAll(resp.Body)
			return fmt.Errorf("readyz %d: %s", resp.StatusCode, body)
		}
		return nil
	})
}

// startControllerManager runs the controllers a Deployment needs to get ReplicaSets and Pods, plus the ones
// that make namespaces usable (ServiceAccount "default", kube-root-ca.crt) and clean up after deletions.
func (s *Cluster) startControllerManager() error {
	bin, err := binary(s.opts.BinDir, ControllerManagerBinary)
	if err != nil {
		return err
	}
	pkiDir := filepath.Join(s.Dir, "pki")
	kubeconfig := filepath.Join(s.Dir, "controller-manager.kubeconfig")
	args := []string{
		"--kubeconfig=" + kubeconfig,
		"--authentication-kubeconfig=" + kubeconfig,
		"--authorization-kubeconfig=" + kubeconfig,
		"--controllers=deployment-controller,replicaset-controller,serviceaccount-controller,namespace-controller,garbage-collector-controller,root-ca-certificate-publisher-controller",
		"--root-ca-file=" + filepath.Join(pkiDir, "ca.crt"),
		"--service-account-private-key-file=" + s.ServiceAccountKeyPath,
		"--use-service-account-credentials=false",
		"--leader-elect=false", "--secure-port=0", "--v=0",
		// The defaults (20 QPS) make a benchmark's thousand Deployments take minutes to get their pods.
		"--kube-api-qps=200", "--kube-api-burst=400",
		// Five workers (the default) sync about 30 Deployments a second on a busy machine: seeding tens of
		// thousands would wait minutes for their status.
		"--concurrent-deployment-syncs=25",
	}
	p, err := s.spawn.run("kube-controller-manager", bin, args, nil, filepath.Join(s.Dir, "logs", "kube-controller-manager.log"))
	if err != nil {
		return err
	}
	s.procs = append(s.procs, p)
	return nil
}

// writeKubeconfig writes a client-certificate kubeconfig with one context.
func (s *Cluster) writeKubeconfig(path, user string, certPEM, keyPEM []byte) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[s.Name] = &clientcmdapi.Cluster{Server: s.APIServerURL, CertificateAuthorityData: s.CAPEM}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{ClientCertificateData: certPEM, ClientKeyData: keyPEM}
	cfg.Contexts[s.Context] = &clientcmdapi.Context{Cluster: s.Name, AuthInfo: user}
	cfg.CurrentContext = s.Context
	return clientcmd.WriteToFile(*cfg, path)
}

func (s *Cluster) adminHTTPClient() (*http.Client, error) {
	cert, err := tls.X509KeyPair(s.adminCert, s.adminKey)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.CAPEM)
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}},
	}}, nil
}

// poll calls check until it succeeds, the process dies, ctx ends or timeout passes.
func poll(ctx context.Context, p *process, timeout time.Duration, check func() error) error {
	deadline := time.Now().Add(timeout)
	var last error
	for {
		if last = check(); last == nil {
			return nil
		}
		if p != nil && p.exited() {
			return fmt.Errorf("%s exited (%v) before it was ready; see its log", p.name, p.err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %s: %w", timeout, last)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
