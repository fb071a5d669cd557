package iamread_test

import (
	"context"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox/awsfront"
	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox/awsfront/awsfronttest"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iamread"
)

// iamClient is an IAM client of moto behind the sandbox's AWS front (IAM returns documents URL-encoded
// there too, which is what the readers must undo).
func iamClient(t *testing.T) *iam.Client {
	t.Helper()
	_, url, creds := awsfronttest.Front(t, awsfronttest.Moto(t), awsfront.Faults{})
	return iam.NewFromConfig(aws.Config{
		Region:       "us-west-2",
		Credentials:  credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, ""),
		BaseEndpoint: aws.String(url),
	})
}

func TestReaders(t *testing.T) {
	c := iamClient(t)
	ctx := context.Background()
	const trust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	const doc = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}`
	const inlineDoc = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sqs:ListQueues","Resource":"*"}]}`

	for _, absent := range []func() (bool, error){
		func() (bool, error) {
			p, err := iamread.ReadProvider(ctx, c, "arn:aws:iam::123456789012:oidc-provider/example.com")
			return p == nil, err
		},
		func() (bool, error) {
			r, err := iamread.ReadRole(ctx, c, "nope", iamread.RoleOptions{Inline: true})
			return r == nil, err
		},
		func() (bool, error) {
			p, err := iamread.ReadPolicy(ctx, c, "arn:aws:iam::123456789012:policy/nope")
			return p == nil, err
		},
	} {
		if isNil, err := absent(); !isNil || err != nil {
			t.Errorf("a missing entity: got non-nil=%v, err %v; want nil, nil", !isNil, err)
		}
	}

	pol, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("p"), PolicyDocument: aws.String(doc),
		Tags: []iamtypes.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("r"), AssumeRolePolicyDocument: aws.String(trust),
		Tags: []iamtypes.Tag{{Key: aws.String("team"), Value: aws.String("data")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("r"), PolicyArn: pol.Policy.Arn}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("r"), PolicyName: aws.String("in"), PolicyDocument: aws.String(inlineDoc)}); err != nil {
		t.Fatal(err)
	}

	want := func(s string) *iampolicy.Policy {
		p, err := iampolicy.Parse([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	r, err := iamread.ReadRole(ctx, c, "r", iamread.RoleOptions{Inline: true, Concurrent: true})
	if err != nil || r == nil {
		t.Fatalf("ReadRole: %v, %v", r, err)
	}
	if r.TrustErr != nil || !r.Trust.Equal(want(trust)) || r.Tags["team"] != "data" ||
		!slices.Equal(r.Attached, []string{aws.ToString(pol.Policy.Arn)}) || !slices.Equal(r.InlineNames, []string{"in"}) || !r.Inline["in"].Equal(want(inlineDoc)) {
		t.Errorf("ReadRole = %+v", r)
	}
	if r, _ := iamread.ReadRole(ctx, c, "r", iamread.RoleOptions{}); r.Inline != nil || r.InlineNames != nil {
		t.Error("inline policies read although not asked for")
	}
	if r, _ := iamread.ReadRole(ctx, c, "r", iamread.RoleOptions{InlineNames: true}); r.Inline != nil || !slices.Equal(r.InlineNames, []string{"in"}) {
		t.Errorf("InlineNames: names %v, documents %v; want the names only", r.InlineNames, r.Inline)
	}
	p, err := iamread.ReadPolicy(ctx, c, aws.ToString(pol.Policy.Arn))
	if err != nil || p == nil || p.DefaultVersion != "v1" || !p.Document.Equal(want(doc)) || p.Tags["k"] != "v" || p.AttachmentCount != 1 {
		t.Errorf("ReadPolicy = %+v, %v", p, err)
	}
	trusts, err := iamread.ReadTrusts(ctx, c)
	if err != nil || trusts["r"] == nil || !trusts["r"].Equal(want(trust)) {
		t.Errorf("ReadTrusts = %v, %v", trusts, err)
	}

	// The batch read sees the same role and policy as the per-entity reads.
	acct, err := iamread.ReadAccount(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	br, bp := acct.Roles["r"], acct.Policies[aws.ToString(pol.Policy.Arn)]
	if br == nil || bp == nil {
		t.Fatalf("ReadAccount: role %v, policy %v", br, bp)
	}
	if br.ARN != r.ARN || !br.Trust.Equal(r.Trust) || br.Tags["team"] != "data" || !slices.Equal(br.Attached, r.Attached) ||
		!slices.Equal(br.InlineNames, r.InlineNames) || !br.Inline["in"].Equal(r.Inline["in"]) {
		t.Errorf("ReadAccount role = %+v, ReadRole = %+v", br, r)
	}
	if bp.DefaultVersion != p.DefaultVersion || !bp.Document.Equal(p.Document) {
		t.Errorf("ReadAccount policy = %+v, ReadPolicy = %+v", bp, p)
	}
}

// A role's permissions boundary, path, description and maximum session duration are read by ReadRole, and
// the boundary by the batch read too (doctor judges permissions with it either way).
func TestReadersCarryTheBoundary(t *testing.T) {
	c := iamClient(t)
	ctx := context.Background()
	const trust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	const doc = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}`
	b, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("boundary"), Path: aws.String("/guard/"), PolicyDocument: aws.String(doc)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("bounded"), Path: aws.String("/sdc/"),
		AssumeRolePolicyDocument: aws.String(trust), PermissionsBoundary: b.Policy.Arn, Description: aws.String("d"),
		MaxSessionDuration: aws.Int32(7200)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("free"), AssumeRolePolicyDocument: aws.String(trust)}); err != nil {
		t.Fatal(err)
	}
	r, err := iamread.ReadRole(ctx, c, "bounded", iamread.RoleOptions{})
	if err != nil || r == nil {
		t.Fatalf("ReadRole: %v, %v", r, err)
	}
	if r.ARN != "arn:aws:iam::123456789012:role/sdc/bounded" || r.BoundaryARN != aws.ToString(b.Policy.Arn) || r.Description != "d" || r.MaxSessionDuration != 7200 {
		t.Errorf("ReadRole = %+v", r)
	}
	if free, _ := iamread.ReadRole(ctx, c, "free", iamread.RoleOptions{}); free == nil || free.BoundaryARN != "" {
		t.Errorf("a role without a boundary: %+v", free)
	}
	acct, err := iamread.ReadAccount(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if br := acct.Roles["bounded"]; br == nil || br.BoundaryARN != r.BoundaryARN || br.ARN != r.ARN {
		t.Errorf("ReadAccount role = %+v, want the boundary %s", br, r.BoundaryARN)
	}
	if acct.Roles["free"] == nil || acct.Roles["free"].BoundaryARN != "" {
		t.Errorf("ReadAccount role free = %+v", acct.Roles["free"])
	}
	if bp := acct.Policies[aws.ToString(b.Policy.Arn)]; bp == nil || bp.Document == nil {
		t.Errorf("ReadAccount has no document for the boundary %s: %+v", aws.ToString(b.Policy.Arn), bp)
	}
}
