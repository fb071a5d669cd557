// Package permissions holds no code: its test checks that the permission documents beside it grant what
// kubectl sdc bind, unbind, list and doctor call, and nothing they should not, with the same IAM evaluation the plugin
// uses (pkg/iampolicy) and the Kubernetes rbac/v1 types.
package permissions

import (
	"bytes"
	"os"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
)

// Representative resources of the names bind creates (sdc-<cluster>-<namespace>-<serviceaccount>).
const (
	account   = "arn:aws:iam::123456789012:"
	cluster   = "arn:aws:eks:us-west-2:123456789012:cluster/prod"
	provider  = account + "oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B716D3041E"
	sdcRole   = account + "role/sdc-prod-ns1-sdc"
	sdcPolicy = account + "policy/sdc-prod-ns1-sdc"
	otherRole = account + "role/admin"
	// bind's names at a --role-path.
	pathRole   = account + "role/sdc/sdc-prod-ns1-sdc"
	pathPolicy = account + "policy/sdc/sdc-prod-ns1-sdc"
	// The boundary bind-policy-boundary.json requires.
	boundary = account + "policy/SDCWorkloadBoundary"
	otherPol = account + "policy/team-s3"
	adminAWS = "arn:aws:iam::aws:policy/AdministratorAccess"
	// EKS Pod Identity's resources: the agent add-on, an association, another add-on.
	agent       = "arn:aws:eks:us-west-2:123456789012:addon/prod/eks-pod-identity-agent/2ac6a7f1-0d43-4c1e-9b1e-1b7a2c1e0f00"
	association = "arn:aws:eks:us-west-2:123456789012:podidentityassociation/prod/a-0123456789abcdefg"
	otherAddon  = "arn:aws:eks:us-west-2:123456789012:addon/prod/vpc-cni/2ac6a7f1-0d43-4c1e-9b1e-1b7a2c1e0f00"
)

// passedToPods is the condition key IAM sets when a role is passed to EKS Pod Identity.
var passedToPods = map[string][]string{"iam:PassedToService": {"pods.eks.amazonaws.com"}}

// request is one IAM call, with the condition keys IAM sets for it.
type request struct {
	action, resource string
	context          map[string][]string
}

func loadPolicy(t *testing.T, file string) *iampolicy.Policy {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	p, err := iampolicy.Parse(data)
	if err != nil {
		t.Fatalf("%s does not parse as an IAM policy: %v", file, err)
	}
	if err := p.Validate(iampolicy.Identity); err != nil {
		t.Fatalf("%s is not a valid managed policy: %v", file, err)
	}
	return p
}

func checkRequests(t *testing.T, p *iampolicy.Policy, allowed bool, reqs []request) {
	t.Helper()
	for _, r := range reqs {
		d := iampolicy.Evaluate(iampolicy.Request{Action: r.action, Resource: r.resource, Context: r.context}, p)
		if d.Allowed() != allowed {
			t.Errorf("%s on %s %v: %s; want allowed=%v", r.action, r.resource, r.context, d, allowed)
		}
	}
}

