package awsfront

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
)

// permissions are the policies IAM weighs for a principal's request: an action is allowed when an identity
// policy allows it, the permissions boundary (if any) allows it and the session policies (if any) allow it;
// an explicit deny in any of them wins.
type permissions struct {
	identity    []*iampolicy.Policy
	sources     []policySource    // identity[i]'s source, for the policy simulator's MatchedStatements
	boundary    *iampolicy.Policy // nil: no boundary
	boundaryARN string
	session     []*iampolicy.Policy // nil: no session policies
}

// verdict is permissions' answer, with AWS's words for why a request is refused.
type verdict struct {
	Allowed bool
	Why     string // "because no identity-based policy allows the s3:PutObject action", ...
}

// decide evaluates req, an identity-based request (no Principal), as IAM does.
func (ps *permissions) decide(req iampolicy.Request) verdict {
	id := iampolicy.Evaluate(req, ps.identity...)
	var bd, sd iampolicy.Decision
	if ps.boundary != nil {
		bd = iampolicy.Evaluate(req, ps.boundary)
	}
	if ps.session != nil {
		sd = iampolicy.Evaluate(req, ps.session...)
	}
	switch {
	case id.Effect == iampolicy.Deny:
		return verdict{Why: "with an explicit deny in an identity-based policy"}
	case ps.boundary != nil && bd.Effect == iampolicy.Deny:
		return verdict{Why: "with an explicit deny in a permissions boundary"}
	case ps.session != nil && sd.Effect == iampolicy.Deny:
		return verdict{Why: "with an explicit deny in a session policy"}
	case !id.Allowed():
		return verdict{Why: "because no identity-based policy allows the " + req.Action + " action"}
	case ps.boundary != nil && !bd.Allowed():
		return verdict{Why: "because no permissions boundary allows the " + req.Action + " action"}
	case ps.session != nil && !sd.Allowed():
		return verdict{Why: "because no session policy allows the " + req.Action + " action"}
	}
	return verdict{Allowed: true}
}

// permissionsOf reads what IAM weighs for p: a role session's role policies, boundary and session policies,
// or a user's own, group and boundary policies. A principal whose role or user is gone is allowed nothing.
func (f *Front) permissionsOf(ctx context.Context, p *principal) (*permissions, error) {
	c := f.iamIn(p.Account)
	ps := &permissions{}
	var nse *iamtypes.NoSuchEntityException
	var boundaryARN string
	switch {
	case p.isSession():
		role, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(p.RoleName)})
		if errors.As(err, &nse) {
			return ps, nil
		}
		if err != nil {
			return nil, err
		}
		if role.Role.PermissionsBoundary != nil {
			boundaryARN = aws.ToString(role.Role.PermissionsBoundary.PermissionsBoundaryArn)
		}
		docs, err := rolePolicyDocs(ctx, c, p.RoleName)
		if errors.As(err, &nse) {
			return ps, nil
		}
		if err != nil {
			return nil, err
		}
		ps.identity, ps.sources = parseSourced(docs)
		if p.SessionPolicy != nil || len(p.SessionManaged) > 0 {
			ps.session = []*iampolicy.Policy{}
			if p.SessionPolicy != nil {
				ps.session = append(ps.session, p.SessionPolicy)
			}
			for _, arn := range p.SessionManaged {
				doc, err := managedPolicyDoc(ctx, c, arn)
				if err != nil && !errors.As(err, &nse) {
					return nil, err
				}
				ps.session = append(ps.session, parseDocs([]string{doc})...)
			}
		}
	case p.UserName != "":
		user, err := c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String(p.UserName)})
		if errors.As(err, &nse) {
			return ps, nil
		}
		if err != nil {
			return nil, err
		}
		if user.User.PermissionsBoundary != nil {
			boundaryARN = aws.ToString(user.User.PermissionsBoundary.PermissionsBoundaryArn)
		}
		if b := f.userBoundaries.get(p.Account, p.UserName); b != "" {
			boundaryARN = b
		}
		docs, err := userPolicyDocs(ctx, c, p.UserName)
		if err != nil {
			return nil, err
		}
		ps.identity, ps.sources = parseSourced(docs)
	default:
		return ps, nil
	}
	if boundaryARN != "" {
		doc, err := managedPolicyDoc(ctx, c, boundaryARN)
		if err != nil && !errors.As(err, &nse) {
			return nil, fmt.Errorf("reading permissions boundary %s: %w", boundaryARN, err)
		}
		ps.boundaryARN = boundaryARN
		// A boundary that cannot be read or parsed allows nothing, as a boundary that allows nothing would.
		ps.boundary = &iampolicy.Policy{Version: iampolicy.Version2012}
		if parsed := parseDocs([]string{doc}); len(parsed) == 1 {
			ps.boundary = parsed[0]
		}
	}
	return ps, nil
}

// parseDocs parses policy documents; IAM only stores documents it could parse, so one we cannot read grants
// nothing rather than everything.
func parseDocs(docs []string) []*iampolicy.Policy {
	out := make([]*iampolicy.Policy, 0, len(docs))
	for _, d := range docs {
		if d == "" {
			continue
		}
		if p, err := iampolicy.Parse([]byte(d)); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// managedPolicyDoc is the default version's document of a managed policy.
func managedPolicyDoc(ctx context.Context, c *iam.Client, arn string) (string, error) {
	pol, err := c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(arn)})
	if err != nil {
		return "", err
	}
	v, err := c.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: aws.String(arn), VersionId: pol.Policy.DefaultVersionId})
	if err != nil {
		return "", err
	}
	return aws.ToString(v.PolicyVersion.Document), nil
}

