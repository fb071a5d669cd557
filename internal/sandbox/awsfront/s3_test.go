package awsfront

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// assumeS3 assumes roleARN through the front with a token from is and returns an S3 client for the session.
func assumeS3(t *testing.T, is *issuer, roleARN string) *s3.Client {
	t.Helper()
	return s3Of(sessionConfig(webIdentity(t, is, roleARN)))
}

func TestS3AuthorizesRoleSessions(t *testing.T) {
	integration(t)
	t.Parallel()
	ctx := context.Background()
	admin := newClients(adminConfig(shared.url))
	bucket := strings.ToLower(uniqueName("bkt"))
	if _, err := admin.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket), CreateBucketConfiguration: usWest2}); err != nil {
		t.Fatalf("admin CreateBucket: %v", err)
	}
	for _, k := range []string{"data/a.json", "secret/b.json"} {
		if _, err := admin.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(k), Body: strings.NewReader("{}")}); err != nil {
			t.Fatalf("admin PutObject %s: %v", k, err)
		}
	}

	is := newIssuer(t)
	createProvider(t, admin.iam, is, []string{"sts.amazonaws.com"}, []string{is.CAThumbprint})
	trust := trustPolicy(shared.creds.AccountID, is.Host, "StringEquals", "system:serviceaccount:ns:sa", "sts.amazonaws.com")

	// reader: a managed policy whose first version allows PutObject but whose default (second) version
	// allows only reads under data/.
	reader := uniqueName("reader")
	readerARN := createRole(t, admin.iam, reader, trust)
	pol, err := admin.iam.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String(reader), PolicyDocument: aws.String(
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.iam.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: pol.Policy.Arn, SetAsDefault: true, PolicyDocument: aws.String(`{
		"Version":"2012-10-17",
		"Statement":[
			{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::` + bucket + `/data/*"},
			{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::` + bucket + `","Condition":{"StringLike":{"s3:prefix":"data/*"}}}
		]}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.iam.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String(reader), PolicyArn: pol.Policy.Arn}); err != nil {
		t.Fatal(err)
	}

	// writer: an inline policy that allows writes under uploads/ except uploads/forbidden*, and listing.
	writer := uniqueName("writer")
	writerARN := createRole(t, admin.iam, writer, trust)
	if _, err := admin.iam.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(writer), PolicyName: aws.String("write"), PolicyDocument: aws.String(`{
		"Version":"2012-10-17",
		"Statement":[
			{"Effect":"Allow","Action":["s3:PutObject","s3:ListBucket"],"Resource":["arn:aws:s3:::` + bucket + `/uploads/*","arn:aws:s3:::` + bucket + `"]},
			{"Effect":"Deny","Action":"s3:PutObject","Resource":"arn:aws:s3:::` + bucket + `/uploads/forbidden*"}
		]}`)}); err != nil {
		t.Fatal(err)
	}

	readerS3, writerS3 := assumeS3(t, is, readerARN), assumeS3(t, is, writerARN)
	get := func(c *s3.Client, key string) func() error {
		return func() error {
			out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
			if err == nil {
				out.Body.Close()
			}
			return err
		}
	}
	put := func(c *s3.Client, key string) func() error {
		return func() error {
			_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader("x")})
			return err
		}
	}
	list := func(c *s3.Client, prefix string) func() error {
		return func() error {
			in := &s3.ListObjectsV2Input{Bucket: aws.String(bucket)}
			if prefix != "" {
				in.Prefix = aws.String(prefix)
			}
			_, err := c.ListObjectsV2(ctx, in)
			return err
		}
	}
	head := func(c *s3.Client) func() error {
		return func() error {
			_, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)})
			return err
		}
	}
	cases := []struct {
		name     string
		call     func() error
		allowed  bool
		wantMsg  string // part of the AccessDenied message (not for HEAD, which has no body)
		hasBody  bool
		explicit bool
	}{
		{name: "managed default version allows GetObject under data/", call: get(readerS3, "data/a.json"), allowed: true},
		{name: "managed default version does not allow GetObject under secret/", call: get(readerS3, "secret/b.json"), wantMsg: "s3:GetObject on resource: \"arn:aws:s3:::" + bucket + "/secret/b.json\"", hasBody: true},
		{name: "non-default version's PutObject is not granted", call: put(readerS3, "data/new.json"), wantMsg: "is not authorized to perform: s3:PutObject", hasBody: true},
		{name: "ListObjectsV2 with an allowed s3:prefix", call: list(readerS3, "data/"), allowed: true},
		{name: "ListObjectsV2 with another s3:prefix", call: list(readerS3, "secret/"), wantMsg: "s3:ListBucket", hasBody: true},
		{name: "HeadBucket needs s3:ListBucket without a prefix", call: head(readerS3)},
		{name: "inline policy allows PutObject under uploads/", call: put(writerS3, "uploads/x.json"), allowed: true},
		{name: "inline policy does not allow PutObject elsewhere", call: put(writerS3, "data/x.json"), wantMsg: "because no identity-based policy allows the s3:PutObject action", hasBody: true},
		{name: "inline explicit deny wins", call: put(writerS3, "uploads/forbidden.json"), wantMsg: "with an explicit deny", hasBody: true, explicit: true},
		{name: "inline policy allows HeadBucket", call: head(writerS3), allowed: true},
		{name: "inline policy does not allow GetObject", call: get(writerS3, "data/a.json"), wantMsg: "s3:GetObject", hasBody: true},
		{name: "admin keys pass as before", call: get(admin.s3, "secret/b.json"), allowed: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if tc.allowed {
				if err != nil {
					t.Fatalf("want allowed, got %v", err)
				}
				return
			}
			code, msg, status := apiError(t, err)
			if status != 403 {
				t.Fatalf("got HTTP %d %s %q; want 403 AccessDenied", status, code, msg)
			}
			if tc.hasBody && (code != "AccessDenied" || !strings.Contains(msg, tc.wantMsg)) {
				t.Fatalf("got %s %q; want AccessDenied containing %q", code, msg, tc.wantMsg)
			}
		})
	}
}
