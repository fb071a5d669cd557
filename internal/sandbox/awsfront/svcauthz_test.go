package awsfront

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwschemas "github.com/aws/aws-sdk-go-v2/service/cloudwatch/schemas"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	fhtypes "github.com/aws/aws-sdk-go-v2/service/firehose/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqsschemas "github.com/aws/aws-sdk-go-v2/service/sqs/schemas"
	"github.com/aws/smithy-go/transport/http/protocol/awsquery"
)

// svcClients are clients of the services the front authorizes besides S3, for one set of credentials.
type svcClients struct {
	kinesis  *kinesis.Client
	dynamodb *dynamodb.Client
	sqs      *sqs.Client // SQS's JSON protocol, as today's SDKs speak it
	sqsQuery *sqs.Client // SQS's query protocol, as the AWS SDK for Java 1.x (SDC's) speaks it
	firehose *firehose.Client
	secrets  *secretsmanager.Client
	kms      *kms.Client
	cw       *cloudwatch.Client // CloudWatch's query protocol (the Java 1.x SDK's, and what moto understands)
	s3       *s3.Client
}

func newSvcClients(cfg aws.Config) svcClients {
	return svcClients{
		kinesis:  kinesis.NewFromConfig(cfg),
		dynamodb: dynamodb.NewFromConfig(cfg),
		sqs:      sqs.NewFromConfig(cfg),
		sqsQuery: sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.Protocol = awsquery.New(sqsschemas.AmazonSQS) }),
		firehose: firehose.NewFromConfig(cfg),
		secrets:  secretsmanager.NewFromConfig(cfg),
		kms:      kms.NewFromConfig(cfg),
		cw:       cloudwatch.NewFromConfig(cfg, func(o *cloudwatch.Options) { o.Protocol = awsquery.New(cwschemas.GraniteServiceVersion20100801) }),
		s3:       s3Of(cfg),
	}
}

// roleSession makes a role whose inline policy is policy (and whose permissions boundary is boundary, when
// set), assumes it with a web identity through the shared front and returns an SDK configuration with the
// session's credentials.
func roleSession(t *testing.T, admin clients, name, policy, boundary string) aws.Config {
	t.Helper()
	ctx := context.Background()
	is := newIssuer(t)
	createProvider(t, admin.iam, is, []string{"sts.amazonaws.com"}, []string{is.CAThumbprint})
	role := uniqueName(name)
	arn := createRole(t, admin.iam, role, trustPolicy(shared.creds.AccountID, is.Host, "StringEquals", "system:serviceaccount:ns:sa", "sts.amazonaws.com"))
	putRolePolicy(t, admin.iam, role, policy)
	if boundary != "" {
		b, err := admin.iam.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String(role + "-boundary"), PolicyDocument: aws.String(boundary)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := admin.iam.PutRolePermissionsBoundary(ctx, &iam.PutRolePermissionsBoundaryInput{RoleName: aws.String(role), PermissionsBoundary: b.Policy.Arn}); err != nil {
			t.Fatal(err)
		}
	}
	return sessionConfig(webIdentity(t, is, arn))
}

// arnIn is an ARN of the sandbox's account and region.
func arnIn(service, resource string) string {
	return "arn:aws:" + service + ":us-west-2:" + shared.creds.AccountID + ":" + resource
}

func withCondition(st map[string]any, op, key string, values ...string) map[string]any {
	st["Condition"] = map[string]any{op: map[string]any{key: values}}
	return st
}

