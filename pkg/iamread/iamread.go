// Package iamread reads the IAM entities IRSA is made of — OIDC providers, roles with their trust and
// policies, managed policies with their default version — into parsed documents. bind and doctor both read
// through it, so they see IAM the same way.
package iamread

import (
	"context"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"golang.org/x/sync/errgroup"

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
	GetAccountAuthorizationDetails(context.Context, *iam.GetAccountAuthorizationDetailsInput, ...func(*iam.Options)) (*iam.GetAccountAuthorizationDetailsOutput, error)
	ListRoles(context.Context, *iam.ListRolesInput, ...func(*iam.Options)) (*iam.ListRolesOutput, error)
}

// Provider is an IAM OIDC provider.
type Provider struct {
	ARN         string
	ClientIDs   []string
	Thumbprints []string
	Tags        map[string]string
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
	return &Provider{ARN: arn, ClientIDs: out.ClientIDList, Thumbprints: out.ThumbprintList, Tags: TagMap(out.Tags)}, nil
}

// Role is an IAM role: its trust, tags, and the policies attached to it.
type Role struct {
	ARN      string // as IAM returns it (with its path)
	Name     string
	Trust    *iampolicy.Policy
	TrustErr error // the trust document did not parse (reported, not fatal: doctor explains it)
	Tags     map[string]string
	Attached []string // managed policy ARNs
	// BoundaryARN is the role's permissions boundary, a managed policy ARN; "" when it has none.
	BoundaryARN string
	// Description and MaxSessionDuration (seconds) are as GetRole returns them (the batch read has neither).
	Description        string
	MaxSessionDuration int32
	// InlineNames (in IAM's order) and Inline (by name) are read only when asked for (InlineNames alone with
	// RoleOptions.InlineNames).
	InlineNames []string
	Inline      map[string]*iampolicy.Policy
}

// RoleOptions say how much of a role to read, and how.
type RoleOptions struct {
	// Inline also reads the role's inline policies.
	Inline bool
	// InlineNames lists the names of the role's inline policies without reading them (unbind needs no more
	// to know whether the role can be deleted).
	InlineNames bool
	// Concurrent asks for the role and its policy lists at once: one round trip instead of two or three when
	// the role is expected to exist, two wasted calls when it does not.
	Concurrent bool
}

