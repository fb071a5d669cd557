// Package iamread reads the IAM entities IRSA is made of — OIDC providers, roles with their trust and
// policies, managed policies with their default version — into parsed documents. bind and doctor both read
// through it, so they see IAM the same way.
package iamread

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	sdcaws "github.com/kubectl-sdc/kubectl-sdc/pkg/aws"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
)

// API is the part of *iam.Client the readers use.
type API interface {
	GetOpenIDConnectProvider(context.Context, *iam.GetOpenIDConnectProviderInput, ...func(*iam.Options)) (*iam.GetOpenIDConnectProviderOutput, error)
	GetRole(context.Context, *iam.GetRoleInput, ...func(*iam.Options)) (*iam.GetRoleOutput, error)
	ListAttachedRolePolicies(context.Context, *iam.ListAttachedRolePoliciesInput, ...func(*iam.Options)) (*iam.ListAttachedRolePoliciesOutput, error)
	ListRolePolicies(context.Context, *iam.ListRolePoliciesInput, ...func(*iam.Options)) (*iam.ListRolePoliciesOutput, error)
	GetRolePolicy(context.Context, *iam.GetRolePolicyInput, ...func(*iam.Options)) (*iam.GetRolePolicyOutput, error)
	GetPolicy(context.Context, *iam.GetPolicyInput, ...func(*iam.Options)) (*iam.GetPolicyOutput, error)
	GetPolicyVersion(context.Context, *iam.GetPolicyVersionInput, ...func(*iam.Options)) (*iam.GetPolicyVersionOutput, error)
}

// Provider is an IAM OIDC provider.
type Provider struct {
	ARN         string
	ClientIDs   []string
	Thumbprints []string
}

// ReadProvider reads the provider with this ARN; nil, nil when it does not exist.
func ReadProvider(ctx context.Context, c API, arn string) (*Provider, error) {
	out, err := c.GetOpenIDConnectProvider(ctx, &iam.GetOpenIDConnectProviderInput{OpenIDConnectProviderArn: aws.String(arn)})
	if sdcaws.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading IAM OIDC provider %s: %w", arn, err)
	}
	return &Provider{ARN: arn, ClientIDs: out.ClientIDList, Thumbprints: out.ThumbprintList}, nil
}

// Role is an IAM role: its trust, tags, and the policies attached to it.
type Role struct {
	ARN      string // as IAM returns it (with its path)
	Name     string
	Trust    *iampolicy.Policy
	TrustErr error // the trust document did not parse (reported, not fatal: doctor explains it)
	Tags     map[string]string
	Attached []string // managed policy ARNs
	// InlineNames (in IAM's order) and Inline (by name) are read only when asked for.
	InlineNames []string
	Inline      map[string]*iampolicy.Policy
}

// ReadRole reads the role named name and the managed policies attached to it, and with inline its inline
// policies too; nil, nil when it does not exist.
func ReadRole(ctx context.Context, c API, name string, inline bool) (*Role, error) {
	out, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)})
	if sdcaws.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading IAM role %s: %w", name, err)
	}
	r := &Role{ARN: aws.ToString(out.Role.Arn), Name: name, Tags: TagMap(out.Role.Tags)}
	r.Trust, r.TrustErr = iampolicy.Parse([]byte(aws.ToString(out.Role.AssumeRolePolicyDocument)))
	attached := iam.NewListAttachedRolePoliciesPaginator(c, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String(name)})
	for attached.HasMorePages() {
		page, err := attached.NextPage(ctx)
		if err != nil {
			return r, fmt.Errorf("listing the policies attached to IAM role %s: %w", name, err)
		}
		for _, p := range page.AttachedPolicies {
			r.Attached = append(r.Attached, aws.ToString(p.PolicyArn))
		}
	}
	if !inline {
		return r, nil
	}
	r.Inline = map[string]*iampolicy.Policy{}
	names := iam.NewListRolePoliciesPaginator(c, &iam.ListRolePoliciesInput{RoleName: aws.String(name)})
	for names.HasMorePages() {
		page, err := names.NextPage(ctx)
		if err != nil {
			return r, fmt.Errorf("listing the inline policies of IAM role %s: %w", name, err)
		}
		r.InlineNames = append(r.InlineNames, page.PolicyNames...)
	}
	for _, n := range r.InlineNames {
		out, err := c.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String(n)})
		if err != nil {
			return r, fmt.Errorf("reading inline policy %s of IAM role %s: %w", n, name, err)
		}
		p, err := iampolicy.Parse([]byte(aws.ToString(out.PolicyDocument)))
		if err != nil {
			return r, fmt.Errorf("inline policy %s of IAM role %s does not parse: %w", n, name, err)
		}
		r.Inline[n] = p
	}
	return r, nil
}

// Policy is a customer or AWS managed policy with its default version's document.
type Policy struct {
	ARN            string
	DefaultVersion string
	Document       *iampolicy.Policy
	Tags           map[string]string
}

// ReadPolicy reads the managed policy with this ARN and its default version; nil, nil when it does not
// exist.
func ReadPolicy(ctx context.Context, c API, arn string) (*Policy, error) {
	out, err := c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(arn)})
	if sdcaws.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading IAM policy %s: %w", arn, err)
	}
	p := &Policy{ARN: arn, DefaultVersion: aws.ToString(out.Policy.DefaultVersionId), Tags: TagMap(out.Policy.Tags)}
	v, err := c.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: aws.String(arn), VersionId: out.Policy.DefaultVersionId})
	if err != nil {
		return p, fmt.Errorf("reading version %s of IAM policy %s: %w", p.DefaultVersion, arn, err)
	}
	if p.Document, err = iampolicy.Parse([]byte(aws.ToString(v.PolicyVersion.Document))); err != nil {
		return p, fmt.Errorf("version %s of IAM policy %s does not parse: %w", p.DefaultVersion, arn, err)
	}
	return p, nil
}

// TagMap turns IAM tags into a map.
func TagMap(tags []iamtypes.Tag) map[string]string {
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}