func TestServicesAuthorizeRoleSessions(t *testing.T) {
	integration(t)
	t.Parallel()
	ctx := context.Background()
	admin := newClients(adminConfig(shared.url))
	a := newSvcClients(adminConfig(shared.url))

	// The resources, made with the admin's keys.
	streamA, streamB := uniqueName("stream-a"), uniqueName("stream-b")
	for _, s := range []string{streamA, streamB} {
		if _, err := a.kinesis.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(s), ShardCount: aws.Int32(3)}); err != nil {
			t.Fatalf("admin CreateStream %s: %v", s, err)
		}
	}
	tbl := uniqueName("leases")
	createLeaseTable(t, a.dynamodb, tbl, nil)
	q, err := a.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(uniqueName("queue"))})
	if err != nil {
		t.Fatalf("admin CreateQueue: %v", err)
	}
	queueURL := aws.ToString(q.QueueUrl)
	queueName := queueURL[strings.LastIndex(queueURL, "/")+1:]
	bucket := strings.ToLower(uniqueName("fh"))
	if _, err := admin.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket), CreateBucketConfiguration: usWest2}); err != nil {
		t.Fatal(err)
	}
	delivery := uniqueName("delivery")
	if _, err := a.firehose.CreateDeliveryStream(ctx, &firehose.CreateDeliveryStreamInput{DeliveryStreamName: aws.String(delivery),
		ExtendedS3DestinationConfiguration: &fhtypes.ExtendedS3DestinationConfiguration{BucketARN: aws.String("arn:aws:s3:::" + bucket),
			RoleARN: aws.String("arn:aws:iam::" + shared.creds.AccountID + ":role/firehose")}}); err != nil {
		t.Fatalf("admin CreateDeliveryStream: %v", err)
	}
	secretName := uniqueName("sdc/creds")
	sec, err := a.secrets.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(secretName), SecretString: aws.String("s3cr3t")})
	if err != nil {
		t.Fatalf("admin CreateSecret: %v", err)
	}
	k1, k2 := createKey(t, a.kms, "alias/"+uniqueName("k1")), createKey(t, a.kms, "")
	enc := func(keyID string) []byte {
		out, err := a.kms.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(keyID), Plaintext: []byte("p")})
		if err != nil {
			t.Fatalf("admin Encrypt: %v", err)
		}
		return out.CiphertextBlob
	}
	blob1, blob2 := enc(k1.arn), enc(k2.arn)

	streamARNA := arnIn("kinesis", "stream/"+streamA)
	tableARN := arnIn("dynamodb", "table/"+tbl)
	queueARN := arnIn("sqs", queueName)
	policy := policyDoc(
		allow("kinesis:ListShards", streamARNA),
		allow("kinesis:DescribeStreamSummary", streamARNA),
		allow("dynamodb:*", tableARN, arnIn("dynamodb", "table/"+tbl+"-new*")),
		deny("dynamodb:DeleteTable", tableARN),
		withCondition(allow("dynamodb:TagResource", arnIn("dynamodb", "table/"+tbl+"-tagged*")), "StringEquals", "aws:RequestTag/team", "data"),
		allow("dynamodb:CreateTable", arnIn("dynamodb", "table/"+tbl+"-tagged*")),
		allow("sqs:GetQueueAttributes", queueARN),
		allow("sqs:ListQueues", "*"),
		allow("firehose:DescribeDeliveryStream", arnIn("firehose", "deliverystream/"+delivery)),
		allow("secretsmanager:GetSecretValue", arnIn("secretsmanager", "secret:"+secretName+"-??????")),
		allow("kms:GenerateDataKey", k2.arn),
		withCondition(allow("kms:Decrypt", arnIn("kms", "key/*")), "ForAnyValue:StringEquals", "kms:ResourceAliases", k1.alias),
		withCondition(allow("cloudwatch:PutMetricData", "*"), "StringEquals", "cloudwatch:namespace", "SDC"),
	)
	s := newSvcClients(roleSession(t, admin, "svc", policy, ""))
	bounded := newSvcClients(roleSession(t, admin, "svc-bounded", policy, policyDoc(allow("kinesis:Describe*", "*"))))

	cases := []struct {
		name      string
		call      func() error
		code      string // "" = allowed
		wantInMsg []string
	}{
		{name: "kinesis ListShards on the allowed stream", call: func() error {
			_, err := s.kinesis.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(streamA)})
			return err
		}},
		{name: "kinesis ListShards by StreamARN", call: func() error {
			_, err := s.kinesis.ListShards(ctx, &kinesis.ListShardsInput{StreamARN: aws.String(streamARNA)})
			return err
		}},
		{name: "kinesis ListShards pages by NextToken, as KCL does", call: func() error {
			var shards int
			in := &kinesis.ListShardsInput{StreamName: aws.String(streamA), MaxResults: aws.Int32(1)}
			for pages := 0; pages < 5; pages++ {
				out, err := s.kinesis.ListShards(ctx, in)
				if err != nil {
					return err
				}
				shards += len(out.Shards)
				if out.NextToken == nil {
					break
				}
				in = &kinesis.ListShardsInput{NextToken: out.NextToken, MaxResults: aws.Int32(1)}
			}
			if shards != 3 {
				return fmt.Errorf("listed %d shards page by page; want 3", shards)
			}
			return nil
		}},
		{name: "kinesis ListShards on another stream", code: "AccessDeniedException", call: func() error {
			_, err := s.kinesis.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(streamB)})
			return err
		}, wantInMsg: []string{"assumed-role/svc-", "is not authorized to perform: kinesis:ListShards on resource: " + arnIn("kinesis", "stream/"+streamB) + " because no identity-based policy allows the kinesis:ListShards action"}},
		{name: "kinesis ListStreams is on *", code: "AccessDeniedException", call: func() error {
			_, err := s.kinesis.ListStreams(ctx, &kinesis.ListStreamsInput{})
			return err
		}, wantInMsg: []string{"is not authorized to perform: kinesis:ListStreams because no identity-based policy allows the kinesis:ListStreams action"}},
		{name: "boundary refuses what the identity policy allows", code: "AccessDeniedException", call: func() error {
			_, err := bounded.kinesis.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(streamA)})
			return err
		}, wantInMsg: []string{"because no permissions boundary allows the kinesis:ListShards action"}},
		{name: "boundary and identity policy both allow", call: func() error {
			_, err := bounded.kinesis.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(streamA)})
			return err
		}},
		{name: "dynamodb DescribeTable allowed", call: func() error {
			_, err := s.dynamodb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(tbl)})
			return err
		}},
		{name: "dynamodb PutItem and GetItem allowed", call: func() error {
			item := map[string]ddbtypes.AttributeValue{"leaseKey": &ddbtypes.AttributeValueMemberS{Value: "shardId-0"}}
			if _, err := s.dynamodb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(tbl), Item: item}); err != nil {
				return err
			}
			_, err := s.dynamodb.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(tbl), Key: item})
			return err
		}},
		{name: "dynamodb explicit deny wins", code: "AccessDeniedException", call: func() error {
			_, err := s.dynamodb.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(tbl)})
			return err
		}, wantInMsg: []string{"dynamodb:DeleteTable on resource: " + tableARN + " with an explicit deny in an identity-based policy"}},
		{name: "dynamodb CreateTable with a tag the condition allows", call: func() error {
			createLeaseTableErr := createTable(ctx, s.dynamodb, tbl+"-tagged-ok", map[string]string{"team": "data"})
			return createLeaseTableErr
		}},
		{name: "dynamodb CreateTable with tags needs TagResource for them", code: "AccessDeniedException", call: func() error {
			return createTable(ctx, s.dynamodb, tbl+"-tagged-no", map[string]string{"team": "other"})
		}, wantInMsg: []string{"dynamodb:TagResource on resource: " + arnIn("dynamodb", "table/"+tbl+"-tagged-no")}},
		{name: "dynamodb CreateTable without tags needs no TagResource", call: func() error {
			return createTable(ctx, s.dynamodb, tbl+"-tagged-none", nil)
		}},
		{name: "sqs JSON GetQueueAttributes allowed", call: func() error {
			_, err := s.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(queueURL)})
			return err
		}},
		{name: "sqs JSON ReceiveMessage refused as SQS words it", code: "AccessDenied", call: func() error {
			_, err := s.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(queueURL)})
			return err
		}, wantInMsg: []string{"is not authorized to perform: sqs:receivemessage on resource: " + queueARN + " because no identity-based policy allows the sqs:receivemessage action"}},
		{name: "sqs query ListQueues allowed", call: func() error {
			_, err := s.sqsQuery.ListQueues(ctx, &sqs.ListQueuesInput{})
			return err
		}},
		{name: "sqs query GetQueueUrl refused", code: "AccessDenied", call: func() error {
			_, err := s.sqsQuery.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(queueName)})
			return err
		}, wantInMsg: []string{"sqs:getqueueurl on resource: " + queueARN}},
		{name: "firehose DescribeDeliveryStream allowed", call: func() error {
			_, err := s.firehose.DescribeDeliveryStream(ctx, &firehose.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String(delivery)})
			return err
		}},
		{name: "firehose PutRecordBatch refused", code: "AccessDeniedException", call: func() error {
			_, err := s.firehose.PutRecordBatch(ctx, &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String(delivery), Records: []fhtypes.Record{{Data: []byte("x")}}})
			return err
		}, wantInMsg: []string{"firehose:PutRecordBatch on resource: " + arnIn("firehose", "deliverystream/"+delivery)}},
		{name: "secrets GetSecretValue by name matches the suffixed ARN", call: func() error {
			_, err := s.secrets.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(secretName)})
			return err
		}},
		{name: "secrets GetSecretValue by full ARN", call: func() error {
			_, err := s.secrets.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: sec.ARN})
			return err
		}},
		{name: "secrets DescribeSecret refused on the real ARN", code: "AccessDeniedException", call: func() error {
			_, err := s.secrets.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(secretName)})
			return err
		}, wantInMsg: []string{"secretsmanager:DescribeSecret on resource: " + aws.ToString(sec.ARN)}},
		{name: "kms GenerateDataKey by key ARN", call: func() error {
			_, err := s.kms.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(k2.arn), NumberOfBytes: aws.Int32(32)})
			return err
		}},
		{name: "kms GenerateDataKey on another key", code: "AccessDeniedException", call: func() error {
			_, err := s.kms.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(k1.alias), NumberOfBytes: aws.Int32(32)})
			return err
		}, wantInMsg: []string{"kms:GenerateDataKey on resource: " + k1.arn}},
		{name: "kms Decrypt allowed by kms:ResourceAliases", call: func() error {
			_, err := s.kms.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob1})
			return err
		}},
		{name: "kms Decrypt of a key without the alias", code: "AccessDeniedException", call: func() error {
			_, err := s.kms.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob2})
			return err
		}, wantInMsg: []string{"kms:Decrypt on resource: " + k2.arn}},
		{name: "cloudwatch PutMetricData in the allowed namespace", call: func() error {
			return putMetric(ctx, s.cw, "SDC")
		}},
		{name: "cloudwatch PutMetricData in another namespace", code: "AccessDenied", call: func() error {
			return putMetric(ctx, s.cw, "Other")
		}, wantInMsg: []string{"is not authorized to perform: cloudwatch:PutMetricData because no identity-based policy allows the cloudwatch:PutMetricData action"}},
		{name: "admin keys pass as before", call: func() error {
			_, err := a.kinesis.ListStreams(ctx, &kinesis.ListStreamsInput{})
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if tc.code == "" {
				if err != nil {
					t.Fatalf("want allowed, got %v", err)
				}
				return
			}
			code, msg, _ := apiError(t, err)
			if code != tc.code {
				t.Fatalf("got %s %q; want %s", code, msg, tc.code)
			}
			for _, w := range tc.wantInMsg {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q lacks %q", msg, w)
				}
			}
		})
	}
}

