package awsfront

import (
	"net/http"
	"net/url"
	"strings"
)

// s3Request is an S3 call in IAM's terms: which operation it is and what it must be allowed to do.
type s3Request struct {
	Bucket, Key string
	Op          string // the API operation, like ListObjectsV2
	Write       bool
	Checks      []s3Check           // every IAM action on a resource the call needs; all must be allowed
	Context     map[string][]string // S3 condition keys of the request
	DeleteKeys  bool                // DeleteObjects: the keys are in the body, checked one by one
}

// s3Check is one action on one resource an S3 call needs.
type s3Check = authzCheck

// s3Sub is one S3 subresource (query parameter) with the operation and IAM action per method.
type s3Sub struct {
	param string
	ops   map[string][2]string // method -> {operation, IAM action}
}

// bucketSubs lists the bucket subresources we know, first match wins.
var bucketSubs = []s3Sub{
	{"policy", map[string][2]string{"GET": {"GetBucketPolicy", "s3:GetBucketPolicy"}, "PUT": {"PutBucketPolicy", "s3:PutBucketPolicy"}, "DELETE": {"DeleteBucketPolicy", "s3:DeleteBucketPolicy"}}},
	{"tagging", map[string][2]string{"GET": {"GetBucketTagging", "s3:GetBucketTagging"}, "PUT": {"PutBucketTagging", "s3:PutBucketTagging"}, "DELETE": {"DeleteBucketTagging", "s3:PutBucketTagging"}}},
	{"versioning", map[string][2]string{"GET": {"GetBucketVersioning", "s3:GetBucketVersioning"}, "PUT": {"PutBucketVersioning", "s3:PutBucketVersioning"}}},
	{"versions", map[string][2]string{"GET": {"ListObjectVersions", "s3:ListBucketVersions"}}},
	{"uploads", map[string][2]string{"GET": {"ListMultipartUploads", "s3:ListBucketMultipartUploads"}}},
	{"location", map[string][2]string{"GET": {"GetBucketLocation", "s3:GetBucketLocation"}}},
	{"acl", map[string][2]string{"GET": {"GetBucketAcl", "s3:GetBucketAcl"}, "PUT": {"PutBucketAcl", "s3:PutBucketAcl"}}},
	{"encryption", map[string][2]string{"GET": {"GetBucketEncryption", "s3:GetEncryptionConfiguration"}, "PUT": {"PutBucketEncryption", "s3:PutEncryptionConfiguration"}, "DELETE": {"DeleteBucketEncryption", "s3:PutEncryptionConfiguration"}}},
	{"cors", map[string][2]string{"GET": {"GetBucketCors", "s3:GetBucketCORS"}, "PUT": {"PutBucketCors", "s3:PutBucketCORS"}, "DELETE": {"DeleteBucketCors", "s3:PutBucketCORS"}}},
	{"lifecycle", map[string][2]string{"GET": {"GetBucketLifecycleConfiguration", "s3:GetLifecycleConfiguration"}, "PUT": {"PutBucketLifecycleConfiguration", "s3:PutLifecycleConfiguration"}, "DELETE": {"DeleteBucketLifecycle", "s3:PutLifecycleConfiguration"}}},
	{"notification", map[string][2]string{"GET": {"GetBucketNotificationConfiguration", "s3:GetBucketNotification"}, "PUT": {"PutBucketNotificationConfiguration", "s3:PutBucketNotification"}}},
	{"logging", map[string][2]string{"GET": {"GetBucketLogging", "s3:GetBucketLogging"}, "PUT": {"PutBucketLogging", "s3:PutBucketLogging"}}},
	{"website", map[string][2]string{"GET": {"GetBucketWebsite", "s3:GetBucketWebsite"}, "PUT": {"PutBucketWebsite", "s3:PutBucketWebsite"}, "DELETE": {"DeleteBucketWebsite", "s3:DeleteBucketWebsite"}}},
	{"object-lock", map[string][2]string{"GET": {"GetObjectLockConfiguration", "s3:GetBucketObjectLockConfiguration"}, "PUT": {"PutObjectLockConfiguration", "s3:PutBucketObjectLockConfiguration"}}},
	{"ownershipControls", map[string][2]string{"GET": {"GetBucketOwnershipControls", "s3:GetBucketOwnershipControls"}, "PUT": {"PutBucketOwnershipControls", "s3:PutBucketOwnershipControls"}, "DELETE": {"DeleteBucketOwnershipControls", "s3:PutBucketOwnershipControls"}}},
	{"publicAccessBlock", map[string][2]string{"GET": {"GetPublicAccessBlock", "s3:GetBucketPublicAccessBlock"}, "PUT": {"PutPublicAccessBlock", "s3:PutBucketPublicAccessBlock"}, "DELETE": {"DeletePublicAccessBlock", "s3:PutBucketPublicAccessBlock"}}},
	{"accelerate", map[string][2]string{"GET": {"GetBucketAccelerateConfiguration", "s3:GetAccelerateConfiguration"}, "PUT": {"PutBucketAccelerateConfiguration", "s3:PutAccelerateConfiguration"}}},
	{"replication", map[string][2]string{"GET": {"GetBucketReplication", "s3:GetReplicationConfiguration"}, "PUT": {"PutBucketReplication", "s3:PutReplicationConfiguration"}, "DELETE": {"DeleteBucketReplication", "s3:PutReplicationConfiguration"}}},
	{"requestPayment", map[string][2]string{"GET": {"GetBucketRequestPayment", "s3:GetBucketRequestPayment"}, "PUT": {"PutBucketRequestPayment", "s3:PutBucketRequestPayment"}}},
	{"delete", map[string][2]string{"POST": {"DeleteObjects", "s3:DeleteObject"}}},
}

