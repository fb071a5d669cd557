package awsfront

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// The S3 Origin's post-processing and error handling, as AmazonS3Source and S3Spooler (datacollector-oss
// aws-lib) make them: the origin lists its prefix (ListObjects) and reads an object (GetObject); an object
// handled as an error, or done with, is archived by copying it (copyObject: to another prefix of the bucket
// or to another bucket) and, for a move, deleting it (deleteObject), or it is deleted. Error handling
// (S3ErrorConfig) is a setting apart from post-processing, and on an SSE-KMS bucket the copy writes a new
// object under the bucket's key.
//
// TODO(issue 26): once the catalog's s3-origin gains options for error handling (none, archive, delete), an
// archive bucket (post-processing or error) and KMS on the archive, give these replays those options instead
// of the post-processing ones they use now: error archive/delete with post-processing unset; move to
// another bucket; archive on an SSE-KMS bucket with kms:GenerateDataKey.

func TestReplayS3OriginStages(t *testing.T) {
	integration(t)
	t.Parallel()
	const object = "in/a.json"
	a := newSvcClients(adminConfig(shared.url))
	k := createKey(t, a.kms, "")
	bucket := func() string { return strings.ToLower(uniqueName("origin")) }
	archiveBkt, errorsBkt, deleteBkt, otherSrc, kmsBkt := bucket(), bucket(), bucket(), bucket(), bucket()
	otherDst := otherSrc + "-archive"
	plain := func(bucket string) func(t *testing.T, a svcClients) {
		return func(t *testing.T, a svcClients) { makeBucket(t, a, bucket, object) }
	}
	params := func(bucket string, kv ...string) map[string]string {
		p := map[string]string{"bucket": bucket, "prefix": "in/"}
		for i := 0; i+1 < len(kv); i += 2 {
			p[kv[i]] = kv[i+1]
		}
		return p
	}
	replays := []replay{
		{
			Name: "s3-origin post-processing archive to a prefix", Stage: "s3-origin",
			Params: params(archiveBkt, "post-processing", "archive"),
			Setup:  plain(archiveBkt),
			Steps:  originSteps(archiveBkt, object, archiveBkt, "archive/a.json", true),
		},
		{
			Name: "s3-origin error archive to a prefix, post-processing unset", Stage: "s3-origin",
			Params:       params(errorsBkt),
			Setup:        plain(errorsBkt),
			Steps:        originSteps(errorsBkt, object, errorsBkt, "errors/a.json", true),
			RefusedToday: []string{"s3:PutObject", "s3:DeleteObject"},
		},
		{
			Name: "s3-origin error delete, post-processing unset", Stage: "s3-origin",
			Params:       params(deleteBkt),
			Setup:        plain(deleteBkt),
			Steps:        originSteps(deleteBkt, object, "", "", true),
			RefusedToday: []string{"s3:DeleteObject"},
		},
		{
			Name: "s3-origin archive to another bucket", Stage: "s3-origin",
			Params: params(otherSrc, "post-processing", "archive"),
			Setup: func(t *testing.T, a svcClients) {
				makeBucket(t, a, otherSrc, object)
				makeBucket(t, a, otherDst, "")
			},
			Steps:        originSteps(otherSrc, object, otherDst, "a.json", true),
			RefusedToday: []string{"s3:PutObject"},
		},
		{
			Name: "s3-origin archive on an SSE-KMS bucket", Stage: "s3-origin",
			Params:       params(kmsBkt, "post-processing", "archive", "kms-key", k.arn),
			Setup:        func(t *testing.T, a svcClients) { useKMSBucket(t, a, k, kmsBkt, object) },
			Steps:        originSteps(kmsBkt, object, kmsBkt, "archive/a.json", true),
			RefusedToday: []string{"kms:GenerateDataKey"},
		},
	}
	checkReplays(t, replays)
}

// makeBucket makes a bucket with one object (none when object is "").
func makeBucket(t *testing.T, a svcClients, bucket, object string) {
	t.Helper()
	ctx := context.Background()
	if _, err := a.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket), CreateBucketConfiguration: usWest2}); err != nil {
		t.Fatalf("admin CreateBucket %s: %v", bucket, err)
	}
	if object == "" {
		return
	}
	if _, err := a.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(object), Body: strings.NewReader(`{"a":1}`)}); err != nil {
		t.Fatalf("admin PutObject: %v", err)
	}
}

// originSteps list the prefix and read the object, then copy it to dstBucket/dstKey (none when dstBucket is
// "") and delete it when move is set.
func originSteps(srcBucket, key, dstBucket, dstKey string, move bool) []replayStep {
	steps := []replayStep{
		{"s3:ListObjects", func(ctx context.Context, c svcClients) error {
			_, err := c.s3.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String(srcBucket), Prefix: aws.String(key[:strings.Index(key, "/")+1])})
			return err
		}},
		{"s3:GetObject", func(ctx context.Context, c svcClients) error {
			out, err := c.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(srcBucket), Key: aws.String(key)})
			if err == nil {
				out.Body.Close()
			}
			return err
		}},
	}
	if dstBucket != "" {
		steps = append(steps, replayStep{"s3:CopyObject", func(ctx context.Context, c svcClients) error {
			_, err := c.s3.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(dstBucket), Key: aws.String(dstKey), CopySource: aws.String(srcBucket + "/" + key)})
			return err
		}})
	}
	if move {
		steps = append(steps, replayStep{"s3:DeleteObject", func(ctx context.Context, c svcClients) error {
			_, err := c.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(srcBucket), Key: aws.String(key)})
			return err
		}})
	}
	return steps
}
