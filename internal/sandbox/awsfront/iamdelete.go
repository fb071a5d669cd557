package awsfront

import (
	"context"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// moto 5.2.1 deletes a managed policy that is still attached (leaving roles attached to a policy that no
// longer exists) or that still has versions besides its default one. IAM refuses both with DeleteConflict
// (HTTP 409), and kubectl sdc unbind depends on that order (detach, delete the non-default versions, then
// the policy), so the front refuses them as IAM does before moto sees the call.

// deletePolicyConflict answers IAM's DeleteConflict when the policy DeletePolicy names is attached or has
// non-default versions; ok is false when the call may go on to moto (which answers NoSuchEntity itself).
func (f *Front) deletePolicyConflict(ctx context.Context, c *call) (awsError, bool) {
	arn := c.Params.Get("PolicyArn")
	if arn == "" {
		return awsError{}, false
	}
	client := f.iamIn(f.callerAccount(c))
	p, err := client.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(arn)})
	if err != nil {
		return awsError{}, false // no such policy (moto says so), or moto will fail the delete the same way
	}
	if aws.ToInt32(p.Policy.AttachmentCount) > 0 {
		return deleteConflict("Cannot delete a policy attached to entities."), true
	}
	versions, err := client.ListPolicyVersions(ctx, &iam.ListPolicyVersionsInput{PolicyArn: aws.String(arn)})
	if err == nil && len(versions.Versions) > 1 {
		return deleteConflict("This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy."), true
	}
	return awsError{}, false
}

func deleteConflict(msg string) awsError {
	return awsError{Status: http.StatusConflict, Code: "DeleteConflict", Message: msg, Sender: true}
}
