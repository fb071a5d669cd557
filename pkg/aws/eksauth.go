package aws

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/smithy-go"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/version"
)

// EKS Auth (service eks-auth) has one operation, AssumeRoleForPodIdentity, which the Pod Identity agent on
// every node calls with a pod's token. The SDK's own module for it (service/eksauth) is not among this
// module's dependencies, so this is a small client of its own: the restJson request of the EKS Auth API
// reference, signed with the core module's SigV4 signer, with the SDK's configuration (credentials,
// endpoint, HTTP client) and retry rules.

// eksAuthSDKID is the service's SDK ID, the name its per-service endpoint settings use
// (AWS_ENDPOINT_URL_EKS_AUTH, endpoint_url under an eks_auth section of a profile's services).
const eksAuthSDKID = "EKS Auth"

// EKSAuthCredentials are the temporary credentials of a Pod Identity session.
type EKSAuthCredentials struct {
	AccessKeyID     string `json:"accessKeyId"`
	SecretAccessKey string `json:"secretAccessKey"`
	SessionToken    string `json:"sessionToken"`
	// Expiration is in epoch seconds, as restJson sends timestamps.
	Expiration float64 `json:"expiration"`
}

// AssumeRoleForPodIdentityOutput is AssumeRoleForPodIdentity's answer (the EKS Auth API reference).
type AssumeRoleForPodIdentityOutput struct {
	Subject struct {
		Namespace      string `json:"namespace"`
		ServiceAccount string `json:"serviceAccount"`
	} `json:"subject"`
	Audience               string `json:"audience"`
	PodIdentityAssociation struct {
		AssociationARN string `json:"associationArn"`
		AssociationID  string `json:"associationId"`
	} `json:"podIdentityAssociation"`
	AssumedRoleUser struct {
		ARN          string `json:"arn"`
		AssumeRoleID string `json:"assumeRoleId"`
	} `json:"assumedRoleUser"`
	Credentials EKSAuthCredentials `json:"credentials"`
}

// EKSAuthError is an error answer of EKS Auth: its code (from x-amzn-ErrorType), message and HTTP status.
// It is a smithy.APIError, so ErrorCode, IsThrottled and the SDK's retryer understand it.
type EKSAuthError struct {
	Code, Message string
	Status        int
}

func (e *EKSAuthError) Error() string {
	return fmt.Sprintf("eks-auth:AssumeRoleForPodIdentity: %s (HTTP %d): %s", e.Code, e.Status, e.Message)
}

// ErrorCode is the error's code, e.g. InvalidTokenException.
func (e *EKSAuthError) ErrorCode() string { return e.Code }

// ErrorMessage is the service's message.
func (e *EKSAuthError) ErrorMessage() string { return e.Message }

// ErrorFault says whose fault the error is.
func (e *EKSAuthError) ErrorFault() smithy.ErrorFault {
	if e.Status >= 500 {
		return smithy.FaultServer
	}
	return smithy.FaultClient
}

// HTTPStatusCode lets the retryer retry 5xx answers.
func (e *EKSAuthError) HTTPStatusCode() int { return e.Status }

// EKSAuth calls EKS Auth in one region with the configuration's credentials.
type EKSAuth struct {
	cfg    aws.Config
	region string
	// endpoint is the base URL: a configured one, else EKS Auth's own in the region's partition.
	endpoint string
}

// EKSAuth returns the EKS Auth client of c's region.
func (c *Clients) EKSAuth() *EKSAuth {
	return NewEKSAuth(c.Config, c.Region)
}

// NewEKSAuth makes an EKS Auth client for region from cfg.
func NewEKSAuth(cfg aws.Config, region string) *EKSAuth {
	if region == "" {
		region = cfg.Region
	}
	return &EKSAuth{cfg: cfg, region: region, endpoint: eksAuthEndpoint(cfg, region)}
}

// Endpoint is the base URL calls go to.
func (e *EKSAuth) Endpoint() string { return e.endpoint }

