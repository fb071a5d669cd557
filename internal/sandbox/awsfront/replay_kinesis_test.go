package awsfront

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	kintypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// The Kinesis Consumer's start, as KinesisSource (datacollector-oss kinesis-lib) and KCL 1.x make it:
//   - init: the stream is described (KinesisUtil.checkStreamExists: DescribeStream);
//   - resetOffsets, whenever SDC holds no offsets and the lease table <application name> exists (after
//     "Reset Origin", and on every start of a pod without a persistent data directory): DescribeTable, then
//     DeleteTable, then DescribeTable until the table is gone (waitForDelete);
//   - createLeaseTableIfNotExists (DescribeTable, CreateTable, DescribeTable until ACTIVE); with lease
//     table tags set, CreateTable carries them, which needs dynamodb:TagResource besides CreateTable;
//   - KCL's worker: the shard sync lists the shards (ListShards) and the leases (Scan) and creates a lease
//     per shard (PutItem, conditional); the lease taker takes and renews leases (UpdateItem); the record
//     processor reads its checkpoint (GetItem), gets a shard iterator and records, checkpoints
//     (UpdateItem); finished shards' leases are deleted (DeleteItem); metrics go to CloudWatch in the
//     application's namespace.
// The Producer's shard map, as KPL makes it: 0.14.x (SDC 3.20 and later) lists the shards (ListShards),
// 0.12.11 described the stream (DescribeStream); then PutRecords, and metrics in KPL's namespace.
//
// The old catalog had no lease table tags option: its policy for the same stage is the one without it.

func TestReplayKinesisStages(t *testing.T) {
	integration(t)
	t.Parallel()
	checkReplays(t, []replay{
		{Name: "kinesis-consumer first start", Stage: "kinesis-consumer", Setup: kinesisConsumer(false, nil)},
		{
			Name: "kinesis-consumer first start, lease-table-tags=true", Stage: "kinesis-consumer",
			Setup:               kinesisConsumer(false, map[string]string{"team": "data", "pipeline": "clicks"}),
			RefusedByOldCatalog: []string{"dynamodb:TagResource"},
		},
		{
			Name: "kinesis-consumer reset and pod restart", Stage: "kinesis-consumer", Setup: kinesisConsumer(true, nil),
			RefusedByOldCatalog: []string{"dynamodb:DeleteTable"},
		},
		{
			Name: "kinesis-producer shard map, KPL 0.14 (SDC 3.20+)", Stage: "kinesis-producer",
			Setup: func(t *testing.T, a svcClients, n string) replayRun {
				makeStream(t, a, n, 2, "")
				return replayRun{Params: map[string]string{"stream": n}, OldParams: map[string]string{"stream": n},
					Steps: []replayStep{listShards(n, nil), putRecords(n), putMetricData("KinesisProducerLibrary")}}
			},
			RefusedByOldCatalog: []string{"kinesis:ListShards"},
		},
		{
			Name: "kinesis-producer shard map, KPL 0.12 (before SDC 3.20)", Stage: "kinesis-producer",
			Setup: func(t *testing.T, a svcClients, n string) replayRun {
				makeStream(t, a, n, 1, "")
				return replayRun{Params: map[string]string{"stream": n}, OldParams: map[string]string{"stream": n},
					Steps: []replayStep{describeStream(n), putRecords(n), putMetricData("KinesisProducerLibrary")}}
			},
		},
	})
}

