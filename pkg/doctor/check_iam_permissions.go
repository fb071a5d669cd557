package doctor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/catalog"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// iamPermissions: the role's attached and inline policies allow every action the stages need on their
// resources (evaluated with pkg/iampolicy); warn on grants of `*` actions or resources beyond the need.
var iamPermissions = Check{
	ID: "iam.permissions", Layer: LayerIAM, Scope: TargetScope,
	Needs: []string{"iam.role"},
	Run: func(_ context.Context, f *Facts, t *Target) Result {
		r := f.Roles[t.RoleARN]
		if t.Selection == nil {
			if t.SelectionErr != nil {
				return skip("skipped: the role's stages tag cannot be read", t.SelectionErr.Error()+"; or pass the stages: --stage NAME --set KEY=VALUE")
			}
			return skip("skipped: no stages to check the permissions against",
				fmt.Sprintf("no --stage/--bucket given and role %s has no %s tag (bind writes it): pass the stages, e.g. --bucket BUCKET or --stage NAME --set KEY=VALUE", r.Name, vocab.TagStages))
		}
		needed, err := f.neededPolicy(*t.Selection)
		var invalid *invalidRendering
		switch {
		case errors.As(err, &invalid):
			return skip("skipped: the catalog rendered an invalid policy", invalid.err.Error())
		case err != nil:
			return skip("skipped: the stages cannot be turned into a policy", fmt.Sprintf("%v (stages from %s)", err, t.SelectionFrom))
		}
		set := rolePolicies(f, r)
		stages := fmt.Sprintf("stages %s (from %s)", strings.Join(t.Selection.Stages, ", "), t.SelectionFrom)

		var missing []string
		total := 0
		for _, s := range needed.Statements {
			for _, a := range s.Action {
				for _, res := range s.Resource {
					total++
					d := iampolicy.Evaluate(iampolicy.Request{Action: a, Resource: res}, set.policies...)
					if d.Allowed() {
						continue
					}
					m := a + " on " + res
					if d.Effect == iampolicy.Deny {
						m += " (explicitly denied by " + set.names[d.PolicyIndex] + ")"
					}
					missing = append(missing, m)
				}
			}
		}
		held := set.describe()
		if len(missing) > 0 {
			return fail(fmt.Sprintf("role %s lacks %d of the %d permissions its stages need", r.Name, len(missing), total),
				fmt.Sprintf("%s; missing: %s; %s", stages, strings.Join(missing, ", "), held),
				bindFix(f, t))
		}
		if broad, fixes := wildcardGrants(f, t, r, set, needed); len(broad) > 0 {
			return warn(fmt.Sprintf("role %s's policies grant `*` beyond what its stages need", r.Name),
				strings.Join(broad, "; ")+"; "+held, strings.Join(fixes, " && "))
		}
		return pass(fmt.Sprintf("role %s allows all %d permissions its stages need", r.Name, total), stages+"; "+held)
	},
}

// rendering is the policy the catalog renders for one selection, kept per Facts: the targets of a shared
// role, or of many roles with the same stages, render it once (rendering and parsing per target was most
// of doctor -A's time at 10,000 targets).
type rendering struct {
	policy *iampolicy.Policy
	err    error
}

// invalidRendering is a rendered policy that does not parse: the catalog's fault, not the stages'.
type invalidRendering struct{ err error }

func (e *invalidRendering) Error() string { return e.err.Error() }

// neededPolicy is the policy the stages of sel need, rendered once per distinct selection.
func (f *Facts) neededPolicy(sel catalog.Selection) (*iampolicy.Policy, error) {
	key := selectionKey(sel)
	if r, ok := f.renderings.Load(key); ok {
		return r.(rendering).policy, r.(rendering).err
	}
	var r rendering
	doc, _, err := f.Catalog.Render(sel, catalog.Target{Partition: f.Identity.Partition, Region: f.Region, Account: f.Identity.Account})
	if err != nil {
		r.err = err
	} else if r.policy, err = iampolicy.Parse(doc); err != nil {
		r.err = &invalidRendering{err}
	}
	f.renderings.Store(key, r)
	return r.policy, r.err
}

