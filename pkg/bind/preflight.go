package bind

// The preflight: after planning and before any write, ask whether the caller may make every planned write.
// IAM answers for AWS (iam:SimulatePrincipalPolicy with each write's resource and condition keys, from the
// caller's identity policies and permissions boundary), Kubernetes for its writes (SelfSubjectAccessReview,
// what `kubectl auth can-i` asks). A change the caller may not make is marked on the plan with the action,
// the resource and the docs/permissions document that grants it, and the command refuses before writing.
// What the simulator does not see (service control policies, session policies) can still refuse a write
// during apply, which Apply reports with what was done.

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"golang.org/x/sync/errgroup"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-sdc/kubectl-sdc/docs/permissions"
	sdcaws "github.com/kubectl-sdc/kubectl-sdc/pkg/aws"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/eksread"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iamread"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/plan"
)

// Preflight is what the check before writing found.
type Preflight struct {
	// Denied is how many planned writes the caller may not make (each marked on its change).
	Denied int
	// Unchecked says what could not be checked, and why (the writes then go ahead as without the check).
	Unchecked []string
	// Calls is how many requests the check made (simulations, access reviews, a role's path).
	Calls int
	// Asked are the permissions it asked about, as need.String says them, sorted.
	Asked []string
}

// Refusal is the error of a plan refused by the preflight: nothing was written.
func (p Preflight) Refusal(verb string, pl *plan.Plan) error {
	if p.Denied == 0 {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s refused before writing anything: %d permission(s) the planned writes need are missing", verb, p.Denied)
	for _, c := range pl.Changes {
		for _, d := range c.Denied {
			fmt.Fprintf(&b, "\n  %s %s: %s", c.Kind, c.Name, d)
		}
	}
	b.WriteString("\nget those permissions (docs/permissions/README.md says what each document is for) and run the same command again")
	return &DeniedError{msg: b.String()}
}

// DeniedError is a refusal of the preflight.
type DeniedError struct{ msg string }

func (e *DeniedError) Error() string { return e.msg }

// principal is who a group of needs is asked of: the caller's ARN and IAM client.
type principal struct {
	ARN string
	IAM iamSimulator
}

// iamSimulator is the part of IAM the preflight calls.
type iamSimulator interface {
	SimulatePrincipalPolicy(ctx context.Context, in *iam.SimulatePrincipalPolicyInput, opts ...func(*iam.Options)) (*iam.SimulatePrincipalPolicyOutput, error)
	GetRole(ctx context.Context, in *iam.GetRoleInput, opts ...func(*iam.Options)) (*iam.GetRoleOutput, error)
}

// preflight checks every need of p's operations, marks the changes whose needs are refused and returns
// what it found. operator is the caller; target is --target-profile's identity (nil without one).
func (b *Binder) preflight(ctx context.Context, p *plan.Plan, f *permFacts, operator principal, target *principal) Preflight {
	type asked struct {
		change *plan.Change
		need   need
	}
	var aws, awsTarget, kube []asked
	for _, c := range p.Changes {
		op, ok := c.Op.(operation)
		if !ok || c.Action == plan.Unchanged {
			continue
		}
		c.Denied = nil
		for _, n := range op.needs(f) {
			switch {
			case n.Kube != nil:
				kube = append(kube, asked{c, n})
			case n.Target:
				awsTarget = append(awsTarget, asked{c, n})
			default:
				aws = append(aws, asked{c, n})
			}
		}
	}
	var (
		mu  sync.Mutex
		out Preflight
	)
	unchecked := func(why string) {
		mu.Lock()
		defer mu.Unlock()
		out.Unchecked = append(out.Unchecked, why)
	}
	deny := func(a asked, why string) {
		mu.Lock()
		defer mu.Unlock()
		out.Denied++
		a.change.Denied = append(a.change.Denied, why)
	}
	count := func(n int) {
		mu.Lock()
		defer mu.Unlock()
		out.Calls += n
	}
	simulateAll := func(ctx context.Context, who principal, list []asked, whose string) {
		if len(list) == 0 {
			return
		}
		needs := make([]need, len(list))
		for i, a := range list {
			needs[i] = a.need
		}
		decisions, calls, err := simulate(ctx, who, needs)
		count(calls)
		if err != nil {
			unchecked(fmt.Sprintf("%s AWS permissions (%s): %v", whose, who.ARN, err))
			return
		}
		for i, a := range list {
			if d := decisions[i]; d != "allowed" {
				deny(a, fmt.Sprintf("%s: %s%s", a.need, refusedBecause(d, who.ARN), grantedBy(a.need)))
			}
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { simulateAll(gctx, operator, aws, "your"); return nil })
	if target != nil {
		g.Go(func() error { simulateAll(gctx, *target, awsTarget, "--target-profile's"); return nil })
	} else if len(awsTarget) > 0 {
		unchecked("the target account's AWS permissions: no --target-profile identity to ask about")
	}
	if len(kube) > 0 {
		g.Go(func() error {
			reviews := map[authorizationv1.ResourceAttributes][]asked{}
			var order []authorizationv1.ResourceAttributes
			for _, a := range kube {
				k := *a.need.Kube
				if _, ok := reviews[k]; !ok {
					order = append(order, k)
				}
				reviews[k] = append(reviews[k], a)
			}
			rg, rctx := errgroup.WithContext(gctx)
			rg.SetLimit(4)
			for _, k := range order {
				rg.Go(func() error {
					if b.Authz == nil {
						return nil
					}
					attrs := k
					count(1)
					r, err := b.Authz.SelfSubjectAccessReviews().Create(rctx, &authorizationv1.SelfSubjectAccessReview{
						Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &attrs}}, metav1.CreateOptions{})
					if err != nil {
						unchecked(fmt.Sprintf("your Kubernetes permission to %s: %v", reviews[k][0].need, err))
						return nil
					}
					if !r.Status.Allowed {
						reason := "forbidden"
						if r.Status.Reason != "" {
							reason = r.Status.Reason
						}
						for _, a := range reviews[k] {
							deny(a, fmt.Sprintf("%s: Kubernetes does not allow you (%s)%s", a.need, reason, grantedBy(a.need)))
						}
					}
					return nil
				})
			}
			return rg.Wait()
		})
	}
	_ = g.Wait()
	sort.Strings(out.Unchecked)
	for _, list := range [][]asked{aws, awsTarget, kube} {
		for _, a := range list {
			out.Asked = append(out.Asked, a.need.String())
		}
	}
	sort.Strings(out.Asked)
	out.Asked = slices.Compact(out.Asked)
	return out
}

// refusedBecause says a simulator's decision other than allowed in words.
func refusedBecause(decision, arn string) string {
	if decision == "explicitDeny" {
		return fmt.Sprintf("a policy of %s denies it explicitly", arn)
	}
	return fmt.Sprintf("no policy of %s allows it", arn)
}

// simulate asks IAM's policy simulator about every need, in as few requests as the API allows: a
// request's context applies to all its actions and resources, so needs go together only when they carry
// exactly the same condition keys and values (giving a need a key its own request would not carry could
// change the decision: iam:PermissionsBoundary decides iam:CreateRole under bind-policy-boundary.json). It
// returns each need's decision (allowed, implicitDeny, explicitDeny) and how many requests it made.
func simulate(ctx context.Context, who principal, needs []need) ([]string, int, error) {
	if strings.HasSuffix(who.ARN, ":root") {
		out := make([]string, len(needs))
		for i := range out {
			out[i] = "allowed" // the account's root user may make every call IAM policies could refuse
		}
		return out, 0, nil
	}
	calls := 0
	source, roleName, err := simulationSource(who.ARN)
	if err != nil {
		return nil, calls, err
	}
	groups := groupNeeds(needs)
	// The groups are asked at once; a role at another path than "/" is looked up once, by whichever asks first.
	resolve := sync.OnceValues(func() (string, error) {
		out, err := who.IAM.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(roleName)})
		if err != nil {
			return "", fmt.Errorf("reading the path of your role %s (iam:GetRole): %w", roleName, err)
		}
		return aws.ToString(out.Role.Arn), nil
	})
	var mu sync.Mutex
	count := func() { mu.Lock(); calls++; mu.Unlock() }
	decisions := make([]string, len(needs))
	eg, ectx := errgroup.WithContext(ctx)
	for _, g := range groups {
		eg.Go(func() error {
			in := &iam.SimulatePrincipalPolicyInput{PolicySourceArn: aws.String(source), ActionNames: g.actions, ResourceArns: g.resources}
			keys := make([]string, 0, len(g.ctx))
			for k := range g.ctx {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				typ := iamtypes.ContextKeyTypeEnumString
				if len(g.ctx[k]) != 1 || k == "aws:TagKeys" {
					typ = iamtypes.ContextKeyTypeEnumStringList
				}
				in.ContextEntries = append(in.ContextEntries, iamtypes.ContextEntry{ContextKeyName: aws.String(k), ContextKeyType: typ, ContextKeyValues: g.ctx[k]})
			}
			results := map[[2]string]string{}
			pages := iam.NewSimulatePrincipalPolicyPaginator(who.IAM, in)
			resolved := false
			for pages.HasMorePages() {
				count()
				page, err := pages.NextPage(ectx)
				if sdcaws.IsNotFound(err) && roleName != "" && !resolved {
					// The role is at another path than "/": learn where, and ask again.
					count()
					arn, rerr := resolve()
					if rerr != nil {
						return rerr
					}
					resolved, in.PolicySourceArn = true, aws.String(arn)
					pages = iam.NewSimulatePrincipalPolicyPaginator(who.IAM, in)
					continue
				}
				if err != nil {
					return fmt.Errorf("iam:SimulatePrincipalPolicy: %w", err)
				}
				for _, r := range page.EvaluationResults {
					action := aws.ToString(r.EvalActionName)
					if len(r.ResourceSpecificResults) == 0 {
						results[[2]string{action, aws.ToString(r.EvalResourceName)}] = string(r.EvalDecision)
					}
					for _, rr := range r.ResourceSpecificResults {
						results[[2]string{action, aws.ToString(rr.EvalResourceName)}] = string(rr.EvalResourceDecision)
					}
				}
			}
			for _, i := range g.members {
				d, ok := results[[2]string{needs[i].Action, needs[i].Resource}]
				if !ok && len(g.resources) == 1 {
					// One resource: IAM may answer with the aggregate alone.
					for k, v := range results {
						if k[0] == needs[i].Action {
							d, ok = v, true
						}
					}
				}
				if !ok {
					d = "implicitDeny"
				}
				decisions[i] = d // each need is in one group: no two goroutines write the same element
			}
			return nil
		})
	}
	if err := eg.Wait(); err != nil {
		return nil, calls, err
	}
	return decisions, calls, nil
}

