package doctor

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/catalog"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// iamPermissions: the role's attached and inline policies, within its permissions boundary, allow every
// call the stages make (plugins.yaml's calls: action, resource and condition context, read from SDC's
// source; evaluated with pkg/iampolicy as IAM does); warn on grants of
// `*` actions or resources beyond the need. When the stages assume another role, what this role needs is
// sts:AssumeRole on it (the stages' own permissions are that role's: iam.assume-role-target).
var iamPermissions = Check{
	ID: "iam.permissions", Layer: LayerIAM, Scope: TargetScope,
	Needs: []string{"iam.role"},
	Run: func(_ context.Context, f *Facts, t *Target) Result {
		r := f.Roles[t.RoleARN]
		var needed *stageNeed
		var stages string
		switch {
		case t.Chain:
			needed = chainNeed(f, t)
			stages = fmt.Sprintf("EKS Pod Identity's target role: %s on %s (from %s; the stages' own permissions are that role's, see iam.assume-role-target)",
				strings.Join(actionsOf(needed.requests), " and "), t.AssumeRoleARN, t.AssumeRoleFrom)
		case t.AssumeRoleARN != "":
			needed = assumeRoleNeed(t.AssumeRoleARN)
			stages = fmt.Sprintf("Assume Another Role: %s and %s (SDC's session tag %s) on %s (from %s; the stages' own permissions are that role's, see iam.assume-role-target)",
				vocab.ActionAssumeRole, vocab.ActionTagSession, vocab.SDCSessionTagKey, t.AssumeRoleARN, t.AssumeRoleFrom)
		case t.Selection == nil:
			if t.SelectionErr != nil {
				return skip("skipped: the role's stages tag cannot be read", t.SelectionErr.Error()+"; or pass the stages: --stage NAME --set KEY=VALUE")
			}
			return skip("skipped: no stages to check the permissions against",
				fmt.Sprintf("no --stage/--bucket given and role %s has no %s tag (bind writes it): pass the stages, e.g. --bucket BUCKET or --stage NAME --set KEY=VALUE", r.Name, vocab.TagStages))
		default:
			var res *Result
			if needed, res = stagesNeed(f, t, f.Identity.Account); res != nil {
				return *res
			}
			stages = fmt.Sprintf("stages %s (from %s)", strings.Join(t.Selection.Stages, ", "), t.SelectionFrom)
		}
		set := rolePolicies(f, r)
		if !t.Chain {
			if res := sessionPolicyRefuses(f, t, needed); res != nil {
				return *res
			}
		}
		missing, total, byBoundary := set.lacks(needed.requests)
		held := set.describe()
		if len(missing) > 0 {
			fix := bindFix(f, t)
			if byBoundary == len(missing) {
				fix = boundaryFix(set, missing)
			}
			return fail(fmt.Sprintf("role %s lacks %d of the %d permissions its stages' calls need", r.Name, len(missing), total),
				fmt.Sprintf("%s; missing: %s; %s", stages, strings.Join(missing, ", "), held), fix)
		}
		if broad, fixes := wildcardGrants(f, t, r, set, needed.policy); len(broad) > 0 {
			return warn(fmt.Sprintf("role %s's policies grant `*` beyond what its stages need", r.Name),
				strings.Join(broad, "; ")+"; "+held, strings.Join(fixes, " && "))
		}
		return pass(fmt.Sprintf("role %s allows all %d calls its stages make", r.Name, total), stages+"; "+held)
	},
}

// stageNeed is what a selection of stages needs of a role: the policy the catalog renders for it, and the
// requests its stages make, each of which the role's policies must allow.
type stageNeed struct {
	policy   *iampolicy.Policy
	requests []iampolicy.Request
}

// rendering is the need the catalog renders for one selection, kept per Facts: the targets of a shared
// role, or of many roles with the same stages, render it once (rendering and parsing per target was most
// of doctor -A's time at 10,000 targets).
type rendering struct {
	need *stageNeed
	err  error
}

// invalidRendering is a rendered policy that does not parse: the catalog's fault, not the stages'.
type invalidRendering struct{ err error }

func (e *invalidRendering) Error() string { return e.err.Error() }

// neededPolicy is what the stages of sel need in account, rendered once per distinct selection and
// account: the calls of every SDC release the catalog knows (doctor does not know which one runs), and,
// for a stage of a catalog that lists no calls, every action of its statements on each resource.
func (f *Facts) neededPolicy(sel catalog.Selection, account string) (*stageNeed, error) {
	key := account + "\x00" + selectionKey(sel)
	if r, ok := f.renderings.Load(key); ok {
		return r.(rendering).need, r.(rendering).err
	}
	r := rendering{}
	r.need, r.err = f.renderNeed(sel, catalog.Target{Partition: f.Identity.Partition, Region: f.Region, Account: account})
	f.renderings.Store(key, r)
	return r.need, r.err
}

