package awsfront

import (
	"context"
	"encoding/base64"
	"net/url"
	"sort"
	"strings"
)

// resourceOf derives the ARNs an operation acts on from its request, as the Service Authorization Reference
// names them. A name the request lacks leaves the resource as AWS would fail to find it: the service then
// answers for itself once the call is allowed.
type resourceOf func(ctx context.Context, f *Front, q *svcRequest) ([]string, error)

// arn builds an ARN of the request's region and account.
func (q *svcRequest) arn(service, resource string) string {
	return "arn:aws:" + service + ":" + q.Region + ":" + q.Account + ":" + resource
}

// nameOrARN is an ARN as given, or the ARN of a name.
func (q *svcRequest) nameOrARN(v, service, kind string) string {
	if strings.HasPrefix(v, "arn:") {
		return v
	}
	return q.arn(service, kind+v)
}

func one(s string) ([]string, error) { return []string{s}, nil }

// streamARN is a Kinesis stream's ARN from StreamARN or StreamName; GetRecords names only its shard iterator,
// which (in moto, as in Kinesis) carries the stream's name; a later ListShards page, its NextToken (the
// front remembers their streams: svcauthz.go).
func streamARN(_ context.Context, f *Front, q *svcRequest) ([]string, error) {
	if a := q.str("StreamARN"); a != "" {
		return one(a)
	}
	if t := q.str("NextToken"); t != "" && q.str("StreamName") == "" {
		if a := f.shardTokenStream(t); a != "" {
			return one(a)
		}
	}
	name := q.str("StreamName")
	if name == "" && q.str("ShardIterator") != "" {
		// moto encodes it as MIME base64, with line breaks.
		if b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(q.str("ShardIterator")), "")); err == nil {
			name, _, _ = strings.Cut(string(b), ":")
		}
	}
	return one(q.arn("kinesis", "stream/"+name))
}

// resourceARNField is the operation's ARN field as given (the TagResource family).
func resourceARNField(field string) resourceOf {
	return func(_ context.Context, _ *Front, q *svcRequest) ([]string, error) { return one(q.str(field)) }
}

// tableARN is a DynamoDB table's ARN; TableName may itself be an ARN.
func tableARN(_ context.Context, _ *Front, q *svcRequest) ([]string, error) {
	return one(q.nameOrARN(q.str("TableName"), "dynamodb", "table/"))
}

// tableOrIndexARN is the table's ARN, or its index's when the call reads an index.
func tableOrIndexARN(ctx context.Context, f *Front, q *svcRequest) ([]string, error) {
	t, _ := tableARN(ctx, f, q)
	if idx := q.str("IndexName"); idx != "" {
		return one(t[0] + "/index/" + idx)
	}
	return t, nil
}

// requestItemTables are the tables of a batch call, one check each.
func requestItemTables(_ context.Context, _ *Front, q *svcRequest) ([]string, error) {
	items, _ := q.Body["RequestItems"].(map[string]any)
	var out []string
	for name := range items {
		out = append(out, q.nameOrARN(name, "dynamodb", "table/"))
	}
	sort.Strings(out)
	return out, nil
}

// queueARN is an SQS queue's ARN: from QueueUrl (a parameter, or the path the query protocol posts to),
// else from QueueName and QueueOwnerAWSAccountId (GetQueueUrl, CreateQueue). The URL's path is
// /<account>/<name>.
func queueARN(_ context.Context, _ *Front, q *svcRequest) ([]string, error) {
	path := q.Path
	if u := q.str("QueueUrl"); u != "" {
		if pu, err := url.Parse(u); err == nil {
			path = pu.Path
		}
	}
	if parts := strings.Split(strings.Trim(path, "/"), "/"); len(parts) == 2 && parts[0] != "" {
		return one("arn:aws:sqs:" + q.Region + ":" + parts[0] + ":" + parts[1])
	}
	account := q.Account
	if o := q.str("QueueOwnerAWSAccountId"); o != "" {
		account = o
	}
	return one("arn:aws:sqs:" + q.Region + ":" + account + ":" + q.str("QueueName"))
}

// deliveryStreamARN is a Firehose stream's ARN.
func deliveryStreamARN(_ context.Context, _ *Front, q *svcRequest) ([]string, error) {
	return one(q.arn("firehose", "deliverystream/"+q.str("DeliveryStreamName")))
}

// secretARN is a secret's real ARN, with the random suffix Secrets Manager gave it: SecretId may be the
// name, a partial or the full ARN, and policies match the full one. A secret that does not exist is named
// NAME-?????? as policies that grant it before its creation do.
func secretARN(ctx context.Context, f *Front, q *svcRequest) ([]string, error) {
	id := q.str("SecretId")
	real, err := f.lookupSecretARN(ctx, q, id)
	if err != nil {
		return nil, err
	}
	if real != "" {
		return one(real)
	}
	if strings.HasPrefix(id, "arn:") {
		return one(id)
	}
	return one(q.arn("secretsmanager", "secret:"+id+"-??????"))
}

// newSecretARN is the ARN a secret being created will have, its suffix not yet known.
func newSecretARN(_ context.Context, _ *Front, q *svcRequest) ([]string, error) {
	return one(q.arn("secretsmanager", "secret:"+q.str("Name")+"-??????"))
}

// keyARNs is the ARN of the KMS key that KeyId names: a key id, key ARN, alias name or alias ARN. IAM
// authorizes the key, never the alias (the alias shows in kms:RequestAlias and kms:ResourceAliases).
func keyARNs(ctx context.Context, f *Front, q *svcRequest) ([]string, error) {
	k, err := f.lookupKMSKey(ctx, q, q.str("KeyId"))
	if err != nil {
		return nil, err
	}
	return one(k.ARN)
}

// decryptKeyARN is the key of a Decrypt: KeyId when given, else the key its ciphertext names.
func decryptKeyARN(ctx context.Context, f *Front, q *svcRequest) ([]string, error) {
	k, err := f.requestKey(ctx, q)
	if err != nil {
		return nil, err
	}
	if k.ARN == "" {
		return one(q.arn("kms", "key/*"))
	}
	return one(k.ARN)
}

// requestKey is the key a KMS request acts on: KeyId, else the key of its ciphertext (moto's ciphertext blob
// starts with the key's 36-character id, as a real one carries its key's identity); zero when neither is known.
func (f *Front) requestKey(ctx context.Context, q *svcRequest) (kmsKey, error) {
	if id := q.str("KeyId"); id != "" {
		return f.lookupKMSKey(ctx, q, id)
	}
	if blob, err := base64.StdEncoding.DecodeString(q.str("CiphertextBlob")); err == nil && len(blob) >= 36 {
		return f.lookupKMSKey(ctx, q, string(blob[:36]))
	}
	return kmsKey{}, nil
}

// aliasAndKeyARNs are CreateAlias's and DeleteAlias's two resources: the alias and its key.
func aliasAndKeyARNs(ctx context.Context, f *Front, q *svcRequest) ([]string, error) {
	alias := q.str("AliasName")
	target := q.str("TargetKeyId")
	if target == "" {
		target = alias
	}
	k, err := f.lookupKMSKey(ctx, q, target)
	if err != nil {
		return nil, err
	}
	return []string{q.nameOrARN(alias, "kms", ""), k.ARN}, nil
}

// alarmARN is a CloudWatch alarm's ARN.
func alarmARN(_ context.Context, _ *Front, q *svcRequest) ([]string, error) {
	return one(q.arn("cloudwatch", "alarm:"+q.str("AlarmName")))
}
