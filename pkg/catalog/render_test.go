package catalog

import (
	"encoding/json"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
)

func defaultCatalog(t *testing.T) *Catalog {
	t.Helper()
	c, err := Default()
	if err != nil {
		t.Fatalf("the built-in plugins.yaml does not load: %v", err)
	}
	return c
}

var usWest2 = Target{Partition: "aws", Region: "us-west-2", Account: "111122223333"}

const (
	keyARN   = "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	aliasARN = "arn:aws:kms:us-west-2:111122223333:alias/sdc-data"
)

// TestS3IsTheGuidePolicy: the s3 stage renders exactly the original guide's document, Sid and order aside.
func TestS3IsTheGuidePolicy(t *testing.T) {
	t.Parallel()
	const guide = `{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": ["s3:PutObject", "s3:GetObject", "s3:ListBucket"],
      "Resource": ["arn:aws:s3:::sdc-ingest-bucket", "arn:aws:s3:::sdc-ingest-bucket/*"]
    }
  ]
}`
	c := defaultCatalog(t)
	got, norm, err := c.Render(Selection{Stages: []string{"s3"}, Params: map[string]string{"bucket": "sdc-ingest-bucket"}}, usWest2)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := comparable(t, got), comparable(t, []byte(guide)); !reflect.DeepEqual(a, b) {
		t.Errorf("s3 policy\n%s\nis not the guide's\n%s", a, b)
	}
	want := Selection{Stages: []string{"s3"}, Params: map[string]string{"bucket": "sdc-ingest-bucket"}}
	if !reflect.DeepEqual(norm, want) {
		t.Errorf("normalized selection %+v, want %+v", norm, want)
	}
}

// comparable reduces a policy to what matters for equality: Sids dropped, lists sorted.
func comparable(t *testing.T, doc []byte) string {
	t.Helper()
	var d struct {
		Version   string
		Statement []map[string]any
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, doc)
	}
	var parts []string
	for _, st := range d.Statement {
		delete(st, "Sid")
		for _, k := range []string{"Action", "Resource"} {
			if l, ok := st[k].([]any); ok {
				sort.Slice(l, func(i, j int) bool { return l[i].(string) < l[j].(string) })
			}
		}
		b, _ := json.Marshal(st)
		parts = append(parts, string(b))
	}
	sort.Strings(parts)
	return d.Version + "\n" + strings.Join(parts, "\n")
}

