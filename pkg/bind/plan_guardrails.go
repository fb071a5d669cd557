package bind

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/iamread"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/plan"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// userTagChanges are the --tag values an existing resource bind made lacks or holds with another value;
// tags others put there stay.
func userTagChanges(res *Result, current map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range res.Request.Guardrails.Tags {
		if cur, ok := current[k]; !ok || cur != v {
			out[k] = v
		}
	}
	return out
}

// tagNotes describe tag changes for the plan, sorted by key.
func tagNotes(current, changes map[string]string) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(changes)) {
		if old, ok := current[k]; ok {
			out = append(out, fmt.Sprintf("tag %s: %q -> %q", k, old, changes[k]))
		} else {
			out = append(out, fmt.Sprintf("tag %s=%s", k, changes[k]))
		}
	}
	return out
}

// roleGuardrails plans the guardrails of an existing role into op and c: a new permissions boundary (only
// on a role bind made: another's is refused before anything is written), the --tag values, and a new
// description or maximum session duration. It reports whether anything changes.
func roleGuardrails(res *Result, role *iamread.Role, c *plan.Change, op *writeTrust) (bool, error) {
	g, n := res.Request.Guardrails, res.Names
	ours := managedByBind(role.Tags)
	changed := false
	if b := g.PermissionsBoundary; b != "" && role.BoundaryARN != b {
		if !ours {
			now := "no permissions boundary"
			if role.BoundaryARN != "" {
				now = "permissions boundary " + role.BoundaryARN
			}
			return false, &FlagError{Flag: source(g.Sources.PermissionsBoundary, "--permissions-boundary"), Value: b, Rule: fmt.Sprintf(
				"IAM role %s (found by %s) has %s and was not made by kubectl-sdc (no %s=%s tag), so bind will not change its boundary: ask its owners to set it (aws iam put-role-permissions-boundary --role-name %s --permissions-boundary %s), or bind to a role of its own (--role-name NAME)",
				role.ARN, n.RoleSource, now, vocab.ManagedByKey, vocab.ManagedByValue, role.Name, b)}
		}
		op.Boundary = b
		old := role.BoundaryARN
		if old == "" {
			old = "none"
		}
		c.Notes = append(c.Notes, fmt.Sprintf("permissions boundary: %s -> %s", old, b))
		changed = true
	}
	if !ours {
		var ignored []string
		if len(g.Tags) > 0 {
			ignored = append(ignored, "--tag")
		}
		if g.Description != "" && g.Description != role.Description {
			ignored = append(ignored, "--description")
		}
		if g.MaxSessionDuration != 0 && g.MaxSessionDuration != role.MaxSessionDuration {
			ignored = append(ignored, "--max-session-duration")
		}
		if len(ignored) > 0 {
			c.Notes = append(c.Notes, fmt.Sprintf("%s left as they are: the role was not made by kubectl-sdc", strings.Join(ignored, ", ")))
		}
		return changed, nil
	}
	if tags := userTagChanges(res, role.Tags); len(tags) > 0 {
		if op.Tags == nil {
			op.Tags = map[string]string{}
		}
		maps.Copy(op.Tags, tags)
		changed = true
	}
	settings := roleSettings{Description: role.Description, MaxSessionDuration: role.MaxSessionDuration}
	if g.Description != "" && g.Description != role.Description {
		settings.Description = g.Description
		c.Notes = append(c.Notes, fmt.Sprintf("description: %q -> %q", role.Description, g.Description))
	}
	if g.MaxSessionDuration != 0 && g.MaxSessionDuration != role.MaxSessionDuration {
		settings.MaxSessionDuration = g.MaxSessionDuration
		c.Notes = append(c.Notes, fmt.Sprintf("maximum session duration: %ds -> %ds", role.MaxSessionDuration, g.MaxSessionDuration))
	}
	if settings.Description != role.Description || settings.MaxSessionDuration != role.MaxSessionDuration {
		op.Settings = &settings
		changed = true
	}
	return changed, nil
}

// pathWarnings say when the role or the policy bind uses is not at the path asked for: IAM fixes a path at
// creation, so bind reports it and keeps using them where they are.
func pathWarnings(res *Result) []string {
	want := res.Request.Guardrails.RolePath
	if want == "" {
		return nil
	}
	var out []string
	o := res.Observed
	if o.Role != nil {
		if p, ok := vocab.ParseRoleARN(o.Role.ARN); ok && p.Path != want {
			out = append(out, fmt.Sprintf("IAM role %s is at path %s, not %s (--role-path): IAM fixes a role's path when it is created, so bind keeps using it where it is (to move it, delete the role and bind again)",
				o.Role.ARN, p.Path, want))
		}
	}
	if o.Policy != nil {
		if p, ok := vocab.ParsePolicyARN(o.Policy.ARN); ok && p.Path != want {
			out = append(out, fmt.Sprintf("IAM policy %s is at path %s, not %s (--role-path): bind keeps using it where it is", o.Policy.ARN, p.Path, want))
		}
	}
	return out
}

// newRole is how the role is created: trust, tags and every guardrail in the one CreateRole call.
func newRole(res *Result, trust string, tags map[string]string) *createRole {
	r, g, n := res.Request, res.Request.Guardrails, res.Names
	c := &createRole{Name: n.RoleName, Trust: trust, Tags: tags, Description: g.Description,
		Boundary: g.PermissionsBoundary, MaxSessionDuration: g.MaxSessionDuration}
	if c.Description == "" {
		description := roleDescriptionTemplate
		if r.podIdentityMode() {
			description = podIdentityRoleDescriptionTemplate
		}
		c.Description = fmt.Sprintf(description, r.Namespace, r.ServiceAccount, res.Cluster.Name)
	}
	if n.RolePath != "/" {
		c.Path = n.RolePath
	}
	return c
}

// createNotes say which guardrails a new role is created with.
func createNotes(c *createRole) []string {
	var out []string
	if c.Path != "" {
		out = append(out, "at path "+c.Path)
	}
	if c.Boundary != "" {
		out = append(out, "permissions boundary "+c.Boundary)
	}
	if c.MaxSessionDuration != 0 {
		out = append(out, fmt.Sprintf("maximum session duration %ds", c.MaxSessionDuration))
	}
	var user []string
	for _, k := range slices.Sorted(maps.Keys(c.Tags)) {
		if !vocab.OwnTag(k) {
			user = append(user, k+"="+c.Tags[k])
		}
	}
	if len(user) > 0 {
		out = append(out, "tags "+strings.Join(user, ", "))
	}
	return out
}

// checkBoundary refuses a permissions boundary of another account before anything is written: IAM takes
// a boundary only from the role's own account, or an AWS managed policy.
func checkBoundary(res *Result) error {
	g := res.Request.Guardrails
	if g.PermissionsBoundary == "" {
		return nil
	}
	p, _ := vocab.ParsePolicyARN(g.PermissionsBoundary)
	if p.Account != "aws" && p.Account != res.Names.Account {
		return &FlagError{Flag: source(g.Sources.PermissionsBoundary, "--permissions-boundary"), Value: g.PermissionsBoundary, Rule: fmt.Sprintf(
			"a permissions boundary is a managed policy of the role's own account (%s) or an AWS managed policy, and this one is in account %s",
			res.Names.Account, p.Account)}
	}
	return nil
}