func TestBindPolicy(t *testing.T) {
	t.Parallel()
	p := loadPolicy(t, "bind-policy.json")
	attachSDC := map[string][]string{"iam:PolicyARN": {sdcPolicy}}
	checkRequests(t, p, true, []request{
		{"sts:GetCallerIdentity", "*", nil},
		{"eks:ListClusters", "*", nil},
		{"eks:DescribeCluster", cluster, nil},
		{"iam:ListOpenIDConnectProviders", "*", nil},
		{"iam:GetOpenIDConnectProvider", provider, nil},
		{"iam:CreateOpenIDConnectProvider", provider, nil},
		{"iam:AddClientIDToOpenIDConnectProvider", provider, nil},
		{"iam:TagOpenIDConnectProvider", provider, nil},
		{"iam:GetPolicy", sdcPolicy, nil},
		{"iam:GetPolicyVersion", sdcPolicy, nil},
		{"iam:ListPolicyVersions", sdcPolicy, nil},
		{"iam:CreatePolicy", sdcPolicy, nil},
		{"iam:CreatePolicyVersion", sdcPolicy, nil},
		{"iam:DeletePolicyVersion", sdcPolicy, nil},
		{"iam:TagPolicy", sdcPolicy, nil},
		{"iam:GetRole", sdcRole, nil},
		{"iam:CreateRole", sdcRole, nil},
		{"iam:UpdateAssumeRolePolicy", sdcRole, nil},
		{"iam:TagRole", sdcRole, nil},
		{"iam:AttachRolePolicy", sdcRole, attachSDC},
		{"iam:ListAttachedRolePolicies", sdcRole, nil},
		// The guardrails: a role path, tags, a boundary, settings, and a record dropped.
		{"iam:CreateRole", pathRole, nil},
		{"iam:CreatePolicy", pathPolicy, nil},
		{"iam:AttachRolePolicy", pathRole, map[string][]string{"iam:PolicyARN": {pathPolicy}}},
		{"iam:PutRolePermissionsBoundary", sdcRole, nil},
		{"iam:UpdateRole", pathRole, nil},
		{"iam:UntagRole", sdcRole, nil},
		// --mechanism pod-identity and migrate: the agent, the associations, and the role passed to them.
		{"eks:DescribeAddon", agent, nil},
		{"eks:ListPodIdentityAssociations", cluster, nil},
		{"eks:CreatePodIdentityAssociation", cluster, nil},
		{"eks:DescribePodIdentityAssociation", association, nil},
		{"eks:UpdatePodIdentityAssociation", association, nil},
		{"iam:PassRole", sdcRole, passedToPods},
	})
	checkRequests(t, p, true, bindCalls())
	// The scoping: bind can neither touch roles and policies it does not name, nor give its roles more
	// than its own policies, nor do what it never does.
	checkRequests(t, p, false, []request{
		{"iam:CreateRole", otherRole, nil},
		{"iam:UpdateAssumeRolePolicy", otherRole, nil},
		{"iam:CreatePolicyVersion", otherPol, nil},
		{"iam:AttachRolePolicy", sdcRole, map[string][]string{"iam:PolicyARN": {adminAWS}}},
		{"iam:AttachRolePolicy", otherRole, attachSDC},
		{"iam:PutRolePolicy", sdcRole, nil},
		{"iam:DeleteRole", sdcRole, nil},
		{"iam:PassRole", sdcRole, nil},
		{"iam:CreateOpenIDConnectProvider", account + "oidc-provider/token.actions.githubusercontent.com", nil},
		{"iam:CreateUser", account + "user/sdc-prod", nil},
		// Pod Identity: only sdc-* roles, passed to Pod Identity only; no deletes, no other add-on.
		{"iam:PassRole", otherRole, passedToPods},
		{"iam:PassRole", sdcRole, map[string][]string{"iam:PassedToService": {"ec2.amazonaws.com"}}},
		{"eks:DeletePodIdentityAssociation", association, nil},
		{"eks:DescribeAddon", otherAddon, nil},
		{"eks:CreateAddon", cluster, nil},
		{"eks-auth:AssumeRoleForPodIdentity", cluster, nil},
	})
}

// unbind deletes only what kubectl-sdc made: the tag IAM puts in the request context of a call on a tagged
// resource.
var (
	madeBySDC   = map[string][]string{"aws:ResourceTag/app.kubernetes.io/managed-by": {"kubectl-sdc"}}
	madeByOther = map[string][]string{"aws:ResourceTag/app.kubernetes.io/managed-by": {"terraform"}}
)