func TestRender(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		sel      Selection
		target   Target
		want     string // compact JSON
		wantNorm Selection
	}{
		{
			name: "s3 with prefix", sel: Selection{Stages: []string{"s3"}, Params: map[string]string{"bucket": "b-1", "prefix": "in/"}}, target: usWest2,
			want:     `{"Version":"2012-10-17","Statement":[{"Sid":"S3Bucket","Effect":"Allow","Action":["s3:PutObject","s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::b-1","arn:aws:s3:::b-1/in/*"]}]}`,
			wantNorm: Selection{Stages: []string{"s3"}, Params: map[string]string{"bucket": "b-1", "prefix": "in/"}},
		},
		{
			name: "s3 in China, empty prefix is the default and not recorded", sel: Selection{Stages: []string{"s3"}, Params: map[string]string{"bucket": "b-1", "prefix": ""}},
			target:   Target{Partition: "aws-cn", Region: "cn-north-1", Account: "111122223333"},
			want:     `{"Version":"2012-10-17","Statement":[{"Sid":"S3Bucket","Effect":"Allow","Action":["s3:PutObject","s3:GetObject","s3:ListBucket"],"Resource":["arn:aws-cn:s3:::b-1","arn:aws-cn:s3:::b-1/*"]}]}`,
			wantNorm: Selection{Stages: []string{"s3"}, Params: map[string]string{"bucket": "b-1"}},
		},
		{
			name: "s3-origin read only", sel: Selection{Stages: []string{"s3-origin"}, Params: map[string]string{"bucket": "logs"}}, target: usWest2,
			want: `{"Version":"2012-10-17","Statement":[` +
				`{"Sid":"S3OriginList","Effect":"Allow","Action":["s3:ListBucket"],"Resource":["arn:aws:s3:::logs"]},` +
				`{"Sid":"S3OriginRead","Effect":"Allow","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::logs/*"]}]}`,
			wantNorm: Selection{Stages: []string{"s3-origin"}, Params: map[string]string{"bucket": "logs"}},
		},
		{
			name: "s3-origin deleting after processing",
			sel:  Selection{Stages: []string{"s3-origin"}, Params: map[string]string{"bucket": "logs", "prefix": "in/", "post-processing": "delete"}}, target: usWest2,
			want: `{"Version":"2012-10-17","Statement":[` +
				`{"Sid":"S3OriginList","Effect":"Allow","Action":["s3:ListBucket"],"Resource":["arn:aws:s3:::logs"]},` +
				`{"Sid":"S3OriginRead","Effect":"Allow","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::logs/in/*"]},` +
				`{"Sid":"S3OriginDelete","Effect":"Allow","Action":["s3:DeleteObject"],"Resource":["arn:aws:s3:::logs/in/*"]}]}`,
			wantNorm: Selection{Stages: []string{"s3-origin"}, Params: map[string]string{"bucket": "logs", "prefix": "in/", "post-processing": "delete"}},
		},
		{
			name: "s3-origin archiving, SSE-KMS through an alias",
			sel:  Selection{Stages: []string{"s3-origin"}, Params: map[string]string{"bucket": "logs", "post-processing": "archive", "kms-key": aliasARN}}, target: usWest2,
			want: `{"Version":"2012-10-17","Statement":[` +
				`{"Sid":"S3OriginList","Effect":"Allow","Action":["s3:ListBucket"],"Resource":["arn:aws:s3:::logs"]},` +
				`{"Sid":"S3OriginRead","Effect":"Allow","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::logs/*"]},` +
				`{"Sid":"S3OriginDelete","Effect":"Allow","Action":["s3:DeleteObject"],"Resource":["arn:aws:s3:::logs/*"]},` +
				`{"Sid":"S3OriginArchive","Effect":"Allow","Action":["s3:PutObject"],"Resource":["arn:aws:s3:::logs/*"]},` +
				`{"Sid":"S3OriginDecrypt","Effect":"Allow","Action":["kms:Decrypt"],"Resource":["arn:aws:kms:us-west-2:111122223333:key/*"],` +
				`"Condition":{"ForAnyValue:StringEquals":{"kms:ResourceAliases":["alias/sdc-data"]}}},` +
				// Archiving copies into the bucket, whose objects are encrypted with the same key: a new object.
				`{"Sid":"S3OriginArchiveEncrypt","Effect":"Allow","Action":["kms:GenerateDataKey"],"Resource":["arn:aws:kms:us-west-2:111122223333:key/*"],` +
				`"Condition":{"ForAnyValue:StringEquals":{"kms:ResourceAliases":["alias/sdc-data"]}}}]}`,
			wantNorm: Selection{Stages: []string{"s3-origin"}, Params: map[string]string{"bucket": "logs", "post-processing": "archive", "kms-key": aliasARN}},
		},
		{
			name: "s3-destination with a KMS key ARN",
			sel:  Selection{Stages: []string{"s3-destination"}, Params: map[string]string{"bucket": "out", "prefix": "sdc/", "kms-key": keyARN}}, target: usWest2,
			want: `{"Version":"2012-10-17","Statement":[` +
				`{"Sid":"S3DestinationList","Effect":"Allow","Action":["s3:ListBucket"],"Resource":["arn:aws:s3:::out"]},` +
				`{"Sid":"S3DestinationWrite","Effect":"Allow","Action":["s3:PutObject","s3:AbortMultipartUpload","s3:GetObject"],"Resource":["arn:aws:s3:::out/sdc/*"]},` +
				`{"Sid":"S3DestinationEncrypt","Effect":"Allow","Action":["kms:GenerateDataKey","kms:Decrypt"],"Resource":["` + keyARN + `"]}]}`,
			wantNorm: Selection{Stages: []string{"s3-destination"}, Params: map[string]string{"bucket": "out", "prefix": "sdc/", "kms-key": keyARN}},
		},
		{
			name: "s3-executor", sel: Selection{Stages: []string{"s3-executor"}, Params: map[string]string{"bucket": "out"}}, target: usWest2,
			want: `{"Version":"2012-10-17","Statement":[` +
				`{"Sid":"S3ExecutorList","Effect":"Allow","Action":["s3:ListBucket"],"Resource":["arn:aws:s3:::out"]},` +
				`{"Sid":"S3ExecutorObjects","Effect":"Allow","Action":["s3:GetObject","s3:PutObject","s3:PutObjectTagging","s3:DeleteObject"],"Resource":["arn:aws:s3:::out/*"]}]}`,
			wantNorm: Selection{Stages: []string{"s3-executor"}, Params: map[string]string{"bucket": "out"}},
		},
		{
			name: "sqs-consumer on a FIFO queue", sel: Selection{Stages: []string{"sqs-consumer"}, Params: map[string]string{"queue": "orders.fifo"}}, target: usWest2,
			want: `{"Version":"2012-10-17","Statement":[` +
				`{"Sid":"SqsConsumerList","Effect":"Allow","Action":["sqs:ListQueues"],"Resource":["*"]},` +
				`{"Sid":"SqsConsumerConsume","Effect":"Allow","Action":["sqs:ReceiveMessage","sqs:DeleteMessage"],"Resource":["arn:aws:sqs:us-west-2:111122223333:orders.fifo"]}]}`,
			wantNorm: Selection{Stages: []string{"sqs-consumer"}, Params: map[string]string{"queue": "orders.fifo"}},
		},
		{
			name: "kinesis-consumer", sel: Selection{Stages: []string{"kinesis-consumer"}, Params: map[string]string{"stream": "clicks", "application": "sdc-clicks"}}, target: usWest2,
			want: `{"Version":"2012-10-17","Statement":[` +
				`{"Sid":"KinesisConsumerStream","Effect":"Allow","Action":["kinesis:DescribeStream","kinesis:GetRecords","kinesis:GetShardIterator","kinesis:ListShards"],"Resource":["arn:aws:kinesis:us-west-2:111122223333:stream/clicks"]},` +
				`{"Sid":"KinesisConsumerLeases","Effect":"Allow","Action":["dynamodb:CreateTable","dynamodb:DescribeTable","dynamodb:DeleteTable","dynamodb:Scan","dynamodb:GetItem","dynamodb:PutItem","dynamodb:UpdateItem","dynamodb:DeleteItem"],"Resource":["arn:aws:dynamodb:us-west-2:111122223333:table/sdc-clicks"]},` +
				`{"Sid":"KinesisConsumerMetrics","Effect":"Allow","Action":["cloudwatch:PutMetricData"],"Resource":["*"]}]}`,
			wantNorm: Selection{Stages: []string{"kinesis-consumer"}, Params: map[string]string{"stream": "clicks", "application": "sdc-clicks"}},
		},
		{
			name: "kinesis-producer in GovCloud", sel: Selection{Stages: []string{"kinesis-producer"}, Params: map[string]string{"stream": "events"}},
			target: Target{Partition: "aws-us-gov", Region: "us-gov-west-1", Account: "111122223333"},
			want: `{"Version":"2012-10-17","Statement":[` +
				`{"Sid":"KinesisProducerStream","Effect":"Allow","Action":["kinesis:PutRecords","kinesis:DescribeStream","kinesis:ListShards"],"Resource":["arn:aws-us-gov:kinesis:us-gov-west-1:111122223333:stream/events"]},` +
				`{"Sid":"KinesisProducerMetrics","Effect":"Allow","Action":["cloudwatch:PutMetricData"],"Resource":["*"]}]}`,
			wantNorm: Selection{Stages: []string{"kinesis-producer"}, Params: map[string]string{"stream": "events"}},
		},
		{
			name: "firehose-destination", sel: Selection{Stages: []string{"firehose-destination"}, Params: map[string]string{"delivery-stream": "to-redshift"}}, target: usWest2,
			want: `{"Version":"2012-10-17","Statement":[` +
				`{"Sid":"FirehoseDestinationDeliver","Effect":"Allow","Action":["firehose:DescribeDeliveryStream","firehose:PutRecordBatch"],"Resource":["arn:aws:firehose:us-west-2:111122223333:deliverystream/to-redshift"]}]}`,
			wantNorm: Selection{Stages: []string{"firehose-destination"}, Params: map[string]string{"delivery-stream": "to-redshift"}},
		},
		{
			name: "secrets-manager", sel: Selection{Stages: []string{"secrets-manager"}, Params: map[string]string{"secret": "sdc/prod/db"}}, target: usWest2,
			want: `{"Version":"2012-10-17","Statement":[` +
				`{"Sid":"SecretsManagerRead","Effect":"Allow","Action":["secretsmanager:GetSecretValue","secretsmanager:DescribeSecret"],"Resource":["arn:aws:secretsmanager:us-west-2:111122223333:secret:sdc/prod/db-??????"]}]}`,
			wantNorm: Selection{Stages: []string{"secrets-manager"}, Params: map[string]string{"secret": "sdc/prod/db"}},
		},
		{
			name: "several stages share a bucket; duplicates dropped; catalog order",
			sel:  Selection{Stages: []string{"s3-destination", "s3-origin", "s3-destination"}, Params: map[string]string{"bucket": "data"}}, target: usWest2,
			want: `{"Version":"2012-10-17","Statement":[` +
				`{"Sid":"S3OriginList","Effect":"Allow","Action":["s3:ListBucket"],"Resource":["arn:aws:s3:::data"]},` +
				`{"Sid":"S3OriginRead","Effect":"Allow","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::data/*"]},` +
				`{"Sid":"S3DestinationList","Effect":"Allow","Action":["s3:ListBucket"],"Resource":["arn:aws:s3:::data"]},` +
				`{"Sid":"S3DestinationWrite","Effect":"Allow","Action":["s3:PutObject","s3:AbortMultipartUpload","s3:GetObject"],"Resource":["arn:aws:s3:::data/*"]}]}`,
			wantNorm: Selection{Stages: []string{"s3-origin", "s3-destination"}, Params: map[string]string{"bucket": "data"}},
		},
	}
	c := defaultCatalog(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, norm, err := c.Render(tc.sel, tc.target)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("policy\n got %s\nwant %s", got, tc.want)
			}
			if !reflect.DeepEqual(norm, tc.wantNorm) {
				t.Errorf("normalized %+v, want %+v", norm, tc.wantNorm)
			}
			// The normalized selection renders the same policy: what bind records is enough for doctor.
			again, _, err := c.Render(norm, tc.target)
			if err != nil || string(again) != string(got) {
				t.Errorf("rendering the normalized selection gave %s, %v", again, err)
			}
		})
	}
}