// objectSubs lists the object subresources we know, first match wins.
var objectSubs = []s3Sub{
	{"acl", map[string][2]string{"GET": {"GetObjectAcl", "s3:GetObjectAcl"}, "PUT": {"PutObjectAcl", "s3:PutObjectAcl"}}},
	{"tagging", map[string][2]string{"GET": {"GetObjectTagging", "s3:GetObjectTagging"}, "PUT": {"PutObjectTagging", "s3:PutObjectTagging"}, "DELETE": {"DeleteObjectTagging", "s3:DeleteObjectTagging"}}},
	{"retention", map[string][2]string{"GET": {"GetObjectRetention", "s3:GetObjectRetention"}, "PUT": {"PutObjectRetention", "s3:PutObjectRetention"}}},
	{"legal-hold", map[string][2]string{"GET": {"GetObjectLegalHold", "s3:GetObjectLegalHold"}, "PUT": {"PutObjectLegalHold", "s3:PutObjectLegalHold"}}},
	{"attributes", map[string][2]string{"GET": {"GetObjectAttributes", "s3:GetObjectAttributes"}}},
	{"uploads", map[string][2]string{"POST": {"CreateMultipartUpload", "s3:PutObject"}}},
	{"select", map[string][2]string{"POST": {"SelectObjectContent", "s3:GetObject"}}},
	{"restore", map[string][2]string{"POST": {"RestoreObject", "s3:RestoreObject"}}},
	{"uploadId", map[string][2]string{"GET": {"ListParts", "s3:ListMultipartUploadParts"}, "PUT": {"UploadPart", "s3:PutObject"}, "POST": {"CompleteMultipartUpload", "s3:PutObject"}, "DELETE": {"AbortMultipartUpload", "s3:AbortMultipartUpload"}}},
}