// selectionKey is one string per distinct selection: its stages, then its parameters sorted.
func selectionKey(sel catalog.Selection) string {
	keys := make([]string, 0, len(sel.Params))
	for k := range sel.Params {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	b.WriteString(strings.Join(sel.Stages, "+"))
	for _, k := range keys {
		b.WriteString("\x00" + k + "=" + sel.Params[k])
	}
	return b.String()
}

// policySet is a role's identity policies with a name for each, for messages.
type policySet struct {
	policies []*iampolicy.Policy
	names    []string
	arns     []string // managed policy ARN, "" for inline ones
	problems []string
}

func rolePolicies(f *Facts, r *Role) policySet {
	var s policySet
	for _, a := range r.Attached {
		p := f.Policies[a]
		switch {
		case p == nil || p.Err != nil:
			err := "not read"
			if p != nil {
				err = p.Err.Error()
			}
			s.problems = append(s.problems, fmt.Sprintf("attached policy %s could not be read (%s)", a, err))
		case !p.Exists:
			s.problems = append(s.problems, fmt.Sprintf("attached policy %s does not exist", a))
		default:
			s.policies = append(s.policies, p.Document)
			s.names = append(s.names, fmt.Sprintf("policy %s (version %s)", a, p.DefaultVersion))
			s.arns = append(s.arns, a)
		}
	}
	for _, n := range r.InlineNames {
		s.policies = append(s.policies, r.Inline[n])
		s.names = append(s.names, "inline policy "+n)
		s.arns = append(s.arns, "")
	}
	return s
}

func (s policySet) describe() string {
	if len(s.names) == 0 && len(s.problems) == 0 {
		return "the role has no attached or inline policies"
	}
	out := "the role's policies: " + strings.Join(s.names, ", ")
	if len(s.names) == 0 {
		out = "the role's policies: none readable"
	}
	if len(s.problems) > 0 {
		out += "; " + strings.Join(s.problems, "; ")
	}
	return out
}

// wildcardGrants finds Allow statements granting `*` actions (or NotAction), or `*` resources for actions
// that the stages do not need on `*` (some actions, like sqs:ListQueues, have no resource-level
// permissions, and the catalog grants them on `*` itself).
func wildcardGrants(f *Facts, t *Target, r *Role, set policySet, needed *iampolicy.Policy) (issues, fixes []string) {
	starOK := map[string]bool{}
	for _, s := range needed.Statements {
		if slices.Contains(s.Resource, "*") {
			for _, a := range s.Action {
				starOK[strings.ToLower(a)] = true
			}
		}
	}
	ownPolicy := r.Name // bind names the policy it makes like the role
	fixed := map[int]bool{}
	for i, p := range set.policies {
		for j, s := range p.Statements {
			if s.Effect != iampolicy.Allow {
				continue
			}
			var what []string
			for _, a := range s.Action {
				if strings.Contains(a, "*") {
					what = append(what, "Action "+a)
				}
			}
			if s.NotAction != nil {
				what = append(what, "NotAction (everything else)")
			}
			if slices.Contains(s.Resource, "*") {
				for _, a := range s.Action {
					if !starOK[strings.ToLower(a)] {
						if strings.Contains(a, "*") {
							what = append(what, "Resource *")
						} else {
							what = append(what, "Resource * for "+a)
						}
						break
					}
				}
			}
			if len(what) == 0 {
				continue
			}
			issues = append(issues, fmt.Sprintf("%s, %s: %s", set.names[i], statementLabel(p, j), strings.Join(what, ", ")))
			if fixed[i] {
				continue
			}
			fixed[i] = true
			switch {
			case set.arns[i] == "":
				fixes = append(fixes, command("aws", "iam", "delete-role-policy", "--role-name", r.Name, "--policy-name", strings.TrimPrefix(set.names[i], "inline policy ")))
			case ownPolicy != "" && strings.HasSuffix(set.arns[i], ":policy/"+ownPolicy) && t.Selection != nil:
				// bind's own policy: bind writes the exact document back as a new default version.
				fixes = append(fixes, bindFix(f, t))
			default:
				fixes = append(fixes, command("aws", "iam", "detach-role-policy", "--role-name", r.Name, "--policy-arn", set.arns[i]))
			}
		}
	}
	return issues, fixes
}
