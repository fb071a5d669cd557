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
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// eksAPI is the part of *eks.Client bind reads and writes Pod Identity through.
type eksAPI interface {
	eksread.API
	CreatePodIdentityAssociation(context.Context, *eks.CreatePodIdentityAssociationInput, ...func(*eks.Options)) (*eks.CreatePodIdentityAssociationOutput, error)
	UpdatePodIdentityAssociation(context.Context, *eks.UpdatePodIdentityAssociationInput, ...func(*eks.Options)) (*eks.UpdatePodIdentityAssociationOutput, error)
	DeletePodIdentityAssociation(context.Context, *eks.DeletePodIdentityAssociationInput, ...func(*eks.Options)) (*eks.DeletePodIdentityAssociationOutput, error)
}

// AdmitPodIdentity lets EKS Auth assume the role for the session's ServiceAccount (the EKS user guide's
// statement, merged as iampolicy.AdmitPodIdentity does).
type AdmitPodIdentity struct{ Session iampolicy.PodIdentitySession }

// Apply merges the Pod Identity statement in.
func (e AdmitPodIdentity) Apply(p *iampolicy.Policy) (*iampolicy.Policy, bool) {
	return iampolicy.AdmitPodIdentity(p, e.Session)
}

// Holds reports whether STS would let EKS Auth assume the role for the session.
func (e AdmitPodIdentity) Holds(p *iampolicy.Policy) bool {
	d, _ := iampolicy.AdmitsPodIdentity(p, e.Session, "")
	return d.Allowed()
}

// Subjects names the service principal when the trust admits it.
func (e AdmitPodIdentity) Subjects(p *iampolicy.Policy) []string {
	if e.Holds(p) {
		return []string{vocab.PodIdentityService}
	}
	return nil
}

func (e AdmitPodIdentity) String() string {
	return fmt.Sprintf("admit EKS Pod Identity for %s/%s", e.Session.Namespace, e.Session.ServiceAccount)
}

// createAssociation makes the ServiceAccount's association. EKS checks that the role exists and trusts
// pods.eks.amazonaws.com, which IAM may not show everywhere yet right after bind wrote it: those refusals
// are retried for a while. One made meanwhile (by another bind) is made to name this role.
type createAssociation struct {
	Cluster, Namespace, ServiceAccount, RoleARN string
	Tags                                        map[string]string
}

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

// updateAssociation makes an association name another role.
type updateAssociation struct{ Cluster, ID, RoleARN string }

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
