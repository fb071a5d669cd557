package aws

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

func queryError(status int, code, msg string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(status)
		fmt.Fprintf(w, `<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>r</RequestId></ErrorResponse>`, code, msg)
	}
}

func jsonError(status int, typ, msg string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		if typ != "" {
			w.Header().Set("X-Amzn-Errortype", typ)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"message":%q}`, msg)
	}
}

func s3Error(status int, code string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(status)
		if code != "" {
			fmt.Fprintf(w, `<Error><Code>%s</Code><Message>m</Message></Error>`, code)
		}
	}
}

// TestErrorClassification drives the real SDK against answers shaped as AWS shapes them, so the test checks
// what the SDK's deserializers actually hand back, not errors built by hand.
func TestErrorClassification(t *testing.T) {
	t.Parallel()
	type call func(ctx context.Context, c *Clients) error
	getRole := func(ctx context.Context, c *Clients) error {
		_, err := c.IAM.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("r")})
		return err
	}
	createRole := func(ctx context.Context, c *Clients) error {
		_, err := c.IAM.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("r"), AssumeRolePolicyDocument: aws.String("{}")})
		return err
	}
	describe := func(ctx context.Context, c *Clients) error {
		_, err := c.EKS.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String("c")})
		return err
	}
	headBucket := func(ctx context.Context, c *Clients) error {
		_, err := c.S3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("b")})
		return err
	}
	getObject := func(ctx context.Context, c *Clients) error {
		_, err := c.S3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("b"), Key: aws.String("k")})
		return err
	}
	cases := []struct {
		name                       string
		answer                     func(http.ResponseWriter)
		call                       call
		notFound, exists, eventual bool
		code                       string
	}{
		{"iam NoSuchEntity", queryError(404, "NoSuchEntity", "The role with name r cannot be found."), getRole, true, false, true, "NoSuchEntity"},
		{"iam EntityAlreadyExists", queryError(409, "EntityAlreadyExists", "Role with name r already exists."), createRole, false, true, false, "EntityAlreadyExists"},
		{"iam invalid principal", queryError(400, "MalformedPolicyDocument", "Invalid principal in policy: \"Federated\":\"arn:aws:iam::1:oidc-provider/x\""), createRole, false, false, true, "MalformedPolicyDocument"},
		{"iam syntax error", queryError(400, "MalformedPolicyDocument", "Syntax errors in policy."), createRole, false, false, false, "MalformedPolicyDocument"},
		{"iam AccessDenied", queryError(403, "AccessDenied", "User is not authorized to perform: iam:GetRole"), getRole, false, false, false, "AccessDenied"},
		{"eks ResourceNotFound", jsonError(404, "ResourceNotFoundException", "No cluster found for name: c."), describe, true, false, false, "ResourceNotFoundException"},
		{"eks AccessDenied", jsonError(403, "AccessDeniedException", "denied"), describe, false, false, false, "AccessDeniedException"},
		{"s3 HeadBucket 404", s3Error(404, ""), headBucket, true, false, false, "NotFound"},
		{"s3 NoSuchKey", s3Error(404, "NoSuchKey"), getObject, true, false, false, "NoSuchKey"},
		{"s3 NoSuchBucket", s3Error(404, "NoSuchBucket"), getObject, true, false, false, "NoSuchBucket"},
		{"s3 AccessDenied", s3Error(403, "AccessDenied"), getObject, false, false, false, "AccessDenied"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := newAWSServer(t, func(w http.ResponseWriter, _ recorded, _ int) { tc.answer(w) })
			c, err := Load(context.Background(), Options{Region: "us-west-2"}, staticAt(srv.URL)...)
			if err != nil {
				t.Fatal(err)
			}
			err = tc.call(context.Background(), c)
			if err == nil {
				t.Fatal("call succeeded, want an error")
			}
			if got := IsNotFound(err); got != tc.notFound {
				t.Errorf("IsNotFound = %v, want %v (err %v)", got, tc.notFound, err)
			}
			if got := IsAlreadyExists(err); got != tc.exists {
				t.Errorf("IsAlreadyExists = %v, want %v", got, tc.exists)
			}
			if got := IsEventuallyConsistent(err); got != tc.eventual {
				t.Errorf("IsEventuallyConsistent = %v, want %v", got, tc.eventual)
			}
			if got := ErrorCode(err); got != tc.code {
				t.Errorf("ErrorCode = %q, want %q", got, tc.code)
			}
		})
	}
	plain := errors.New("dial tcp: connection refused")
	if IsNotFound(plain) || IsAlreadyExists(plain) || IsEventuallyConsistent(plain) || ErrorCode(plain) != "" {
		t.Error("a non-AWS error was classified as an AWS one")
	}
}

// TestThrottlingRetried checks the SDK retryer is set up to ride out each service's throttling code.
func TestThrottlingRetried(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		throttle func(http.ResponseWriter)
		ok       func(http.ResponseWriter)
		call     func(ctx context.Context, c *Clients) error
	}{
		{"sts Throttling", queryError(400, "Throttling", "Rate exceeded"),
			func(w http.ResponseWriter) { _, _ = io.WriteString(w, callerIdentityXML) },
			func(ctx context.Context, c *Clients) error { _, err := c.Identity(ctx); return err }},
		{"iam Throttling", queryError(400, "Throttling", "Rate exceeded"),
			func(w http.ResponseWriter) {
				_, _ = io.WriteString(w, `<ListRolesResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><ListRolesResult><IsTruncated>false</IsTruncated><Roles/></ListRolesResult></ListRolesResponse>`)
			},
			func(ctx context.Context, c *Clients) error {
				_, err := c.IAM.ListRoles(ctx, &iam.ListRolesInput{})
				return err
			}},
		{"eks ThrottlingException", jsonError(429, "ThrottlingException", "Rate exceeded"),
			func(w http.ResponseWriter) { _, _ = io.WriteString(w, `{"clusters":[]}`) },
			func(ctx context.Context, c *Clients) error {
				_, err := c.EKS.ListClusters(ctx, &eks.ListClustersInput{})
				return err
			}},
		{"s3 SlowDown", s3Error(503, "SlowDown"),
			func(w http.ResponseWriter) {
				_, _ = io.WriteString(w, `<ListBucketResult><Name>b</Name><IsTruncated>false</IsTruncated></ListBucketResult>`)
			},
			func(ctx context.Context, c *Clients) error {
				_, err := c.S3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("b")})
				return err
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := newAWSServer(t, func(w http.ResponseWriter, _ recorded, n int) {
				if n == 1 {
					tc.throttle(w)
					return
				}
				tc.ok(w)
			})
			c, err := Load(context.Background(), Options{Region: "us-west-2"}, staticAt(srv.URL)...)
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.call(context.Background(), c); err != nil {
				t.Fatalf("call failed after one throttled answer: %v", err)
			}
			if n := len(srv.requests()); n != 2 {
				t.Errorf("server saw %d requests, want 2 (throttled, then retried)", n)
			}
		})
	}
}

func TestBackoffRetry(t *testing.T) {
	t.Parallel()
	quick := Backoff{Initial: time.Millisecond, Max: 4 * time.Millisecond, Budget: time.Hour}
	transient := errors.New("transient")
	permanent := errors.New("permanent")
	isTransient := func(err error) bool { return errors.Is(err, transient) }

	t.Run("succeeds after transient failures", func(t *testing.T) {
		t.Parallel()
		calls := 0
		err := quick.Retry(context.Background(), func(context.Context) error {
			calls++
			if calls < 4 {
				return transient
			}
			return nil
		}, isTransient)
		if err != nil || calls != 4 {
			t.Errorf("err %v after %d calls, want nil after 4", err, calls)
		}
	})
	t.Run("stops at a permanent error", func(t *testing.T) {
		t.Parallel()
		calls := 0
		err := quick.Retry(context.Background(), func(context.Context) error { calls++; return permanent }, isTransient)
		if !errors.Is(err, permanent) || calls != 1 {
			t.Errorf("err %v after %d calls, want permanent after 1", err, calls)
		}
	})
	t.Run("budget spent", func(t *testing.T) {
		t.Parallel()
		short := Backoff{Initial: 2 * time.Millisecond, Max: 2 * time.Millisecond, Budget: 10 * time.Millisecond}
		calls := 0
		err := short.Retry(context.Background(), func(context.Context) error { calls++; return transient }, isTransient)
		if !errors.Is(err, transient) || !strings.Contains(err.Error(), "still failing after") || calls < 2 {
			t.Errorf("err %v after %d calls, want the wrapped transient error after several", err, calls)
		}
	})
	t.Run("context cancelled", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		slow := Backoff{Initial: time.Hour, Max: time.Hour, Budget: 10 * time.Hour}
		calls := 0
		err := slow.Retry(ctx, func(context.Context) error {
			calls++
			cancel() // the wait that follows must end with the context, not after an hour
			return transient
		}, isTransient)
		if !errors.Is(err, transient) || calls != 1 {
			t.Errorf("err %v after %d calls, want transient after 1", err, calls)
		}
	})
	t.Run("default schedule is bounded near 20s", func(t *testing.T) {
		t.Parallel()
		if EventualConsistency.Budget > 30*time.Second || EventualConsistency.Budget < 10*time.Second {
			t.Errorf("EventualConsistency.Budget = %s, want about 20s", EventualConsistency.Budget)
		}
	})
}
