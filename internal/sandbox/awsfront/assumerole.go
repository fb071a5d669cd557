package awsfront

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
)

// moto's AssumeRole hands out credentials for any role, existing or not, to any caller, and files them
// under the role's account. The front decides first, as STS does: the role must exist and its trust policy
// must admit the caller; across accounts, or when the trust admits the caller only through its account, the
// caller's own permissions (identity policies, boundary, session policies) must also allow sts:AssumeRole
// on the role. An explicit deny anywhere refuses.

var roleSessionNameRE = regexp.MustCompile(`^[\w+=,.@-]*$`)

func validationError(msg string) awsError {
	return awsError{Status: http.StatusBadRequest, Code: "ValidationError", Message: msg, Sender: true}
}

// assumeRole answers sts:AssumeRole.
func (f *Front) assumeRole(w http.ResponseWriter, r *http.Request, c *call) {
	caller := c.Caller
	if caller == nil {
		awsError{Status: http.StatusForbidden, Code: "MissingAuthenticationToken", Message: "Request is missing Authentication Token", Sender: true}.write(w, r, "sts")
		return
	}
	roleARN, sessionName := c.Params.Get("RoleArn"), c.Params.Get("RoleSessionName")
	if e, ok := validateAssumeRole(c, roleARN, sessionName); !ok {
		e.write(w, r, "sts")
		return
	}
	denied := awsError{Status: http.StatusForbidden, Code: "AccessDenied", Sender: true,
		Message: fmt.Sprintf("User: %s is not authorized to perform: sts:AssumeRole on resource: %s", caller.ARN, roleARN)}
	account, roleName := accountOf(roleARN), roleNameOf(roleARN)
	ctx := r.Context()
	role, err := f.visibleRole(ctx, f.iamIn(account), roleARN)
	switch {
	case err != nil:
		e := serverError("sts")
		e.Message = fmt.Sprintf("sandbox could not read role %s to decide AssumeRole: %v", roleARN, err)
		e.write(w, r, "sts")
		return
	case role == nil:
		denied.write(w, r, "sts")
		return
	}
	trust, err := iampolicy.Parse([]byte(aws.ToString(role.AssumeRolePolicyDocument)))
	if err != nil {
		denied.write(w, r, "sts")
		return
	}

	principalARN := caller.ARN
	principalType := "User"
	if caller.isSession() {
		principalARN, principalType = caller.RoleARN, "AssumedRole"
	}
	keys := map[string][]string{
		"aws:PrincipalArn":     {principalARN},
		"aws:PrincipalAccount": {caller.Account},
		"aws:PrincipalType":    {principalType},
		"sts:RoleSessionName":  {sessionName},
	}
	for param, key := range map[string]string{"ExternalId": "sts:ExternalId", "SourceIdentity": "sts:SourceIdentity"} {
		if v := c.Params.Get(param); v != "" {
			keys[key] = []string{v}
		}
	}
	tags, e, ok := readSessionTags(c, caller, c.Params.Get("Policy"))
	if !ok {
		e.write(w, r, "sts")
		return
	}
	tags.context(keys)
	actions := []string{"sts:AssumeRole"}
	if tags.tagged() {
		actions = append(actions, "sts:TagSession")
	}
	perms, err := f.permissionsOf(ctx, caller)
	if err != nil {
		e := serverError("sts")
		e.Message = fmt.Sprintf("sandbox could not read the policies of %s to decide AssumeRole: %v", caller.ARN, err)
		e.write(w, r, "sts")
		return
	}
	for _, action := range actions {
		if !admits(trust, perms, caller, account, iampolicy.Request{
			Principal: &iampolicy.RequestPrincipal{Type: "AWS", ID: caller.ARN},
			Action:    action, Resource: roleARN, Context: keys,
		}) {
			denied.Message = fmt.Sprintf("User: %s is not authorized to perform: %s on resource: %s", caller.ARN, action, roleARN)
			denied.write(w, r, "sts")
			return
		}
	}

	if d := c.Params.Get("DurationSeconds"); d != "" {
		n, _ := strconv.Atoi(d)
		if caller.isSession() && n > 3600 {
			validationError("The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.").write(w, r, "sts")
			return
		}
		if max := aws.ToInt32(role.MaxSessionDuration); max > 0 && n > int(max) {
			validationError("The requested DurationSeconds exceeds the MaxSessionDuration set for this role.").write(w, r, "sts")
			return
		}
	}
	var sessionPolicy *iampolicy.Policy
	if doc := c.Params.Get("Policy"); doc != "" {
		if sessionPolicy, err = iampolicy.Parse([]byte(doc)); err != nil {
			awsError{Status: http.StatusBadRequest, Code: "MalformedPolicyDocument", Message: "The policy is not in the valid JSON format.", Sender: true}.write(w, r, "sts")
			return
		}
	}
	var managed []string
	for i := 1; ; i++ {
		arn := c.Params.Get("PolicyArns.member." + strconv.Itoa(i) + ".arn")
		if arn == "" {
			break
		}
		managed = append(managed, arn)
	}

	resp, body, err := f.fetch(r, c)
	if err != nil {
		f.motoUnreachable(w, r, c, err)
		return
	}
	if resp.StatusCode == http.StatusOK {
		p := sessionPrincipal(body, roleARN)
		p.SessionPolicy, p.SessionManaged = sessionPolicy, managed
		p.Tags, p.TransitiveKeys = tags.sessionTagsOf()
		if key := xmlText(body, "AccessKeyId"); key != "" {
			f.mu.Lock()
			f.sessions[key] = session{RoleName: roleName, RoleARN: roleARN, AssumedRoleARN: p.ARN, Tags: p.Tags, TransitiveKeys: p.TransitiveKeys}
			f.mu.Unlock()
			f.rememberKey(key, p)
		}
	}
	reply(w, resp, body)
}