func (f *Facts) renderNeed(sel catalog.Selection, target catalog.Target) (*stageNeed, error) {
	doc, _, err := f.Catalog.Render(sel, target)
	if err != nil {
		return nil, err
	}
	need := &stageNeed{}
	if need.policy, err = iampolicy.Parse(doc); err != nil {
		return nil, &invalidRendering{err}
	}
	calls, err := f.Catalog.Calls(sel, target, "")
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	add := func(req iampolicy.Request) {
		k := fmt.Sprint(req.Action, req.Resource, req.Context)
		if !seen[k] {
			seen[k] = true
			need.requests = append(need.requests, req)
		}
	}
	for _, c := range calls {
		add(iampolicy.Request{Action: c.Action, Resource: c.Resource, Context: c.Context})
	}
	statements, _, err := f.Catalog.Statements(sel, target)
	if err != nil {
		return nil, err
	}
	for _, st := range statements {
		if s, ok := f.Catalog.Stage(st.Stage); ok && len(s.Calls) > 0 {
			continue
		}
		for _, a := range st.Action {
			for _, res := range st.Resource {
				add(iampolicy.Request{Action: a, Resource: res, Context: st.Condition["ForAnyValue:StringEquals"]})
			}
		}
	}
	return need, nil
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

// stagesNeed is what the target's stages need, in account (f.neededPolicy); a non-nil Result says why
// there is none (a skip).
func stagesNeed(f *Facts, t *Target, account string) (*stageNeed, *Result) {
	needed, err := f.neededPolicy(*t.Selection, account)
	var invalid *invalidRendering
	switch {
	case errors.As(err, &invalid):
		r := skip("skipped: the catalog rendered an invalid policy", invalid.err.Error())
		return nil, &r
	case err != nil:
		r := skip("skipped: the stages cannot be turned into a policy", fmt.Sprintf("%v (stages from %s)", err, t.SelectionFrom))
		return nil, &r
	}
	return needed, nil
}

// assumeRoleNeed is what a role whose stages assume target must be allowed: SDC's call, sts:AssumeRole on
// it, with SDC's session tag, which IAM also judges as sts:TagSession (the identity-based side of the
// requests: no principal; the tag keys are what a least-privilege policy conditions on).
func assumeRoleNeed(target string) *stageNeed {
	return &stageNeed{
		policy: iampolicy.SDCAssumeRolePolicy(target),
		requests: []iampolicy.Request{
			{Action: vocab.ActionAssumeRole, Resource: target},
			{Action: vocab.ActionTagSession, Resource: target, Context: map[string][]string{
				"aws:TagKeys": {vocab.SDCSessionTagKey}, "aws:RequestTag/" + vocab.SDCSessionTagKey: {DefaultProbePrincipal}}},
		},
	}
}

// chainNeed is what the association's role needs for EKS to assume the target with its session: the
// second hop's requests (sts:AssumeRole, and sts:TagSession with the session tags unless they are
// disabled), without a Principal.
func chainNeed(f *Facts, t *Target) *stageNeed {
	s := podIdentitySession(f, t)
	ext := ""
	if t.Association != nil {
		ext = t.Association.ExternalID
	}
	var reqs []iampolicy.Request
	for _, r := range iampolicy.PodIdentityTargetRequests(s, t.RoleARN, t.AssumeRoleARN, ext) {
		r.Principal = nil
		reqs = append(reqs, r)
	}
	return &stageNeed{policy: iampolicy.PodIdentityTargetPolicy(t.AssumeRoleARN), requests: reqs}
}

func actionsOf(reqs []iampolicy.Request) []string {
	var out []string
	for _, r := range reqs {
		out = append(out, r.Action)
	}
	return out
}

// lacks evaluates every request against the role's policies and boundary, as IAM does: the requests not
// allowed, described, how many were asked, and how many of the refusals only the boundary makes.
func (s policySet) lacks(requests []iampolicy.Request) (missing []string, total, byBoundary int) {
	for _, req := range requests {
		total++
		p := iampolicy.EvaluatePermission(req, s.policies, s.boundary)
		if p.Allowed() {
			continue
		}
		m := req.Action + " on " + req.Resource
		if req.Action == vocab.ActionTagSession && len(req.Context["aws:TagKeys"]) > 1 {
			m += " (with EKS Pod Identity's session tags)"
		} else if req.Action == vocab.ActionTagSession {
			m += " (with session tag " + vocab.SDCSessionTagKey + ", which SDC sets by default)"
		} else {
			keys := slices.Sorted(maps.Keys(req.Context))
			for _, k := range keys {
				m += fmt.Sprintf(" with %s %s", k, strings.Join(req.Context[k], ","))
			}
		}
		switch {
		case p.Identity.Effect == iampolicy.Deny:
			m += " (explicitly denied by " + s.names[p.Identity.PolicyIndex] + ")"
		case p.DeniedByBoundary() && p.Identity.Allowed():
			byBoundary++
			if p.Boundary.Effect == iampolicy.Deny {
				m += " (explicitly denied by permissions boundary " + s.boundaryARN + ")"
			} else {
				m += " (not allowed by permissions boundary " + s.boundaryARN + ")"
			}
		case p.DeniedByBoundary():
			m += " (allowed by no policy, nor by permissions boundary " + s.boundaryARN + ")"
		}
		missing = append(missing, m)
	}
	return missing, total, byBoundary
}

// boundaryFix is what to do when only the permissions boundary refuses: its owners widen it (bind does
// not change a boundary's document; the organization owns it).
func boundaryFix(s policySet, missing []string) string {
	return fmt.Sprintf("ask the owners of permissions boundary %s to allow %s (aws iam create-policy-version --policy-arn %s --set-as-default --policy-document file://BOUNDARY.json), or bind with another --permissions-boundary that allows it",
		s.boundaryARN, strings.Join(missing, ", "), shellQuote(s.boundaryARN))
}

// policySet is a role's identity policies with a name for each, for messages, and its permissions
// boundary.
type policySet struct {
	policies []*iampolicy.Policy
	names    []string
	arns     []string // managed policy ARN, "" for inline ones
	problems []string
	// boundary is the boundary's document (nil: none, or not readable: see problems); boundaryARN its ARN.
	boundary    *iampolicy.Policy
	boundaryARN string
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
	if b := r.BoundaryARN; b != "" {
		s.boundaryARN = b
		switch p := f.Policies[b]; {
		case p == nil || p.Err != nil || (p.Exists && p.Document == nil):
			err := "not read"
			if p != nil && p.Err != nil {
				err = p.Err.Error()
			}
			s.problems = append(s.problems, fmt.Sprintf("permissions boundary %s could not be read (%s), so it is left out here (IAM applies it)", b, err))
		case !p.Exists:
			// IAM keeps a boundary in use from being deleted; one that is gone allows nothing.
			s.boundary = &iampolicy.Policy{Version: iampolicy.Version2012}
			s.problems = append(s.problems, fmt.Sprintf("permissions boundary %s does not exist", b))
		default:
			s.boundary = p.Document
		}
	}
	return s
}

func (s policySet) describe() string {
	out := "the role's policies: " + strings.Join(s.names, ", ")
	switch {
	case len(s.names) == 0 && len(s.problems) == 0 && s.boundaryARN == "":
		return "the role has no attached or inline policies"
	case len(s.names) == 0 && len(s.problems) == 0:
		out = "the role has no attached or inline policies"
	case len(s.names) == 0:
		out = "the role's policies: none readable"
	}
	if s.boundary != nil {
		out += "; within permissions boundary " + s.boundaryARN
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

// sessionPolicyRefuses fails when the EKS Pod Identity association's session policy (its policy, which
// narrows the credentials the pods get) refuses calls the stages need; nil when there is none, or it allows
// them all.
func sessionPolicyRefuses(f *Facts, t *Target, needed *stageNeed) *Result {
	a := t.Association
	if a == nil || a.Policy == "" || !t.UsesPodIdentity() || t.UsesIRSA() || needed == nil {
		return nil
	}
	p, err := iampolicy.Parse([]byte(a.Policy))
	if err != nil {
		r := fail(fmt.Sprintf("the session policy of association %s does not parse", a.ID), err.Error(), podIdentityBindFix(f, t))
		return &r
	}
	var missing []string
	for _, req := range needed.requests {
		if !iampolicy.Evaluate(req, p).Allowed() {
			missing = append(missing, req.Action+" on "+req.Resource)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	r := fail(fmt.Sprintf("the session policy of association %s refuses %d of the %d calls the stages make", a.ID, len(missing), len(needed.requests)),
		"the association's policy narrows the pods' credentials (the intersection with the role's own permissions); missing: "+strings.Join(missing, ", "),
		podIdentityBindFix(f, t)+" --disable-session-tags --session-policy <FILE that allows them>")
	return &r
}
