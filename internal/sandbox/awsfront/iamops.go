package awsfront

// What each IAM operation needs from IAM's own authorization, after the Service Authorization Reference
// ("Actions, resources, and condition keys for AWS Identity and Access Management"): the action
// (iam:Operation), the kind of resource it acts on, named by its request parameters, and the condition keys
// it carries. An operation not listed is authorized as iam:Operation on "*".

// iamKind is the kind of IAM resource an operation acts on.
type iamKind int

const (
	onAll    iamKind = iota // "*": no resource-level permissions
	onRole                  // role/<path><RoleName>
	onPolicy                // the PolicyArn parameter; CreatePolicy: policy/<path><PolicyName>
	onOIDC                  // the OpenIDConnectProviderArn parameter; create: oidc-provider/<Url without https://>
	onUser                  // user/<path><UserName>; the caller itself when UserName is absent
	onGroup                 // group/<path><GroupName>
	onSource                // the PolicySourceArn parameter (SimulatePrincipalPolicy)
)

// iamOp is one IAM operation's row.
type iamOp struct {
	Kind     iamKind
	Create   bool   // makes the resource: its path comes from the Path parameter, it has no tags yet
	Tags     bool   // carries Tags.member.N: aws:RequestTag/<key> and aws:TagKeys
	TagKeys  bool   // carries TagKeys.member.N: aws:TagKeys
	OnCreate string // the tagging action a create with Tags needs besides its own, on the same resource
	// PolicyARN: the PolicyArn parameter is iam:PolicyARN. Boundary: the PermissionsBoundary parameter, or the
	// existing boundary of the role or user, is iam:PermissionsBoundary.
	PolicyARN, Boundary bool
}

var (
	roleOp   = iamOp{Kind: onRole}
	policyOp = iamOp{Kind: onPolicy}
	oidcOp   = iamOp{Kind: onOIDC}
	userOp   = iamOp{Kind: onUser}
	groupOp  = iamOp{Kind: onGroup}
)

// iamOps lists the IAM operations by name.
var iamOps = map[string]iamOp{
	// Roles.
	"CreateRole":                    {Kind: onRole, Create: true, Tags: true, OnCreate: "iam:TagRole", Boundary: true},
	"GetRole":                       roleOp,
	"DeleteRole":                    roleOp,
	"UpdateRole":                    roleOp,
	"UpdateRoleDescription":         roleOp,
	"UpdateAssumeRolePolicy":        roleOp,
	"PutRolePermissionsBoundary":    {Kind: onRole, Boundary: true},
	"DeleteRolePermissionsBoundary": {Kind: onRole, Boundary: true},
	"TagRole":                       {Kind: onRole, Tags: true},
	"UntagRole":                     {Kind: onRole, TagKeys: true},
	"ListRoleTags":                  roleOp,
	"AttachRolePolicy":              {Kind: onRole, PolicyARN: true, Boundary: true},
	"DetachRolePolicy":              {Kind: onRole, PolicyARN: true, Boundary: true},
	"PutRolePolicy":                 {Kind: onRole, Boundary: true},
	"DeleteRolePolicy":              {Kind: onRole, Boundary: true},
	"GetRolePolicy":                 roleOp,
	"ListRolePolicies":              roleOp,
	"ListAttachedRolePolicies":      roleOp,
	"ListInstanceProfilesForRole":   roleOp,
	// Managed policies.
	"CreatePolicy":            {Kind: onPolicy, Create: true, Tags: true, OnCreate: "iam:TagPolicy"},
	"GetPolicy":               policyOp,
	"DeletePolicy":            policyOp,
	"GetPolicyVersion":        policyOp,
	"ListPolicyVersions":      policyOp,
	"CreatePolicyVersion":     policyOp,
	"DeletePolicyVersion":     policyOp,
	"SetDefaultPolicyVersion": policyOp,
	"TagPolicy":               {Kind: onPolicy, Tags: true},
	"UntagPolicy":             {Kind: onPolicy, TagKeys: true},
	"ListPolicyTags":          policyOp,
	"ListEntitiesForPolicy":   policyOp,
	// OIDC providers.
	"CreateOpenIDConnectProvider":             {Kind: onOIDC, Create: true, Tags: true, OnCreate: "iam:TagOpenIDConnectProvider"},
	"GetOpenIDConnectProvider":                oidcOp,
	"DeleteOpenIDConnectProvider":             oidcOp,
	"AddClientIDToOpenIDConnectProvider":      oidcOp,
	"RemoveClientIDFromOpenIDConnectProvider": oidcOp,
	"UpdateOpenIDConnectProviderThumbprint":   oidcOp,
	"TagOpenIDConnectProvider":                {Kind: onOIDC, Tags: true},
	"UntagOpenIDConnectProvider":              {Kind: onOIDC, TagKeys: true},
	"ListOpenIDConnectProviderTags":           oidcOp,
	// Users.
	"CreateUser":                    {Kind: onUser, Create: true, Tags: true, OnCreate: "iam:TagUser", Boundary: true},
	"GetUser":                       userOp,
	"DeleteUser":                    userOp,
	"CreateAccessKey":               userOp,
	"DeleteAccessKey":               userOp,
	"UpdateAccessKey":               userOp,
	"ListAccessKeys":                userOp,
	"AttachUserPolicy":              {Kind: onUser, PolicyARN: true, Boundary: true},
	"DetachUserPolicy":              {Kind: onUser, PolicyARN: true, Boundary: true},
	"PutUserPolicy":                 {Kind: onUser, Boundary: true},
	"DeleteUserPolicy":              {Kind: onUser, Boundary: true},
	"GetUserPolicy":                 userOp,
	"ListUserPolicies":              userOp,
	"ListAttachedUserPolicies":      userOp,
	"ListGroupsForUser":             userOp,
	"PutUserPermissionsBoundary":    {Kind: onUser, Boundary: true},
	"DeleteUserPermissionsBoundary": {Kind: onUser, Boundary: true},
	"TagUser":                       {Kind: onUser, Tags: true},
	"UntagUser":                     {Kind: onUser, TagKeys: true},
	"ListUserTags":                  userOp,
	// Groups.
	"CreateGroup":               {Kind: onGroup, Create: true},
	"GetGroup":                  groupOp,
	"DeleteGroup":               groupOp,
	"AddUserToGroup":            groupOp,
	"RemoveUserFromGroup":       groupOp,
	"PutGroupPolicy":            groupOp,
	"GetGroupPolicy":            groupOp,
	"DeleteGroupPolicy":         groupOp,
	"ListGroupPolicies":         groupOp,
	"AttachGroupPolicy":         {Kind: onGroup, PolicyARN: true},
	"DetachGroupPolicy":         {Kind: onGroup, PolicyARN: true},
	"ListAttachedGroupPolicies": groupOp,
	// The policy simulator.
	"SimulatePrincipalPolicy":          {Kind: onSource},
	"GetContextKeysForPrincipalPolicy": {Kind: onSource},
}