func TestUnbindPolicy(t *testing.T) {
	t.Parallel()
	p := loadPolicy(t, "unbind-policy.json")
	tagged := func(extra map[string][]string) map[string][]string {
		m := map[string][]string{}
		for k, v := range madeBySDC {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	checkRequests(t, p, true, []request{
		{"sts:GetCallerIdentity", "*", nil},
		{"eks:ListClusters", "*", nil},
		{"eks:DescribeCluster", cluster, nil},
		{"iam:ListOpenIDConnectProviders", "*", nil},
		{"iam:ListRoles", "*", nil},
		{"iam:GetRole", sdcRole, nil},
		{"iam:ListAttachedRolePolicies", sdcRole, nil},
		{"iam:ListRolePolicies", sdcRole, nil},
		{"iam:GetPolicy", sdcPolicy, nil},
		{"iam:GetPolicyVersion", sdcPolicy, nil},
		{"iam:ListPolicyVersions", sdcPolicy, nil},
		{"iam:GetOpenIDConnectProvider", provider, nil},
		// Removing a subject from a role's trust is not a delete: roles bind shares by --role-name may be
		// anyone's.
		{"iam:UpdateAssumeRolePolicy", sdcRole, nil},
		{"iam:UntagRole", sdcRole, nil},
		{"iam:CreatePolicyVersion", sdcPolicy, madeBySDC},
		{"iam:DeletePolicyVersion", sdcPolicy, madeBySDC},
		{"iam:DeletePolicy", sdcPolicy, madeBySDC},
		{"iam:DeleteRole", sdcRole, madeBySDC},
		{"iam:DetachRolePolicy", sdcRole, tagged(map[string][]string{"iam:PolicyARN": {adminAWS}})},
		{"iam:DetachRolePolicy", sdcRole, map[string][]string{"iam:PolicyARN": {sdcPolicy}}},
		{"iam:DeleteOpenIDConnectProvider", provider, madeBySDC},
		// A binding made with bind --role-path: its role and policy at that path.
		{"iam:GetRole", pathRole, nil},
		{"iam:GetPolicy", pathPolicy, nil},
		{"iam:UpdateAssumeRolePolicy", pathRole, nil},
		{"iam:CreatePolicyVersion", pathPolicy, madeBySDC},
		{"iam:DeletePolicy", pathPolicy, madeBySDC},
		{"iam:DeleteRole", pathRole, madeBySDC},
		{"iam:DetachRolePolicy", pathRole, map[string][]string{"iam:PolicyARN": {pathPolicy}}},
		// EKS Pod Identity: the ServiceAccount's association, and the cluster's others (does one name the role?).
		{"eks:ListPodIdentityAssociations", cluster, nil},
		{"eks:DescribePodIdentityAssociation", association, nil},
		{"eks:DeletePodIdentityAssociation", association, madeBySDC},
	})
	// Deletes only of what kubectl-sdc made, and only of sdc-* names; nothing bind does beyond that.
	checkRequests(t, p, false, []request{
		{"iam:DeleteRole", sdcRole, nil},
		{"iam:DeleteRole", sdcRole, madeByOther},
		{"iam:DeleteRole", pathRole, nil},
		{"iam:DeletePolicy", pathPolicy, madeByOther},
		{"iam:DeleteRole", otherRole, madeBySDC},
		{"iam:DeletePolicy", sdcPolicy, nil},
		{"iam:DeletePolicy", otherPol, madeBySDC},
		{"iam:CreatePolicyVersion", sdcPolicy, nil},
		{"iam:DeletePolicyVersion", sdcPolicy, madeByOther},
		{"iam:DetachRolePolicy", sdcRole, map[string][]string{"iam:PolicyARN": {adminAWS}}},
		{"iam:DetachRolePolicy", otherRole, tagged(map[string][]string{"iam:PolicyARN": {sdcPolicy}})},
		{"iam:DeleteOpenIDConnectProvider", provider, nil},
		{"iam:DeleteOpenIDConnectProvider", account + "oidc-provider/token.actions.githubusercontent.com", madeBySDC},
		{"iam:UpdateAssumeRolePolicy", otherRole, nil},
		{"iam:DeleteRolePolicy", sdcRole, madeBySDC},
		{"iam:PutRolePolicy", sdcRole, madeBySDC},
		{"iam:CreateRole", sdcRole, nil},
		{"iam:AttachRolePolicy", sdcRole, tagged(map[string][]string{"iam:PolicyARN": {sdcPolicy}})},
		{"iam:PassRole", sdcRole, madeBySDC},
		{"iam:TagRole", sdcRole, madeBySDC},
		{"eks:CreatePodIdentityAssociation", cluster, nil},
		{"eks:UpdatePodIdentityAssociation", association, nil},
		{"eks:DeletePodIdentityAssociation", cluster, madeBySDC},
		{"eks:DeletePodIdentityAssociation", association, nil},
		{"eks:DeletePodIdentityAssociation", association, madeByOther},
	})
	// Every delete the policy grants is conditioned on the tag, in the same statement.
	for _, s := range p.Statements {
		for _, a := range s.Action {
			if _, verb, _ := strings.Cut(a, ":"); strings.HasPrefix(verb, "Delete") {
				if s.Condition["StringEquals"]["aws:ResourceTag/app.kubernetes.io/managed-by"] == nil {
					t.Errorf("statement %q grants %s without the managed-by tag condition", s.Sid, a)
				}
			}
		}
	}
}

// bindCalls are the calls bind makes (with --permissions-boundary set to boundary: CreateRole and
// PutRolePermissionsBoundary carry it as iam:PermissionsBoundary).
func bindCalls() []request {
	withBoundary := map[string][]string{"iam:PermissionsBoundary": {boundary}}
	return []request{
		{"sts:GetCallerIdentity", "*", nil},
		{"eks:ListClusters", "*", nil},
		{"eks:DescribeCluster", cluster, nil},
		{"iam:GetOpenIDConnectProvider", provider, nil},
		{"iam:CreateOpenIDConnectProvider", provider, nil},
		{"iam:AddClientIDToOpenIDConnectProvider", provider, nil},
		{"iam:TagOpenIDConnectProvider", provider, nil},
		{"iam:GetPolicy", pathPolicy, nil},
		{"iam:GetPolicyVersion", pathPolicy, nil},
		{"iam:CreatePolicy", pathPolicy, nil},
		{"iam:CreatePolicyVersion", sdcPolicy, nil},
		{"iam:DeletePolicyVersion", sdcPolicy, nil},
		{"iam:TagPolicy", pathPolicy, nil},
		{"iam:GetRole", pathRole, nil},
		{"iam:CreateRole", pathRole, withBoundary},
		{"iam:CreateRole", sdcRole, withBoundary},
		{"iam:PutRolePermissionsBoundary", sdcRole, withBoundary},
		{"iam:UpdateAssumeRolePolicy", pathRole, nil},
		{"iam:UpdateRole", pathRole, nil},
		{"iam:TagRole", pathRole, nil},
		{"iam:UntagRole", pathRole, nil},
		{"iam:AttachRolePolicy", pathRole, map[string][]string{"iam:PolicyARN": {pathPolicy}}},
		{"iam:ListAttachedRolePolicies", pathRole, nil},
	}
}

// bind-policy-boundary.json lets bind make and change roles only with the organization's boundary: every
// call of a bind with --permissions-boundary is allowed, a role without it (or with another) is refused,
// and neither the boundary's removal nor a change of its document is possible.
func TestBindPolicyWithBoundary(t *testing.T) {
	t.Parallel()
	p := loadPolicy(t, "bind-policy-boundary.json")
	checkRequests(t, p, true, bindCalls())
	other := map[string][]string{"iam:PermissionsBoundary": {account + "policy/AdminBoundary"}}
	checkRequests(t, p, false, []request{
		{"iam:CreateRole", sdcRole, nil},
		{"iam:CreateRole", pathRole, nil},
		{"iam:CreateRole", sdcRole, other},
		{"iam:PutRolePermissionsBoundary", sdcRole, nil},
		{"iam:PutRolePermissionsBoundary", sdcRole, other},
		{"iam:DeleteRolePermissionsBoundary", sdcRole, nil},
		{"iam:CreatePolicyVersion", boundary, nil},
		{"iam:SetDefaultPolicyVersion", boundary, nil},
		{"iam:DeletePolicy", boundary, nil},
		{"iam:CreateRole", otherRole, map[string][]string{"iam:PermissionsBoundary": {boundary}}},
		{"iam:AttachRolePolicy", sdcRole, map[string][]string{"iam:PolicyARN": {adminAWS}}},
	})
	// Apart from the boundary, it is bind-policy.json: the same statements with the same grants.
	base := loadPolicy(t, "bind-policy.json")
	for _, r := range bindCalls() {
		r.context = nil
		if r.action == "iam:CreateRole" || r.action == "iam:PutRolePermissionsBoundary" {
			continue
		}
		if a, b := iampolicy.Evaluate(iampolicy.Request{Action: r.action, Resource: r.resource}, base).Allowed(),
			iampolicy.Evaluate(iampolicy.Request{Action: r.action, Resource: r.resource}, p).Allowed(); a != b {
			t.Errorf("%s on %s: bind-policy.json allowed=%v, bind-policy-boundary.json allowed=%v", r.action, r.resource, a, b)
		}
	}
}

// writeActions are calls that change something, on resources the doctor policy can read: none may be
// allowed to it.
var writeActions = []request{
	{"iam:CreateOpenIDConnectProvider", provider, nil},
	{"iam:AddClientIDToOpenIDConnectProvider", provider, nil},
	{"iam:TagOpenIDConnectProvider", provider, nil},
	{"iam:DeleteOpenIDConnectProvider", provider, nil},
	{"iam:CreatePolicy", sdcPolicy, nil},
	{"iam:CreatePolicyVersion", sdcPolicy, nil},
	{"iam:DeletePolicyVersion", sdcPolicy, nil},
	{"iam:SetDefaultPolicyVersion", sdcPolicy, nil},
	{"iam:TagPolicy", sdcPolicy, nil},
	{"iam:CreateRole", sdcRole, nil},
	{"iam:UpdateAssumeRolePolicy", sdcRole, nil},
	{"iam:TagRole", sdcRole, nil},
	{"iam:AttachRolePolicy", sdcRole, map[string][]string{"iam:PolicyARN": {sdcPolicy}}},
	{"iam:PutRolePolicy", sdcRole, nil},
	{"iam:DeleteRole", sdcRole, nil},
	{"iam:PassRole", sdcRole, nil},
	{"eks:UpdateClusterConfig", cluster, nil},
	{"eks:CreatePodIdentityAssociation", cluster, nil},
	{"eks:UpdatePodIdentityAssociation", association, nil},
	{"eks:DeletePodIdentityAssociation", association, nil},
	{"eks:CreateAddon", cluster, nil},
	{"iam:PassRole", sdcRole, passedToPods},
	{"sts:AssumeRole", sdcRole, nil},
	{"s3:PutObject", "arn:aws:s3:::sdc-ingest-bucket/marker", nil},
}

func TestDoctorPolicy(t *testing.T) {
	t.Parallel()
	p := loadPolicy(t, "doctor-policy.json")
	checkRequests(t, p, true, []request{
		{"sts:GetCallerIdentity", "*", nil},
		{"eks:ListClusters", "*", nil},
		{"eks:DescribeCluster", cluster, nil},
		{"iam:ListOpenIDConnectProviders", "*", nil},
		{"iam:GetOpenIDConnectProvider", provider, nil},
		// doctor follows whatever role a ServiceAccount is annotated with, made by bind or not.
		{"iam:GetRole", sdcRole, nil},
		{"iam:GetRole", otherRole, nil},
		{"iam:ListAttachedRolePolicies", otherRole, nil},
		{"iam:ListRolePolicies", otherRole, nil},
		{"iam:GetRolePolicy", otherRole, nil},
		{"iam:GetPolicy", sdcPolicy, nil},
		{"iam:GetPolicyVersion", otherPol, nil},
		{"iam:ListPolicyVersions", sdcPolicy, nil},
		{"iam:GetPolicy", adminAWS, nil},
		{"iam:GetPolicyVersion", adminAWS, nil},
		{"eks:DescribeAddon", agent, nil},
		{"eks:ListPodIdentityAssociations", cluster, nil},
		{"eks:DescribePodIdentityAssociation", association, nil},
	})
	// EKS Auth hands out the credentials of any associated role: that is --probe's, in a policy of its own.
	checkRequests(t, p, false, append(writeActions, request{"eks-auth:AssumeRoleForPodIdentity", cluster, nil}))
	// And by construction: every action it names reads (IAM's policy simulator evaluates policies and changes
	// nothing: doctor's operator check asks it).
	for _, s := range p.Statements {
		for _, a := range s.Action {
			_, verb, _ := strings.Cut(a, ":")
			if !strings.HasPrefix(verb, "Get") && !strings.HasPrefix(verb, "List") && !strings.HasPrefix(verb, "Describe") && a != "iam:SimulatePrincipalPolicy" {
				t.Errorf("doctor-policy.json grants %s, which is not a read (Get, List, Describe or the policy simulator)", a)
			}
		}
		if len(s.NotAction) > 0 || s.Effect != iampolicy.Allow {
			t.Errorf("statement %q: use plain Allow statements with Action lists, so the read-only promise can be checked", s.Sid)
		}
	}
}

// doctor --probe on a ServiceAccount served by EKS Pod Identity calls EKS Auth as the Pod Identity agent
// does, signed with doctor's credentials: that one action, and nothing else.
func TestDoctorProbePolicy(t *testing.T) {
	t.Parallel()
	p := loadPolicy(t, "doctor-probe-policy.json")
	checkRequests(t, p, true, []request{{"eks-auth:AssumeRoleForPodIdentity", cluster, nil}})
	checkRequests(t, p, false, append(writeActions,
		request{"eks-auth:AssumeRoleForPodIdentity", account + "role/sdc-prod-ns1-sdc", nil},
		request{"eks:DescribeCluster", cluster, nil}))
	for _, s := range p.Statements {
		if len(s.Action) != 1 || s.Action[0] != "eks-auth:AssumeRoleForPodIdentity" || s.Effect != iampolicy.Allow {
			t.Errorf("statement %q grants %v: the probe policy holds eks-auth:AssumeRoleForPodIdentity alone", s.Sid, s.Action)
		}
	}
}

// loadRoles reads every ClusterRole of a multi-document YAML file, strictly.
func loadRoles(t *testing.T, file string) map[string]rbacv1.ClusterRole {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	roles := map[string]rbacv1.ClusterRole{}
	for i, doc := range bytes.Split(data, []byte("\n---\n")) {
		var r rbacv1.ClusterRole
		if err := yaml.UnmarshalStrict(doc, &r); err != nil {
			t.Fatalf("%s document %d is not a ClusterRole: %v", file, i, err)
		}
		if r.APIVersion != "rbac.authorization.k8s.io/v1" || r.Kind != "ClusterRole" || r.Name == "" {
			t.Fatalf("%s document %d: apiVersion %q, kind %q, name %q; want a named rbac.authorization.k8s.io/v1 ClusterRole",
				file, i, r.APIVersion, r.Kind, r.Name)
		}
		for j, rule := range r.Rules {
			if len(rule.Verbs) == 0 || (len(rule.Resources) == 0) == (len(rule.NonResourceURLs) == 0) {
				t.Errorf("%s %s rule %d: want verbs and either resources or nonResourceURLs", file, r.Name, j)
			}
		}
		roles[r.Name] = r
	}
	return roles
}

// access is one Kubernetes request: a resource (with its API group) or a non-resource URL.
type access struct{ group, resource, verb string }

// allows reports whether any rule grants a, with RBAC's "*" meaning everything.
func allows(rules []rbacv1.PolicyRule, a access) bool {
	match := func(list []string, v string) bool { return slices.Contains(list, v) || slices.Contains(list, "*") }
	for _, r := range rules {
		if !match(r.Verbs, a.verb) {
			continue
		}
		if strings.HasPrefix(a.resource, "/") {
			if match(r.NonResourceURLs, a.resource) {
				return true
			}
			continue
		}
		if match(r.APIGroups, a.group) && match(r.Resources, a.resource) {
			return true
		}
	}
	return false
}

func TestRBAC(t *testing.T) {
	t.Parallel()
	discovery := []access{{"", "/.well-known/openid-configuration", "get"}, {"", "/openid/v1/jwks", "get"}}
	tests := []struct {
		file, role string
		allowed    []access
		denied     []access
	}{
		{
			file: "bind-rbac.yaml", role: "kubectl-sdc-bind",
			allowed: append([]access{
				{"", "namespaces", "get"}, {"", "namespaces", "create"}, {"", "namespaces", "patch"},
				{"", "serviceaccounts", "get"}, {"", "serviceaccounts", "create"}, {"", "serviceaccounts", "patch"},
				{"apps", "deployments", "get"}, {"apps", "deployments", "create"}, {"apps", "deployments", "patch"},
				{"", "pods", "list"}, {"", "pods", "get"},
				{"coordination.k8s.io", "leases", "get"}, {"coordination.k8s.io", "leases", "create"}, {"coordination.k8s.io", "leases", "update"},
			}, discovery...),
			denied: []access{
				{"", "namespaces", "delete"}, {"", "serviceaccounts", "delete"}, {"apps", "deployments", "delete"},
				{"", "pods", "delete"}, {"", "secrets", "get"}, {"", "serviceaccounts/token", "create"},
				{"rbac.authorization.k8s.io", "clusterroles", "create"},
			},
		},
		{
			file: "unbind-rbac.yaml", role: "kubectl-sdc-unbind",
			allowed: append([]access{
				{"", "serviceaccounts", "get"}, {"", "serviceaccounts", "patch"}, {"", "serviceaccounts", "delete"},
				{"apps", "deployments", "list"}, {"apps", "deployments", "patch"}, {"", "pods", "list"},
				{"coordination.k8s.io", "leases", "get"}, {"coordination.k8s.io", "leases", "create"}, {"coordination.k8s.io", "leases", "update"},
			}, discovery...),
			denied: []access{
				{"", "namespaces", "delete"}, {"", "namespaces", "create"}, {"", "serviceaccounts", "create"},
				{"apps", "deployments", "delete"}, {"apps", "deployments", "create"}, {"", "pods", "delete"},
				{"", "secrets", "get"}, {"", "serviceaccounts/token", "create"},
			},
		},
		{
			file: "doctor-rbac.yaml", role: "kubectl-sdc-doctor",
			allowed: append([]access{
				{"", "serviceaccounts", "list"}, {"apps", "deployments", "list"}, {"", "pods", "list"},
				{"admissionregistration.k8s.io", "mutatingwebhookconfigurations", "list"}, {"", "namespaces", "list"},
			}, discovery...),
			denied: []access{
				{"", "serviceaccounts/token", "create"}, {"", "serviceaccounts", "patch"}, {"apps", "deployments", "patch"},
				{"", "secrets", "list"}, {"admissionregistration.k8s.io", "mutatingwebhookconfigurations", "patch"},
			},
		},
		{
			file: "doctor-rbac.yaml", role: "kubectl-sdc-doctor-probe",
			allowed: []access{{"", "serviceaccounts/token", "create"}},
			denied:  []access{{"", "serviceaccounts", "create"}, {"", "secrets", "get"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.role, func(t *testing.T) {
			t.Parallel()
			role, ok := loadRoles(t, tc.file)[tc.role]
			if !ok {
				t.Fatalf("%s has no ClusterRole %s", tc.file, tc.role)
			}
			for _, a := range tc.allowed {
				if !allows(role.Rules, a) {
					t.Errorf("%s does not allow %s on %q %s", tc.role, a.verb, a.group, a.resource)
				}
			}
			for _, a := range tc.denied {
				if allows(role.Rules, a) {
					t.Errorf("%s allows %s on %q %s, which it should not", tc.role, a.verb, a.group, a.resource)
				}
			}
		})
	}
}

// The doctor's roles write nothing but the probe's token request.
func TestDoctorRBACIsReadOnly(t *testing.T) {
	t.Parallel()
	reads := []string{"get", "list", "watch"}
	for name, role := range loadRoles(t, "doctor-rbac.yaml") {
		for _, rule := range role.Rules {
			for _, verb := range rule.Verbs {
				if slices.Contains(reads, verb) {
					continue
				}
				if name == "kubectl-sdc-doctor-probe" && verb == "create" && slices.Equal(rule.Resources, []string{"serviceaccounts/token"}) {
					continue
				}
				t.Errorf("%s grants %s on %v%v", name, verb, rule.Resources, rule.NonResourceURLs)
			}
		}
	}
}