// kinesisConsumer is the consumer's start on a stream holding one record: with reset, from the lease table
// a previous run left (the reset path, then a new table); with tags, lease-table-tags set and the new
// table tagged so. GetRecords must return the record, and the table must carry the tags.
func kinesisConsumer(reset bool, tags map[string]string) func(t *testing.T, a svcClients, n string) replayRun {
	return func(t *testing.T, a svcClients, n string) replayRun {
		t.Helper()
		stream, app := n, n+"-app" // KCL's lease table is named after the application
		makeStream(t, a, stream, 1, "hello")
		params := map[string]string{"stream": stream, "application": app}
		old := maps.Clone(params)
		if tags != nil {
			params["lease-table-tags"] = "true"
		}
		steps := []replayStep{describeStream(stream)}
		if reset {
			createLeaseTable(t, a.dynamodb, app, nil)
			steps = append(steps, leaseTableReset(app)...)
		}
		steps = append(append(steps, leaseTableCreation(app, tags)...), kclRun(stream, app, []string{"hello"})...)
		return replayRun{Params: params, OldParams: old, Steps: steps, Check: func(t *testing.T, a svcClients) {
			out, err := a.dynamodb.ListTagsOfResource(context.Background(), &dynamodb.ListTagsOfResourceInput{ResourceArn: aws.String(arnIn("dynamodb", "table/"+app))})
			if err != nil {
				t.Fatalf("admin ListTagsOfResource %s: %v", app, err)
			}
			got := map[string]string{}
			for _, tag := range out.Tags {
				got[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
			}
			if !maps.Equal(got, tags) {
				t.Errorf("lease table %s has tags %v; want %v", app, got, tags)
			}
		}}
	}
}

// makeStream makes a stream of shards shards, with one record in it when record is set.
func makeStream(t *testing.T, a svcClients, stream string, shards int32, record string) {
	t.Helper()
	ctx := context.Background()
	if _, err := a.kinesis.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(stream), ShardCount: aws.Int32(shards)}); err != nil {
		t.Fatalf("admin CreateStream: %v", err)
	}
	if record == "" {
		return
	}
	if _, err := a.kinesis.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String(stream), PartitionKey: aws.String("k"), Data: []byte(record)}); err != nil {
		t.Fatalf("admin PutRecord: %v", err)
	}
}

func describeStream(stream string) replayStep {
	return replayStep{"kinesis:DescribeStream", func(ctx context.Context, c svcClients) error {
		_, err := c.kinesis.DescribeStream(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String(stream)})
		return err
	}}
}

func listShards(stream string, shards *[]string) replayStep {
	return replayStep{"kinesis:ListShards", func(ctx context.Context, c svcClients) error {
		out, err := c.kinesis.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(stream)})
		if err == nil && shards != nil {
			*shards = nil
			for _, s := range out.Shards {
				*shards = append(*shards, aws.ToString(s.ShardId))
			}
		}
		return err
	}}
}

func putRecords(stream string) replayStep {
	return replayStep{"kinesis:PutRecords", func(ctx context.Context, c svcClients) error {
		out, err := c.kinesis.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(stream), Records: []kintypes.PutRecordsRequestEntry{
			{PartitionKey: aws.String("a"), Data: []byte("r1")}, {PartitionKey: aws.String("b"), Data: []byte("r2")}}})
		if err == nil && aws.ToInt32(out.FailedRecordCount) != 0 {
			return fmt.Errorf("PutRecords failed %d records", aws.ToInt32(out.FailedRecordCount))
		}
		return err
	}}
}

func putMetricData(namespace string) replayStep {
	return replayStep{"cloudwatch:PutMetricData", func(ctx context.Context, c svcClients) error { return putMetric(ctx, c.cw, namespace) }}
}

// describeTable is DescribeTable as KCL's lease manager reads it: a missing table is an answer, not an error.
func describeTable(ctx context.Context, c svcClients, table string) (exists bool, status ddbtypes.TableStatus, err error) {
	out, err := c.dynamodb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	var nf *ddbtypes.ResourceNotFoundException
	if errors.As(err, &nf) {
		return false, "", nil
	}
	if err != nil {
		return false, "", err
	}
	return true, out.Table.TableStatus, nil
}

// pollTable calls DescribeTable until done says so, as KCL's and SDC's waits do, within a deadline.
func pollTable(ctx context.Context, c svcClients, table string, done func(exists bool, status ddbtypes.TableStatus) bool) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		exists, status, err := describeTable(ctx, c, table)
		if err != nil || done(exists, status) {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("lease table %s still exists=%v status=%s after 30 s", table, exists, status)
		}
		time.Sleep(100 * time.Millisecond) // the poll's own interval, as waitForDelete's; not a synchronisation
	}
}

// leaseTableReset is KinesisSource.resetOffsets: the table is described, deleted and waited for.
func leaseTableReset(table string) []replayStep {
	return []replayStep{
		{"dynamodb:DescribeTable", func(ctx context.Context, c svcClients) error {
			exists, _, err := describeTable(ctx, c, table)
			if err == nil && !exists {
				return fmt.Errorf("lease table %s does not exist; the reset path starts from one", table)
			}
			return err
		}},
		{"dynamodb:DeleteTable", func(ctx context.Context, c svcClients) error {
			_, err := c.dynamodb.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(table)})
			return err
		}},
		{"dynamodb:DescribeTable", func(ctx context.Context, c svcClients) error {
			return pollTable(ctx, c, table, func(exists bool, _ ddbtypes.TableStatus) bool { return !exists })
		}},
	}
}

