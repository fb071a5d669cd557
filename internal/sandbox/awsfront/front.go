// Package awsfront is the sandbox's AWS endpoint: an HTTP front over moto that forwards every call and adds
// what moto lacks and our plugin's correctness depends on — STS's real web identity checks, authorization
// of role sessions' calls to S3, Kinesis, DynamoDB, SQS, Firehose, Secrets Manager, KMS and CloudWatch, the
// sandbox's own EKS cluster, IAM's eventual consistency, throttling and failures on demand, and per-action
// call counts.
package awsfront

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// DefaultAccountID is moto's account, which the sandbox uses.
const DefaultAccountID = "123456789012"

// Faults are the knobs of POST /__sandbox/faults; absent or 0 means off.
type Faults struct {
	LatencyMS          int     `json:"latency_ms"`           // added before every forwarded call
	ThrottleRate       float64 `json:"throttle_rate"`        // share of calls answered with the service's throttling error
	ErrorRate          float64 `json:"error_rate"`           // share of calls answered with the service's HTTP 500
	ConsistencyDelayMS int     `json:"consistency_delay_ms"` // how long a role, policy or OIDC provider created through the front stays invisible
	FailAfterWrites    int     `json:"fail_after_writes"`    // let this many writes through, then fail every further write with a 500
	Seed               uint64  `json:"seed,omitempty"`       // reseeds the random source of the rates when set
}

func (f Faults) validate() error {
	switch {
	case f.LatencyMS < 0:
		return fmt.Errorf("latency_ms %d is negative; give milliseconds >= 0", f.LatencyMS)
	case f.ThrottleRate < 0 || f.ThrottleRate > 1:
		return fmt.Errorf("throttle_rate %v is outside [0, 1]; give a share like 0.3", f.ThrottleRate)
	case f.ErrorRate < 0 || f.ErrorRate > 1:
		return fmt.Errorf("error_rate %v is outside [0, 1]; give a share like 0.1", f.ErrorRate)
	case f.ConsistencyDelayMS < 0:
		return fmt.Errorf("consistency_delay_ms %d is negative; give milliseconds >= 0", f.ConsistencyDelayMS)
	case f.FailAfterWrites < 0:
		return fmt.Errorf("fail_after_writes %d is negative; give a count >= 0", f.FailAfterWrites)
	}
	return nil
}

// EKSCluster describes the sandbox's Kubernetes cluster as EKS would.
type EKSCluster struct {
	Name     string // "sandbox"
	Endpoint string // https://127.0.0.1:<port>, the real apiserver
	CAData   []byte // PEM of the apiserver's CA; DescribeCluster returns it base64-encoded
	Issuer   string // the apiserver's service-account issuer
	Version  string // Kubernetes minor version, like "1.34"
	// Region and AccountID place the cluster; empty: Config.Region and the front's own account.
	Region, AccountID string
}

// Config configures a Front.
type Config struct {
	MotoURL string      // moto's base URL
	Region  string      // the sandbox region, us-west-2 when empty
	EKS     *EKSCluster // nil: no sandbox cluster
	// Clusters are further sandbox clusters, each answered for in its own region and account (clusters.go).
	Clusters []EKSCluster
	Faults   Faults    // initial fault settings
	Log      io.Writer // one line per request when set
	Seed     uint64    // seed of the random source behind the fault rates; 0 picks one from the clock
}

// CallCounts counts the API calls that reached the front, by kind and by "service:Action".
type CallCounts struct {
	Total    int            `json:"total"`
	Reads    int            `json:"reads"`
	Writes   int            `json:"writes"`
	ByAction map[string]int `json:"by_action"`
	// WritesByKey counts the write calls of each access key by action ("iam:CreateRole"), whatever their
	// outcome, so that a test can tell what one caller wrote while others ran.
	WritesByKey map[string]map[string]int `json:"writes_by_key"`
}

// Credentials are the sandbox account's admin keys.
type Credentials struct {
	AccountID, AccessKeyID, SecretAccessKey string
}

