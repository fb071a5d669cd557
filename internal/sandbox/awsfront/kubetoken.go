package awsfront

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox/credential"
)

// EKS authenticates kubectl with a bearer token that `aws eks get-token` makes without calling AWS:
// "k8s-aws-v1." + base64url(a presigned sts:GetCallerIdentity URL whose signature also covers the header
// x-k8s-aws-id: <cluster name>). The cluster's authenticator replays the URL with that header; STS answers
// who signed it, or refuses a bad key, secret or cluster. VerifyKubeToken does the same in-process, so the
// sandbox's apiservers can use it through a token webhook (uncounted, unfaulted: it is not the caller's
// AWS traffic).

// kubeTokenLifetime is how long after its X-Amz-Date EKS accepts a token.
const kubeTokenLifetime = 15 * time.Minute

// KubeIdentity is who signed a Kubernetes token.
type KubeIdentity struct {
	ARN          string // as sts:GetCallerIdentity says: a user ARN or an assumed-role session ARN
	CanonicalARN string // the user ARN, or the role ARN of a session: what EKS access entries map
	Account      string
	AccessKeyID  string
	SessionName  string // role sessions only
}

// kubeTokenParams are the only query parameters EKS's authenticator accepts in a token URL.
var kubeTokenParams = []string{"action", "version", "x-amz-algorithm", "x-amz-credential", "x-amz-date",
	"x-amz-expires", "x-amz-security-token", "x-amz-signature", "x-amz-signedheaders"}

// VerifyKubeToken checks a token for clusterName and says who signed it. The URL's host is not compared
// with the front's address: the token is verified here rather than sent anywhere.
func (f *Front) VerifyKubeToken(ctx context.Context, token, clusterName string, now time.Time) (KubeIdentity, error) {
	enc, ok := strings.CutPrefix(token, credential.TokenPrefix)
	if !ok {
		return KubeIdentity{}, fmt.Errorf("token is missing the %q prefix", credential.TokenPrefix)
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(enc, "="))
	if err != nil {
		return KubeIdentity{}, fmt.Errorf("token is not base64url: %v", err)
	}
	u, err := url.Parse(string(raw))
	if err != nil {
		return KubeIdentity{}, fmt.Errorf("token does not hold a URL: %v", err)
	}
	q := u.Query()
	for k := range q {
		if !slices.Contains(kubeTokenParams, strings.ToLower(k)) {
			return KubeIdentity{}, fmt.Errorf("token URL has unexpected parameter %q", k)
		}
	}
	if q.Get("Action") != "GetCallerIdentity" {
		return KubeIdentity{}, fmt.Errorf("token URL's action %q is not GetCallerIdentity", q.Get("Action"))
	}
	signed := strings.Split(strings.ToLower(q.Get("X-Amz-SignedHeaders")), ";")
	if !slices.Contains(signed, credential.ClusterHeader) {
		return KubeIdentity{}, errors.New("token's signature does not cover x-k8s-aws-id")
	}
	date, err := time.Parse("20060102T150405Z", q.Get("X-Amz-Date"))
	if err != nil {
		return KubeIdentity{}, fmt.Errorf("token's X-Amz-Date %q is not a date", q.Get("X-Amz-Date"))
	}
	if now.After(date.Add(kubeTokenLifetime)) {
		return KubeIdentity{}, fmt.Errorf("token expired: signed at %s, valid for %s", date.Format(time.RFC3339), kubeTokenLifetime)
	}
	if date.After(now.Add(kubeTokenLifetime)) {
		return KubeIdentity{}, fmt.Errorf("token is signed in the future (%s)", date.Format(time.RFC3339))
	}
	scope := strings.Split(q.Get("X-Amz-Credential"), "/")
	if len(scope) != 5 || scope[3] != "sts" || scope[4] != "aws4_request" {
		return KubeIdentity{}, fmt.Errorf("token's credential %q is not an STS SigV4 scope", q.Get("X-Amz-Credential"))
	}
	key := scope[0]
	p, e, ok := f.checkKey(ctx, key, q.Get("X-Amz-Security-Token"), "sts", false)
	if !ok {
		return KubeIdentity{}, fmt.Errorf("sts:GetCallerIdentity refused the token's key %s: %s: %s", key, e.Code, e.Message)
	}
	if p.Secret == "" {
		return KubeIdentity{}, fmt.Errorf("the sandbox does not know the secret of key %s (it was not issued through the AWS endpoint), so cannot verify the token", key)
	}
	if !kubeTokenSignatureValid(u, q, signed, clusterName, p.Secret, scope) {
		return KubeIdentity{}, fmt.Errorf("token's signature does not match (a wrong secret for key %s, or a token for another cluster than %s)", key, clusterName)
	}
	id := KubeIdentity{ARN: p.ARN, CanonicalARN: p.ARN, Account: p.Account, AccessKeyID: key}
	if p.isSession() {
		id.CanonicalARN = p.RoleARN
		id.SessionName = p.ARN[strings.LastIndex(p.ARN, "/")+1:]
	}
	return id, nil
}

// kubeTokenSignatureValid recomputes the presigned request's SigV4 signature as STS would receive it: GET
// of the URL with the host and x-k8s-aws-id headers. Presigners hash the empty body or send UNSIGNED-PAYLOAD;
// either is accepted.
func kubeTokenSignatureValid(u *url.URL, q url.Values, signed []string, cluster, secret string, scope []string) bool {
	headers := map[string]string{"host": u.Host, credential.ClusterHeader: cluster}
	var canonHeaders strings.Builder
	for _, h := range signed {
		v, ok := headers[h]
		if !ok {
			return false // a header the replayed request would not carry
		}
		canonHeaders.WriteString(h + ":" + strings.TrimSpace(v) + "\n")
	}
	var pairs []string
	for k, vs := range q {
		if k == "X-Amz-Signature" {
			continue
		}
		for _, v := range vs {
			pairs = append(pairs, sigv4Escape(k)+"="+sigv4Escape(v))
		}
	}
	sort.Strings(pairs)
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	want, err := hex.DecodeString(q.Get("X-Amz-Signature"))
	if err != nil {
		return false
	}
	signingKey := hmacSHA256([]byte("AWS4"+secret), scope[1])
	signingKey = hmacSHA256(signingKey, scope[2])
	signingKey = hmacSHA256(signingKey, scope[3])
	signingKey = hmacSHA256(signingKey, "aws4_request")
	emptyHash := sha256.Sum256(nil)
	for _, payload := range []string{hex.EncodeToString(emptyHash[:]), "UNSIGNED-PAYLOAD"} {
		canonical := strings.Join([]string{"GET", path, strings.Join(pairs, "&"), canonHeaders.String(), strings.Join(signed, ";"), payload}, "\n")
		sum := sha256.Sum256([]byte(canonical))
		toSign := strings.Join([]string{"AWS4-HMAC-SHA256", q.Get("X-Amz-Date"), strings.Join(scope[1:], "/"), hex.EncodeToString(sum[:])}, "\n")
		if hmac.Equal(hmacSHA256(signingKey, toSign), want) {
			return true
		}
	}
	return false
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

// sigv4Escape percent-encodes everything but SigV4's unreserved characters.
func sigv4Escape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}
