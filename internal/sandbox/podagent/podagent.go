// Package podagent is the sandbox's EKS Pod Identity agent: what eks-pod-identity-agent does on every node
// of an EKS cluster, served on loopback. A pod's AWS SDK sends GET /v1/credentials with the content of its
// AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE as the Authorization header; the agent exchanges that token with
// EKS Auth (AssumeRoleForPodIdentity, signed with the node's credentials) and answers the container
// credentials JSON the SDKs' container provider reads. On EKS the address is 169.254.170.23 (or
// [fd00:ec2::23]); the SDKs also accept a loopback address in AWS_CONTAINER_CREDENTIALS_FULL_URI, which is
// how a test on this machine points a pod's environment at this agent.
package podagent

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	sdcaws "github.com/kubectl-sdc/kubectl-sdc/pkg/aws"
)

// CredentialsPath is the one path the agent serves, as EKS's does.
const CredentialsPath = "/v1/credentials"

// The addresses EKS's agent listens on; a request naming another host is refused as EKS's agent refuses it.
var eksHosts = []string{"169.254.170.23", "fd00:ec2::23"}

// Exchanger calls EKS Auth's AssumeRoleForPodIdentity for a cluster with a pod's token.
type Exchanger interface {
	AssumeRoleForPodIdentity(ctx context.Context, cluster, token string) (*sdcaws.AssumeRoleForPodIdentityOutput, error)
}

// Agent answers container credentials requests for the pods of one cluster.
type Agent struct {
	// Cluster is the EKS cluster the agent's node belongs to; every exchange names it.
	Cluster string
	// EKSAuth exchanges tokens; in the sandbox it is signed with the cluster's admin keys, standing in
	// for the node role (which AmazonEKSWorkerNodePolicy lets call eks-auth:AssumeRoleForPodIdentity).
	EKSAuth Exchanger
	// Hosts are the request hosts accepted besides EKS's link-local addresses: the agent's own loopback
	// address.
	Hosts []string
	// Now is the clock the token's exp and nbf are checked against; nil is time.Now.
	Now func() time.Time
}

// Credentials is the container credentials JSON the agent answers (the SDKs' container provider reads
// AccessKeyId, SecretAccessKey, Token and Expiration; AccountId is there too).
type Credentials struct {
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string `json:"SecretAccessKey"`
	Token           string `json:"Token"`
	AccountID       string `json:"AccountId,omitempty"`
	Expiration      string `json:"Expiration"`
}

// requestError is a refusal of the agent itself, before EKS Auth is asked: its HTTP status and message.
type requestError struct {
	status int
	msg    string
}

func (e *requestError) Error() string { return e.msg }

// ServeHTTP answers GET /v1/credentials (any method, as EKS's agent registers the path for all).
func (a *Agent) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != CredentialsPath {
		http.NotFound(w, r)
		return
	}
	creds, err := a.credentials(r.Context(), r.Host, r.Header.Get("Authorization"))
	if err != nil {
		msg, status := errorAnswer(err)
		http.Error(w, msg, status)
		return
	}
	b, err := json.Marshal(creds)
	if err != nil {
		http.Error(w, "Unable to serialize credentials", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

// credentials checks the request as EKS's agent does (the host it was sent to; a token that parses as a
// JWT and whose time claims hold; the signature is EKS Auth's to check) and exchanges the token.
func (a *Agent) credentials(ctx context.Context, host, token string) (*Credentials, error) {
	if err := a.checkHost(host); err != nil {
		return nil, err
	}
	if err := a.checkToken(token); err != nil {
		return nil, err
	}
	out, err := a.EKSAuth.AssumeRoleForPodIdentity(ctx, a.Cluster, token)
	if err != nil {
		return nil, err
	}
	c := out.Credentials
	return &Credentials{
		AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, Token: c.SessionToken,
		AccountID:  accountOf(out.AssumedRoleUser.ARN),
		Expiration: time.Unix(0, int64(c.Expiration*float64(time.Second))).UTC().Format(time.RFC3339Nano),
	}, nil
}

func (a *Agent) checkHost(host string) error {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	allowed := append(append([]string{}, eksHosts...), a.Hosts...)
	for _, h := range allowed {
		if h == host {
			return nil
		}
	}
	return &requestError{http.StatusForbidden, fmt.Sprintf("Access Denied. Called agent through invalid address, please use either %v address not %s", allowed, host)}
}

// checkToken parses the token without verifying it, as EKS's agent does, and checks its exp and nbf.
func (a *Agent) checkToken(token string) error {
	if token == "" {
		return &requestError{http.StatusBadRequest, "Service account token cannot be empty"}
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return &requestError{http.StatusBadRequest, "Service account token cannot be parsed: token contains an invalid number of segments"}
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	var claims struct {
		Exp *float64 `json:"exp"`
		Nbf *float64 `json:"nbf"`
	}
	if err == nil {
		err = json.Unmarshal(raw, &claims)
	}
	if err != nil {
		return &requestError{http.StatusBadRequest, "Service account token cannot be parsed: " + err.Error()}
	}
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	t := now()
	switch {
	case claims.Exp != nil && !t.Before(time.Unix(int64(*claims.Exp), 0)):
		return &requestError{http.StatusBadRequest, "Service account token failed basic claim validations: token has invalid claims: token is expired"}
	case claims.Nbf != nil && t.Before(time.Unix(int64(*claims.Nbf), 0)):
		return &requestError{http.StatusBadRequest, "Service account token failed basic claim validations: token has invalid claims: token is not valid yet"}
	}
	return nil
}

// errorAnswer is the message and status EKS's agent answers an error with: its own refusals as they are;
// EKS Auth's with EKS Auth's HTTP status and "(Code): message, fault: client|server"; anything else 500.
func errorAnswer(err error) (string, int) {
	var re *requestError
	if errors.As(err, &re) {
		return re.msg, re.status
	}
	var ae *sdcaws.EKSAuthError
	if errors.As(err, &ae) {
		fault := "client"
		if ae.Status >= 500 {
			fault = "server"
		}
		return fmt.Sprintf("(%s): %s, fault: %s", ae.Code, ae.Message, fault), ae.Status
	}
	return err.Error(), http.StatusInternalServerError
}

// accountOf is the account of an ARN (its fifth field).
func accountOf(arn string) string {
	if f := strings.SplitN(arn, ":", 6); len(f) == 6 {
		return f[4]
	}
	return ""
}
