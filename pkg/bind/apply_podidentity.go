package bind

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"

	sdcaws "github.com/kubectl-sdc/kubectl-sdc/pkg/aws"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/eksread"
)

func (op createAssociation) apply(ctx context.Context, a *applier) error {
	if a.eks == nil {
		return fmt.Errorf("internal: no EKS client for cluster %s", op.Cluster)
	}
	var token [16]byte
	_, _ = rand.Read(token[:])
	err := sdcaws.RetryEventual(ctx, func(ctx context.Context) error {
		_, err := a.eks.CreatePodIdentityAssociation(ctx, &eks.CreatePodIdentityAssociationInput{
			ClusterName: aws.String(op.Cluster), Namespace: aws.String(op.Namespace), ServiceAccount: aws.String(op.ServiceAccount),
			RoleArn: aws.String(op.RoleARN), Tags: op.Tags, ClientRequestToken: aws.String(hex.EncodeToString(token[:])),
		})
		return err
	}, roleNotSeenYet)
	if sdcaws.ErrorCode(err) != "ResourceInUseException" {
		return err
	}
	existing, ferr := eksread.Find(ctx, a.eks, op.Cluster, op.Namespace, op.ServiceAccount)
	switch {
	case ferr != nil:
		return ferr
	case existing == nil:
		return err
	case existing.RoleARN == op.RoleARN:
		return nil
	}
	return updateAssociation{Cluster: op.Cluster, ID: existing.ID, RoleARN: op.RoleARN}.apply(ctx, a)
}

// roleNotSeenYet is EKS refusing a role IAM has not shown it yet: missing, or its trust not yet naming the
// Pod Identity service principal.
func roleNotSeenYet(err error) bool {
	if sdcaws.ErrorCode(err) != "InvalidParameterException" {
		return false
	}
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "does not exist") || strings.Contains(msg, "trust policy")
}

func (op updateAssociation) apply(ctx context.Context, a *applier) error {
	if a.eks == nil {
		return fmt.Errorf("internal: no EKS client for cluster %s", op.Cluster)
	}
	return sdcaws.RetryEventual(ctx, func(ctx context.Context) error {
		_, err := a.eks.UpdatePodIdentityAssociation(ctx, &eks.UpdatePodIdentityAssociationInput{
			ClusterName: aws.String(op.Cluster), AssociationId: aws.String(op.ID), RoleArn: aws.String(op.RoleARN),
		})
		return err
	}, roleNotSeenYet)
}

func (op deleteAssociation) apply(ctx context.Context, a *applier) error {
	if a.eks == nil {
		return fmt.Errorf("internal: no EKS client for cluster %s", op.Cluster)
	}
	_, err := a.eks.DeletePodIdentityAssociation(ctx, &eks.DeletePodIdentityAssociationInput{ClusterName: aws.String(op.Cluster), AssociationId: aws.String(op.ID)})
	if sdcaws.IsNotFound(err) {
		return nil
	}
	return err
}
