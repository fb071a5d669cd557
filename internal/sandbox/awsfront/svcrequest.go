package awsfront

import (
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/aws/smithy-go/encoding/cbor"
)

// svcRequest is a call to one of the services the front authorizes (svcops.go), with its parameters as the
// protocol carried them: a JSON body (X-Amz-Target), a CBOR body (Smithy RPC v2) or query parameters.
type svcRequest struct {
	Prefix  string // the IAM service prefix: kinesis, dynamodb, sqs, firehose, secretsmanager, kms, cloudwatch
	Op      string
	Region  string // the region the call was signed for
	Account string // the caller's account, where its resources are
	Path    string // the request path (SQS's query protocol may address the queue by its URL)
	Body    map[string]any
	Form    url.Values
}

// isCBOR tells whether a request uses Smithy RPC v2 CBOR.
func isCBOR(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Smithy-Protocol"), "rpc-v2-cbor")
}

// parseBody reads the call's structured body, JSON or CBOR; nil when it has none or it does not parse (the
// service itself will then refuse it).
func parseBody(r *http.Request, body []byte) map[string]any {
	if len(body) == 0 {
		return nil
	}
	if isCBOR(r) {
		v, err := cbor.Decode(body)
		if err != nil {
			return nil
		}
		m, _ := fromCBOR(v).(map[string]any)
		return m
	}
	if r.Header.Get("X-Amz-Target") == "" {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		return nil
	}
	return m
}

// fromCBOR turns a CBOR value into the shapes encoding/json gives: maps, slices, strings, float64.
func fromCBOR(v cbor.Value) any {
	switch x := v.(type) {
	case cbor.Map:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = fromCBOR(e)
		}
		return m
	case cbor.List:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = fromCBOR(e)
		}
		return l
	case cbor.String:
		return string(x)
	case cbor.Uint:
		return float64(x)
	case cbor.Bool:
		return bool(x)
	case cbor.Slice:
		return []byte(x)
	}
	return nil
}

// str is a top-level string parameter, from the body or the query.
func (q *svcRequest) str(name string) string {
	if s, ok := q.Body[name].(string); ok {
		return s
	}
	return q.Form.Get(name)
}

// list is a top-level list of strings: a JSON array, or the query's Name.member.N or Name.N.
func (q *svcRequest) list(name string) []string {
	var out []string
	if l, ok := q.Body[name].([]any); ok {
		for _, e := range l {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	for _, k := range sortedKeys(q.Form) {
		rest, ok := strings.CutPrefix(k, name+".")
		if !ok {
			continue
		}
		rest = strings.TrimPrefix(rest, "member.")
		if !strings.Contains(rest, ".") {
			out = append(out, q.Form.Get(k))
		}
	}
	return out
}

// tags are the tags a request sets, wherever the service puts them: a JSON object {"k":"v"} (Kinesis, SQS),
// a JSON list of {Key,Value} or {TagKey,TagValue} (DynamoDB, Secrets Manager, Firehose, KMS, CloudWatch), or
// the query's Tag.N.Key/Value (SQS) and Tags.member.N.Key/Value (CloudWatch). nil when there are none.
func (q *svcRequest) tags(field string) map[string]string {
	out := map[string]string{}
	switch v := q.Body[field].(type) {
	case map[string]any:
		for k, e := range v {
			s, _ := e.(string)
			out[k] = s
		}
	case []any:
		for _, e := range v {
			m, _ := e.(map[string]any)
			k, _ := firstString(m, "Key", "TagKey")
			val, _ := firstString(m, "Value", "TagValue")
			if k != "" {
				out[k] = val
			}
		}
	}
	for _, prefix := range []string{field + ".member.", field + ".", "Tag."} {
		for _, k := range sortedKeys(q.Form) {
			n, ok := strings.CutSuffix(strings.TrimPrefix(k, prefix), ".Key")
			if !strings.HasPrefix(k, prefix) || !ok || strings.Contains(n, ".") {
				continue
			}
			out[q.Form.Get(k)] = q.Form.Get(prefix + n + ".Value")
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func firstString(m map[string]any, names ...string) (string, bool) {
	for _, n := range names {
		if s, ok := m[n].(string); ok {
			return s, true
		}
	}
	return "", false
}

func sortedKeys(v url.Values) []string {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// tagContext is IAM's view of tags a request sets: aws:RequestTag/<key> per tag and aws:TagKeys.
func tagContext(tags map[string]string, keys map[string][]string) {
	if len(tags) == 0 {
		return
	}
	names := make([]string, 0, len(tags))
	for k, v := range tags {
		keys["aws:RequestTag/"+k] = []string{v}
		names = append(names, k)
	}
	sort.Strings(names)
	keys["aws:TagKeys"] = names
}