// TestEveryStageRenders holds each stage of the shipped catalog to the rules of a well-formed policy,
// with only its required parameters and with every optional one set.
func TestEveryStageRenders(t *testing.T) {
	t.Parallel()
	c := defaultCatalog(t)
	sample := map[Kind]string{
		KindBucket: "sdc-bucket", KindPrefix: "in/", KindQueue: "q", KindStream: "s", KindApplication: "app",
		KindDeliveryStream: "d", KindSecret: "sdc/s", KindKMSKey: keyARN,
	}
	for _, s := range c.Stages() {
		for _, all := range []bool{false, true} {
			params := map[string]string{}
			for _, p := range s.Parameters {
				if !p.Required && !all {
					continue
				}
				v := sample[p.Kind]
				if p.Kind == KindChoice {
					v = p.Values[0]
				}
				params[p.Name] = v
			}
			doc, _, err := c.Render(Selection{Stages: []string{s.Name}, Params: params}, usWest2)
			if err != nil {
				t.Errorf("%s (optional set: %v): %v", s.Name, all, err)
				continue
			}
			var d policyDocument
			if err := json.Unmarshal(doc, &d); err != nil {
				t.Errorf("%s: not JSON: %v", s.Name, err)
				continue
			}
			structured, _, err := c.Statements(Selection{Stages: []string{s.Name}, Params: params}, usWest2)
			if err != nil || len(structured) != len(d.Statement) {
				t.Errorf("%s: Statements gave %d statements (%v), the document %d", s.Name, len(structured), err, len(d.Statement))
			}
			for i, st := range structured {
				if st.Stage != s.Name {
					t.Errorf("%s: statement %s carries stage %q", s.Name, st.Sid, st.Stage)
				}
				if i < len(d.Statement) && !reflect.DeepEqual(st.Action, d.Statement[i].Action) {
					t.Errorf("%s: statement %d differs between Statements and Render", s.Name, i)
				}
			}
			sids := map[string]bool{}
			for _, st := range d.Statement {
				if sids[st.Sid] || !sidRE.MatchString(st.Sid) || !strings.HasPrefix(st.Sid, SidFor(s.Name, "")) {
					t.Errorf("%s: Sid %q is duplicate, not alphanumeric, or not derived from the stage name", s.Name, st.Sid)
				}
				sids[st.Sid] = true
				if st.Effect != "Allow" || len(st.Action) == 0 || len(st.Resource) == 0 {
					t.Errorf("%s: statement %+v is incomplete", s.Name, st)
				}
				for _, r := range st.Resource {
					if strings.Contains(r, "${") || strings.Contains(r, "//") {
						t.Errorf("%s: resource %q is not fully rendered", s.Name, r)
					}
					if r == "*" && !slices.ContainsFunc(st.Action, func(a string) bool {
						return a == "sqs:ListQueues" || a == "cloudwatch:PutMetricData"
					}) {
						t.Errorf("%s: statement %s grants %v on *; least privilege allows * only for actions without resources", s.Name, st.Sid, st.Action)
					}
				}
			}
		}
	}
}

