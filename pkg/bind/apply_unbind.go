package bind

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	sdcaws "github.com/kubectl-sdc/kubectl-sdc/pkg/aws"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/grant"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
)

// unbind's operations. Each treats "already gone" as done, so that a run cut short and run again converges.

// guardAfter is how old the plan's read of a trust must be for the guard to read it again.
const guardAfter = 5 * time.Second

// check returns gone when the role no longer exists.
func (g *trustGuard) check(ctx context.Context, a *applier) (gone bool, err error) {
	if a.b.now().Sub(g.Read) < guardAfter {
		return false, nil
	}
	current, err := a.readTrust(ctx, g.Role)
	if err != nil || current == nil {
		return current == nil && err == nil, err
	}
	if revoked, _ := g.Edit.Apply(current); iampolicy.TrustsAnyone(revoked) {
		return false, fmt.Errorf("IAM role %s still trusts someone once unbind's edit (%s) is made (%s): it was bound again since unbind made its plan, so unbind leaves it; run unbind again to see the new plan",
			g.Role, g.Edit, listOrNone(g.Edit.Subjects(revoked)))
	}
	return false, nil
}

func (op detachPolicy) apply(ctx context.Context, a *applier) error {
	if op.Guard != nil {
		if gone, err := op.Guard.check(ctx, a); gone || err != nil {
			return err
		}
	}
	_, err := a.aws.IAM.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: aws.String(op.Role), PolicyArn: aws.String(op.PolicyARN)})
	if sdcaws.IsNotFound(err) {
		return nil // detached already, or the role or policy is gone
	}
	return err
}

func (op deleteRole) apply(ctx context.Context, a *applier) error {
	if op.Guard != nil {
		if gone, err := op.Guard.check(ctx, a); gone || err != nil {
			return err
		}
	}
	_, err := a.aws.IAM.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String(op.Name)})
	switch {
	case sdcaws.IsNotFound(err):
		return nil
	case sdcaws.ErrorCode(err) == "DeleteConflict":
		return fmt.Errorf("IAM role %s cannot be deleted yet (a policy was attached to it, or an inline policy put, since unbind made its plan): %w; run unbind again to see the new plan", op.Name, err)
	}
	return err
}

func (op removeGrant) apply(ctx context.Context, a *applier) error {
	gone := func(context.Context, bool) error { return nil } // nothing left to remove from
	err := a.editPolicy(ctx, op.ARN, gone, func(current *iampolicy.Policy) (*iampolicy.Policy, bool) {
		return grant.Remove(current, op.Binding)
	})
	if err != nil {
		return fmt.Errorf("removing this binding's statements from IAM policy %s (if no other binding is left in it, run unbind again: it then deletes the policy): %w", op.ARN, err)
	}
	return nil
}

func (op deletePolicy) apply(ctx context.Context, a *applier) error {
	if op.OnlyVersion {
		_, err := a.aws.IAM.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: aws.String(op.ARN)})
		if sdcaws.ErrorCode(err) != "DeleteConflict" {
			if sdcaws.IsNotFound(err) {
				return nil
			}
			return err
		}
	}
	versions, err := a.aws.IAM.ListPolicyVersions(ctx, &iam.ListPolicyVersionsInput{PolicyArn: aws.String(op.ARN)})
	if sdcaws.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, v := range versions.Versions {
		if v.IsDefaultVersion {
			continue
		}
		_, err := a.aws.IAM.DeletePolicyVersion(ctx, &iam.DeletePolicyVersionInput{PolicyArn: aws.String(op.ARN), VersionId: v.VersionId})
		if err != nil && !sdcaws.IsNotFound(err) {
			return fmt.Errorf("deleting version %s of IAM policy %s: %w", aws.ToString(v.VersionId), op.ARN, err)
		}
	}
	_, err = a.aws.IAM.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: aws.String(op.ARN)})
	switch {
	case sdcaws.IsNotFound(err):
		return nil
	case sdcaws.ErrorCode(err) == "DeleteConflict":
		return fmt.Errorf("IAM policy %s cannot be deleted yet (attached, or given a new version, since unbind made its plan): %w; run unbind again to see the new plan", op.ARN, err)
	}
	return err
}

func (op deleteProvider) apply(ctx context.Context, a *applier) error {
	_, err := a.aws.IAM.DeleteOpenIDConnectProvider(ctx, &iam.DeleteOpenIDConnectProviderInput{OpenIDConnectProviderArn: aws.String(op.ARN)})
	if sdcaws.IsNotFound(err) {
		return nil
	}
	return err
}

func (op deleteServiceAccount) apply(ctx context.Context, a *applier) error {
	uid := types.UID(op.UID)
	err := a.b.Core.ServiceAccounts(op.Namespace).Delete(ctx, op.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