// ReadRole reads the role named name and the managed policies attached to it (and, as o says, its inline
// policies); nil, nil when it does not exist.
func ReadRole(ctx context.Context, c API, name string, o RoleOptions) (*Role, error) {
	var (
		out      *iam.GetRoleOutput
		attached []string
		inline   []string
		errs     [3]error
	)
	steps := []func(){
		func() { out, errs[0] = c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)}) },
		func() { attached, errs[1] = listAttached(ctx, c, name) },
	}
	if o.Inline || o.InlineNames {
		steps = append(steps, func() { inline, errs[2] = listInline(ctx, c, name) })
	}
	if o.Concurrent {
		var wg sync.WaitGroup
		for _, step := range steps {
			wg.Add(1)
			go func() { defer wg.Done(); step() }()
		}
		wg.Wait()
	} else {
		for _, step := range steps {
			if step(); errs[0] != nil {
				break // no role, or no reading it: the lists would only fail the same way
			}
		}
	}
	if sdcaws.IsNotFound(errs[0]) {
		return nil, nil
	}
	if errs[0] != nil {
		return nil, fmt.Errorf("reading IAM role %s: %w", name, errs[0])
	}
	r := &Role{ARN: aws.ToString(out.Role.Arn), Name: name, Tags: TagMap(out.Role.Tags), Attached: attached,
		BoundaryARN: boundaryARN(out.Role.PermissionsBoundary), Description: aws.ToString(out.Role.Description),
		MaxSessionDuration: aws.ToInt32(out.Role.MaxSessionDuration)}
	r.Trust, r.TrustErr = iampolicy.Parse([]byte(aws.ToString(out.Role.AssumeRolePolicyDocument)))
	if errs[1] != nil {
		return r, fmt.Errorf("listing the policies attached to IAM role %s: %w", name, errs[1])
	}
	if !o.Inline && !o.InlineNames {
		return r, nil
	}
	if errs[2] != nil {
		return r, fmt.Errorf("listing the inline policies of IAM role %s: %w", name, errs[2])
	}
	r.InlineNames = inline
	if !o.Inline {
		return r, nil
	}
	r.Inline = map[string]*iampolicy.Policy{}
	for _, n := range inline {
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

func listAttached(ctx context.Context, c API, role string) ([]string, error) {
	var arns []string
	pages := iam.NewListAttachedRolePoliciesPaginator(c, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String(role)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, p := range page.AttachedPolicies {
			arns = append(arns, aws.ToString(p.PolicyArn))
		}
	}
	return arns, nil
}

func listInline(ctx context.Context, c API, role string) ([]string, error) {
	var names []string
	pages := iam.NewListRolePoliciesPaginator(c, &iam.ListRolePoliciesInput{RoleName: aws.String(role)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		names = append(names, page.PolicyNames...)
	}
	return names, nil
}

// Policy is a customer or AWS managed policy with its default version's document.
type Policy struct {
	ARN            string
	DefaultVersion string
	Document       *iampolicy.Policy
	Tags           map[string]string
	// AttachmentCount is how many users, groups and roles the policy is attached to (ReadPolicy only).
	AttachmentCount int
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
	p := &Policy{ARN: arn, DefaultVersion: aws.ToString(out.Policy.DefaultVersionId), Tags: TagMap(out.Policy.Tags),
		AttachmentCount: int(aws.ToInt32(out.Policy.AttachmentCount))}
	v, err := c.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: aws.String(arn), VersionId: out.Policy.DefaultVersionId})
	if err != nil {
		return p, fmt.Errorf("reading version %s of IAM policy %s: %w", p.DefaultVersion, arn, err)
	}
	if p.Document, err = iampolicy.Parse([]byte(aws.ToString(v.PolicyVersion.Document))); err != nil {
		return p, fmt.Errorf("version %s of IAM policy %s does not parse: %w", p.DefaultVersion, arn, err)
	}
	return p, nil
}

// boundaryARN is the policy ARN of a permissions boundary, "" for none.
func boundaryARN(b *iamtypes.AttachedPermissionsBoundary) string {
	if b == nil {
		return ""
	}
	return aws.ToString(b.PermissionsBoundaryArn)
}

// TagMap turns IAM tags into a map.
func TagMap(tags []iamtypes.Tag) map[string]string {
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

// Account is every role and customer managed policy of the account, as one batch read returns them (with
// each role's permissions boundary; the boundary policy's document is among Policies when it is a customer
// managed one).
type Account struct {
	Roles    map[string]*Role   // by role name
	Policies map[string]*Policy // customer managed policies by ARN (tags are not part of this read)
}

// ReadAccount reads every role (trust, tags, attached and inline policies) and every customer managed policy
// (default version) with iam:GetAccountAuthorizationDetails: a page of up to 1,000 entities per call,
// instead of three to five calls per role. Worth it when many roles are wanted: it reads the whole account.
// Roles and policies are read as two chains side by side (each filtered to one kind): a chain's pages
// follow one another by marker, so two chains take half the round trips one would, and the two last pages
// are decoded on two cores. Each page's documents are parsed while the next page is asked for, and the page
// is dropped once parsed.
func ReadAccount(ctx context.Context, c API) (*Account, error) {
	a := &Account{Roles: map[string]*Role{}, Policies: map[string]*Policy{}}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		return readAccountChain(ctx, c, iamtypes.EntityTypeRole, "roles", func(page *iam.GetAccountAuthorizationDetailsOutput) error {
			return a.addRoles(page.RoleDetailList)
		})
	})
	g.Go(func() error {
		return readAccountChain(ctx, c, iamtypes.EntityTypeLocalManagedPolicy, "customer managed policies", func(page *iam.GetAccountAuthorizationDetailsOutput) error {
			return a.addPolicies(page.Policies)
		})
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return a, nil
}

// readAccountChain reads the account's entities of one kind page by page, handing each page to add while
// the next is asked for.
func readAccountChain(ctx context.Context, c API, kind iamtypes.EntityType, what string, add func(*iam.GetAccountAuthorizationDetailsOutput) error) error {
	pages := iam.NewGetAccountAuthorizationDetailsPaginator(c, &iam.GetAccountAuthorizationDetailsInput{
		Filter:   []iamtypes.EntityType{kind},
		MaxItems: aws.Int32(1000),
	})
	parsed := make(chan error, 1)
	parsing := false
	wait := func() error {
		if !parsing {
			return nil
		}
		parsing = false
		return <-parsed
	}
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if perr := wait(); perr != nil {
			return perr
		}
		if err != nil {
			return fmt.Errorf("reading the account's %s (iam:GetAccountAuthorizationDetails): %w", what, err)
		}
		parsing = true
		go func() { parsed <- add(page) }()
	}
	return wait()
}

