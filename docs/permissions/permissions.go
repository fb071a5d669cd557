// Package permissions holds the permission documents beside it, embedded, so that the plugin can say which
// one grants a permission a user lacks. Its test checks that they grant what kubectl sdc bind, unbind, list
// and doctor call, and nothing they should not, with the same IAM evaluation the plugin uses
// (pkg/iampolicy) and the Kubernetes rbac/v1 types.
package permissions

import (
	"embed"
	"slices"
	"sort"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
)

//go:embed *.json *.yaml
var files embed.FS

// The IAM policies a write may be granted by, in the order a refusal names them.
var policyFiles = []string{"bind-policy.json", "bind-policy-boundary.json", "unbind-policy.json"}

// The ClusterRoles' files.
var rbacFiles = []string{"bind-rbac.yaml", "unbind-rbac.yaml"}

// PolicyGranting names the documents among bind's and unbind's IAM policies that allow the action on the
// resource with these condition keys; when none does for this resource (a name the documents do not scope,
// like the sandbox's issuer), those that allow the action on some resource.
func PolicyGranting(action, resource string, context map[string][]string) []string {
	var exact, byAction []string
	for _, f := range policyFiles {
		data, err := files.ReadFile(f)
		if err != nil {
			continue
		}
		p, err := iampolicy.Parse(data)
		if err != nil {
			continue
		}
		if iampolicy.Evaluate(iampolicy.Request{Action: action, Resource: resource, Context: context}, p).Allowed() {
			exact = append(exact, f)
		} else if allowsAction(p, action) {
			byAction = append(byAction, f)
		}
	}
	if len(exact) > 0 {
		return exact
	}
	return byAction
}

// allowsAction reports whether an Allow statement of p names action, whatever its resources and conditions.
func allowsAction(p *iampolicy.Policy, action string) bool {
	for _, s := range p.Statements {
		if s.Effect != iampolicy.Allow {
			continue
		}
		any := iampolicy.NewPolicy(iampolicy.Statement{Effect: iampolicy.Allow, Action: s.Action, NotAction: s.NotAction, Resource: iampolicy.Values{"*"}})
		if iampolicy.Evaluate(iampolicy.Request{Action: action, Resource: "arn:aws:iam::000000000000:x"}, any).Allowed() {
			return true
		}
	}
	return false
}

// RBACGranting names the documents whose ClusterRole allows verb on group/resource.
func RBACGranting(verb, group, resource string) []string {
	var out []string
	for _, f := range rbacFiles {
		data, err := files.ReadFile(f)
		if err != nil {
			continue
		}
		for _, doc := range strings.Split(string(data), "\n---") {
			var role rbacv1.ClusterRole
			if yaml.Unmarshal([]byte(doc), &role) != nil || role.Kind != "ClusterRole" {
				continue
			}
			for _, r := range role.Rules {
				if slices.Contains(r.APIGroups, group) && slices.Contains(r.Resources, resource) && (slices.Contains(r.Verbs, verb) || slices.Contains(r.Verbs, "*")) {
					out = append(out, f)
				}
			}
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}
