package bind

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// roleExtras writes what an existing role gets besides its trust: tags (added, or removed), a permissions
// boundary, settings.
func (a *applier) roleExtras(ctx context.Context, op writeTrust) error {
	if err := a.tagRole(ctx, op.Role, op.Tags); err != nil {
		return err
	}
	if len(op.Untag) > 0 {
		if _, err := a.aws.IAM.UntagRole(ctx, &iam.UntagRoleInput{RoleName: aws.String(op.Role), TagKeys: op.Untag}); err != nil {
			return err
		}
	}
	if op.Boundary != "" {
		_, err := a.aws.IAM.PutRolePermissionsBoundary(ctx, &iam.PutRolePermissionsBoundaryInput{
			RoleName: aws.String(op.Role), PermissionsBoundary: aws.String(op.Boundary)})
		if err != nil {
			return err
		}
	}
	if s := op.Settings; s != nil {
		// Both values, always: an UpdateRole that leaves one out may reset it (to no description, to 1 h).
		_, err := a.aws.IAM.UpdateRole(ctx, &iam.UpdateRoleInput{RoleName: aws.String(op.Role),
			Description: aws.String(s.Description), MaxSessionDuration: aws.Int32(s.MaxSessionDuration)})
		if err != nil {
			return err
		}
	}
	return nil
}

func (op tagPolicy) apply(ctx context.Context, a *applier) error {
	if len(op.Tags) == 0 {
		return nil
	}
	_, err := a.aws.IAM.TagPolicy(ctx, &iam.TagPolicyInput{PolicyArn: aws.String(op.ARN), Tags: iamTags(op.Tags)})
	return err
}

func (op tagProvider) apply(ctx context.Context, a *applier) error {
	_, err := a.aws.IAM.TagOpenIDConnectProvider(ctx, &iam.TagOpenIDConnectProviderInput{
		OpenIDConnectProviderArn: aws.String(op.ARN), Tags: iamTags(op.Tags)})
	return err
}

func (op providerWrites) apply(ctx context.Context, a *applier) error {
	if op.ClientID != nil {
		if err := op.ClientID.apply(ctx, a); err != nil {
			return err
		}
	}
	if op.Tags != nil {
		return op.Tags.apply(ctx, a)
	}
	return nil
}

func (op inTarget) apply(ctx context.Context, a *applier) error {
	if a.target == nil {
		return errNoTargetCredentials
	}
	return op.Op.apply(ctx, a.target)
}

// errNoTargetCredentials is a plan that writes in the target account, applied without its credentials.
var errNoTargetCredentials = errors.New("internal: a change in the target account, and no --target-profile credentials to make it with")
