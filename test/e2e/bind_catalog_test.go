package e2e

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// kinesisConsumerBefore is the Kinesis Consumer as plugins.yaml granted it before its calls were read
// from SDC's source: dynamodb:UpdateTable (never called), no DeleteTable (called on every start without
// stored offsets).
const kinesisConsumerBefore = `
libraries:
  - name: kinesis-lib
    directory: streamsets-datacollector-kinesis-lib
    minSDCVersion: 3.19.0
stages:
  - name: kinesis-consumer
    library: kinesis-lib
    description: Kinesis Consumer origin (KCL), as the catalog granted it before its calls were read
    parameters:
      - {name: stream, kind: stream, required: true}
      - {name: application, kind: application, required: true}
    statements:
      - sid: Stream
        actions: [kinesis:DescribeStream, kinesis:GetRecords, kinesis:GetShardIterator, kinesis:ListShards]
        resources: ["arn:${partition}:kinesis:${region}:${account}:stream/${stream}"]
      - sid: Leases
        actions: [dynamodb:CreateTable, dynamodb:DescribeTable, dynamodb:UpdateTable, dynamodb:Scan,
                  dynamodb:GetItem, dynamodb:PutItem, dynamodb:UpdateItem, dynamodb:DeleteItem]
        resources: ["arn:${partition}:dynamodb:${region}:${account}:table/${application}"]
      - sid: Metrics
        actions: [cloudwatch:PutMetricData]
        resources: ["*"]
`

// A binding made with the older catalog is brought up to date by a rerun of bind: the plan shows one
// policy update, IAM then holds one new default version with DeleteTable and without UpdateTable, and a
// further rerun changes nothing.
func TestBindRerunUpdatesAnOlderCatalogsPolicy(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	older := filepath.Join(t.TempDir(), "plugins-before.yaml")
	if err := os.WriteFile(older, []byte(kinesisConsumerBefore), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"-n", ns, "--stage", "kinesis-consumer", "--set", "stream=clicks", "--set", "application=" + ns + "-leases", "--yes"}
	mustBind(t, append([]string{"--catalog", older}, args...)...)

	r := mustBind(t, args...)
	if n := strings.Count(r.Stdout, "~ update"); n != 1 || !strings.Contains(r.Stdout, "~ update    IAM policy") {
		t.Errorf("the rerun's plan has %d updates, want exactly the IAM policy's:\n%s", n, r.Stdout)
	}
	arn := policyARN(t, ns, "sdc")
	versions, err := awsAdmin(t).IAM.ListPolicyVersions(context.Background(), &iam.ListPolicyVersionsInput{PolicyArn: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	if len(versions.Versions) != 2 {
		t.Errorf("%d policy versions after the rerun, want 2 (the older one and one new)", len(versions.Versions))
	}
	var def string
	for _, v := range versions.Versions {
		if v.IsDefaultVersion {
			def = aws.ToString(v.VersionId)
		}
	}
	got, err := awsAdmin(t).IAM.GetPolicyVersion(context.Background(), &iam.GetPolicyVersionInput{PolicyArn: aws.String(arn), VersionId: aws.String(def)})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := url.QueryUnescape(aws.ToString(got.PolicyVersion.Document))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(doc, "dynamodb:DeleteTable") || strings.Contains(doc, "dynamodb:UpdateTable") {
		t.Errorf("default version %s is not today's catalog's: %s", def, doc)
	}
	if r := mustBind(t, args...); !strings.Contains(r.Stdout, "No changes") {
		t.Errorf("a second rerun plans changes:\n%s", r.Stdout)
	}
}
