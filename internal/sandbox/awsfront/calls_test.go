package awsfront

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

func TestCallCounts(t *testing.T) {
	integration(t)
	t.Parallel()
	ctx := context.Background()
	f, url := newFront(t, Config{EKS: shared.eks})
	c := newClients(adminConfig(url))
	role := uniqueName("counted")
	bucket := strings.ToLower(uniqueName("counted"))
	steps := []func() error{
		func() error { _, err := c.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); return err },
		func() error {
			_, err := c.iam.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(role), AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[]}`)})
			return err
		},
		func() error { _, err := c.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(role)}); return err },
		func() error { _, err := c.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(role)}); return err },
		func() error {
			_, err := c.eks.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String("sandbox")})
			return err
		},
		func() error {
			_, err := c.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket), CreateBucketConfiguration: usWest2})
			return err
		},
		func() error {
			_, err := c.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("a/b"), Body: strings.NewReader("x")})
			return err
		},
		func() error {
			_, err := c.s3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)})
			return err
		},
		func() error {
			_, err := c.s3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
			return err
		},
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	want := CallCounts{Total: 9, Reads: 6, Writes: 3, ByAction: map[string]int{
		"sts:GetCallerIdentity": 1, "iam:CreateRole": 1, "iam:GetRole": 2, "eks:DescribeCluster": 1,
		"s3:CreateBucket": 1, "s3:PutObject": 1, "s3:HeadBucket": 1, "s3:ListObjectsV2": 1,
	}}
	// The admin endpoint reports the same and is itself not counted.
	for i := 0; i < 2; i++ {
		resp, err := http.Get(url + "/__sandbox/calls")
		if err != nil {
			t.Fatal(err)
		}
		var got CallCounts
		err = json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if got.Total != want.Total || got.Reads != want.Reads || got.Writes != want.Writes || !maps.Equal(got.ByAction, want.ByAction) {
			t.Fatalf("GET /__sandbox/calls = %+v; want %+v", got, want)
		}
	}

	resp, err := http.Post(url+"/__sandbox/calls/reset", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /__sandbox/calls/reset: HTTP %d", resp.StatusCode)
	}
	if got := f.Calls(); got.Total != 0 || got.Reads != 0 || got.Writes != 0 || len(got.ByAction) != 0 {
		t.Fatalf("after reset Calls() = %+v; want zeros", got)
	}
	resp, err = http.Get(url + "/__sandbox/calls")
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, resp)
	resp.Body.Close()
	if !strings.Contains(body, `"by_action":{}`) || !strings.Contains(body, `"total":0`) {
		t.Fatalf("after reset GET /__sandbox/calls = %s; want zero counts and an empty by_action object", body)
	}
}
