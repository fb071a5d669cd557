package sandbox

import (
	"fmt"
	"log"
	"net"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox/podagent"
	sdcaws "github.com/kubectl-sdc/kubectl-sdc/pkg/aws"
)

// startPodIdentityAgents serves each cluster's EKS Pod Identity agent on a free loopback port: the agent a
// pod's AWS_CONTAINER_CREDENTIALS_FULL_URI reaches on EKS, exchanging the pod's token with the front's EKS
// Auth, signed with the cluster's admin keys (the sandbox's stand-in for the node role).
func (s *Sandbox) startPodIdentityAgents() error {
	for _, c := range s.Clusters {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("cluster %s: the Pod Identity agent: %w", c.Name, err)
		}
		cfg := aws.Config{
			Region:       c.Region,
			BaseEndpoint: aws.String(s.AWSEndpoint),
			Credentials:  credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, ""),
			HTTPClient:   &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{Proxy: nil}},
		}
		agent := &podagent.Agent{Cluster: c.Name, EKSAuth: sdcaws.NewEKSAuth(cfg, c.Region), Hosts: []string{"127.0.0.1"}}
		srv := &http.Server{Handler: agent, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(s.opts.Log, "", log.Ltime)}
		c.servers = append(c.servers, srv)
		go func() { _ = srv.Serve(ln) }()
		c.PodIdentityAgentURL = "http://" + ln.Addr().String() + podagent.CredentialsPath
	}
	s.PodIdentityAgentURL = s.Clusters[0].PodIdentityAgentURL
	return nil
}
