package bind

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/eks"

	sdcaws "github.com/kubectl-sdc/kubectl-sdc/pkg/aws"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/cluster"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/eksread"
)

// eksAPI is the part of *eks.Client bind reads and writes Pod Identity through.
type eksAPI interface {
	eksread.API
	CreatePodIdentityAssociation(context.Context, *eks.CreatePodIdentityAssociationInput, ...func(*eks.Options)) (*eks.CreatePodIdentityAssociationOutput, error)
	UpdatePodIdentityAssociation(context.Context, *eks.UpdatePodIdentityAssociationInput, ...func(*eks.Options)) (*eks.UpdatePodIdentityAssociationOutput, error)
	DeletePodIdentityAssociation(context.Context, *eks.DeletePodIdentityAssociationInput, ...func(*eks.Options)) (*eks.DeletePodIdentityAssociationOutput, error)
}

// clientsFor are the Binder's clients for cluster c: IAM through those of the
// region the reads used (the configured one, else the cluster's), EKS through the cluster's region's.
func (b *Binder) clientsFor(c *cluster.Cluster) (*sdcaws.Clients, eksAPI) {
	clients := b.AWS
	if clients.Region == "" && c != nil {
		clients = b.AWS.ForRegion(c.Region)
	}
	if c == nil || c.Region == "" {
		return clients, nil
	}
	return clients, b.AWS.ForRegion(c.Region).EKS
}