// eksAuthEndpoint is the configured endpoint for EKS Auth (its own setting first, then the general
// AWS_ENDPOINT_URL or a profile's endpoint_url), else EKS Auth's in the region's partition: it is served
// only on dual-stack names (eks-auth.<region>.api.aws).
func eksAuthEndpoint(cfg aws.Config, region string) string {
	for _, src := range cfg.ConfigSources {
		if s, ok := src.(serviceEndpointSource); ok {
			if v, found, err := s.GetServiceBaseEndpoint(context.Background(), eksAuthSDKID); err == nil && found && v != "" {
				return strings.TrimSuffix(v, "/")
			}
		}
	}
	if cfg.BaseEndpoint != nil && *cfg.BaseEndpoint != "" {
		return strings.TrimSuffix(*cfg.BaseEndpoint, "/")
	}
	suffix := "api.aws"
	if PartitionForRegion(region) == PartitionChina {
		suffix = "api.amazonwebservices.com.cn"
	}
	return "https://eks-auth." + region + "." + suffix
}

// AssumeRoleForPodIdentity exchanges a pod's service-account token (audience pods.eks.amazonaws.com, bound
// to a pod) for the credentials of the role its ServiceAccount's association names, as the Pod Identity
// agent does. The caller's credentials sign the request: they need eks-auth:AssumeRoleForPodIdentity on
// the cluster (what the node role gets from AmazonEKSWorkerNodePolicy). Throttling and server errors are
// retried as the SDK retries its own calls.
func (e *EKSAuth) AssumeRoleForPodIdentity(ctx context.Context, cluster, token string) (*AssumeRoleForPodIdentityOutput, error) {
	if e.region == "" {
		return nil, errors.New("no AWS region for EKS Auth: pass --region, set AWS_REGION, or set region in the AWS profile")
	}
	retryer := newRetryer()
	if e.cfg.Retryer != nil {
		retryer = e.cfg.Retryer()
	}
	for attempt := 1; ; attempt++ {
		out, err := e.call(ctx, cluster, token)
		if err == nil || attempt >= retryer.MaxAttempts() || !retryer.IsErrorRetryable(err) {
			return out, err
		}
		delay, derr := retryer.RetryDelay(attempt, err)
		if derr != nil {
			return nil, err
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, err
		case <-t.C:
		}
	}
}

func (e *EKSAuth) call(ctx context.Context, cluster, token string) (*AssumeRoleForPodIdentityOutput, error) {
	body, err := json.Marshal(map[string]string{"token": token})
	if err != nil {
		return nil, err
	}
	u := e.endpoint + "/clusters/" + url.PathEscape(cluster) + "/assume-role-for-pod-identity"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", version.UserAgent())
	if e.cfg.Credentials == nil {
		return nil, errors.New("no AWS credentials to sign the EKS Auth request with")
	}
	creds, err := e.cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return nil, fmt.Errorf("AWS credentials for EKS Auth: %w", err)
	}
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "eks-auth", e.region, time.Now()); err != nil {
		return nil, fmt.Errorf("signing the EKS Auth request: %w", err)
	}
	client := e.cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("eks-auth:AssumeRoleForPodIdentity at %s: %w", e.endpoint, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("eks-auth:AssumeRoleForPodIdentity: reading the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var m struct {
			Message  string `json:"message"`
			MessageC string `json:"Message"`
		}
		_ = json.Unmarshal(b, &m)
		code := resp.Header.Get("x-amzn-ErrorType")
		if i := strings.IndexAny(code, ":"); i >= 0 {
			code = code[:i]
		}
		if code == "" {
			code = http.StatusText(resp.StatusCode)
		}
		msg := m.Message
		if msg == "" {
			msg = m.MessageC
		}
		return nil, &EKSAuthError{Code: code, Message: msg, Status: resp.StatusCode}
	}
	var out AssumeRoleForPodIdentityOutput
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("eks-auth:AssumeRoleForPodIdentity answered JSON that does not fit the API reference: %w", err)
	}
	return &out, nil
}