// simGroup is one simulator request's worth of needs: one context, the actions and resources of its
// members (IAM evaluates each action on each resource).
type simGroup struct {
	ctx                map[string][]string
	actions, resources []string
	members            []int // indexes into the needs
}

// groupNeeds puts the needs with the same context together, in the order they come.
func groupNeeds(needs []need) []*simGroup {
	var groups []*simGroup
	byContext := map[string]*simGroup{}
	for i, n := range needs {
		key := contextKey(n.Context)
		g := byContext[key]
		if g == nil {
			g = &simGroup{ctx: n.Context}
			byContext[key] = g
			groups = append(groups, g)
		}
		if !slices.Contains(g.actions, n.Action) {
			g.actions = append(g.actions, n.Action)
		}
		if !slices.Contains(g.resources, n.Resource) {
			g.resources = append(g.resources, n.Resource)
		}
		g.members = append(g.members, i)
	}
	return groups
}

// contextKey is a context in a canonical form: equal contexts have equal keys.
func contextKey(c map[string][]string) string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + "\x00" + strings.Join(c[k], "\x01") + "\x00")
	}
	return b.String()
}

// simulationSource is the ARN IAM's simulator takes for the caller: a user's own; for a role session the
// role's, which a session ARN names without the role's path (arn:aws:sts::111122223333:assumed-role/NAME/
// SESSION): role/NAME, which simulate corrects with the path IAM shows (iam:GetRole) when IAM knows no role
// there (IAM Identity Center's roles, for one, live under a path). Other callers (federated users) cannot
// be simulated.
func simulationSource(arn string) (source, roleName string, err error) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 {
		return "", "", fmt.Errorf("%q is not an ARN", arn)
	}
	switch res := parts[5]; {
	case strings.HasPrefix(res, "user/"):
		return arn, "", nil
	case strings.HasPrefix(res, "assumed-role/"):
		name := strings.SplitN(strings.TrimPrefix(res, "assumed-role/"), "/", 2)[0]
		return "arn:" + parts[1] + ":iam::" + parts[4] + ":role/" + name, name, nil
	}
	return "", "", fmt.Errorf("IAM's policy simulator cannot simulate %s", arn)
}