func TestRenderErrors(t *testing.T) {
	t.Parallel()
	c := defaultCatalog(t)
	s3 := func(params map[string]string) Selection { return Selection{Stages: []string{"s3"}, Params: params} }
	stage := func(name string, params map[string]string) Selection {
		return Selection{Stages: []string{name}, Params: params}
	}
	cases := []struct {
		name    string
		sel     Selection
		target  Target
		wantErr string
	}{
		{"no stage", Selection{}, usWest2, "no stage selected: pass --stage NAME (known: s3, s3-origin, s3-destination, s3-executor, sqs-consumer, kinesis-consumer, kinesis-producer, firehose-destination, secrets-manager)"},
		{"unknown stage", Selection{Stages: []string{"s4"}}, usWest2, `--stage "s4": unknown stage; known: s3, s3-origin, s3-destination,`},
		{"missing bucket", stage("s3-origin", nil), usWest2, "--set bucket: required by stage s3-origin (or use --bucket)"},
		{"missing queue", stage("sqs-consumer", nil), usWest2, "--set queue: required by stage sqs-consumer"},
		{"missing application", stage("kinesis-consumer", map[string]string{"stream": "s"}), usWest2, "--set application: required by stage kinesis-consumer"},
		{"empty value is unset", s3(map[string]string{"bucket": ""}), usWest2, "--set bucket: required by stage s3 (or use --bucket)"},
		{"unknown parameter", s3(map[string]string{"bucket": "b-1", "queue": "q"}), usWest2, "--set queue: unknown parameter for stage s3; known: bucket, prefix"},
		{"bucket upper case", s3(map[string]string{"bucket": "My_Bucket"}), usWest2, `--set bucket "My_Bucket": S3 bucket names are 3-63 lowercase letters, digits, dots and hyphens`},
		{"bucket too short", s3(map[string]string{"bucket": "ab"}), usWest2, "S3 bucket names are 3-63"},
		{"bucket too long", s3(map[string]string{"bucket": strings.Repeat("a", 64)}), usWest2, "S3 bucket names are 3-63"},
		{"bucket ends with hyphen", s3(map[string]string{"bucket": "bucket-"}), usWest2, "starting and ending with a letter or digit"},
		{"bucket adjacent periods", s3(map[string]string{"bucket": "a..b"}), usWest2, "two adjacent periods"},
		{"bucket IP", s3(map[string]string{"bucket": "192.168.5.4"}), usWest2, "cannot look like an IP address"},
		{"bucket xn--", s3(map[string]string{"bucket": "xn--bucket"}), usWest2, `cannot start with "xn--"`},
		{"bucket -s3alias", s3(map[string]string{"bucket": "data-s3alias"}), usWest2, `cannot end with "-s3alias"`},
		{"bucket --ol-s3", s3(map[string]string{"bucket": "data--ol-s3"}), usWest2, `cannot end with "--ol-s3"`},
		{"prefix wildcard", s3(map[string]string{"bucket": "b-1", "prefix": "in/*"}), usWest2, `--set prefix "in/*": a key prefix cannot contain * or ?`},
		{"prefix policy variable", s3(map[string]string{"bucket": "b-1", "prefix": "${aws:username}/"}), usWest2, "policy variable"},
		{"prefix control character", s3(map[string]string{"bucket": "b-1", "prefix": "a\nb"}), usWest2, "control characters"},
		{"queue bad character", stage("sqs-consumer", map[string]string{"queue": "my queue"}), usWest2, `--set queue "my queue": SQS queue names are 1-80`},
		{"queue too long", stage("sqs-consumer", map[string]string{"queue": strings.Repeat("q", 81)}), usWest2, "SQS queue names are 1-80"},
		{"queue only .fifo", stage("sqs-consumer", map[string]string{"queue": ".fifo"}), usWest2, "SQS queue names are 1-80"},
		{"stream bad character", stage("kinesis-producer", map[string]string{"stream": "a/b"}), usWest2, "Kinesis stream names are 1-128"},
		{"stream too long", stage("kinesis-producer", map[string]string{"stream": strings.Repeat("s", 129)}), usWest2, "Kinesis stream names are 1-128"},
		{"delivery stream too long", stage("firehose-destination", map[string]string{"delivery-stream": strings.Repeat("d", 65)}), usWest2, "Firehose delivery stream names are 1-64"},
		{"application too short", stage("kinesis-consumer", map[string]string{"stream": "s", "application": "ab"}), usWest2, "KCL application names name a DynamoDB table: 3-255"},
		{"secret ARN", stage("secrets-manager", map[string]string{"secret": "arn:aws:secretsmanager:us-west-2:111122223333:secret:db-AbCdEf"}), usWest2, "give the secret's name, not its ARN"},
		{"secret bad character", stage("secrets-manager", map[string]string{"secret": "db password"}), usWest2, "Secrets Manager secret names are 1-512"},
		{"kms key id instead of ARN", stage("s3-destination", map[string]string{"bucket": "b-1", "kms-key": "1234abcd-12ab-34cd-56ef-1234567890ab"}), usWest2, "a KMS key is a key ARN"},
		{"kms AWS managed alias", stage("s3-destination", map[string]string{"bucket": "b-1", "kms-key": "arn:aws:kms:us-west-2:111122223333:alias/aws/s3"}), usWest2, "AWS managed keys (alias/aws/...)"},
		{"kms other partition", stage("s3-destination", map[string]string{"bucket": "b-1", "kms-key": "arn:aws-cn:kms:cn-north-1:111122223333:alias/k"}), usWest2, "the key is in partition aws-cn but the cluster is in aws"},
		{"choice", stage("s3-origin", map[string]string{"bucket": "b-1", "post-processing": "move"}), usWest2, `--set post-processing "move": must be one of archive, delete`},
		{"no account for a regional ARN", stage("sqs-consumer", map[string]string{"queue": "q"}), Target{Partition: "aws", Region: "us-west-2"}, "stage sqs-consumer needs the 12-digit AWS account ID"},
		{"no region for a regional ARN", stage("kinesis-producer", map[string]string{"stream": "s"}), Target{Partition: "aws", Account: "111122223333"}, "stage kinesis-producer needs the AWS region"},
		{"no partition", s3(map[string]string{"bucket": "b-1"}), Target{}, "stage s3 needs the AWS partition"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := c.Render(tc.sel, tc.target)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("err = %v, want it to contain %q", err, tc.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q spans lines; it must be one line", err)
			}
		})
	}
	// Valid edge values pass.
	for _, v := range []string{"abc", "a.b-c", strings.Repeat("a", 63), "1bucket2"} {
		if _, _, err := c.Render(s3(map[string]string{"bucket": v}), usWest2); err != nil {
			t.Errorf("bucket %q: %v", v, err)
		}
	}
}