// validateAssumeRole applies STS's parameter constraints, in its words.
func validateAssumeRole(c *call, roleARN, sessionName string) (awsError, bool) {
	switch {
	case roleARN == "":
		return validationError("1 validation error detected: Value null at 'roleArn' failed to satisfy constraint: Member must not be null"), false
	case sessionName == "":
		return validationError("1 validation error detected: Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null"), false
	case len(sessionName) < 2 || len(sessionName) > 64:
		return validationError(fmt.Sprintf("1 validation error detected: Value '%s' at 'roleSessionName' failed to satisfy constraint: Member must have length between 2 and 64", sessionName)), false
	case !roleSessionNameRE.MatchString(sessionName):
		return validationError(fmt.Sprintf("1 validation error detected: Value '%s' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*", sessionName)), false
	case roleNameOf(roleARN) == "" || accountOf(roleARN) == "":
		return validationError(fmt.Sprintf("%s is invalid: RoleArn must be the ARN of an IAM role, like arn:aws:iam::123456789012:role/name", roleARN)), false
	}
	if d := c.Params.Get("DurationSeconds"); d != "" {
		n, err := strconv.Atoi(d)
		switch {
		case err != nil:
			return validationError(fmt.Sprintf("1 validation error detected: Value '%s' at 'durationSeconds' failed to satisfy constraint: Member must be a number", d)), false
		case n < 900:
			return validationError(fmt.Sprintf("1 validation error detected: Value '%d' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900", n)), false
		case n > 43200:
			return validationError(fmt.Sprintf("1 validation error detected: Value '%d' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to 43200", n)), false
		}
	}
	return awsError{}, true
}

// admits decides one action of an AssumeRole request as STS does: the role's trust must allow it; across
// accounts, or when the trust admits the caller only through its account, the caller's own permissions
// (identity policies, boundary, session policies) must allow it too; an explicit deny anywhere refuses.
func admits(trust *iampolicy.Policy, perms *permissions, caller *principal, roleAccount string, req iampolicy.Request) bool {
	if !iampolicy.Evaluate(req, trust).Allowed() {
		return false
	}
	v := perms.decide(iampolicy.Request{Action: req.Action, Resource: req.Resource, Context: req.Context})
	explicitDeny := !v.Allowed && strings.HasPrefix(v.Why, "with an explicit deny")
	needIdentity := caller.Account != roleAccount || !trustNamesCaller(trust, req, caller)
	return !explicitDeny && (v.Allowed || !needIdentity)
}

// trustNamesCaller reports whether an Allow statement of the trust that applies to the request names the
// caller itself (its user ARN, its role's ARN, or its session ARN) rather than only its account. Within
// one account that is enough; a trust that names the account delegates the decision to the caller's own
// policies.
func trustNamesCaller(trust *iampolicy.Policy, req iampolicy.Request, caller *principal) bool {
	for _, s := range trust.Statements {
		if s.Effect != iampolicy.Allow || s.Principal == nil {
			continue
		}
		one := &iampolicy.Policy{Version: trust.Version, Statements: []iampolicy.Statement{s}}
		if !iampolicy.Evaluate(req, one).Allowed() {
			continue
		}
		for _, v := range s.Principal.Values["AWS"] {
			switch {
			case v == caller.ARN:
				return true
			case caller.isSession() && roleNameOf(v) == caller.RoleName && accountOf(v) == caller.Account:
				return true
			}
		}
	}
	return false
}

// sessionPrincipal is the principal of credentials STS minted for roleARN, read from its answer.
func sessionPrincipal(body []byte, roleARN string) *principal {
	return &principal{
		Account: accountOf(roleARN), ARN: xmlText(body, "Arn"), RoleName: roleNameOf(roleARN), RoleARN: roleARN,
		Secret: xmlText(body, "SecretAccessKey"), SessionToken: xmlText(body, "SessionToken"),
		Expires: parseExpiration(xmlText(body, "Expiration")),
	}
}

// parseExpiration reads STS's Expiration; moto may leave out the zone, which is UTC. Zero when unreadable.
func parseExpiration(s string) time.Time {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t
		}
	}
	return time.Time{}
}