func (a *Account) addRoles(roles []iamtypes.RoleDetail) error {
	for _, d := range roles {
		name := aws.ToString(d.RoleName)
		r := &Role{ARN: aws.ToString(d.Arn), Name: name, Tags: TagMap(d.Tags), Inline: map[string]*iampolicy.Policy{},
			BoundaryARN: boundaryARN(d.PermissionsBoundary)}
		r.Trust, r.TrustErr = iampolicy.Parse([]byte(aws.ToString(d.AssumeRolePolicyDocument)))
		for _, p := range d.AttachedManagedPolicies {
			r.Attached = append(r.Attached, aws.ToString(p.PolicyArn))
		}
		for _, p := range d.RolePolicyList {
			n := aws.ToString(p.PolicyName)
			doc, err := iampolicy.Parse([]byte(aws.ToString(p.PolicyDocument)))
			if err != nil {
				return fmt.Errorf("inline policy %s of IAM role %s does not parse: %w", n, name, err)
			}
			r.InlineNames = append(r.InlineNames, n)
			r.Inline[n] = doc
		}
		a.Roles[name] = r
	}
	return nil
}

func (a *Account) addPolicies(policies []iamtypes.ManagedPolicyDetail) error {
	for _, d := range policies {
		p := &Policy{ARN: aws.ToString(d.Arn), DefaultVersion: aws.ToString(d.DefaultVersionId)}
		for _, v := range d.PolicyVersionList {
			if !v.IsDefaultVersion {
				continue
			}
			doc, err := iampolicy.Parse([]byte(aws.ToString(v.Document)))
			if err != nil {
				return fmt.Errorf("version %s of IAM policy %s does not parse: %w", p.DefaultVersion, p.ARN, err)
			}
			p.Document = doc
		}
		a.Policies[p.ARN] = p
	}
	return nil
}

// ReadTrusts reads the trust policy of every role of the account with iam:ListRoles (a page of up to 1,000
// roles per call), by role name. A trust that does not parse is left out: it names no provider unbind could
// be asked to prune.
func ReadTrusts(ctx context.Context, c API) (map[string]*iampolicy.Policy, error) {
	out := map[string]*iampolicy.Policy{}
	pages := iam.NewListRolesPaginator(c, &iam.ListRolesInput{MaxItems: aws.Int32(1000)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing the account's roles (iam:ListRoles): %w", err)
		}
		for _, r := range page.Roles {
			if p, err := iampolicy.Parse([]byte(aws.ToString(r.AssumeRolePolicyDocument))); err == nil {
				out[aws.ToString(r.RoleName)] = p
			}
		}
	}
	return out, nil
}
