package awsfront

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

// TestSvcChecks reads requests as the protocols carry them and checks what each needs from IAM; only the
// operations that need no lookup in moto (secrets and keys do) are here.
func TestSvcChecks(t *testing.T) {
	t.Parallel()
	const acct, region = "111122223333", "eu-west-1"
	arn := func(svc, res string) string { return "arn:aws:" + svc + ":" + region + ":" + acct + ":" + res }
	iterator := base64.StdEncoding.EncodeToString([]byte("orders:shardId-000000000000:0"))
	cases := []struct {
		name       string
		signing    string // the SigV4 service
		target     string // X-Amz-Target; "" for the query protocols
		path, body string
		want       []authzCheck
		wantKeys   map[string][]string
	}{
		{name: "kinesis ListShards by name", signing: "kinesis", target: "Kinesis_20131202.ListShards", body: `{"StreamName":"orders"}`,
			want: []authzCheck{{"kinesis:ListShards", arn("kinesis", "stream/orders")}}},
		{name: "kinesis GetRecords by its shard iterator", signing: "kinesis", target: "Kinesis_20131202.GetRecords", body: `{"ShardIterator":"` + iterator + `"}`,
			want: []authzCheck{{"kinesis:GetRecords", arn("kinesis", "stream/orders")}}},
		{name: "kinesis ListStreams on *", signing: "kinesis", target: "Kinesis_20131202.ListStreams", body: `{}`,
			want: []authzCheck{{"kinesis:ListStreams", "*"}}},
		{name: "kinesis CreateStream with tags also needs AddTagsToStream", signing: "kinesis", target: "Kinesis_20131202.CreateStream", body: `{"StreamName":"s","Tags":{"team":"data"}}`,
			want:     []authzCheck{{"kinesis:CreateStream", arn("kinesis", "stream/s")}, {"kinesis:AddTagsToStream", arn("kinesis", "stream/s")}},
			wantKeys: map[string][]string{"aws:RequestTag/team": {"data"}, "aws:TagKeys": {"team"}}},
		{name: "dynamodb CreateTable with tags also needs TagResource", signing: "dynamodb", target: "DynamoDB_20120810.CreateTable", body: `{"TableName":"app","Tags":[{"Key":"b","Value":"2"},{"Key":"a","Value":"1"}]}`,
			want:     []authzCheck{{"dynamodb:CreateTable", arn("dynamodb", "table/app")}, {"dynamodb:TagResource", arn("dynamodb", "table/app")}},
			wantKeys: map[string][]string{"aws:RequestTag/a": {"1"}, "aws:RequestTag/b": {"2"}, "aws:TagKeys": {"a", "b"}}},
		{name: "dynamodb Query on an index", signing: "dynamodb", target: "DynamoDB_20120810.Query", body: `{"TableName":"app","IndexName":"byOwner"}`,
			want: []authzCheck{{"dynamodb:Query", arn("dynamodb", "table/app/index/byOwner")}}},
		{name: "dynamodb BatchWriteItem checks every table", signing: "dynamodb", target: "DynamoDB_20120810.BatchWriteItem", body: `{"RequestItems":{"b":[],"a":[]}}`,
			want: []authzCheck{{"dynamodb:BatchWriteItem", arn("dynamodb", "table/a")}, {"dynamodb:BatchWriteItem", arn("dynamodb", "table/b")}}},
		{name: "dynamodb UntagResource carries aws:TagKeys", signing: "dynamodb", target: "DynamoDB_20120810.UntagResource", body: `{"ResourceArn":"` + arn("dynamodb", "table/app") + `","TagKeys":["x"]}`,
			want: []authzCheck{{"dynamodb:UntagResource", arn("dynamodb", "table/app")}}, wantKeys: map[string][]string{"aws:TagKeys": {"x"}}},
		{name: "sqs JSON DeleteMessageBatch is sqs:DeleteMessage", signing: "sqs", target: "AmazonSQS.DeleteMessageBatch", body: `{"QueueUrl":"http://127.0.0.1/444455556666/jobs"}`,
			want: []authzCheck{{"sqs:DeleteMessage", "arn:aws:sqs:" + region + ":444455556666:jobs"}}},
		{name: "sqs query addressed by the queue's URL", signing: "sqs", path: "/" + acct + "/jobs", body: "Action=ReceiveMessage&Version=2012-11-05",
			want: []authzCheck{{"sqs:ReceiveMessage", arn("sqs", "jobs")}}},
		{name: "sqs query GetQueueUrl by name", signing: "sqs", body: "Action=GetQueueUrl&QueueName=jobs&Version=2012-11-05",
			want: []authzCheck{{"sqs:GetQueueUrl", arn("sqs", "jobs")}}},
		{name: "sqs query CreateQueue with tags also needs TagQueue", signing: "sqs", body: "Action=CreateQueue&QueueName=jobs&Tag.1.Key=team&Tag.1.Value=data",
			want:     []authzCheck{{"sqs:CreateQueue", arn("sqs", "jobs")}, {"sqs:TagQueue", arn("sqs", "jobs")}},
			wantKeys: map[string][]string{"aws:RequestTag/team": {"data"}, "aws:TagKeys": {"team"}}},
		{name: "firehose PutRecordBatch", signing: "firehose", target: "Firehose_20150804.PutRecordBatch", body: `{"DeliveryStreamName":"out"}`,
			want: []authzCheck{{"firehose:PutRecordBatch", arn("firehose", "deliverystream/out")}}},
		{name: "cloudwatch query PutMetricData carries its namespace", signing: "monitoring", body: "Action=PutMetricData&Namespace=KinesisProducerLibrary&Version=2010-08-01",
			want: []authzCheck{{"cloudwatch:PutMetricData", "*"}}, wantKeys: map[string][]string{"cloudwatch:namespace": {"KinesisProducerLibrary"}}},
		{name: "cloudwatch JSON PutMetricData", signing: "monitoring", target: "GraniteServiceVersion20100801.PutMetricData", body: `{"Namespace":"SDC"}`,
			want: []authzCheck{{"cloudwatch:PutMetricData", "*"}}, wantKeys: map[string][]string{"cloudwatch:namespace": {"SDC"}}},
		{name: "kms CreateKey with tags also needs TagResource", signing: "kms", target: "TrentService.CreateKey", body: `{"Tags":[{"TagKey":"team","TagValue":"data"}]}`,
			want:     []authzCheck{{"kms:CreateKey", "*"}, {"kms:TagResource", "*"}},
			wantKeys: map[string][]string{"aws:RequestTag/team": {"data"}, "aws:TagKeys": {"team"}}},
		{name: "cloudwatch query PutMetricAlarm with tags", signing: "monitoring", body: "Action=PutMetricAlarm&AlarmName=lag&Tags.member.1.Key=team&Tags.member.1.Value=data",
			want:     []authzCheck{{"cloudwatch:PutMetricAlarm", arn("cloudwatch", "alarm:lag")}, {"cloudwatch:TagResource", arn("cloudwatch", "alarm:lag")}},
			wantKeys: map[string][]string{"aws:RequestTag/team": {"data"}, "aws:TagKeys": {"team"}}},
		{name: "an operation not in the table is on *", signing: "kinesis", target: "Kinesis_20131202.DescribeStreamConsumer", body: `{}`,
			want: []authzCheck{{"kinesis:DescribeStreamConsumer", "*"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path
			if path == "" {
				path = "/"
			}
			r := httptest.NewRequest(http.MethodPost, path, bytes.NewReader([]byte(tc.body)))
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20260101/"+region+"/"+tc.signing+"/aws4_request, SignedHeaders=host, Signature=0")
			if tc.target != "" {
				r.Header.Set("X-Amz-Target", tc.target)
				r.Header.Set("Content-Type", "application/x-amz-json-1.0")
			} else {
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			var form []byte
			if tc.target == "" {
				form = []byte(tc.body)
			}
			c := classify(r, form)
			q := &svcRequest{Prefix: iamPrefixes[c.Service], Op: c.Action, Region: signingRegion(r), Account: acct,
				Path: r.URL.Path, Body: parseBody(r, []byte(tc.body)), Form: c.Params}
			checks, keys, err := (&Front{}).svcChecks(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(checks, tc.want) {
				t.Errorf("checks = %v; want %v", checks, tc.want)
			}
			if tc.wantKeys == nil {
				tc.wantKeys = map[string][]string{}
			}
			if !reflect.DeepEqual(keys, tc.wantKeys) {
				t.Errorf("condition keys = %v; want %v", keys, tc.wantKeys)
			}
		})
	}
}

// TestAccessDeniedWording checks each protocol's refusal: code, status and AWS's sentence.
func TestAccessDeniedWording(t *testing.T) {
	t.Parallel()
	sess := &principal{ARN: "arn:aws:sts::111122223333:assumed-role/R/S"}
	const why = "because no identity-based policy allows the %s action"
	cases := []struct {
		service, target string
		chk             authzCheck
		code            string
		status          int
		msg             string
	}{
		{"kinesis", "Kinesis_20131202.ListShards", authzCheck{"kinesis:ListShards", "arn:aws:kinesis:us-west-2:111122223333:stream/s"}, "AccessDeniedException", 400,
			"User: arn:aws:sts::111122223333:assumed-role/R/S is not authorized to perform: kinesis:ListShards on resource: arn:aws:kinesis:us-west-2:111122223333:stream/s because no identity-based policy allows the kinesis:ListShards action"},
		{"sqs", "", authzCheck{"sqs:ReceiveMessage", "arn:aws:sqs:us-west-2:111122223333:q"}, "AccessDenied", 403,
			"User: arn:aws:sts::111122223333:assumed-role/R/S is not authorized to perform: sqs:receivemessage on resource: arn:aws:sqs:us-west-2:111122223333:q because no identity-based policy allows the sqs:receivemessage action"},
		{"monitoring", "", authzCheck{"cloudwatch:PutMetricData", "*"}, "AccessDenied", 403,
			"User: arn:aws:sts::111122223333:assumed-role/R/S is not authorized to perform: cloudwatch:PutMetricData because no identity-based policy allows the cloudwatch:PutMetricData action"},
	}
	for _, tc := range cases {
		t.Run(tc.service, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", nil)
			if tc.target != "" {
				r.Header.Set("X-Amz-Target", tc.target)
			}
			e := accessDenied(tc.service, r, sess, tc.chk, strings.Replace(why, "%s", tc.chk.Action, 1))
			if e.Code != tc.code || e.Status != tc.status || e.Message != tc.msg {
				t.Errorf("got %d %s %q; want %d %s %q", e.Status, e.Code, e.Message, tc.status, tc.code, tc.msg)
			}
		})
	}
}
