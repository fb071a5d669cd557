package awsfront

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
)

// serveS3 authorizes S3 calls made with role session credentials against the role's policies, as S3 does
// with IAM; calls with any other keys (the admin's) pass as moto would take them.
func (f *Front) serveS3(w http.ResponseWriter, r *http.Request, c *call) {
	f.mu.Lock()
	sess, ok := f.sessions[c.AccessKeyID]
	f.mu.Unlock()
	if !ok {
		f.proxy(w, r, c)
		return
	}
	checks := c.S3.Checks
	if c.S3.DeleteKeys {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxFormBody+1))
		if err != nil || len(body) > maxFormBody {
			awsError{Status: http.StatusBadRequest, Code: "MalformedXML", Message: "The DeleteObjects body could not be read or exceeds 16 MiB.", Sender: true}.write(w, r, "s3")
			return
		}
		c.Body = body
		checks = nil
		for _, k := range deleteKeys(body) {
			checks = append(checks, s3Check{"s3:DeleteObject", bucketARN(c.S3.Bucket) + "/" + k})
		}
	}
	policies, err := f.rolePolicies(r.Context(), sess.RoleName)
	var nse *iamtypes.NoSuchEntityException
	switch {
	case errors.As(err, &nse):
		policies = nil // a deleted role's sessions are allowed nothing
	case err != nil:
		e := serverError("s3")
		e.Message = fmt.Sprintf("sandbox could not read the policies of role %s to authorize this call: %v", sess.RoleName, err)
		e.write(w, r, "s3")
		return
	}
	keys := map[string][]string{
		"aws:PrincipalArn":    {sess.RoleARN},
		"aws:SecureTransport": {"false"},
	}
	for k, v := range sess.Tags {
		keys["aws:PrincipalTag/"+k] = []string{v}
	}
	for k, v := range c.S3.Context {
		keys[k] = v
	}
	for _, chk := range checks {
		d := iampolicy.Evaluate(iampolicy.Request{Action: chk.Action, Resource: chk.Resource, Context: keys}, policies...)
		if d.Allowed() {
			continue
		}
		why := "because no identity-based policy allows the " + chk.Action + " action"
		if d.Effect == iampolicy.Deny {
			why = "with an explicit deny in an identity-based policy"
		}
		awsError{Status: http.StatusForbidden, Code: "AccessDenied", Sender: true,
			Message: fmt.Sprintf("User: %s is not authorized to perform: %s on resource: \"%s\" %s", sess.AssumedRoleARN, chk.Action, chk.Resource, why),
		}.write(w, r, "s3")
		return
	}
	f.proxy(w, r, c)
}

// deleteKeys lists the object keys of a DeleteObjects body.
func deleteKeys(body []byte) []string {
	var doc struct {
		Objects []struct {
			Key string `xml:"Key"`
		} `xml:"Object"`
	}
	if err := xml.NewDecoder(bytes.NewReader(body)).Decode(&doc); err != nil {
		return nil
	}
	keys := make([]string, 0, len(doc.Objects))
	for _, o := range doc.Objects {
		keys = append(keys, o.Key)
	}
	return keys
}

// rolePolicies reads the role's identity policies from IAM: the default version of every attached managed
// policy, then every inline policy.
func (f *Front) rolePolicies(ctx context.Context, roleName string) ([]*iampolicy.Policy, error) {
	var docs []string
	attached := iam.NewListAttachedRolePoliciesPaginator(f.iam, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String(roleName)})
	for attached.HasMorePages() {
		page, err := attached.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, p := range page.AttachedPolicies {
			pol, err := f.iam.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: p.PolicyArn})
			if err != nil {
				return nil, err
			}
			v, err := f.iam.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: p.PolicyArn, VersionId: pol.Policy.DefaultVersionId})
			if err != nil {
				return nil, err
			}
			docs = append(docs, aws.ToString(v.PolicyVersion.Document))
		}
	}
	inline := iam.NewListRolePoliciesPaginator(f.iam, &iam.ListRolePoliciesInput{RoleName: aws.String(roleName)})
	for inline.HasMorePages() {
		page, err := inline.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, name := range page.PolicyNames {
			p, err := f.iam.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(roleName), PolicyName: aws.String(name)})
			if err != nil {
				return nil, err
			}
			docs = append(docs, aws.ToString(p.PolicyDocument))
		}
	}
	policies := make([]*iampolicy.Policy, 0, len(docs))
	for _, d := range docs {
		// IAM only stores documents it could parse; one we cannot read grants nothing rather than everything.
		if p, err := iampolicy.Parse([]byte(d)); err == nil {
			policies = append(policies, p)
		}
	}
	return policies, nil
}
