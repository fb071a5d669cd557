package doctor

import (
	"context"
	"fmt"
	"strings"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// assumeRoleSession is the session name the trust is judged with (SDC names its own sessions; a trust that
// conditions on sts:RoleSessionName is unusual).
const assumeRoleSession = "sdc"

// iamAssumeRoleTarget: for SDC's "Assume Another Role", the binding's role may call sts:AssumeRole on the
// role the stages assume (within its boundary); and where doctor can read that role's account, its trust
// admits the binding's role and its policies (within its own boundary) allow what the stages need.
var iamAssumeRoleTarget = Check{
	ID: "iam.assume-role-target", Layer: LayerIAM, Scope: TargetScope,
	Needs: []string{"iam.role"},
	Run: func(_ context.Context, f *Facts, t *Target) Result {
		if t.AssumeRoleARN == "" {
			return pass("the stages assume no other role", fmt.Sprintf("no --assume-role-arn given and the role has no %s tag: the stages use the role's own credentials", vocab.TagAssumeRoleARN))
		}
		r, target := f.Roles[t.RoleARN], t.AssumeRoleARN
		fix := bindFix(f, t)
		set := rolePolicies(f, r)
		if t.Chain {
			return chainTarget(f, t, r, set)
		}
		if missing, _, _ := set.lacks(assumeRoleNeed(target).requests); len(missing) > 0 {
			return fail(fmt.Sprintf("role %s may not make SDC's Assume Another Role call on %s", r.Name, target),
				fmt.Sprintf("the stages assume %s (from %s); missing: %s; %s", target, t.AssumeRoleFrom, strings.Join(missing, ", "), set.describe()), fix)
		}
		own := fmt.Sprintf("the stages assume it (from %s); role %s may call sts:AssumeRole on it with SDC's session tag %s (sts:TagSession)", t.AssumeRoleFrom, r.Name, vocab.SDCSessionTagKey)
		ar, unread := readTarget(f, target, own)
		if ar == nil {
			return unread
		}
		tr := ar.Role
		switch {
		case !tr.Exists:
			return fail(fmt.Sprintf("role %s does not exist", target),
				fmt.Sprintf("the stages assume it (from %s); account %s has no role %s (read with %s)", t.AssumeRoleFrom, ar.Account, tr.Name, ar.Via), fix)
		case tr.ActualARN != "" && tr.ActualARN != target:
			return fail(fmt.Sprintf("the stages assume %s, but that role's ARN is %s", target, tr.ActualARN),
				"the path in the ARN is wrong, and STS matches the whole ARN", fix)
		case tr.TrustErr != nil:
			return fail(fmt.Sprintf("the trust policy of role %s does not parse", target), tr.TrustErr.Error(), fix)
		}
		for _, req := range iampolicy.SDCAssumeRoleRequests(r.ActualARNOr(t.RoleARN), assumeRoleSession, DefaultProbePrincipal) {
			if d := iampolicy.Evaluate(req, tr.Trust); !d.Allowed() {
				return fail(fmt.Sprintf("the trust of role %s does not let role %s assume it as SDC does (%s)", target, r.Name, req.Action),
					fmt.Sprintf("STS refuses the stages (AccessDenied: ... is not authorized to perform: %s): SDC's Assume Another Role tags the session with %s (\"Set Session Tags\", on by default), so the trust must allow %s and %s; it is %s for a session of %s; bind adds this statement (or add it by hand): %s",
						req.Action, vocab.SDCSessionTagKey, vocab.ActionAssumeRole, vocab.ActionTagSession, d, r.ActualARNOr(t.RoleARN),
						strings.Join(strings.Fields(trustStatementFor(r.ActualARNOr(t.RoleARN))), " ")), trustFix(f, t, ar))
			}
		}
		trusted := fmt.Sprintf("%s; the trust of %s admits it (read with %s)", own, target, ar.Via)
		return targetPermissions(f, t, r, ar, trusted)
	},
}

// targetPermissions: the target role's policies (within its boundary) allow what the stages need.
func targetPermissions(f *Facts, t *Target, r *Role, ar *AssumedRole, trusted string) Result {
	target, fix, tr := t.AssumeRoleARN, bindFix(f, t), ar.Role
	{
		if t.Selection == nil {
			return pass(fmt.Sprintf("role %s may assume %s, whose trust admits it", r.Name, target), trusted+"; no stages known, so its permissions are unchecked")
		}
		needed, res := stagesNeed(f, t, ar.Account)
		if res != nil {
			return *res
		}
		tset := rolePolicies(f, tr)
		missing, total, byBoundary := tset.lacks(needed.requests)
		if len(missing) > 0 {
			if byBoundary == len(missing) {
				fix = boundaryFix(tset, missing)
			}
			return fail(fmt.Sprintf("role %s lacks %d of the %d permissions the stages' calls need", target, len(missing), total),
				fmt.Sprintf("%s; stages %s (from %s); missing: %s; %s", trusted, strings.Join(t.Selection.Stages, ", "), t.SelectionFrom,
					strings.Join(missing, ", "), strings.Replace(tset.describe(), "the role's", "its", 1)), fix)
		}
		return pass(fmt.Sprintf("role %s may assume %s, whose trust admits it and whose policies allow all %d calls the stages make", r.Name, target, total),
			fmt.Sprintf("%s; stages %s (from %s); %s", trusted, strings.Join(t.Selection.Stages, ", "), t.SelectionFrom, strings.Replace(tset.describe(), "the role's", "its", 1)))
	}
}

// chainTarget is iam.assume-role-target for EKS Pod Identity's own chain: the association's role may
// assume the target as EKS does it (sts:AssumeRole, and sts:TagSession with the session tags unless they
// are disabled, when the association must carry an external ID); where doctor can read the target's
// account, its trust admits EKS's second hop and its policies allow what the stages need.
func chainTarget(f *Facts, t *Target, r *Role, set policySet) Result {
	target, fix := t.AssumeRoleARN, bindFix(f, t)
	a := t.Association
	if missing, _, _ := set.lacks(chainNeed(f, t).requests); len(missing) > 0 {
		return fail(fmt.Sprintf("role %s may not assume the association's target role %s", r.Name, target),
			fmt.Sprintf("EKS Auth assumes %s with the session of %s and is refused (AccessDeniedException); missing: %s; %s", target, r.Name, strings.Join(missing, ", "), set.describe()), fix)
	}
	if a.DisableSessionTags && a.ExternalID == "" {
		return fail(fmt.Sprintf("association %s has session tags disabled and no external ID", a.ID),
			"EKS passes the association's externalId as sts:ExternalId to the target role when session tags are disabled; this one has none", fix)
	}
	if t.Selection != nil {
		if needed, res := stagesNeed(f, t, accountOfRole(target)); res == nil {
			if res := sessionPolicyRefuses(f, t, needed); res != nil {
				return *res
			}
		}
	}
	tags := "with EKS Pod Identity's session tags"
	if a.DisableSessionTags {
		tags = "without session tags, with sts:ExternalId " + a.ExternalID
	}
	own := fmt.Sprintf("EKS Pod Identity assumes it after %s (from %s), %s; role %s may do so", r.Name, t.AssumeRoleFrom, tags, r.Name)
	ar, unread := readTarget(f, target, own)
	if ar == nil {
		return unread
	}
	tr := ar.Role
	switch {
	case !tr.Exists:
		return fail(fmt.Sprintf("the association's target role %s does not exist", target),
			fmt.Sprintf("account %s has no role %s (read with %s): EKS Auth refuses the pods (AccessDeniedException)", ar.Account, tr.Name, ar.Via), fix)
	case tr.TrustErr != nil:
		return fail(fmt.Sprintf("the trust policy of role %s does not parse", target), tr.TrustErr.Error(), fix)
	}
	first := r.ActualARNOr(t.RoleARN)
	s := podIdentitySession(f, t)
	if d, action := iampolicy.AdmitsPodIdentityTarget(tr.Trust, s, first, target, a.ExternalID); !d.Allowed() {
		stmt := iampolicy.NewPolicy(iampolicy.PodIdentityTargetStatement(first, s, a.ExternalID)).Statements[0].Canonical()
		return fail(fmt.Sprintf("the trust of role %s does not let EKS Pod Identity assume it with role %s (%s)", target, r.Name, action),
			fmt.Sprintf("EKS Auth refuses the pods of %s/%s (AccessDeniedException): %s is %s for a session of %s %s; bind adds this statement (or add it by hand): %s",
				t.Namespace, t.ServiceAccount, action, d, first, tags, strings.Join(strings.Fields(string(stmt)), " ")), trustFix(f, t, ar))
	}
	return targetPermissions(f, t, r, ar, fmt.Sprintf("%s; the trust of %s admits it (read with %s)", own, target, ar.Via))
}

// ActualARNOr is the role's ARN as IAM has it, else arn.
func (r *Role) ActualARNOr(arn string) string {
	if r != nil && r.ActualARN != "" {
		return r.ActualARN
	}
	return arn
}

func accountOfRole(arn string) string {
	p, _ := vocab.ParseRoleARN(arn)
	return p.Account
}

// trustFix repairs a target trust that refuses SDC's call: bind with --target-profile adds the statement
// (every other one stays).
func trustFix(f *Facts, t *Target, ar *AssumedRole) string {
	line := bindFix(f, t)
	if f.Options.TargetProfile == "" {
		line += " --target-profile <PROFILE of account " + ar.Account + ">"
	}
	return line
}

// trustStatementFor is the statement bind adds to a target's trust, for owners who edit it by hand.
func trustStatementFor(roleARN string) string {
	return string(iampolicy.NewPolicy(iampolicy.AssumeRoleStatement(roleARN)).Statements[0].Canonical())
}

// trustFixFor is trustFix for a target whose assumed role was read (or not).
func trustFixFor(f *Facts, t *Target) string {
	if ar := f.AssumedRoles[t.AssumeRoleARN]; ar != nil {
		return trustFix(f, t, ar)
	}
	return bindFix(f, t)
}

// readTarget is the read of the role the stages (or EKS) assume; nil with the skip that says its account
// could not be read, own saying what is known without it.
func readTarget(f *Facts, target, own string) (*AssumedRole, Result) {
	ar := f.AssumedRoles[target]
	if ar != nil && ar.Readable {
		return ar, Result{}
	}
	why := "not read"
	if ar != nil {
		why = ar.Why
	}
	return nil, skip(fmt.Sprintf("skipped: account %s of %s is not readable", accountOfRole(target), target),
		fmt.Sprintf("%s; %s, but its trust and policies are unchecked", why, own))
}
