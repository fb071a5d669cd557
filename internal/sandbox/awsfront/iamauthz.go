package awsfront

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// authorizeIAM weighs an IAM call of a user or role session (not the sandbox's admins) as IAM does, with the
// resource and condition keys of its iamOps row; it answers IAM's AccessDenied and returns false, or returns
// true when the call may go on.
func (f *Front) authorizeIAM(w http.ResponseWriter, r *http.Request, c *call) bool {
	who := f.authorizee(c)
	if who == nil {
		return true
	}
	checks, keys, err := f.iamChecks(r.Context(), who, c.Action, c.Params)
	if err != nil {
		e := serverError("iam")
		e.Message = fmt.Sprintf("sandbox could not tell which resource iam:%s acts on: %v", c.Action, err)
		e.write(w, r, "iam")
		return false
	}
	return f.authorize(w, r, c, who, checks, keys)
}

// iamChecks is what the IAM operation op with params needs: its checks and its condition keys.
func (f *Front) iamChecks(ctx context.Context, who *principal, op string, params url.Values) ([]authzCheck, map[string][]string, error) {
	row := iamOps[op]
	account := who.Account
	keys := map[string][]string{}
	res, facts, err := f.iamResource(ctx, account, who, row, params)
	if err != nil {
		return nil, nil, err
	}
	for k, v := range facts.tags {
		keys["aws:ResourceTag/"+k] = []string{v}
	}
	var tagged bool
	if row.Tags {
		var names []string
		for i := 1; ; i++ {
			k := params.Get("Tags.member." + strconv.Itoa(i) + ".Key")
			if k == "" {
				break
			}
			keys["aws:RequestTag/"+k] = []string{params.Get("Tags.member." + strconv.Itoa(i) + ".Value")}
			names = append(names, k)
		}
		if len(names) > 0 {
			keys["aws:TagKeys"], tagged = names, true
		}
	}
	if row.TagKeys {
		if names := memberList(params, "TagKeys"); len(names) > 0 {
			keys["aws:TagKeys"] = names
		}
	}
	if row.PolicyARN && params.Get("PolicyArn") != "" {
		keys["iam:PolicyARN"] = []string{params.Get("PolicyArn")}
	}
	if row.Boundary {
		b := params.Get("PermissionsBoundary") // the boundary a call sets, else the one the role or user has
		if b == "" {
			b = facts.boundary
		}
		if b != "" {
			keys["iam:PermissionsBoundary"] = []string{b}
		}
	}
	checks := []authzCheck{{"iam:" + op, res}}
	if row.OnCreate != "" && tagged {
		checks = append(checks, authzCheck{row.OnCreate, res})
	}
	return checks, keys, nil
}

// memberList reads an awsQuery list parameter: name.member.1, name.member.2, ...
func memberList(params url.Values, name string) []string {
	var out []string
	for i := 1; ; i++ {
		v, ok := params[name+".member."+strconv.Itoa(i)]
		if !ok {
			return out
		}
		out = append(out, v...)
	}
}

// iamFacts are what IAM knows of an existing resource that its condition keys read.
type iamFacts struct {
	tags     map[string]string // aws:ResourceTag/<key>
	boundary string            // the role's or user's permissions boundary
}

// iamResource is the ARN an IAM call acts on, and the facts of the resource when it exists: roles and users
// are named with their path, which only IAM knows (a create takes it from its Path parameter).
func (f *Front) iamResource(ctx context.Context, account string, who *principal, row iamOp, params url.Values) (string, iamFacts, error) {
	prefix := "arn:aws:iam::" + account + ":"
	path := params.Get("Path")
	if path == "" {
		path = "/"
	}
	var facts iamFacts
	c := f.iamIn(account)
	var nse *iamtypes.NoSuchEntityException
	missing := func(err error) error {
		if err == nil || errors.As(err, &nse) {
			return nil
		}
		return err
	}
	switch row.Kind {
	case onRole:
		name := params.Get("RoleName")
		if row.Create {
			return prefix + "role" + path + name, facts, nil
		}
		out, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)})
		if err != nil {
			return prefix + "role/" + name, facts, missing(err)
		}
		facts.tags = tagMap(out.Role.Tags)
		if out.Role.PermissionsBoundary != nil {
			facts.boundary = aws.ToString(out.Role.PermissionsBoundary.PermissionsBoundaryArn)
		}
		return aws.ToString(out.Role.Arn), facts, nil
	case onPolicy:
		if row.Create {
			return prefix + "policy" + path + params.Get("PolicyName"), facts, nil
		}
		arn := params.Get("PolicyArn")
		if out, err := c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(arn)}); err == nil {
			facts.tags = tagMap(out.Policy.Tags)
		} else if err := missing(err); err != nil {
			return "", facts, err
		}
		return arn, facts, nil
	case onOIDC:
		if row.Create {
			host := strings.TrimSuffix(strings.TrimPrefix(params.Get("Url"), "https://"), "/")
			return prefix + "oidc-provider/" + host, facts, nil
		}
		arn := params.Get("OpenIDConnectProviderArn")
		if out, err := c.GetOpenIDConnectProvider(ctx, &iam.GetOpenIDConnectProviderInput{OpenIDConnectProviderArn: aws.String(arn)}); err == nil {
			facts.tags = tagMap(out.Tags)
		} else if err := missing(err); err != nil {
			return "", facts, err
		}
		return arn, facts, nil
	case onUser:
		name := params.Get("UserName")
		if name == "" && !row.Create && !who.isSession() {
			return who.ARN, facts, nil // the caller's own user
		}
		if row.Create {
			return prefix + "user" + path + name, facts, nil
		}
		out, err := c.GetUser(ctx, &iam.GetUserInput{UserName: aws.String(name)})
		if err != nil {
			return prefix + "user/" + name, facts, missing(err)
		}
		facts.tags = tagMap(out.User.Tags)
		facts.boundary = f.userBoundaries.get(account, name)
		return aws.ToString(out.User.Arn), facts, nil
	case onGroup:
		name := params.Get("GroupName")
		if row.Create {
			return prefix + "group" + path + name, facts, nil
		}
		out, err := c.GetGroup(ctx, &iam.GetGroupInput{GroupName: aws.String(name)})
		if err != nil {
			return prefix + "group/" + name, facts, missing(err)
		}
		return aws.ToString(out.Group.Arn), facts, nil
	case onSource:
		return params.Get("PolicySourceArn"), facts, nil
	}
	return "*", facts, nil
}

func tagMap(tags []iamtypes.Tag) map[string]string {
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}
