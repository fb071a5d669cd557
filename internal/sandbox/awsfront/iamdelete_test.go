package awsfront

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

const (
	deleteTestPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}`
	deleteTestTrust  = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
)

// DeletePolicy is refused as IAM refuses it: while the policy is attached, and while it has versions other
// than its default one; in the right order it succeeds. Through the Go SDK.
func TestDeletePolicyConflicts(t *testing.T) {
	integration(t)
	t.Parallel()
	ctx := context.Background()
	c := newClients(adminConfig(shared.url)).iam
	name := uniqueName("del-pol")
	pol, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String(name), PolicyDocument: aws.String(deleteTestPolicy)})
	if err != nil {
		t.Fatal(err)
	}
	arn := pol.Policy.Arn
	if _, err := c.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: arn, PolicyDocument: aws.String(deleteTestPolicy), SetAsDefault: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(deleteTestTrust)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String(name), PolicyArn: arn}); err != nil {
		t.Fatal(err)
	}

	_, err = c.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: arn})
	if code, msg, status := apiError(t, err); code != "DeleteConflict" || status != http.StatusConflict || msg != "Cannot delete a policy attached to entities." {
		t.Errorf("attached: %s %q (%d)", code, msg, status)
	}
	if _, err := c.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: aws.String(name), PolicyArn: arn}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: arn})
	if code, msg, status := apiError(t, err); code != "DeleteConflict" || status != http.StatusConflict || !strings.HasPrefix(msg, "This policy has more than one version.") {
		t.Errorf("two versions: %s %q (%d)", code, msg, status)
	}
	if _, err := c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: arn}); err != nil {
		t.Fatalf("a refused delete deleted the policy: %v", err)
	}
	if _, err := c.DeletePolicyVersion(ctx, &iam.DeletePolicyVersionInput{PolicyArn: arn, VersionId: aws.String("v1")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: arn}); err != nil {
		t.Fatalf("detached, default version only: %v", err)
	}
	_, err = c.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: arn})
	if code, _, status := apiError(t, err); code != "NoSuchEntity" || status != http.StatusNotFound {
		t.Errorf("deleted twice: %s (%d)", code, status)
	}
}

// The same through the aws CLI.
func TestDeletePolicyConflictsAWSCLI(t *testing.T) {
	integration(t)
	t.Parallel()
	cli := newAWSCLI(t, shared.url)
	name := uniqueName("cli-del-pol")
	arn := field(cli.ok(t, "iam", "create-policy", "--policy-name", name, "--policy-document", deleteTestPolicy), "Policy", "Arn")
	cli.ok(t, "iam", "create-role", "--role-name", name, "--assume-role-policy-document", deleteTestTrust)
	cli.ok(t, "iam", "attach-role-policy", "--role-name", name, "--policy-arn", arn)
	if _, errOut, code := cli.run(t, "iam", "delete-policy", "--policy-arn", arn); code == 0 ||
		!strings.Contains(errOut, "(DeleteConflict)") || !strings.Contains(errOut, "Cannot delete a policy attached to entities.") {
		t.Errorf("attached: exit %d, %s", code, errOut)
	}
	cli.ok(t, "iam", "detach-role-policy", "--role-name", name, "--policy-arn", arn)
	cli.ok(t, "iam", "delete-policy", "--policy-arn", arn)
}