// Front is the sandbox's AWS endpoint; it is an http.Handler.
type Front struct {
	cfg       Config
	moto      *url.URL
	transport *http.Transport
	iam       *iam.Client // the front's own view of IAM, straight to moto, uncounted
	jwks      *jwksCache
	started   time.Time // the sandbox cluster's creation time

	logMu      sync.Mutex // the caller's writer need not be safe for concurrent use
	providerMu sync.Mutex // serialises the front's own rewrites of OIDC providers
	// iamWriteMu serialises IAM writes: moto checks-then-inserts without a lock, so two CreateRole calls of
	// one name at the same moment could both succeed, where IAM lets exactly one win (EntityAlreadyExists).
	iamWriteMu sync.Mutex

	mu           sync.Mutex
	faults       Faults
	rng          *rand.Rand
	writesPassed int
	calls        CallCounts
	created      map[string]time.Time  // entities created through the front: "role:<name>", "policy:<arn>", "oidc:<arn>"
	stale        map[string]staleState // documents updated through the front, for the readers still behind (stale.go)
	sessions     map[string]session    // access key id of a role session -> its role
	admin        Credentials
	adminUsers   map[string]bool // ARNs of the users CreateAdmin made: they keep all rights (admins.go)

	eksx           eksExtras      // add-ons, Pod Identity associations and Auto Mode, per cluster
	clusterJWKS    clusterKeySets // the sandbox clusters' service-account keys, for EKS Auth
	keys           keyRing        // who each access key belongs to (keys.go)
	accounts       accountClients // the front's own IAM client per account (accounts.go)
	shardTokens    shardTokens    // the streams of ListShards' NextTokens (svcauthz.go)
	userBoundaries userBoundaries // users' permissions boundaries, which moto drops (userboundary.go)
}

// session is what the front remembers about credentials STS minted for a role.
type session struct {
	RoleName, RoleARN, AssumedRoleARN string
	Tags                              map[string]string // session tags, seen as aws:PrincipalTag/<key>
	TransitiveKeys                    []string
}

// New makes a Front over the moto at cfg.MotoURL.
func New(cfg Config) (*Front, error) {
	u, err := url.Parse(cfg.MotoURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("moto URL %q is not an absolute URL; give one like http://127.0.0.1:5000", cfg.MotoURL)
	}
	if err := cfg.Faults.validate(); err != nil {
		return nil, err
	}
	if cfg.Region == "" {
		cfg.Region = "us-west-2"
	}
	if cfg.EKS != nil && cfg.EKS.Name == "" {
		return nil, errors.New("the sandbox EKS cluster has no name; set EKSCluster.Name, e.g. \"sandbox\"")
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	f := &Front{
		cfg:  cfg,
		moto: u,
		transport: &http.Transport{
			Proxy:               nil, // moto is on loopback; never route it through a proxy from the environment
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConnsPerHost: 64,
			// Bytes pass through as moto sent them; the client negotiated its own encoding.
			DisableCompression: true,
		},
		jwks:       newJWKSCache(),
		started:    time.Now(),
		faults:     cfg.Faults,
		rng:        rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		calls:      CallCounts{ByAction: map[string]int{}},
		created:    map[string]time.Time{},
		stale:      map[string]staleState{},
		sessions:   map[string]session{},
		adminUsers: map[string]bool{},
		admin:      Credentials{AccountID: DefaultAccountID, AccessKeyID: "sandbox-front", SecretAccessKey: "sandbox-front"},
	}
	f.iam = iam.New(iam.Options{
		BaseEndpoint: aws.String(cfg.MotoURL),
		Region:       "us-east-1",
		Credentials:  f.adminCredentials(),
		HTTPClient:   f.motoHTTPClient(),
	})
	return f, nil
}

// adminCredentials signs the front's own calls to moto with the admin's keys as they are at the time of the
// call: Bootstrap replaces them after the clients are made.
func (f *Front) adminCredentials() aws.CredentialsProvider {
	return aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		return aws.Credentials{AccessKeyID: f.admin.AccessKeyID, SecretAccessKey: f.admin.SecretAccessKey, Source: "sandbox-admin"}, nil
	})
}

