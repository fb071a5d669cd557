package awsfront

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// useKMSBucket makes a bucket whose default encryption is SSE-KMS under k, and one object in it encrypted so.
func useKMSBucket(t *testing.T, a svcClients, k kmsTestKey, bucket, object string) {
	t.Helper()
	ctx := context.Background()
	if _, err := a.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket), CreateBucketConfiguration: usWest2}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.s3.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{Bucket: aws.String(bucket),
		ServerSideEncryptionConfiguration: &s3types.ServerSideEncryptionConfiguration{Rules: []s3types.ServerSideEncryptionRule{{
			ApplyServerSideEncryptionByDefault: &s3types.ServerSideEncryptionByDefault{SSEAlgorithm: s3types.ServerSideEncryptionAwsKms, KMSMasterKeyID: aws.String(k.arn)}}}}}); err != nil {
		t.Fatalf("PutBucketEncryption: %v", err)
	}
	if _, err := a.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(object), Body: strings.NewReader("{}"),
		ServerSideEncryption: s3types.ServerSideEncryptionAwsKms, SSEKMSKeyId: aws.String(k.arn)}); err != nil {
		t.Fatalf("admin PutObject %s: %v", object, err)
	}
}

func TestS3SSEKMSNeedsKeyPermissions(t *testing.T) {
	integration(t)
	t.Parallel()
	ctx := context.Background()
	admin := newClients(adminConfig(shared.url))
	a := newSvcClients(adminConfig(shared.url))
	k := createKey(t, a.kms, "")
	bucket := strings.ToLower(uniqueName("kms"))
	useKMSBucket(t, a, k, bucket, "in/a.json")
	s3All := allow("s3:*", "arn:aws:s3:::"+bucket, "arn:aws:s3:::"+bucket+"/*")
	withKey := s3Of(roleSession(t, admin, "kms-user", policyDoc(s3All, allow("kms:GenerateDataKey", k.arn), allow("kms:Decrypt", k.arn)), ""))
	without := s3Of(roleSession(t, admin, "kms-none", policyDoc(s3All), ""))

	get := func(c *s3.Client) error {
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("in/a.json")})
		if err == nil {
			out.Body.Close()
		}
		return err
	}
	put := func(c *s3.Client) error {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(uniqueName("out/")), Body: strings.NewReader("x")})
		return err
	}
	cp := func(c *s3.Client) error {
		_, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(bucket), Key: aws.String(uniqueName("archive/")), CopySource: aws.String(bucket + "/in/a.json")})
		return err
	}
	cases := []struct {
		name   string
		call   func(*s3.Client) error
		c      *s3.Client
		denied string // the KMS action refused; "" = allowed
	}{
		{"GetObject of an SSE-KMS object with kms:Decrypt", get, withKey, ""},
		{"PutObject under the bucket's KMS default with kms:GenerateDataKey", put, withKey, ""},
		{"CopyObject within the SSE-KMS bucket with both", cp, withKey, ""},
		{"GetObject of an SSE-KMS object without kms:Decrypt", get, without, "kms:Decrypt"},
		{"PutObject under the bucket's KMS default without kms:GenerateDataKey", put, without, "kms:GenerateDataKey"},
		{"CopyObject without KMS permissions", cp, without, "kms:Decrypt"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call(tc.c)
			if tc.denied == "" {
				if err != nil {
					t.Fatalf("want allowed, got %v", err)
				}
				return
			}
			code, msg, status := apiError(t, err)
			if status != 403 || code != "AccessDenied" || !strings.Contains(msg, "on resource: \""+k.arn+"\"") || !strings.Contains(msg, "perform: "+tc.denied+" ") {
				t.Fatalf("got HTTP %d %s %q; want 403 AccessDenied for %s on %s", status, code, msg, tc.denied, k.arn)
			}
		})
	}
}
