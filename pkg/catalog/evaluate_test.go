package catalog_test

import (
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/catalog"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
)

// grant is one action the stage must be allowed on one resource.
type grant struct{ action, resource string }

// Each stage's rendered policy, evaluated with pkg/iampolicy, allows exactly the actions SDC's stage
// needs on exactly its resources: every intended (action, resource) is allowed, the document names no
// other action, and the same actions on a neighbouring resource are denied.
func TestEveryStageAllowsExactlyWhatItNeeds(t *testing.T) {
	const (
		acct   = "123456789012"
		region = "us-west-2"
		bucket = "arn:aws:s3:::data"
		queue  = "arn:aws:sqs:us-west-2:123456789012:orders"
		stream = "arn:aws:kinesis:us-west-2:123456789012:stream/clicks"
		table  = "arn:aws:dynamodb:us-west-2:123456789012:table/clicks-app"
		fh     = "arn:aws:firehose:us-west-2:123456789012:deliverystream/to-s3"
		secret = "arn:aws:secretsmanager:us-west-2:123456789012:secret:sdc/db-AbCdEf"
		key    = "arn:aws:kms:us-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	)
	all := func(resource string, actions ...string) []grant {
		var g []grant
		for _, a := range actions {
			g = append(g, grant{a, resource})
		}
		return g
	}
	cases := []struct {
		stage     string
		params    map[string]string
		want      []grant
		neighbour map[string]string // resource -> a resource of the same kind the stage must not reach
	}{
		{"s3", map[string]string{"bucket": "data"},
			append(all(bucket, "s3:ListBucket"), all(bucket+"/any/key", "s3:GetObject", "s3:PutObject")...),
			map[string]string{bucket: "arn:aws:s3:::other", bucket + "/any/key": "arn:aws:s3:::other/any/key"}},
		{"s3-origin", map[string]string{"bucket": "data", "prefix": "in/"},
			append(all(bucket, "s3:ListBucket"), all(bucket+"/in/x.csv", "s3:GetObject")...),
			map[string]string{bucket + "/in/x.csv": bucket + "/out/x.csv"}},
		{"s3-origin", map[string]string{"bucket": "data", "post-processing": "delete", "kms-key": key},
			append(append(all(bucket, "s3:ListBucket"), all(bucket+"/x.csv", "s3:GetObject", "s3:DeleteObject")...), all(key, "kms:Decrypt")...),
			map[string]string{bucket + "/x.csv": "arn:aws:s3:::other/x.csv"}},
		// Error handling is a setting of its own: copying errored objects into another bucket needs no
		// DeleteObject, and writes a new object there under the archive key.
		{"s3-origin", map[string]string{"bucket": "data", "error-handling": "copy", "error-bucket": "errors", "kms-key": key},
			append(append(append(all(bucket, "s3:ListBucket"), all(bucket+"/x.csv", "s3:GetObject")...), all("arn:aws:s3:::errors/x.csv", "s3:PutObject")...),
				all(key, "kms:Decrypt", "kms:GenerateDataKey")...),
			map[string]string{"arn:aws:s3:::errors/x.csv": bucket + "/x.csv"}},
		{"s3-origin", map[string]string{"bucket": "data", "post-processing": "archive", "archive-bucket": "archive"},
			append(append(all(bucket, "s3:ListBucket"), all(bucket+"/x.csv", "s3:GetObject", "s3:DeleteObject")...), all("arn:aws:s3:::archive/x.csv", "s3:PutObject")...),
			map[string]string{"arn:aws:s3:::archive/x.csv": bucket + "/x.csv"}},
		{"sqs-consumer", map[string]string{"queue": "orders", "queue-lookup": "url"},
			all("arn:aws:sqs:us-west-2:123456789012:orders", "sqs:ReceiveMessage", "sqs:DeleteMessage"),
			map[string]string{"arn:aws:sqs:us-west-2:123456789012:orders": "arn:aws:sqs:us-west-2:123456789012:payments"}},
		{"kinesis-consumer", map[string]string{"stream": "clicks", "application": "clicks-app", "lease-table-tags": "true"},
			append(append(all("arn:aws:kinesis:us-west-2:123456789012:stream/clicks", "kinesis:DescribeStream", "kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:ListShards"),
				all("arn:aws:dynamodb:us-west-2:123456789012:table/clicks-app", "dynamodb:CreateTable", "dynamodb:DescribeTable", "dynamodb:DeleteTable", "dynamodb:TagResource",
					"dynamodb:Scan", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")...),
				all("*", "cloudwatch:PutMetricData")...),
			map[string]string{"arn:aws:dynamodb:us-west-2:123456789012:table/clicks-app": "arn:aws:dynamodb:us-west-2:123456789012:table/other"}},
		{"s3-destination", map[string]string{"bucket": "data", "kms-key": key},
			append(append(all(bucket, "s3:ListBucket"), all(bucket+"/o", "s3:PutObject", "s3:AbortMultipartUpload", "s3:GetObject")...), all(key, "kms:GenerateDataKey", "kms:Decrypt")...),
			map[string]string{bucket + "/o": "arn:aws:s3:::other/o", key: "arn:aws:kms:us-west-2:123456789012:key/other"}},
		{"s3-executor", map[string]string{"bucket": "data"},
			append(all(bucket, "s3:ListBucket"), all(bucket+"/o", "s3:GetObject", "s3:PutObject", "s3:PutObjectTagging", "s3:DeleteObject")...),
			map[string]string{bucket + "/o": "arn:aws:s3:::other/o"}},
		{"sqs-consumer", map[string]string{"queue": "orders"},
			append(all("*", "sqs:ListQueues"), all(queue, "sqs:ReceiveMessage", "sqs:DeleteMessage")...),
			map[string]string{queue: "arn:aws:sqs:us-west-2:123456789012:payments"}},
		{"kinesis-consumer", map[string]string{"stream": "clicks", "application": "clicks-app"},
			append(append(all(stream, "kinesis:DescribeStream", "kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:ListShards"),
				all(table, "dynamodb:CreateTable", "dynamodb:DescribeTable", "dynamodb:DeleteTable", "dynamodb:Scan", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")...),
				all("*", "cloudwatch:PutMetricData")...),
			map[string]string{stream: "arn:aws:kinesis:us-west-2:123456789012:stream/other", table: "arn:aws:dynamodb:us-west-2:123456789012:table/other"}},
		{"kinesis-producer", map[string]string{"stream": "clicks"},
			append(all(stream, "kinesis:PutRecords", "kinesis:DescribeStream", "kinesis:ListShards"), all("*", "cloudwatch:PutMetricData")...),
			map[string]string{stream: "arn:aws:kinesis:us-west-2:123456789012:stream/other"}},
		{"firehose-destination", map[string]string{"delivery-stream": "to-s3"},
			all(fh, "firehose:DescribeDeliveryStream", "firehose:PutRecordBatch"),
			map[string]string{fh: "arn:aws:firehose:us-west-2:123456789012:deliverystream/other"}},
		{"secrets-manager", map[string]string{"secret": "sdc/db"},
			all(secret, "secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"),
			map[string]string{secret: "arn:aws:secretsmanager:us-west-2:123456789012:secret:sdc/other-AbCdEf"}},
	}
	cat, err := catalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	covered := map[string]bool{}
	for _, c := range cases {
		name := c.stage + " " + strings.Join(slices.Sorted(maps.Keys(c.params)), ",")
		t.Run(name, func(t *testing.T) {
			covered[c.stage] = true
			doc, _, err := cat.Render(catalog.Selection{Stages: []string{c.stage}, Params: c.params}, catalog.Target{Partition: "aws", Region: region, Account: acct})
			if err != nil {
				t.Fatal(err)
			}
			p, err := iampolicy.Parse(doc)
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Validate(iampolicy.Identity); err != nil {
				t.Fatal(err)
			}
			wantActions := map[string]bool{}
			for _, g := range c.want {
				wantActions[g.action] = true
				if d := iampolicy.Evaluate(iampolicy.Request{Action: g.action, Resource: g.resource}, p); !d.Allowed() {
					t.Errorf("%s on %s: %v", g.action, g.resource, d)
				}
				if other, ok := c.neighbour[g.resource]; ok {
					if d := iampolicy.Evaluate(iampolicy.Request{Action: g.action, Resource: other}, p); d.Allowed() {
						t.Errorf("%s is allowed on %s too (by %v)", g.action, other, d)
					}
				}
			}
			var got []string
			for _, s := range p.Statements {
				got = append(got, s.Action...)
			}
			sort.Strings(got)
			got = slices.Compact(got)
			if want := slices.Sorted(maps.Keys(wantActions)); !slices.Equal(got, want) {
				t.Errorf("actions = %v, want exactly %v", got, want)
			}
			for _, a := range []string{"s3:DeleteBucket", "iam:PassRole", "sts:AssumeRole", "s3:PutBucketPolicy"} {
				if d := iampolicy.Evaluate(iampolicy.Request{Action: a, Resource: "*"}, p); d.Allowed() {
					t.Errorf("%s is allowed", a)
				}
			}
		})
	}
	for _, s := range cat.Stages() {
		if !covered[s.Name] {
			t.Errorf("stage %s has no case here", s.Name)
		}
	}
}
