package awsfront

// What each operation of the services the front authorizes needs from IAM, after the Service Authorization
// Reference: the action (service:Operation unless Action says otherwise), the resources it acts on (Resource;
// nil: "*", for operations without resource-level permissions) and the condition keys it carries. An
// operation not listed here is authorized as service:Operation on "*", which a policy scoped to resources
// does not allow: the table grows with the calls tests need.

// svcOp is one operation's row.
type svcOp struct {
	Action   string     // the IAM action when it is not service:Operation (SQS's batch calls)
	Resource resourceOf // the ARNs it acts on; nil: "*"
	Tags     string     // the field of the tags it sets: aws:RequestTag/<key>, aws:TagKeys
	TagKeys  string     // the field of the tag keys it removes: aws:TagKeys
	// OnCreate is the tagging action a create with tags needs besides its own, on the same resource.
	OnCreate string
	Context  func(q *svcRequest, keys map[string][]string) // further condition keys
}

// iamPrefixes maps the services' SigV4 signing names to their IAM prefixes; these are the services the front
// authorizes besides S3.
var iamPrefixes = map[string]string{
	"kinesis": "kinesis", "dynamodb": "dynamodb", "sqs": "sqs", "firehose": "firehose",
	"secretsmanager": "secretsmanager", "kms": "kms", "monitoring": "cloudwatch",
}

var (
	onStream   = svcOp{Resource: streamARN}
	onTable    = svcOp{Resource: tableARN}
	onQueue    = svcOp{Resource: queueARN}
	onDelivery = svcOp{Resource: deliveryStreamARN}
	onSecret   = svcOp{Resource: secretARN}
	onKey      = svcOp{Resource: keyARNs}
	onAny      = svcOp{}
)