// motoHTTPClient is the HTTP client of the front's own calls to moto.
func (f *Front) motoHTTPClient() *http.Client {
	return &http.Client{Transport: f.transport, Timeout: 30 * time.Second}
}

// SetFaults replaces the fault settings and restarts the fail_after_writes count.
func (f *Front) SetFaults(fl Faults) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = fl
	f.writesPassed = 0
	if fl.Seed != 0 {
		f.rng = rand.New(rand.NewPCG(fl.Seed, fl.Seed^0x9e3779b97f4a7c15))
	}
}

// Faults returns the current fault settings.
func (f *Front) Faults() Faults {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.faults
}

// Calls returns a copy of the call counts.
func (f *Front) Calls() CallCounts {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls
	c.ByAction = make(map[string]int, len(f.calls.ByAction))
	for k, v := range f.calls.ByAction {
		c.ByAction[k] = v
	}
	c.WritesByKey = make(map[string]map[string]int, len(f.calls.WritesByKey))
	for k, v := range f.calls.WritesByKey {
		c.WritesByKey[k] = maps.Clone(v)
	}
	return c
}

// ResetCalls sets all call counts to zero.
func (f *Front) ResetCalls() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = CallCounts{ByAction: map[string]int{}, WritesByKey: map[string]map[string]int{}}
}

// decoded is a request body as its sender wrote it before compression: SDKs gzip larger CloudWatch
// bodies (Content-Encoding: gzip). moto decompresses them itself, so what it gets is left as sent.
func decoded(r *http.Request, body []byte) []byte {
	if body == nil || !strings.EqualFold(r.Header.Get("Content-Encoding"), "gzip") {
		return body
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		return body
	}
	b, err := io.ReadAll(io.LimitReader(zr, maxFormBody+1))
	if err != nil || len(b) > maxFormBody {
		return body
	}
	return b
}

// maxFormBody bounds the awsQuery bodies the front buffers; IAM's largest documents are far smaller.
const maxFormBody = 16 << 20

// ServeHTTP answers one AWS API call, or an admin call under /__sandbox/.
func (f *Front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/__sandbox/") {
		f.serveAdmin(w, r)
		return
	}
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w}

	var body, form []byte
	_, svc := credentialScope(r)
	// awsQuery bodies are read to classify the call; the bodies of the services the front authorizes, to
	// know what the call acts on.
	if svc != "s3" && (isFormBody(r) || iamPrefixes[svc] != "") {
		b, err := io.ReadAll(io.LimitReader(r.Body, maxFormBody+1))
		if err != nil || len(b) > maxFormBody {
			http.Error(w, "reading the request body failed or it exceeds 16 MiB", http.StatusBadRequest)
			return
		}
		body = b
		if isFormBody(r) {
			form = decoded(r, b)
		}
	}
	c := classify(r, form)
	c.Body = body
	c.Decoded = decoded(r, body)
	f.count(c)
	defer func() { f.logCall(c, r, rec, start) }()
	r.Header.Del(motoAccountHeader) // the front's own way into any account; never a client's

	if e, ok := f.authenticate(r, c); !ok {
		rec.note = "refused"
		e.write(rec, r, c.Service)
		return
	}

	if e, ok := f.injectFault(r.Context(), c); ok {
		rec.note = "fault"
		e.write(rec, r, c.Service)
		return
	}
	switch c.Service {
	case "sts":
		if c.Action == "AssumeRoleWithWebIdentity" {
			f.assumeRoleWithWebIdentity(rec, r, c)
			return
		}
		if c.Action == "AssumeRole" {
			f.assumeRole(rec, r, c)
			return
		}
		f.proxy(rec, r, c)
	case "iam":
		f.serveIAM(rec, r, c)
	case "eks":
		f.serveEKS(rec, r, c)
	case "eks-auth":
		f.serveEKSAuth(rec, r, c)
	case "s3":
		f.serveS3(rec, r, c)
	case "kinesis", "dynamodb", "sqs", "firehose", "secretsmanager", "kms", "monitoring":
		f.serveAuthorized(rec, r, c)
	default:
		f.proxy(rec, r, c)
	}
}

