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
		in := &eks.CreatePodIdentityAssociationInput{
			ClusterName: aws.String(op.Cluster), Namespace: aws.String(op.Namespace), ServiceAccount: aws.String(op.ServiceAccount),
			RoleArn: aws.String(op.RoleARN), Tags: op.Tags, ClientRequestToken: aws.String(hex.EncodeToString(token[:])),
		}
		if c := op.Chain; c.TargetRoleARN != "" || c.DisableSessionTags || c.Policy != "" {
			in.DisableSessionTags = aws.Bool(c.DisableSessionTags)
			if c.TargetRoleARN != "" {
				in.TargetRoleArn = aws.String(c.TargetRoleARN)
			}
			if c.Policy != "" {
				in.Policy = aws.String(c.Policy)
			}
		}
		out, err := a.eks.CreatePodIdentityAssociation(ctx, in)
		if err == nil && out.Association != nil {
			a.chain.set(aws.ToString(out.Association.ExternalId))
		}
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
	case existing.RoleARN == op.RoleARN && existing.TargetRoleARN == op.Chain.TargetRoleARN &&
		existing.DisableSessionTags == op.Chain.DisableSessionTags && existing.Policy == op.Chain.Policy:
		a.chain.set(existing.ExternalID)
		return nil
	}
	from := associationChain{TargetRoleARN: existing.TargetRoleARN, DisableSessionTags: existing.DisableSessionTags, Policy: existing.Policy}
	return updateAssociation{Cluster: op.Cluster, ID: existing.ID, RoleARN: op.RoleARN, Chain: op.Chain, From: from}.apply(ctx, a)
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
		in := &eks.UpdatePodIdentityAssociationInput{ClusterName: aws.String(op.Cluster), AssociationId: aws.String(op.ID), RoleArn: aws.String(op.RoleARN)}
		if op.Chain.TargetRoleARN != op.From.TargetRoleARN {
			in.TargetRoleArn = aws.String(op.Chain.TargetRoleARN) // "" takes the target off
		}
		if op.Chain.DisableSessionTags != op.From.DisableSessionTags {
			in.DisableSessionTags = aws.Bool(op.Chain.DisableSessionTags)
		}
		if !samePolicy(op.Chain.Policy, op.From.Policy) {
			in.Policy = aws.String(op.Chain.Policy) // "" takes the policy off
		}
		out, err := a.eks.UpdatePodIdentityAssociation(ctx, in)
		if err == nil && out.Association != nil {
			a.chain.set(aws.ToString(out.Association.ExternalId))
		}
		return err
	}, roleNotSeenYet)
}

func (op withExternalID) apply(ctx context.Context, a *applier) error {
	e, ok := op.Op.Edit.(AdmitPodIdentityTarget)
	id := a.chain.get()
	if !ok || id == "" {
		return fmt.Errorf("EKS returned no external ID for the association, so the trust of role %s cannot be conditioned on it: run bind again (it reads the association's)", op.Op.Role)
	}
	e.ExternalID = id
	w := op.Op
	w.Edit = e
	if w.Create != nil {
		trust, _ := e.Apply(nil)
		w.Create.Trust = string(trust.Compact())
	}
	return w.apply(ctx, a)
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
