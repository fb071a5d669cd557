package awsfront

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// The S3 Origin's post-processing and error handling, as AmazonS3Source and S3Spooler (datacollector-oss
// aws-lib) make them: the origin lists its prefix (ListObjects) and reads an object (GetObject); an object
// handled as an error, or done with, is archived by copying it (copyObject: to another prefix of the bucket
// or to another bucket) and, for a move, deleting it (deleteObject), or it is deleted. Error handling
// (S3ErrorConfig) is a setting apart from post-processing, and on an SSE-KMS bucket the copy writes a new
// object under the bucket's key.
//
// The old catalog had post-processing archive|delete and kms-key only: no error handling (its policy for
// an origin that archives or deletes on errors is the one with post-processing unset), no archive bucket,
// and no copy (SDC's post-processing is Archive for both a move and a copy, so archive is how a copy was
// bound).

func TestReplayS3OriginStages(t *testing.T) {
	integration(t)
	t.Parallel()
	checkReplays(t, []replay{
		{
			Name: "s3-origin post-processing archive to a prefix", Stage: "s3-origin",
			Setup: func(t *testing.T, a svcClients, n string) replayRun {
				makeBucket(t, a, n, originObject)
				return originRun(n, n, "archive/a.json", true,
					originParams(n, "post-processing", "archive"), originParams(n, "post-processing", "archive"))
			},
		},
		{
			Name: "s3-origin error-handling archive to a prefix, post-processing unset", Stage: "s3-origin",
			Setup: func(t *testing.T, a svcClients, n string) replayRun {
				makeBucket(t, a, n, originObject)
				return originRun(n, n, "errors/a.json", true, originParams(n, "error-handling", "archive"), originParams(n))
			},
			RefusedByOldCatalog: []string{"s3:PutObject", "s3:DeleteObject"},
		},
		{
			Name: "s3-origin error-handling delete, post-processing unset", Stage: "s3-origin",
			Setup: func(t *testing.T, a svcClients, n string) replayRun {
				makeBucket(t, a, n, originObject)
				return originRun(n, "", "", true, originParams(n, "error-handling", "delete"), originParams(n))
			},
			RefusedByOldCatalog: []string{"s3:DeleteObject"},
		},
		{
			Name: "s3-origin post-processing move to another bucket", Stage: "s3-origin",
			Setup: func(t *testing.T, a svcClients, n string) replayRun {
				makeBucket(t, a, n, originObject)
				makeBucket(t, a, n+"-archive", "")
				return originRun(n, n+"-archive", "a.json", true,
					originParams(n, "post-processing", "archive", "archive-bucket", n+"-archive"), originParams(n, "post-processing", "archive"))
			},
			RefusedByOldCatalog: []string{"s3:PutObject"},
		},
		{
			// The old catalog's archive allowed the copy, and DeleteObject besides, which a copy never calls.
			Name: "s3-origin post-processing copy to a prefix", Stage: "s3-origin",
			Setup: func(t *testing.T, a svcClients, n string) replayRun {
				makeBucket(t, a, n, originObject)
				return originRun(n, n, "archive/a.json", false,
					originParams(n, "post-processing", "copy"), originParams(n, "post-processing", "archive"))
			},
		},
		{
			Name: "s3-origin post-processing archive on an SSE-KMS bucket", Stage: "s3-origin",
			Setup: func(t *testing.T, a svcClients, n string) replayRun {
				k := createKey(t, a.kms, "")
				useKMSBucket(t, a, k, n, originObject)
				p := originParams(n, "post-processing", "archive", "kms-key", k.arn)
				run := originRun(n, n, "archive/a.json", true, p, p)
				moved := run.Check
				run.Check = func(t *testing.T, a svcClients) {
					moved(t, a)
					head, err := a.s3.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(n), Key: aws.String("archive/a.json")})
					if err != nil {
						t.Fatalf("admin HeadObject of the archived object: %v", err)
					}
					if id := aws.ToString(head.SSEKMSKeyId); head.ServerSideEncryption != s3types.ServerSideEncryptionAwsKms || id == "" || !strings.HasSuffix(k.arn, id) {
						t.Errorf("the archived object is encrypted %q under %q; want aws:kms under the bucket's key %s",
							head.ServerSideEncryption, aws.ToString(head.SSEKMSKeyId), k.arn)
					}
				}
				return run
			},
			RefusedByOldCatalog: []string{"kms:GenerateDataKey"},
		},
	})
}

// originObject is the object each run's bucket holds under the origin's prefix.
const originObject = "in/a.json"

// originParams are the origin's parameters for bucket, with prefix in/, and the key, value pairs kv.
func originParams(bucket string, kv ...string) map[string]string {
	p := map[string]string{"bucket": bucket, "prefix": "in/"}
	for i := 0; i+1 < len(kv); i += 2 {
		p[kv[i]] = kv[i+1]
	}
	return p
}

// originRun is the origin's path over src/originObject: read, then copied to dst/dstKey (not when dst is
// "") and deleted when move is set. Its check asserts the object ended where the path puts it.
func originRun(src, dst, dstKey string, move bool, params, old map[string]string) replayRun {
	return replayRun{Params: params, OldParams: old, Steps: originSteps(src, originObject, dst, dstKey, move),
		Check: func(t *testing.T, a svcClients) {
			if got := objectExists(t, a, src, originObject); got == move {
				t.Errorf("after the path, s3://%s/%s exists=%v; want %v", src, originObject, got, !move)
			}
			if dst != "" && !objectExists(t, a, dst, dstKey) {
				t.Errorf("after the path, s3://%s/%s does not exist; want the archived object", dst, dstKey)
			}
		}}
}

// objectExists tells, with admin keys, whether bucket holds key.
func objectExists(t *testing.T, a svcClients, bucket, key string) bool {
	t.Helper()
	_, err := a.s3.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	var nf *s3types.NotFound
	if errors.As(err, &nf) {
		return false
	}
	if err != nil {
		t.Fatalf("admin HeadObject s3://%s/%s: %v", bucket, key, err)
	}
	return true
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