func TestMinSDCVersion(t *testing.T) {
	t.Parallel()
	c := defaultCatalog(t)
	cases := []struct {
		stages  []string
		want    string
		wantErr string
	}{
		{[]string{"s3"}, "3.17.0", ""},
		{[]string{"s3-origin", "sqs-consumer"}, "3.17.0", ""},
		{[]string{"s3", "kinesis-consumer"}, "3.19.0", ""},
		{[]string{"firehose-destination", "s3"}, "3.19.0", ""},
		{[]string{"secrets-manager"}, "", ""},
		{[]string{"s5"}, "", `--stage "s5": unknown stage`},
	}
	for _, tc := range cases {
		got, err := c.MinSDCVersion(tc.stages)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("MinSDCVersion(%v) error %v, want %q", tc.stages, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("MinSDCVersion(%v) = %q, %v; want %q", tc.stages, got, err, tc.want)
		}
	}
}

func TestCompareVersions(t *testing.T) {
	t.Parallel()
	cases := []struct {
		a, b string
		want int
		err  bool
	}{
		{"3.19.0", "3.17.0", 1, false},
		{"3.9.1", "3.19.0", -1, false},
		{"3.17", "3.17.0", 0, false},
		{"v3.22.3-0034", "3.22.3", 0, false},
		{"4.0.0", "3.99.99", 1, false},
		{"latest", "3.17.0", 0, true},
		{"3.x", "3.17.0", 0, true},
	}
	for _, tc := range cases {
		got, err := CompareVersions(tc.a, tc.b)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("CompareVersions(%q, %q) = %d, %v; want %d, error %v", tc.a, tc.b, got, err, tc.want, tc.err)
		}
	}
}
