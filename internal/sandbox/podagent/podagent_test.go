package podagent

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	sdcaws "github.com/kubectl-sdc/kubectl-sdc/pkg/aws"
)

// refusing is an EKS Auth that must never be asked: every case here is refused by the agent itself.
type refusing struct{ t *testing.T }

func (r refusing) AssumeRoleForPodIdentity(context.Context, string, string) (*sdcaws.AssumeRoleForPodIdentityOutput, error) {
	r.t.Error("EKS Auth was asked about a request the agent should have refused")
	return nil, errors.New("not reached")
}

func jwt(claims string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256"}`)) + "." + enc([]byte(claims)) + ".c2ln"
}

// The agent's own refusals, before EKS Auth: the path, the address the pod called, and a token that is
// missing, not a JWT, expired or not yet valid (EKS's agent parses it without verifying it).
func TestAgentRefusesBeforeEKSAuth(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	a := &Agent{Cluster: "c", EKSAuth: refusing{t}, Hosts: []string{"127.0.0.1"}, Now: func() time.Time { return now }}
	for _, tc := range []struct {
		name, path, host, token string
		status                  int
		says                    string
	}{
		{"another path", "/v2/credentials", "169.254.170.23", jwt(`{}`), 404, "404 page not found"},
		{"another address", CredentialsPath, "169.254.169.254", jwt(`{}`), 403, "Access Denied. Called agent through invalid address, please use either [169.254.170.23 fd00:ec2::23 127.0.0.1] address not 169.254.169.254"},
		{"no token", CredentialsPath, "169.254.170.23", "", 400, "Service account token cannot be empty"},
		{"three parts that are not a JWT", CredentialsPath, "[fd00:ec2::23]:80", "a.b.c", 400, "Service account token cannot be parsed"},
		{"one part", CredentialsPath, "127.0.0.1:8080", "abc", 400, "Service account token cannot be parsed: token contains an invalid number of segments"},
		{"expired", CredentialsPath, "169.254.170.23", jwt(fmt.Sprintf(`{"exp":%d}`, now.Unix())), 400, "token is expired"},
		{"not yet valid", CredentialsPath, "169.254.170.23", jwt(fmt.Sprintf(`{"exp":%d,"nbf":%d}`, now.Unix()+600, now.Unix()+60)), 400, "token is not valid yet"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "http://"+tc.host+tc.path, nil)
			req.Host = tc.host
			if tc.token != "" {
				req.Header.Set("Authorization", tc.token)
			}
			rec := httptest.NewRecorder()
			a.ServeHTTP(rec, req)
			if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.says) {
				t.Errorf("HTTP %d %q; want %d saying %q", rec.Code, rec.Body.String(), tc.status, tc.says)
			}
		})
	}
}

// EKS Auth's refusals reach the pod with EKS Auth's status and code, as EKS's agent passes them on.
func TestErrorAnswer(t *testing.T) {
	for _, tc := range []struct {
		err    error
		msg    string
		status int
	}{
		{&sdcaws.EKSAuthError{Code: "AccessDeniedException", Message: "no", Status: 400}, "(AccessDeniedException): no, fault: client", 400},
		{fmt.Errorf("wrapped: %w", &sdcaws.EKSAuthError{Code: "InternalServerException", Message: "boom", Status: 500}), "(InternalServerException): boom, fault: server", 500},
		{errors.New("dial tcp: refused"), "dial tcp: refused", 500},
	} {
		if msg, status := errorAnswer(tc.err); msg != tc.msg || status != tc.status {
			t.Errorf("errorAnswer(%v) = %q %d; want %q %d", tc.err, msg, status, tc.msg, tc.status)
		}
	}
}
