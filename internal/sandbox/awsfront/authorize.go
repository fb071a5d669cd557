package awsfront

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
)

// authzCheck is one IAM action on one resource a call needs; a call is allowed when all of its checks are.
type authzCheck struct{ Action, Resource string }

// sessionOf is the role session behind the call's key, or nil when the key is anyone else's (the admins'
// users), whose calls the front passes as moto would take them.
func (f *Front) sessionOf(c *call) *principal {
	if c.Caller != nil && c.Caller.isSession() {
		return c.Caller
	}
	f.mu.Lock()
	old, ok := f.sessions[c.AccessKeyID]
	f.mu.Unlock()
	if !ok {
		return nil
	}
	return &principal{Account: accountOf(old.RoleARN), ARN: old.AssumedRoleARN, RoleName: old.RoleName, RoleARN: old.RoleARN, Tags: old.Tags}
}

// authorizeThenProxy forwards the call to moto once authorize allowed it.
func (f *Front) authorizeThenProxy(w http.ResponseWriter, r *http.Request, c *call, sess *principal, checks []authzCheck, context map[string][]string) {
	if f.authorize(w, r, c, sess, checks, context) {
		f.proxy(w, r, c)
	}
}

// authorize weighs every check of a role session's call as IAM does (identity policies, permissions
// boundary, session policies) with the request's condition keys; it answers the first refusal in the
// service's own words and returns false, or returns true when all are allowed.
func (f *Front) authorize(w http.ResponseWriter, r *http.Request, c *call, sess *principal, checks []authzCheck, context map[string][]string) bool {
	perms, err := f.permissionsOf(r.Context(), sess)
	if err != nil {
		e := serverError(c.Service)
		e.Message = fmt.Sprintf("sandbox could not read the policies of role %s to authorize this call: %v", sess.RoleName, err)
		e.write(w, r, c.Service)
		return false
	}
	principalARN, principalType := sess.ARN, "User"
	if sess.isSession() {
		principalARN, principalType = sess.RoleARN, "AssumedRole"
	}
	keys := map[string][]string{
		"aws:PrincipalArn":     {principalARN},
		"aws:PrincipalType":    {principalType},
		"aws:PrincipalAccount": {sess.Account},
		"aws:SecureTransport":  {"false"},
	}
	if !sess.isSession() {
		keys["aws:username"] = []string{sess.UserName}
	}
	for k, v := range sess.Tags {
		keys["aws:PrincipalTag/"+k] = []string{v}
	}
	for k, v := range context {
		keys[k] = v
	}
	for _, chk := range checks {
		v := perms.decide(iampolicy.Request{Action: chk.Action, Resource: chk.Resource, Context: keys})
		if !v.Allowed {
			accessDenied(c.Service, r, sess, chk, v.Why).write(w, r, c.Service)
			return false
		}
	}
	return true
}

// accessDenied is a service's refusal of an action by IAM, in its own code and words: S3's AccessDenied with
// the resource quoted; SQS's AccessDenied (403, action in lower case, as SQS writes it); CloudWatch's query
// AccessDenied; the JSON services' AccessDeniedException (400). Actions on "*" name no resource.
func accessDenied(service string, r *http.Request, sess *principal, chk authzCheck, why string) awsError {
	action := chk.Action
	if service == "sqs" {
		action = strings.ToLower(action)
		why = strings.Replace(why, chk.Action, action, 1)
	}
	on := " on resource: " + chk.Resource
	switch {
	case service == "s3":
		on = " on resource: \"" + chk.Resource + "\""
	case chk.Resource == "*":
		on = ""
	}
	e := awsError{Status: http.StatusBadRequest, Code: "AccessDeniedException", Sender: true,
		Message: fmt.Sprintf("User: %s is not authorized to perform: %s%s %s", sess.ARN, action, on, why)}
	switch {
	case service == "s3":
		e.Status, e.Code = http.StatusForbidden, "AccessDenied"
	case service == "eks":
		e.Status = http.StatusForbidden // EKS's restJson AccessDeniedException
	case service == "sqs":
		// SQS's JSON protocol keeps its query error codes (awsQueryCompatible): x-amzn-query-error carries them.
		e.Status, e.Code = http.StatusForbidden, "AccessDenied"
		if r.Header.Get("X-Amz-Target") != "" {
			e.Code, e.QueryError = "com.amazon.coral.service#AccessDeniedException", "AccessDenied"
		}
	case r.Header.Get("X-Amz-Target") == "" && !isCBOR(r):
		e.Status, e.Code = http.StatusForbidden, "AccessDenied" // the query protocols (CloudWatch)
	}
	return e
}