// grantedBy names the docs/permissions documents that grant a need, as ": docs/permissions/X grants it".
func grantedBy(n need) string {
	var files []string
	if n.Kube != nil {
		files = permissions.RBACGranting(n.Kube.Verb, n.Kube.Group, n.Kube.Resource)
	} else {
		files = permissions.PolicyGranting(n.Action, n.Resource, n.Context)
	}
	hint := ""
	if n.Action == "iam:CreateRole" && len(n.Context["iam:PermissionsBoundary"]) == 0 {
		hint = " (bind-policy-boundary.json grants it only with --permissions-boundary)"
	}
	if len(files) == 0 {
		return hint
	}
	for i := range files {
		files[i] = "docs/permissions/" + files[i]
	}
	return "; " + strings.Join(files, " or ") + " grants it" + hint
}

// principalOf is the preflight's principal for an identity and its clients.
func principalOf(id sdcaws.Identity, c *sdcaws.Clients) principal {
	return principal{ARN: id.ARN, IAM: c.IAM}
}

// Preflight checks bind's planned writes against the caller's permissions (and --target-profile's), marks
// the changes the caller may not make, and says what it found. It writes nothing.
func (b *Binder) Preflight(ctx context.Context, res *Result) Preflight {
	f := factsOfBind(res.Observed)
	return b.preflight(ctx, res.Plan, f, principalOf(res.Identity, b.AWS), b.targetPrincipal(res.Observed))
}

