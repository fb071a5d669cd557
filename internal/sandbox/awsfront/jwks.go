package awsfront

import (
	"context"
	"crypto/sha1"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// errThumbprint means the issuer's TLS chain did not end in a certificate the provider trusts.
var errThumbprint = errors.New("the issuer's TLS certificate chain does not match the provider's thumbprints")

// jwksTTL is how long fetched keys are reused; short, because tests rotate keys and providers.
const jwksTTL = 30 * time.Second

// jwksCache keeps issuers' key sets, keyed by issuer and the thumbprints they were fetched under, so a
// provider whose thumbprints change is checked afresh.
type jwksCache struct {
	mu      sync.Mutex
	entries map[string]jwksEntry
}

type jwksEntry struct {
	set     *jose.JSONWebKeySet
	fetched time.Time
}

func newJWKSCache() *jwksCache { return &jwksCache{entries: map[string]jwksEntry{}} }

// keys returns the issuer's key set, fetched through its discovery document unless a fresh copy is cached
// (refresh skips the cache, for a kid the cached set does not know).
func (c *jwksCache) keys(ctx context.Context, issuer string, thumbprints []string, refresh bool) (*jose.JSONWebKeySet, error) {
	norm := make([]string, 0, len(thumbprints))
	for _, t := range thumbprints {
		norm = append(norm, strings.ToLower(strings.TrimSpace(t)))
	}
	slices.Sort(norm)
	key := issuer + "|" + strings.Join(norm, ",")
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	if ok && !refresh && time.Since(e.fetched) < jwksTTL {
		return e.set, nil
	}
	set, err := fetchJWKS(ctx, issuer, norm)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.entries[key] = jwksEntry{set: set, fetched: time.Now()}
	c.mu.Unlock()
	return set, nil
}

// fetchJWKS reads <issuer>/.well-known/openid-configuration and then its jwks_uri, as IAM does: over TLS
// that is trusted only when the SHA-1 of the last certificate the server presents is one of the
// provider's thumbprints, or, with no thumbprints, when the system's CAs trust it.
func fetchJWKS(ctx context.Context, issuer string, thumbprints []string) (*jose.JSONWebKeySet, error) {
	var mismatch atomic.Bool
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12}
	if len(thumbprints) > 0 {
		// The chain is checked by thumbprint alone, as IAM does for CAs it does not know.
		tlsConf.InsecureSkipVerify = true
		tlsConf.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				mismatch.Store(true)
				return errThumbprint
			}
			sum := sha1.Sum(cs.PeerCertificates[len(cs.PeerCertificates)-1].Raw)
			if !slices.Contains(thumbprints, hex.EncodeToString(sum[:])) {
				mismatch.Store(true)
				return errThumbprint
			}
			return nil
		}
	}
	client := &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{Proxy: nil, TLSClientConfig: tlsConf, DisableKeepAlives: true},
	}
	get := func(u string, v any) error {
		if !strings.HasPrefix(u, "https://") {
			return fmt.Errorf("%s is not an https URL", u)
		}
		err := getJSON(ctx, client, u, v)
		// Only a failed handshake sets mismatch or fails verification, and it ends the fetch at once.
		var verr *tls.CertificateVerificationError
		if err != nil && (mismatch.Load() || errors.As(err, &verr)) {
			return fmt.Errorf("%w: %v", errThumbprint, err)
		}
		return err
	}
	return discoverJWKS(issuer, get)
}

// discoverJWKS reads <issuer>/.well-known/openid-configuration and then the key set at its jwks_uri, each
// with get.
func discoverJWKS(issuer string, get func(u string, v any) error) (*jose.JSONWebKeySet, error) {
	var disc struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := get(strings.TrimSuffix(issuer, "/")+"/.well-known/openid-configuration", &disc); err != nil {
		return nil, err
	}
	if disc.JWKSURI == "" {
		return nil, fmt.Errorf("the discovery document of %s has no jwks_uri", issuer)
	}
	var set jose.JSONWebKeySet
	if err := get(disc.JWKSURI, &set); err != nil {
		return nil, err
	}
	return &set, nil
}

// getJSON GETs u with client and decodes the JSON of a 200 answer into v; any other answer is an error
// that quotes the start of its body.
func getJSON(ctx context.Context, client *http.Client, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("GET %s answered %s: %s", u, resp.Status, strings.TrimSpace(string(b)))
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v)
}
