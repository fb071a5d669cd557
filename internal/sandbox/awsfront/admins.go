package awsfront

import "strings"

// The sandbox's own admins (the users CreateAdmin makes: sandbox-admin, each further account's admin) keep
// every right, as their AdministratorAccess policy would give them on AWS; they are recognised by who they
// are, not by evaluating that policy, so nothing a test does to policies can lock the sandbox out of itself.
// Every other IAM user's calls, and every role session's, are authorized as AWS does.

// markAdmin records the ARN of an admin user.
func (f *Front) markAdmin(userARN string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.adminUsers[userARN] = true
}

// unmarkAdmin forgets a deleted user: a user made again under the same name is nobody's admin.
func (f *Front) unmarkAdmin(account, userName string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for arn := range f.adminUsers {
		if accountOf(arn) == account && userNameOf(arn) == userName {
			delete(f.adminUsers, arn)
		}
	}
}

// isAdmin tells whether p is one of the sandbox's admins: a user CreateAdmin made, or the holder of the
// front's admin keys (a front sharing another front's moto is given its keys).
func (f *Front) isAdmin(p *principal, accessKeyID string) bool {
	if p == nil || p.isSession() {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.adminUsers[p.ARN] || (accessKeyID != "" && accessKeyID == f.admin.AccessKeyID)
}

// authorizee is the principal whose call the front authorizes: a role session, or an IAM user that is not
// one of the sandbox's admins; nil for the admins and unsigned calls, which pass as moto would take them.
func (f *Front) authorizee(c *call) *principal {
	if sess := f.sessionOf(c); sess != nil {
		return sess
	}
	if c.Caller != nil && c.Caller.UserName != "" && !f.isAdmin(c.Caller, c.AccessKeyID) {
		return c.Caller
	}
	return nil
}

// userNameOf is the name in a user ARN (the last part of its path).
func userNameOf(arn string) string {
	return arn[strings.LastIndex(arn, "/")+1:]
}