// PreflightUnbind is Preflight for unbind's plan.
func (b *Binder) PreflightUnbind(ctx context.Context, res *UnbindResult) Preflight {
	o := res.Observed
	var policies []*iamread.Policy
	for _, p := range o.Policies {
		policies = append(policies, p)
	}
	f := factsOf(o.Cluster, res.Names.Partition, res.Names.Account, "", []*iamread.Role{o.Role}, policies, o.Provider, []*eksread.Association{o.Association})
	var target *principal
	if t := o.Target; t != nil {
		// unbind --target-profile: what bind put in the account of the association's target role.
		f.Target = factsOf(nil, t.Parsed.Partition, t.Parsed.Account, "", []*iamread.Role{t.Role}, []*iamread.Policy{t.Policy}, nil, nil)
		if t.Role == nil {
			f.Target.RoleARNs[t.Parsed.Name] = t.ARN
		}
		if t.Managed && b.TargetAWS != nil {
			p := principalOf(t.Identity, b.TargetAWS)
			target = &p
		}
	}
	return b.preflight(ctx, res.Plan, f, principalOf(res.Identity, b.AWS), target)
}

// PreflightMigration is Preflight for migrate's plan: the facts of every ServiceAccount's observation.
func (b *Binder) PreflightMigration(ctx context.Context, mg *Migration) Preflight {
	if len(mg.Results) == 0 {
		return Preflight{}
	}
	f := factsOfBind(mg.Results[0].Observed)
	for _, r := range mg.Results[1:] {
		g := factsOfBind(r.Observed)
		for k, v := range g.RoleARNs {
			f.RoleARNs[k] = v
		}
		for k, v := range g.AssocARNs {
			f.AssocARNs[k] = v
		}
		for k, v := range g.Tags {
			f.Tags[k] = v
		}
	}
	return b.preflight(ctx, mg.Plan, f, principalOf(mg.Identity, b.AWS), nil)
}

// factsOfBind are the facts of bind's observation, with the target account's.
func factsOfBind(o *Observed) *permFacts {
	f := factsOf(o.Cluster, o.Names.Partition, o.Names.Account, o.Region, []*iamread.Role{o.Role}, []*iamread.Policy{o.Policy}, o.Provider, []*eksread.Association{o.Association})
	if t := o.Target; t != nil {
		f.Target = factsOf(nil, t.Parsed.Partition, t.Parsed.Account, "", []*iamread.Role{t.Role}, []*iamread.Policy{t.Policy}, nil, nil)
		if t.Role == nil {
			f.Target.RoleARNs[t.Parsed.Name] = t.ARN
		}
	}
	return f
}

// targetPrincipal is --target-profile's identity, when bind writes in the target's account.
func (b *Binder) targetPrincipal(o *Observed) *principal {
	if t := o.Target; t != nil && t.Managed && b.TargetAWS != nil {
		p := principalOf(t.Identity, b.TargetAWS)
		return &p
	}
	return nil
}

// refusedAction matches the action and resource of an AccessDenied message of AWS ("User: ... is not
// authorized to perform: iam:AttachRolePolicy on resource: arn:... because ...").
var refusedAction = regexp.MustCompile(`not authorized to perform: ([a-z0-9-]+:[A-Za-z0-9]+) on resource: (\S+)`)

// grantHint says, for a write AWS refused, which docs/permissions document grants what was refused; "" for
// other errors.
func grantHint(err error) string {
	m := refusedAction.FindStringSubmatch(err.Error())
	if m == nil {
		return ""
	}
	return grantedBy(need{Action: m[1], Resource: m[2]})
}
