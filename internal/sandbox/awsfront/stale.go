package awsfront

import (
	"context"
	"encoding/xml"
	"hash/fnv"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// IAM is eventually consistent for updates too: for a while after UpdateAssumeRolePolicy, or after a new
// default version of a managed policy, a read may still return the previous document (IAM User Guide,
// "Changes that I make are not always immediately visible"). The front imitates it while
// consistency_delay_ms is set: within the window after such an update, each reader (a client connection,
// as a replica serves it) either already sees the new state or still sees the previous one, decided once
// per reader and update from the front's seed; the writer's own connection is no exception, as on AWS.
// Creations have their own window (consistency.go).

// staleState is what a document was before an update through the front.
type staleState struct {
	at       time.Time
	seed     uint64
	trust    string // a role's previous trust policy, as IAM returns it (URL-encoded JSON)
	version  string // a policy's previous default version ID
	previous bool   // there was a previous state to show
}

// beforeUpdate reads what a trust or default-version update is about to replace; the front holds
// iamWriteMu, so nothing else changes it meanwhile. ok is false for other calls or without a window.
func (f *Front) beforeUpdate(ctx context.Context, c *call) (key string, st staleState, ok bool) {
	f.mu.Lock()
	window, seed := f.faults.ConsistencyDelayMS, f.rng.Uint64()
	f.mu.Unlock()
	if window <= 0 {
		return "", staleState{}, false
	}
	client := f.iamIn(f.callerAccount(c))
	switch {
	case c.Action == "UpdateAssumeRolePolicy":
		name := c.Params.Get("RoleName")
		out, err := client.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)})
		if err != nil {
			return "", staleState{}, false
		}
		return roleKey(name), staleState{seed: seed, trust: aws.ToString(out.Role.AssumeRolePolicyDocument), previous: true}, true
	case c.Action == "SetDefaultPolicyVersion" || c.Action == "CreatePolicyVersion" && strings.EqualFold(c.Params.Get("SetAsDefault"), "true"):
		arn := c.Params.Get("PolicyArn")
		out, err := client.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(arn)})
		if err != nil {
			return "", staleState{}, false
		}
		return policyKey(arn), staleState{seed: seed, version: aws.ToString(out.Policy.DefaultVersionId), previous: true}, true
	}
	return "", staleState{}, false
}

// updated records that the update of key was acknowledged now.
func (f *Front) updated(key string, st staleState) {
	st.at = time.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	for k, s := range f.stale {
		if time.Since(s.at) > createdForget {
			delete(f.stale, k)
		}
	}
	f.stale[key] = st
}

// staleFor is the previous state reader still sees of key, if it is one of the readers the update has not
// reached yet.
func (f *Front) staleFor(key, reader string) (staleState, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.stale[key]
	window := time.Duration(f.faults.ConsistencyDelayMS) * time.Millisecond
	if !ok || !st.previous || window <= 0 || time.Since(st.at) >= window {
		return staleState{}, false
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(reader + "\x00" + key))
	return st, (h.Sum64()^st.seed)%2 == 0
}

var (
	trustElement   = regexp.MustCompile(`(?s)<AssumeRolePolicyDocument>.*?</AssumeRolePolicyDocument>`)
	defaultElement = regexp.MustCompile(`(?s)<DefaultVersionId>.*?</DefaultVersionId>`)
)

// staleRead serves GetRole and GetPolicy from the previous state to a reader the last update has not
// reached; it reports false when the call is to be served as it is.
func (f *Front) staleRead(w http.ResponseWriter, r *http.Request, c *call) bool {
	var key string
	switch c.Action {
	case "GetRole":
		key = roleKey(c.Params.Get("RoleName"))
	case "GetPolicy":
		key = policyKey(c.Params.Get("PolicyArn"))
	default:
		return false
	}
	st, stale := f.staleFor(key, r.RemoteAddr)
	if !stale {
		return false
	}
	resp, body, err := f.fetch(r, c)
	if err != nil {
		f.motoUnreachable(w, r, c, err)
		return true
	}
	if resp.StatusCode == http.StatusOK {
		if c.Action == "GetRole" {
			body = trustElement.ReplaceAll(body, []byte("<AssumeRolePolicyDocument>"+xmlEscape(st.trust)+"</AssumeRolePolicyDocument>"))
		} else {
			body = defaultElement.ReplaceAll(body, []byte("<DefaultVersionId>"+xmlEscape(st.version)+"</DefaultVersionId>"))
		}
	}
	reply(w, resp, body)
	return true
}

func xmlEscape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