// parseS3Request maps an S3 request (path style, or virtual-hosted on an *.s3.* host) to its operation.
func parseS3Request(r *http.Request) s3Request {
	bucket, key := s3BucketKey(r)
	q := r.URL.Query()
	m := r.Method
	if m == http.MethodHead && bucket != "" {
		// HEAD answers like GET without a body.
		if key == "" {
			return s3Request{Bucket: bucket, Op: "HeadBucket", Checks: []s3Check{{"s3:ListBucket", bucketARN(bucket)}}}
		}
	}
	req := s3Request{Bucket: bucket, Key: key, Context: map[string][]string{}, Write: m != http.MethodGet && m != http.MethodHead}

	switch {
	case bucket == "":
		req.Op = "ListBuckets"
		if m != http.MethodGet {
			req.Op = "Unknown"
		}
		req.Checks = []s3Check{{"s3:ListAllMyBuckets", "*"}}
	case key == "":
		if sub, ok := matchSub(bucketSubs, q, m); ok {
			req.Op = sub[0]
			req.Checks = []s3Check{{sub[1], bucketARN(bucket)}}
			req.DeleteKeys = req.Op == "DeleteObjects"
			break
		}
		switch m {
		case http.MethodGet:
			req.Op = "ListObjects"
			if q.Get("list-type") == "2" {
				req.Op = "ListObjectsV2"
			}
			req.Checks = []s3Check{{"s3:ListBucket", bucketARN(bucket)}}
			for _, k := range []string{"prefix", "delimiter", "max-keys"} {
				if q.Has(k) {
					req.Context["s3:"+k] = []string{q.Get(k)}
				}
			}
		case http.MethodPut:
			req.Op = "CreateBucket"
			req.Checks = []s3Check{{"s3:CreateBucket", bucketARN(bucket)}}
		case http.MethodDelete:
			req.Op = "DeleteBucket"
			req.Checks = []s3Check{{"s3:DeleteBucket", bucketARN(bucket)}}
		default:
			req.Op = "Unknown"
		}
	default:
		obj := bucketARN(bucket) + "/" + key
		versioned := q.Get("versionId") != ""
		if versioned {
			req.Context["s3:VersionId"] = []string{q.Get("versionId")}
		}
		if sub, ok := matchSub(objectSubs, q, m); ok {
			req.Op = sub[0]
			req.Checks = []s3Check{{sub[1], obj}}
			if req.Op == "UploadPart" && r.Header.Get("X-Amz-Copy-Source") != "" {
				req.Op = "UploadPartCopy"
				req.Checks = append(req.Checks, copySourceCheck(r))
			}
			break
		}
		switch m {
		case http.MethodGet, http.MethodHead:
			req.Op = "GetObject"
			if m == http.MethodHead {
				req.Op = "HeadObject"
			}
			action := "s3:GetObject"
			if versioned {
				action = "s3:GetObjectVersion"
			}
			req.Checks = []s3Check{{action, obj}}
		case http.MethodPut:
			req.Op = "PutObject"
			req.Checks = []s3Check{{"s3:PutObject", obj}}
			if r.Header.Get("X-Amz-Copy-Source") != "" {
				req.Op = "CopyObject"
				req.Checks = append(req.Checks, copySourceCheck(r))
			}
			for _, h := range []string{"x-amz-acl", "x-amz-server-side-encryption", "x-amz-server-side-encryption-aws-kms-key-id", "x-amz-storage-class"} {
				if v := r.Header.Get(h); v != "" {
					req.Context["s3:"+h] = []string{v}
				}
			}
		case http.MethodDelete:
			req.Op = "DeleteObject"
			action := "s3:DeleteObject"
			if versioned {
				action = "s3:DeleteObjectVersion"
			}
			req.Checks = []s3Check{{action, obj}}
		default:
			req.Op = "Unknown"
		}
	}
	return req
}

// matchSub finds the first subresource present in the query with an operation for the method.
func matchSub(subs []s3Sub, q url.Values, method string) ([2]string, bool) {
	for _, s := range subs {
		if q.Has(s.param) {
			if op, ok := s.ops[method]; ok {
				return op, true
			}
		}
	}
	return [2]string{}, false
}

// copySourceCheck is the read a copy needs on its source object ("bucket/key" or "/bucket/key", URL-encoded).
func copySourceCheck(r *http.Request) s3Check {
	src := r.Header.Get("X-Amz-Copy-Source")
	action := "s3:GetObject"
	if i := strings.Index(src, "?"); i >= 0 {
		if strings.Contains(src[i:], "versionId=") {
			action = "s3:GetObjectVersion"
		}
		src = src[:i]
	}
	if u, err := url.PathUnescape(src); err == nil {
		src = u
	}
	return s3Check{action, "arn:aws:s3:::" + strings.TrimPrefix(src, "/")}
}

func bucketARN(bucket string) string { return "arn:aws:s3:::" + bucket }

// s3BucketKey finds bucket and key: virtual-hosted when the host is <bucket>.s3.<...>, else path style.
func s3BucketKey(r *http.Request) (bucket, key string) {
	host := r.Host
	if i := strings.Index(host, ".s3."); i > 0 {
		bucket = host[:i]
		key = strings.TrimPrefix(unescape(r.URL.EscapedPath()), "/")
		return bucket, key
	}
	p := strings.TrimPrefix(r.URL.EscapedPath(), "/")
	if p == "" {
		return "", ""
	}
	b, k, _ := strings.Cut(p, "/")
	return unescape(b), unescape(k)
}

func unescape(s string) string {
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	return s
}