// svcOps lists the operations per IAM prefix.
var svcOps = map[string]map[string]svcOp{
	"kinesis": {
		"CreateStream": {Resource: streamARN, Tags: "Tags", OnCreate: "kinesis:AddTagsToStream"},
		"DeleteStream": onStream, "DescribeStream": onStream, "DescribeStreamSummary": onStream, "ListShards": onStream,
		"GetShardIterator": onStream, "GetRecords": onStream, "PutRecord": onStream, "PutRecords": onStream,
		"MergeShards": onStream, "SplitShard": onStream, "UpdateShardCount": onStream, "ListTagsForStream": onStream,
		"IncreaseStreamRetentionPeriod": onStream, "DecreaseStreamRetentionPeriod": onStream,
		"EnableEnhancedMonitoring": onStream, "DisableEnhancedMonitoring": onStream,
		"StartStreamEncryption": onStream, "StopStreamEncryption": onStream,
		"RegisterStreamConsumer": onStream, "ListStreamConsumers": onStream,
		"AddTagsToStream":      {Resource: streamARN, Tags: "Tags"},
		"RemoveTagsFromStream": {Resource: streamARN, TagKeys: "TagKeys"},
		"TagResource":          {Resource: resourceARNField("ResourceARN"), Tags: "Tags"},
		"UntagResource":        {Resource: resourceARNField("ResourceARN"), TagKeys: "TagKeys"},
		"ListTagsForResource":  {Resource: resourceARNField("ResourceARN")},
		"ListStreams":          onAny, "DescribeLimits": onAny,
	},
	"dynamodb": {
		"CreateTable": {Resource: tableARN, Tags: "Tags", OnCreate: "dynamodb:TagResource"},
		"DeleteTable": onTable, "DescribeTable": onTable, "UpdateTable": onTable,
		"GetItem": onTable, "PutItem": onTable, "UpdateItem": onTable, "DeleteItem": onTable,
		"Scan": {Resource: tableOrIndexARN}, "Query": {Resource: tableOrIndexARN},
		"BatchGetItem": {Resource: requestItemTables}, "BatchWriteItem": {Resource: requestItemTables},
		"DescribeTimeToLive": onTable, "UpdateTimeToLive": onTable, "DescribeContinuousBackups": onTable,
		"TagResource":        {Resource: resourceARNField("ResourceArn"), Tags: "Tags"},
		"UntagResource":      {Resource: resourceARNField("ResourceArn"), TagKeys: "TagKeys"},
		"ListTagsOfResource": {Resource: resourceARNField("ResourceArn")},
		"ListTables":         onAny, "DescribeLimits": onAny, "DescribeEndpoints": onAny,
	},
	"sqs": {
		"CreateQueue": {Resource: queueARN, Tags: "tags", OnCreate: "sqs:TagQueue"},
		"GetQueueUrl": onQueue, "GetQueueAttributes": onQueue, "SetQueueAttributes": onQueue, "DeleteQueue": onQueue,
		"ReceiveMessage": onQueue, "DeleteMessage": onQueue, "SendMessage": onQueue, "ChangeMessageVisibility": onQueue,
		"PurgeQueue": onQueue, "ListQueueTags": onQueue, "ListDeadLetterSourceQueues": onQueue,
		"SendMessageBatch":             {Action: "sqs:SendMessage", Resource: queueARN},
		"DeleteMessageBatch":           {Action: "sqs:DeleteMessage", Resource: queueARN},
		"ChangeMessageVisibilityBatch": {Action: "sqs:ChangeMessageVisibility", Resource: queueARN},
		"TagQueue":                     {Resource: queueARN, Tags: "Tags"},
		"UntagQueue":                   {Resource: queueARN, TagKeys: "TagKeys"},
		"ListQueues":                   onAny,
	},
	"firehose": {
		"CreateDeliveryStream":   {Resource: deliveryStreamARN, Tags: "Tags", OnCreate: "firehose:TagDeliveryStream"},
		"DescribeDeliveryStream": onDelivery, "DeleteDeliveryStream": onDelivery, "PutRecord": onDelivery,
		"PutRecordBatch": onDelivery, "UpdateDestination": onDelivery, "ListTagsForDeliveryStream": onDelivery,
		"StartDeliveryStreamEncryption": onDelivery, "StopDeliveryStreamEncryption": onDelivery,
		"TagDeliveryStream":   {Resource: deliveryStreamARN, Tags: "Tags"},
		"UntagDeliveryStream": {Resource: deliveryStreamARN, TagKeys: "TagKeys"},
		"ListDeliveryStreams": onAny,
	},
	"secretsmanager": {
		"CreateSecret":   {Resource: newSecretARN, Tags: "Tags", OnCreate: "secretsmanager:TagResource"},
		"GetSecretValue": onSecret, "DescribeSecret": onSecret, "PutSecretValue": onSecret, "UpdateSecret": onSecret,
		"DeleteSecret": onSecret, "RestoreSecret": onSecret, "RotateSecret": onSecret, "GetResourcePolicy": onSecret,
		"ListSecretVersionIds": onSecret, "UpdateSecretVersionStage": onSecret,
		"TagResource":   {Resource: secretARN, Tags: "Tags"},
		"UntagResource": {Resource: secretARN, TagKeys: "TagKeys"},
		"ListSecrets":   onAny, "GetRandomPassword": onAny, "BatchGetSecretValue": onAny,
	},
	"kms": {
		"Encrypt": onKey, "Decrypt": {Resource: decryptKeyARN}, "GenerateDataKey": onKey,
		"GenerateDataKeyWithoutPlaintext": onKey, "GenerateDataKeyPair": onKey, "DescribeKey": onKey,
		"ReEncryptFrom": onKey, "Sign": onKey, "Verify": onKey, "GetPublicKey": onKey, "GetKeyPolicy": onKey,
		"PutKeyPolicy": onKey, "EnableKey": onKey, "DisableKey": onKey, "ScheduleKeyDeletion": onKey,
		"CancelKeyDeletion": onKey, "GetKeyRotationStatus": onKey, "EnableKeyRotation": onKey,
		"DisableKeyRotation": onKey, "ListResourceTags": onKey, "CreateGrant": onKey, "ListGrants": onKey,
		"TagResource":   {Resource: keyARNs, Tags: "Tags"},
		"UntagResource": {Resource: keyARNs, TagKeys: "TagKeys"},
		"CreateKey":     {Tags: "Tags", OnCreate: "kms:TagResource"},
		"CreateAlias":   {Resource: aliasAndKeyARNs}, "DeleteAlias": {Resource: aliasAndKeyARNs},
		"ListKeys": onAny, "ListAliases": onAny, "GenerateRandom": onAny,
	},
	"cloudwatch": {
		"PutMetricData": {Context: func(q *svcRequest, keys map[string][]string) {
			if ns := q.str("Namespace"); ns != "" {
				keys["cloudwatch:namespace"] = []string{ns}
			}
		}},
		"PutMetricAlarm": {Resource: alarmARN, Tags: "Tags", OnCreate: "cloudwatch:TagResource"},
		"TagResource":    {Resource: resourceARNField("ResourceARN"), Tags: "Tags"},
		"UntagResource":  {Resource: resourceARNField("ResourceARN"), TagKeys: "TagKeys"},
		"ListMetrics":    onAny, "GetMetricData": onAny, "GetMetricStatistics": onAny, "DescribeAlarms": onAny,
	},
}
