package awsfront

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// S3 uses KMS on the caller's behalf for SSE-KMS objects, and the caller must be allowed that use: a write of
// an object encrypted under a customer managed key (the request's x-amz-server-side-encryption headers, else
// the bucket's default encryption) needs kms:GenerateDataKey on the key; a read of one (GetObject, a copy's
// source) needs kms:Decrypt. AWS managed keys (aws/s3) allow every principal of the account through S3, so
// they need nothing of the caller's policies.

// s3KMSWrites are the operations that write an object's data.
var s3KMSWrites = map[string]bool{"PutObject": true, "CopyObject": true, "CreateMultipartUpload": true}

// s3KMSChecks are the KMS checks an S3 call of a role session needs besides its S3 ones.
func (f *Front) s3KMSChecks(ctx context.Context, r *http.Request, c *call, sess *principal) ([]authzCheck, error) {
	region := signingRegion(r)
	if region == "" {
		region = f.cfg.Region
	}
	q := &svcRequest{Prefix: "kms", Region: region, Account: sess.Account}
	var checks []authzCheck
	add := func(action, keyID string) error {
		if keyID == "" {
			return nil
		}
		k, err := f.lookupKMSKey(ctx, q, keyID)
		if err != nil {
			return err
		}
		checks = append(checks, authzCheck{action, k.ARN})
		return nil
	}
	if c.S3.Op == "GetObject" || c.S3.Op == "CopyObject" {
		bucket, key := c.S3.Bucket, c.S3.Key
		if c.S3.Op == "CopyObject" {
			src := strings.TrimPrefix(unescape(strings.SplitN(r.Header.Get("X-Amz-Copy-Source"), "?", 2)[0]), "/")
			bucket, key, _ = strings.Cut(src, "/")
		}
		keyID, err := f.s3ObjectKMSKey(ctx, sess.Account, region, bucket, key)
		if err != nil {
			return nil, err
		}
		if err := add("kms:Decrypt", keyID); err != nil {
			return nil, err
		}
	}
	if s3KMSWrites[c.S3.Op] {
		keyID := ""
		switch r.Header.Get("X-Amz-Server-Side-Encryption") {
		case "aws:kms", "aws:kms:dsse":
			keyID = r.Header.Get("X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id")
		case "":
			var err error
			if keyID, err = f.s3BucketKMSKey(ctx, sess.Account, region, c.S3.Bucket); err != nil {
				return nil, err
			}
		}
		if err := add("kms:GenerateDataKey", keyID); err != nil {
			return nil, err
		}
	}
	return checks, nil
}

// s3Moto makes one S3 request to moto in account as the front itself; nil when moto answers an error.
func (f *Front) s3Moto(ctx context.Context, method, account, region, path string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, f.cfg.MotoURL+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=sandbox-front/"+time.Now().UTC().Format("20060102")+
		"/"+region+"/s3/aws4_request, SignedHeaders=host, Signature=0")
	req.Header.Set(motoAccountHeader, account)
	resp, err := f.motoHTTPClient().Do(req)
	if err != nil {
		return nil, fmt.Errorf("asking moto at %s %s %s: %w", f.cfg.MotoURL, method, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, nil
	}
	return resp, nil
}

// s3BucketKMSKey is the customer managed KMS key of a bucket's default encryption; "" for none.
func (f *Front) s3BucketKMSKey(ctx context.Context, account, region, bucket string) (string, error) {
	resp, err := f.s3Moto(ctx, http.MethodGet, account, region, "/"+url.PathEscape(bucket)+"?encryption")
	if err != nil || resp == nil {
		return "", err
	}
	defer resp.Body.Close()
	var cfg struct {
		Rules []struct {
			Default struct {
				SSEAlgorithm   string
				KMSMasterKeyID string
			} `xml:"ApplyServerSideEncryptionByDefault"`
		} `xml:"Rule"`
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if err := xml.Unmarshal(b, &cfg); err != nil {
		return "", nil
	}
	for _, rule := range cfg.Rules {
		if strings.HasPrefix(rule.Default.SSEAlgorithm, "aws:kms") && !isAWSManagedS3Key(rule.Default.KMSMasterKeyID) {
			return rule.Default.KMSMasterKeyID, nil
		}
	}
	return "", nil
}

// s3ObjectKMSKey is the customer managed KMS key an object is encrypted under; "" for none.
func (f *Front) s3ObjectKMSKey(ctx context.Context, account, region, bucket, key string) (string, error) {
	if bucket == "" || key == "" {
		return "", nil
	}
	resp, err := f.s3Moto(ctx, http.MethodHead, account, region, "/"+url.PathEscape(bucket)+"/"+escapeKey(key))
	if err != nil || resp == nil {
		return "", err
	}
	resp.Body.Close()
	if !strings.HasPrefix(resp.Header.Get("X-Amz-Server-Side-Encryption"), "aws:kms") {
		return "", nil
	}
	k := resp.Header.Get("X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id")
	if isAWSManagedS3Key(k) {
		return "", nil
	}
	return k, nil
}

// isAWSManagedS3Key tells whether id is S3's AWS managed key (or none, which means it).
func isAWSManagedS3Key(id string) bool {
	return id == "" || id == "alias/aws/s3" || strings.HasSuffix(id, ":alias/aws/s3")
}

// escapeKey escapes an object key for a path, keeping its slashes.
func escapeKey(key string) string {
	parts := strings.Split(key, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}
