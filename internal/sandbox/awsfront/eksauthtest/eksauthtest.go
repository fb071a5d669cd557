// Package eksauthtest calls EKS Auth's AssumeRoleForPodIdentity for tests, as the Pod Identity agent does:
// a SigV4-signed restJson POST. The SDK's own eksauth module is not among this module's dependencies, so
// the tests make the call with the SDK's signer and read the answer with the service model's shapes.
package eksauthtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Output is AssumeRoleForPodIdentity's answer (AssumeRoleForPodIdentityResponse in the EKS Auth model).
type Output struct {
	Subject struct {
		Namespace      string `json:"namespace"`
		ServiceAccount string `json:"serviceAccount"`
	} `json:"subject"`
	Audience               string `json:"audience"`
	PodIdentityAssociation struct {
		AssociationArn string `json:"associationArn"`
		AssociationID  string `json:"associationId"`
	} `json:"podIdentityAssociation"`
	AssumedRoleUser struct {
		Arn          string `json:"arn"`
		AssumeRoleID string `json:"assumeRoleId"`
	} `json:"assumedRoleUser"`
	Credentials struct {
		SessionToken    string  `json:"sessionToken"`
		SecretAccessKey string  `json:"secretAccessKey"`
		AccessKeyID     string  `json:"accessKeyId"`
		Expiration      float64 `json:"expiration"` // epoch seconds, as restJson sends timestamps
	} `json:"credentials"`
}

// Error is an error answer: the code from x-amzn-ErrorType, the message, and the HTTP status.
type Error struct {
	Code, Message string
	Status        int
}

func (e *Error) Error() string { return fmt.Sprintf("%s (HTTP %d): %s", e.Code, e.Status, e.Message) }

// AssumeRoleForPodIdentity calls POST {endpoint}/clusters/{cluster}/assume-role-for-pod-identity signed
// for eks-auth in region with creds.
func AssumeRoleForPodIdentity(ctx context.Context, endpoint, region string, creds aws.Credentials, cluster, token string) (*Output, error) {
	body, _ := json.Marshal(map[string]string{"token": token})
	u := strings.TrimSuffix(endpoint, "/") + "/clusters/" + url.PathEscape(cluster) + "/assume-role-for-pod-identity"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "eks-auth", region, time.Now()); err != nil {
		return nil, err
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		var m struct {
			Message string `json:"message"`
		}
		_ = json.Unmarshal(b, &m)
		code := resp.Header.Get("x-amzn-ErrorType")
		if i := strings.IndexByte(code, ':'); i >= 0 {
			code = code[:i]
		}
		return nil, &Error{Code: code, Message: m.Message, Status: resp.StatusCode}
	}
	var out Output
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("AssumeRoleForPodIdentity answered JSON that does not fit the model: %w: %s", err, b)
	}
	return &out, nil
}
