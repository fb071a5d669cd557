package awsfront

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
)

// serveS3 authorizes S3 calls made with role session credentials (web identity or AssumeRole, any account)
// as S3 does with IAM: the role's identity policies, its permissions boundary and the session policies;
// calls with any other keys (users: the admins') pass as moto would take them.
func (f *Front) serveS3(w http.ResponseWriter, r *http.Request, c *call) {
	sess := c.Caller
	if sess == nil || !sess.isSession() {
		f.mu.Lock()
		old, ok := f.sessions[c.AccessKeyID]
		f.mu.Unlock()
		if !ok {
			f.proxy(w, r, c)
			return
		}
		sess = &principal{Account: accountOf(old.RoleARN), ARN: old.AssumedRoleARN, RoleName: old.RoleName, RoleARN: old.RoleARN, Tags: old.Tags}
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
	perms, err := f.permissionsOf(r.Context(), sess)
	if err != nil {
		e := serverError("s3")
		e.Message = fmt.Sprintf("sandbox could not read the policies of role %s to authorize this call: %v", sess.RoleName, err)
		e.write(w, r, "s3")
		return
	}
	keys := map[string][]string{
		"aws:PrincipalArn":     {sess.RoleARN},
		"aws:PrincipalAccount": {sess.Account},
		"aws:SecureTransport":  {"false"},
	}
	for k, v := range sess.Tags {
		keys["aws:PrincipalTag/"+k] = []string{v}
	}
	for k, v := range c.S3.Context {
		keys[k] = v
	}
	for _, chk := range checks {
		v := perms.decide(iampolicy.Request{Action: chk.Action, Resource: chk.Resource, Context: keys})
		if v.Allowed {
			continue
		}
		awsError{Status: http.StatusForbidden, Code: "AccessDenied", Sender: true,
			Message: fmt.Sprintf("User: %s is not authorized to perform: %s on resource: \"%s\" %s", sess.ARN, chk.Action, chk.Resource, v.Why),
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