// leaseTableCreation is createLeaseTableIfNotExists (tagging the table when tags are set) and its wait for
// the table to be ACTIVE.
func leaseTableCreation(table string, tags map[string]string) []replayStep {
	return []replayStep{
		{"dynamodb:DescribeTable", func(ctx context.Context, c svcClients) error {
			exists, _, err := describeTable(ctx, c, table)
			if err == nil && exists {
				return fmt.Errorf("lease table %s exists; KCL would not create it", table)
			}
			return err
		}},
		{"dynamodb:CreateTable", func(ctx context.Context, c svcClients) error { return createTable(ctx, c.dynamodb, table, tags) }},
		{"dynamodb:DescribeTable", func(ctx context.Context, c svcClients) error {
			return pollTable(ctx, c, table, func(exists bool, s ddbtypes.TableStatus) bool { return exists && s == ddbtypes.TableStatusActive })
		}},
	}
}

// kclRun is KCL's worker once the lease table exists: shard sync, leases, records, checkpoint, metrics.
// GetRecords must return want: the replay reached moto and worked, not only got past the front.
func kclRun(stream, table string, want []string) []replayStep {
	var shards []string
	var iterator string
	lease := func() map[string]ddbtypes.AttributeValue {
		return map[string]ddbtypes.AttributeValue{"leaseKey": &ddbtypes.AttributeValueMemberS{Value: shards[0]}}
	}
	return []replayStep{
		listShards(stream, &shards),
		{"dynamodb:Scan", func(ctx context.Context, c svcClients) error {
			_, err := c.dynamodb.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table)})
			return err
		}},
		{"dynamodb:PutItem", func(ctx context.Context, c svcClients) error {
			item := lease()
			item["checkpoint"] = &ddbtypes.AttributeValueMemberS{Value: "TRIM_HORIZON"}
			item["leaseCounter"] = &ddbtypes.AttributeValueMemberN{Value: "0"}
			_, err := c.dynamodb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item,
				ConditionExpression: aws.String("attribute_not_exists(leaseKey)")})
			return err
		}},
		{"dynamodb:UpdateItem", func(ctx context.Context, c svcClients) error { // takeLease
			_, err := c.dynamodb.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(table), Key: lease(),
				UpdateExpression:          aws.String("SET leaseOwner = :w, leaseCounter = leaseCounter + :one"),
				ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":w": &ddbtypes.AttributeValueMemberS{Value: "sdc-worker"}, ":one": &ddbtypes.AttributeValueMemberN{Value: "1"}}})
			return err
		}},
		{"dynamodb:GetItem", func(ctx context.Context, c svcClients) error {
			_, err := c.dynamodb.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: lease(), ConsistentRead: aws.Bool(true)})
			return err
		}},
		{"kinesis:GetShardIterator", func(ctx context.Context, c svcClients) error {
			out, err := c.kinesis.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String(stream), ShardId: aws.String(shards[0]),
				ShardIteratorType: kintypes.ShardIteratorTypeTrimHorizon})
			if err == nil {
				iterator = aws.ToString(out.ShardIterator)
			}
			return err
		}},
		{"kinesis:GetRecords", func(ctx context.Context, c svcClients) error {
			out, err := c.kinesis.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String(iterator)})
			if err != nil {
				return err
			}
			var got []string
			for _, r := range out.Records {
				got = append(got, string(r.Data))
			}
			if !slices.Equal(got, want) {
				return fmt.Errorf("GetRecords returned %q; want %q, what the stream holds", got, want)
			}
			return nil
		}},
		{"dynamodb:UpdateItem", func(ctx context.Context, c svcClients) error { // checkpoint
			_, err := c.dynamodb.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(table), Key: lease(),
				UpdateExpression:          aws.String("SET checkpoint = :c"),
				ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":c": &ddbtypes.AttributeValueMemberS{Value: "49590338271490256608559692538361571095921575989136588898"}}})
			return err
		}},
		putMetricData(table),
		{"dynamodb:DeleteItem", func(ctx context.Context, c svcClients) error { // a finished shard's lease
			_, err := c.dynamodb.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(table), Key: lease()})
			return err
		}},
	}
}
