package aws

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// The partitions kubectl-sdc knows. EKS and IRSA exist in each of them.
const (
	PartitionAWS   = "aws"
	PartitionChina = "aws-cn"
	PartitionGov   = "aws-us-gov"
)

// Identity is who the AWS credentials belong to.
type Identity struct {
	Account   string `json:"account"`
	ARN       string `json:"arn"`
	UserID    string `json:"userId"`
	Partition string `json:"partition"`
}

// Identity asks sts:GetCallerIdentity who the credentials are. The partition comes from the caller's ARN,
// which is authoritative even when no region is configured.
func (c *Clients) Identity(ctx context.Context) (Identity, error) {
	out, err := c.STS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return Identity{}, fmt.Errorf("asking AWS who the credentials belong to (sts:GetCallerIdentity): %w; check --profile, AWS_PROFILE or 'aws sts get-caller-identity'", err)
	}
	id := Identity{
		Account: aws.ToString(out.Account),
		ARN:     aws.ToString(out.Arn),
		UserID:  aws.ToString(out.UserId),
	}
	a, err := arn.Parse(id.ARN)
	if err != nil {
		return Identity{}, fmt.Errorf("sts:GetCallerIdentity returned the ARN %q, which does not parse: %w", id.ARN, err)
	}
	id.Partition = a.Partition
	return id, nil
}

// PartitionForRegion returns the partition a region belongs to: aws-cn for cn-*, aws-us-gov for us-gov-*,
// aws for everything else (including an empty region).
func PartitionForRegion(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return PartitionChina
	case strings.HasPrefix(region, "us-gov-"):
		return PartitionGov
	}
	return PartitionAWS
}

// globalRegion is the region global services such as IAM are signed for in a partition.
func globalRegion(partition string) string {
	switch partition {
	case PartitionChina:
		return "cn-north-1"
	case PartitionGov:
		return "us-gov-west-1"
	}
	return "us-east-1"
}
