package awsfront

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
)

// serveAuthorized authorizes calls made with role session credentials (web identity, AssumeRole, EKS Pod
// Identity, any account) to Kinesis, DynamoDB, SQS, Firehose, Secrets Manager, KMS and CloudWatch as those
// services do with IAM, then forwards them to moto; calls with other keys (users: the admins') pass as moto
// would take them. What each operation needs is svcOps' row (svcops.go).
func (f *Front) serveAuthorized(w http.ResponseWriter, r *http.Request, c *call) {
	sess := f.authorizee(c)
	if sess == nil {
		f.proxy(w, r, c)
		return
	}
	region := signingRegion(r)
	if region == "" {
		region = f.cfg.Region
	}
	q := &svcRequest{Prefix: iamPrefixes[c.Service], Op: c.Action, Region: region, Account: sess.Account,
		Path: r.URL.Path, Body: parseBody(r, c.Decoded), Form: c.Params}
	checks, keys, err := f.svcChecks(r.Context(), q)
	if err != nil {
		e := serverError(c.Service)
		e.Message = fmt.Sprintf("sandbox could not tell which resource %s:%s acts on: %v", q.Prefix, q.Op, err)
		e.write(w, r, c.Service)
		return
	}
	if !f.authorize(w, r, c, sess, checks, keys) {
		return
	}
	if q.Prefix == "kinesis" && q.Op == "ListShards" {
		f.listShards(w, r, c, q, checks[0].Resource)
		return
	}
	f.proxy(w, r, c)
}

// A ListShards page after the first names only its NextToken (Kinesis refuses a StreamName beside it), which
// in moto does not carry the stream as it does in Kinesis: the front remembers which stream each token it
// handed out is of, to authorize the next page, and names the stream to moto, which wants the first page's
// parameters again.
const maxShardTokens = 10000

// shardTokens maps the NextTokens of ListShards answers to their stream's ARN.
type shardTokens struct {
	mu     sync.Mutex
	stream map[string]string
}

// listShards forwards an allowed ListShards and remembers its NextToken's stream.
func (f *Front) listShards(w http.ResponseWriter, r *http.Request, c *call, q *svcRequest, streamARN string) {
	if q.str("NextToken") != "" && q.str("StreamName") == "" && q.str("StreamARN") == "" && f.shardTokenStream(q.str("NextToken")) != "" {
		in := map[string]any{"StreamName": streamARN[strings.LastIndex(streamARN, "/")+1:]}
		for k, v := range q.Body {
			in[k] = v
		}
		if b, err := json.Marshal(in); err == nil {
			c.Body = b
		}
	}
	resp, body, err := f.fetch(r, c)
	if err != nil {
		f.motoUnreachable(w, r, c, err)
		return
	}
	var page struct{ NextToken string }
	if resp.StatusCode == http.StatusOK && json.Unmarshal(body, &page) == nil && page.NextToken != "" {
		f.shardTokens.mu.Lock()
		if f.shardTokens.stream == nil || len(f.shardTokens.stream) >= maxShardTokens {
			f.shardTokens.stream = map[string]string{}
		}
		f.shardTokens.stream[page.NextToken] = streamARN
		f.shardTokens.mu.Unlock()
	}
	reply(w, resp, body)
}

// shardTokenStream is the stream ARN of a ListShards NextToken the front handed out; "" when unknown.
func (f *Front) shardTokenStream(token string) string {
	f.shardTokens.mu.Lock()
	defer f.shardTokens.mu.Unlock()
	return f.shardTokens.stream[token]
}

// svcChecks is what q needs from IAM: its checks, all of which must be allowed, and its condition keys.
func (f *Front) svcChecks(ctx context.Context, q *svcRequest) ([]authzCheck, map[string][]string, error) {
	op := svcOps[q.Prefix][q.Op]
	action := op.Action
	if action == "" {
		action = q.Prefix + ":" + q.Op
	}
	resources := []string{"*"}
	if op.Resource != nil {
		rs, err := op.Resource(ctx, f, q)
		if err != nil {
			return nil, nil, err
		}
		resources = rs
	}
	keys := map[string][]string{}
	var tags map[string]string
	if op.Tags != "" {
		tags = q.tags(op.Tags)
		tagContext(tags, keys)
	}
	if op.TagKeys != "" {
		if k := q.list(op.TagKeys); len(k) > 0 {
			keys["aws:TagKeys"] = k
		}
	}
	if op.Context != nil {
		op.Context(q, keys)
	}
	if q.Prefix == "kms" {
		if err := f.kmsContext(ctx, q, keys); err != nil {
			return nil, nil, err
		}
	}
	var checks []authzCheck
	for _, res := range resources {
		checks = append(checks, authzCheck{action, res})
	}
	if op.OnCreate != "" && len(tags) > 0 {
		for _, res := range resources {
			checks = append(checks, authzCheck{op.OnCreate, res})
		}
	}
	return checks, keys, nil
}

// kmsContext adds KMS's alias condition keys: kms:RequestAlias (the alias the request named the key by) and
// kms:ResourceAliases (the key's aliases), which the catalog's alias-scoped statements test.
func (f *Front) kmsContext(ctx context.Context, q *svcRequest, keys map[string][]string) error {
	k, err := f.requestKey(ctx, q)
	if err != nil {
		return err
	}
	if k.RequestAlias != "" {
		keys["kms:RequestAlias"] = []string{k.RequestAlias}
	}
	if len(k.Aliases) > 0 {
		keys["kms:ResourceAliases"] = k.Aliases
	}
	return nil
}