// kmsTestKey is a KMS key made for a test.
type kmsTestKey struct{ arn, alias string }

// createKey makes a symmetric key, with an alias when alias is set.
func createKey(t *testing.T, c *kms.Client, alias string) kmsTestKey {
	t.Helper()
	ctx := context.Background()
	out, err := c.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	k := kmsTestKey{arn: aws.ToString(out.KeyMetadata.Arn), alias: alias}
	if alias != "" {
		if _, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(alias), TargetKeyId: out.KeyMetadata.KeyId}); err != nil {
			t.Fatalf("CreateAlias %s: %v", alias, err)
		}
	}
	return k
}

// createTable makes a table of KCL 1.x's lease table shape (hash key leaseKey), tagged when tags are set.
func createTable(ctx context.Context, c *dynamodb.Client, name string, tags map[string]string) error {
	in := &dynamodb.CreateTableInput{
		TableName:             aws.String(name),
		AttributeDefinitions:  []ddbtypes.AttributeDefinition{{AttributeName: aws.String("leaseKey"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:             []ddbtypes.KeySchemaElement{{AttributeName: aws.String("leaseKey"), KeyType: ddbtypes.KeyTypeHash}},
		ProvisionedThroughput: &ddbtypes.ProvisionedThroughput{ReadCapacityUnits: aws.Int64(10), WriteCapacityUnits: aws.Int64(10)},
	}
	for k, v := range tags {
		in.Tags = append(in.Tags, ddbtypes.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	_, err := c.CreateTable(ctx, in)
	return err
}

func createLeaseTable(t *testing.T, c *dynamodb.Client, name string, tags map[string]string) {
	t.Helper()
	if err := createTable(context.Background(), c, name, tags); err != nil {
		t.Fatalf("CreateTable %s: %v", name, err)
	}
}

// putMetric puts one datum in namespace, as KCL's and KPL's metrics publishers do.
func putMetric(ctx context.Context, c *cloudwatch.Client, namespace string) error {
	_, err := c.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: aws.String(namespace),
		MetricData: []cwtypes.MetricDatum{{MetricName: aws.String("RecordsProcessed"), Value: aws.Float64(1), Unit: cwtypes.StandardUnitCount}}})
	return err
}