func (f *Front) count(c *call) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls.Total++
	if c.Write {
		f.calls.Writes++
		if c.AccessKeyID != "" {
			if f.calls.WritesByKey == nil {
				f.calls.WritesByKey = map[string]map[string]int{}
			}
			if f.calls.WritesByKey[c.AccessKeyID] == nil {
				f.calls.WritesByKey[c.AccessKeyID] = map[string]int{}
			}
			f.calls.WritesByKey[c.AccessKeyID][c.Key()]++
		}
	} else {
		f.calls.Reads++
	}
	f.calls.ByAction[c.Key()]++
}

// injectFault applies latency and decides whether this call fails instead of reaching moto.
func (f *Front) injectFault(ctx context.Context, c *call) (awsError, bool) {
	fl := f.Faults()
	if fl.LatencyMS > 0 {
		t := time.NewTimer(time.Duration(fl.LatencyMS) * time.Millisecond)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	fl = f.faults // a POST may have changed them while we slept
	if c.Write && fl.FailAfterWrites > 0 && f.writesPassed >= fl.FailAfterWrites {
		return serverError(c.Service), true
	}
	if fl.ThrottleRate > 0 && f.rng.Float64() < fl.ThrottleRate {
		return throttleError(c.Service), true
	}
	if fl.ErrorRate > 0 && f.rng.Float64() < fl.ErrorRate {
		return serverError(c.Service), true
	}
	if c.Write {
		f.writesPassed++
	}
	return awsError{}, false
}

// serveAdmin answers the sandbox's own endpoints: call counts and faults.
func (f *Front) serveAdmin(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasPrefix(r.URL.Path, "/__sandbox/eks/"):
		f.serveEKSAdmin(w, r)
	case r.URL.Path == "/__sandbox/calls" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, f.Calls())
	case r.URL.Path == "/__sandbox/calls/reset" && r.Method == http.MethodPost:
		f.ResetCalls()
		writeJSON(w, http.StatusOK, f.Calls())
	case r.URL.Path == "/__sandbox/faults" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, f.Faults())
	case r.URL.Path == "/__sandbox/faults" && r.Method == http.MethodPost:
		var fl Faults
		dec := json.NewDecoder(io.LimitReader(r.Body, 1<<16))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&fl); err != nil && !errors.Is(err, io.EOF) {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("faults body is not valid JSON of the known knobs (latency_ms, throttle_rate, error_rate, consistency_delay_ms, fail_after_writes, seed): %v", err)})
			return
		}
		if err := fl.validate(); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		f.SetFaults(fl)
		writeJSON(w, http.StatusOK, f.Faults())
	default:
		writeJSON(w, http.StatusNotFound, map[string]string{"error": fmt.Sprintf("no sandbox endpoint %s %s; known: GET /__sandbox/calls, POST /__sandbox/calls/reset, GET|POST /__sandbox/faults, POST /__sandbox/eks/auto-mode", r.Method, r.URL.Path)})
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// statusRecorder remembers the status written, for the request log.
type statusRecorder struct {
	http.ResponseWriter
	status int
	note   string
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Flush lets streamed answers through as they come.
func (s *statusRecorder) Flush() {
	if fl, ok := s.ResponseWriter.(http.Flusher); ok {
		fl.Flush()
	}
}

func (f *Front) logCall(c *call, r *http.Request, rec *statusRecorder, start time.Time) {
	if f.cfg.Log == nil {
		return
	}
	note := ""
	if rec.note != "" {
		note = " (" + rec.note + ")"
	}
	f.logMu.Lock()
	defer f.logMu.Unlock()
	fmt.Fprintf(f.cfg.Log, "%s %s %s %s -> %d in %s%s\n", start.UTC().Format(time.RFC3339Nano), c.Key(), r.Method, r.URL.Path, rec.status, time.Since(start).Round(time.Microsecond), note)
}