// rolePolicyDocs reads a role's identity policies: every attached managed policy, then every inline one.
func rolePolicyDocs(ctx context.Context, c *iam.Client, roleName string) ([]sourcedDoc, error) {
	var docs []sourcedDoc
	attached := iam.NewListAttachedRolePoliciesPaginator(c, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String(roleName)})
	for attached.HasMorePages() {
		page, err := attached.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, p := range page.AttachedPolicies {
			doc, err := managedPolicyDoc(ctx, c, aws.ToString(p.PolicyArn))
			if err != nil {
				return nil, err
			}
			docs = append(docs, managedSource(aws.ToString(p.PolicyArn), doc))
		}
	}
	inline := iam.NewListRolePoliciesPaginator(c, &iam.ListRolePoliciesInput{RoleName: aws.String(roleName)})
	for inline.HasMorePages() {
		page, err := inline.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, name := range page.PolicyNames {
			p, err := c.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(roleName), PolicyName: aws.String(name)})
			if err != nil {
				return nil, err
			}
			docs = append(docs, sourcedDoc{policySource{name, "role"}, aws.ToString(p.PolicyDocument)})
		}
	}
	return docs, nil
}

// userPolicyDocs reads a user's identity policies: attached and inline, and those of its groups.
func userPolicyDocs(ctx context.Context, c *iam.Client, userName string) ([]sourcedDoc, error) {
	var docs []sourcedDoc
	attached, err := c.ListAttachedUserPolicies(ctx, &iam.ListAttachedUserPoliciesInput{UserName: aws.String(userName)})
	if err != nil {
		return nil, err
	}
	for _, p := range attached.AttachedPolicies {
		doc, err := managedPolicyDoc(ctx, c, aws.ToString(p.PolicyArn))
		if err != nil {
			return nil, err
		}
		docs = append(docs, managedSource(aws.ToString(p.PolicyArn), doc))
	}
	inline, err := c.ListUserPolicies(ctx, &iam.ListUserPoliciesInput{UserName: aws.String(userName)})
	if err != nil {
		return nil, err
	}
	for _, name := range inline.PolicyNames {
		p, err := c.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: aws.String(userName), PolicyName: aws.String(name)})
		if err != nil {
			return nil, err
		}
		docs = append(docs, sourcedDoc{policySource{name, "user"}, aws.ToString(p.PolicyDocument)})
	}
	groups, err := c.ListGroupsForUser(ctx, &iam.ListGroupsForUserInput{UserName: aws.String(userName)})
	if err != nil {
		return nil, err
	}
	for _, g := range groups.Groups {
		gd, err := groupPolicyDocs(ctx, c, aws.ToString(g.GroupName))
		if err != nil {
			return nil, err
		}
		docs = append(docs, gd...)
	}
	return docs, nil
}

// groupPolicyDocs reads a group's policies: attached and inline.
func groupPolicyDocs(ctx context.Context, c *iam.Client, group string) ([]sourcedDoc, error) {
	var docs []sourcedDoc
	ga, err := c.ListAttachedGroupPolicies(ctx, &iam.ListAttachedGroupPoliciesInput{GroupName: aws.String(group)})
	if err != nil {
		return nil, err
	}
	for _, p := range ga.AttachedPolicies {
		doc, err := managedPolicyDoc(ctx, c, aws.ToString(p.PolicyArn))
		if err != nil {
			return nil, err
		}
		docs = append(docs, managedSource(aws.ToString(p.PolicyArn), doc))
	}
	gi, err := c.ListGroupPolicies(ctx, &iam.ListGroupPoliciesInput{GroupName: aws.String(group)})
	if err != nil {
		return nil, err
	}
	for _, name := range gi.PolicyNames {
		p, err := c.GetGroupPolicy(ctx, &iam.GetGroupPolicyInput{GroupName: aws.String(group), PolicyName: aws.String(name)})
		if err != nil {
			return nil, err
		}
		docs = append(docs, sourcedDoc{policySource{name, "group"}, aws.ToString(p.PolicyDocument)})
	}
	return docs, nil
}

// policySource names a policy as the policy simulator does: SourcePolicyId (an inline policy's name, a
// managed policy's ARN) and SourcePolicyType (user, group, role, aws-managed, user-managed, none).
type policySource struct{ ID, Type string }

// sourcedDoc is a policy document with its source.
type sourcedDoc struct {
	policySource
	Doc string
}

func managedSource(arn, doc string) sourcedDoc {
	typ := "user-managed"
	if strings.HasPrefix(arn, "arn:aws:iam::aws:") {
		typ = "aws-managed"
	}
	return sourcedDoc{policySource{arn, typ}, doc}
}

// parseSourced parses documents as parseDocs does, keeping each parsed policy's source beside it.
func parseSourced(docs []sourcedDoc) ([]*iampolicy.Policy, []policySource) {
	var ps []*iampolicy.Policy
	var srcs []policySource
	for _, d := range docs {
		if parsed := parseDocs([]string{d.Doc}); len(parsed) == 1 {
			ps = append(ps, parsed[0])
			srcs = append(srcs, d.policySource)
		}
	}
	return ps, srcs
}
