package credential

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

func TestExecCredentialVersions(t *testing.T) {
	t.Parallel()
	exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		name, info, wantVersion, wantErr string
	}{
		{"no exec info: v1beta1", "", "client.authentication.k8s.io/v1beta1", ""},
		{"v1 asked", `{"apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false}}`, "client.authentication.k8s.io/v1", ""},
		{"v1beta1 asked", `{"apiVersion":"client.authentication.k8s.io/v1beta1"}`, "client.authentication.k8s.io/v1beta1", ""},
		{"an unknown version", `{"apiVersion":"client.authentication.k8s.io/v2"}`, "", "speaks client.authentication.k8s.io/v1 and v1beta1"},
		{"not JSON", `{`, "", "KUBERNETES_EXEC_INFO is not JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := execCredential("k8s-aws-v1.abc", exp, tc.info)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v; want %q", err, tc.wantErr)
				}
				return
			}
			var got struct {
				Kind, APIVersion string
				Status           struct{ Token, ExpirationTimestamp string }
			}
			if err != nil || json.Unmarshal(b, &got) != nil {
				t.Fatalf("%v: %s", err, b)
			}
			if got.Kind != "ExecCredential" || got.APIVersion != tc.wantVersion || got.Status.Token != "k8s-aws-v1.abc" || got.Status.ExpirationTimestamp != "2030-01-02T03:04:05Z" {
				t.Errorf("ExecCredential = %s", b)
			}
		})
	}
}

// TestTokenForShape: the token is EKS's: the prefix and a presigned GetCallerIdentity whose signature
// covers the cluster header, valid 60 s, in the configured region and endpoint.
func TestTokenForShape(t *testing.T) {
	t.Parallel()
	cfg := aws.Config{Region: "eu-west-1", BaseEndpoint: aws.String("http://127.0.0.1:4566"),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "tok")}
	tok, err := TokenFor(context.Background(), cfg, "sandbox-2")
	if err != nil {
		t.Fatal(err)
	}
	enc, ok := strings.CutPrefix(tok, TokenPrefix)
	if !ok {
		t.Fatalf("token %q lacks %s", tok, TokenPrefix)
	}
	raw, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(string(raw))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Host != "127.0.0.1:4566" || q.Get("Action") != "GetCallerIdentity" || q.Get("X-Amz-Expires") != "60" ||
		!strings.Contains(q.Get("X-Amz-SignedHeaders"), ClusterHeader) || !strings.HasPrefix(q.Get("X-Amz-Credential"), "AKIDEXAMPLE/") ||
		!strings.Contains(q.Get("X-Amz-Credential"), "/eu-west-1/sts/") || q.Get("X-Amz-Security-Token") != "tok" {
		t.Errorf("token URL %s", raw)
	}
}

func TestRunNeedsACluster(t *testing.T) {
	t.Parallel()
	var out, errb bytes.Buffer
	if code := Run(context.Background(), []string{"--region", "us-west-2"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "--cluster-name is required") || out.Len() != 0 {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
	}
}
