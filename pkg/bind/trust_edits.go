package bind

import (
	"fmt"
	"slices"
	"strings"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// TrustEdit is one change bind (or unbind) makes to a role's trust and checks afterwards, as pure functions
// of the document: the read-merge-write-verify loop of writeTrust runs any of them.
type TrustEdit interface {
	// Apply returns the trust with the edit made (p is not modified); changed is false when it already holds.
	Apply(p *iampolicy.Policy) (out *iampolicy.Policy, changed bool)
	// Holds reports whether p is as the edit wants it.
	Holds(p *iampolicy.Policy) bool
	// Subjects are who p admits by name, for messages about a concurrent writer (nil when not applicable).
	Subjects(p *iampolicy.Policy) []string
	// String names the edit in messages, e.g. "admit system:serviceaccount:ns1:sdc".
	String() string
}

// AdmitWebIdentity admits Subject's tokens with Audience through the OIDC provider Provider (the compact
// way, iampolicy.AdmitSubject).
type AdmitWebIdentity struct{ Provider, Host, Subject, Audience string }

// Apply adds the subject.
func (e AdmitWebIdentity) Apply(p *iampolicy.Policy) (*iampolicy.Policy, bool) {
	return iampolicy.AdmitSubject(p, e.Provider, e.Host, e.Subject, e.Audience)
}

// Holds reports whether STS would let the subject's token assume the role.
func (e AdmitWebIdentity) Holds(p *iampolicy.Policy) bool {
	return iampolicy.Evaluate(iampolicy.WebIdentityRequest(e.Provider, e.Host, e.Subject, e.Audience), p).Allowed()
}

// Subjects are the ServiceAccounts the trust lists for the provider.
func (e AdmitWebIdentity) Subjects(p *iampolicy.Policy) []string {
	return iampolicy.WebIdentitySubjects(p, e.Provider, e.Host)
}

func (e AdmitWebIdentity) String() string { return "admit " + e.Subject }

// RevokeWebIdentity removes Subject from the trust's statements of bind's shape for the OIDC provider
// Provider, whatever their audience (iampolicy.RevokeWebIdentitySubject). Statements of another shape stay:
// a wildcard that still admits the subject is the plan's to report, not an edit's to make.
type RevokeWebIdentity struct{ Provider, Host, Subject string }

// Apply removes the subject.
func (e RevokeWebIdentity) Apply(p *iampolicy.Policy) (*iampolicy.Policy, bool) {
	return iampolicy.RevokeWebIdentitySubject(p, e.Provider, e.Host, e.Subject)
}

// Holds reports whether no statement of bind's shape lists the subject any more (a trust that is gone
// holds too).
func (e RevokeWebIdentity) Holds(p *iampolicy.Policy) bool {
	_, listed := e.Apply(p)
	return !listed
}

// Subjects are the ServiceAccounts the trust lists for the provider.
func (e RevokeWebIdentity) Subjects(p *iampolicy.Policy) []string {
	return iampolicy.WebIdentitySubjects(p, e.Provider, e.Host)
}

func (e RevokeWebIdentity) String() string { return "remove " + e.Subject }

// AdmitPodIdentity lets EKS Auth assume the role for the session's ServiceAccount (the EKS user guide's
// statement, merged as iampolicy.AdmitPodIdentity does).
type AdmitPodIdentity struct{ Session iampolicy.PodIdentitySession }

// Apply merges the Pod Identity statement in.
func (e AdmitPodIdentity) Apply(p *iampolicy.Policy) (*iampolicy.Policy, bool) {
	return iampolicy.AdmitPodIdentity(p, e.Session)
}

// Holds reports whether STS would let EKS Auth assume the role for the session.
func (e AdmitPodIdentity) Holds(p *iampolicy.Policy) bool {
	d, _ := iampolicy.AdmitsPodIdentity(p, e.Session, "")
	return d.Allowed()
}

// Subjects names the service principal when the trust admits it.
func (e AdmitPodIdentity) Subjects(p *iampolicy.Policy) []string {
	if e.Holds(p) {
		return []string{vocab.PodIdentityService}
	}
	return nil
}

func (e AdmitPodIdentity) String() string {
	return fmt.Sprintf("admit EKS Pod Identity for %s/%s", e.Session.Namespace, e.Session.ServiceAccount)
}

// assumeRoleSession is the session name doctor and bind evaluate trusts with (SDC names its own sessions;
// a trust that conditions on sts:RoleSessionName is unusual).
const assumeRoleSession = "sdc"

// assumeRoleUser stands for the pipeline's user in SDC's session tag when a trust is judged (a trust that
// conditions on one user's value is the owners' choice, and doctor --probe-user checks it).
const assumeRoleUser = "sdc-user"

// AdmitRole lets the sessions of RoleARN assume the role whose trust it edits (the compact way,
// iampolicy.AdmitAWSPrincipal).
type AdmitRole struct{ RoleARN string }

// Apply adds the role's ARN.
func (e AdmitRole) Apply(p *iampolicy.Policy) (*iampolicy.Policy, bool) {
	return iampolicy.AdmitAWSPrincipal(p, e.RoleARN)
}

// Holds reports whether the trust lets a session of the role make SDC's call: sts:AssumeRole with SDC's
// session tag, which STS also judges as sts:TagSession.
func (e AdmitRole) Holds(p *iampolicy.Policy) bool { return e.refusal(p) == "" }

// refusal says which of SDC's requests the trust does not allow, and how it decided; "" when it allows both.
func (e AdmitRole) refusal(p *iampolicy.Policy) string {
	for _, req := range iampolicy.SDCAssumeRoleRequests(e.RoleARN, assumeRoleSession, assumeRoleUser) {
		if d := iampolicy.Evaluate(req, p); !d.Allowed() {
			return req.Action + ": " + d.String()
		}
	}
	return ""
}

// Subjects are the roles the trust lists in statements of bind's shape.
func (e AdmitRole) Subjects(p *iampolicy.Policy) []string { return iampolicy.AWSPrincipals(p) }

func (e AdmitRole) String() string { return "admit role " + e.RoleARN }

// RevokePodIdentity removes the trust statements of the EKS user guide's shape (iampolicy.RevokePodIdentity),
// which bind adds for EKS Pod Identity; statements of another shape stay.
type RevokePodIdentity struct{}

// Apply removes the statements.
func (RevokePodIdentity) Apply(p *iampolicy.Policy) (*iampolicy.Policy, bool) {
	return iampolicy.RevokePodIdentity(p)
}

// Holds reports whether no statement of the guide's shape is left (a trust that is gone holds too).
func (RevokePodIdentity) Holds(p *iampolicy.Policy) bool {
	return !iampolicy.HasPodIdentityStatement(p)
}

// Subjects names the service principal while the trust has the statement.
func (RevokePodIdentity) Subjects(p *iampolicy.Policy) []string {
	if iampolicy.HasPodIdentityStatement(p) {
		return []string{vocab.PodIdentityService}
	}
	return nil
}

func (RevokePodIdentity) String() string { return "remove the EKS Pod Identity statement" }

// TrustEdits are several edits of one trust made together, in order, by one run of writeTrust's loop.
type TrustEdits []TrustEdit

// Apply makes every edit.
func (es TrustEdits) Apply(p *iampolicy.Policy) (*iampolicy.Policy, bool) {
	out, changed := p.Clone(), false
	for _, e := range es {
		var c bool
		out, c = e.Apply(out)
		changed = changed || c
	}
	return out, changed
}

// Holds reports whether every edit holds.
func (es TrustEdits) Holds(p *iampolicy.Policy) bool {
	for _, e := range es {
		if !e.Holds(p) {
			return false
		}
	}
	return true
}

// Subjects are every edit's.
func (es TrustEdits) Subjects(p *iampolicy.Policy) []string {
	var out []string
	for _, e := range es {
		for _, s := range e.Subjects(p) {
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	return out
}

func (es TrustEdits) String() string {
	names := make([]string, len(es))
	for i, e := range es {
		names[i] = e.String()
	}
	return strings.Join(names, ", ")
}

// one is the edit to run: the only one, else all of them.
func (es TrustEdits) one() TrustEdit {
	if len(es) == 1 {
		return es[0]
	}
	return es
}

// targetTrustEdit is an edit of the target's trust: it also says what it wants, for messages.
type targetTrustEdit interface {
	TrustEdit
	refusal(p *iampolicy.Policy) string
	how() string        // how the binding's role assumes the target, e.g. "with SDC's session tag (...)"
	conditions() string // the statement's conditions, ", ..." ("" for none)
}

func (e AdmitRole) how() string {
	return "with SDC's session tag (" + vocab.SDCSessionTagKey + ")"
}

func (e AdmitRole) conditions() string { return "" }

// AdmitPodIdentityTarget lets EKS Pod Identity's second hop through the target's trust: the sessions of
// RoleARN (the association's role) assume TargetARN, with the session tags of Session or, with them
// disabled, the association's ExternalID (iampolicy.AdmitPodIdentityTarget: the EKS user guide's statement).
type AdmitPodIdentityTarget struct {
	RoleARN, TargetARN string
	Session            iampolicy.PodIdentitySession
	ExternalID         string
}

// Apply adds the EKS user guide's statement, unless the trust already admits the second hop.
func (e AdmitPodIdentityTarget) Apply(p *iampolicy.Policy) (*iampolicy.Policy, bool) {
	return iampolicy.AdmitPodIdentityTarget(p, e.RoleARN, e.TargetARN, e.Session, e.ExternalID)
}

// Holds reports whether STS would let EKS Auth's second hop through the trust.
func (e AdmitPodIdentityTarget) Holds(p *iampolicy.Policy) bool { return e.refusal(p) == "" }

func (e AdmitPodIdentityTarget) refusal(p *iampolicy.Policy) string {
	if d, action := iampolicy.AdmitsPodIdentityTarget(p, e.Session, e.RoleARN, e.TargetARN, e.ExternalID); !d.Allowed() {
		return action + ": " + d.String()
	}
	return ""
}

// Subjects are the roles the trust lists in statements of bind's shape.
func (e AdmitPodIdentityTarget) Subjects(p *iampolicy.Policy) []string {
	return iampolicy.AWSPrincipals(p)
}

func (e AdmitPodIdentityTarget) String() string {
	return "admit role " + e.RoleARN + " for EKS Pod Identity"
}

func (e AdmitPodIdentityTarget) how() string {
	if e.Session.DisableSessionTags {
		return "for EKS Pod Identity without session tags (sts:ExternalId " + e.ExternalID + ")"
	}
	return "for EKS Pod Identity with its session tags"
}

func (e AdmitPodIdentityTarget) conditions() string {
	if e.Session.DisableSessionTags {
		return ", if sts:ExternalId is " + e.ExternalID
	}
	return fmt.Sprintf(", if the session tags name cluster %s and ServiceAccount %s/%s", e.Session.ClusterARN, e.Session.Namespace, e.Session.ServiceAccount)
}

// RevokePodIdentityTarget removes the statements bind wrote into the target's trust for the binding
// (iampolicy.RevokePodIdentityTarget); others stay.
type RevokePodIdentityTarget struct {
	RoleARN    string
	Session    iampolicy.PodIdentitySession
	ExternalID string
}

// Apply removes them.
func (e RevokePodIdentityTarget) Apply(p *iampolicy.Policy) (*iampolicy.Policy, bool) {
	return iampolicy.RevokePodIdentityTarget(p, e.RoleARN, e.Session, e.ExternalID)
}

// Holds reports whether none is left.
func (e RevokePodIdentityTarget) Holds(p *iampolicy.Policy) bool {
	_, left := e.Apply(p)
	return !left
}

// Subjects are the roles the trust lists in statements of bind's shape.
func (e RevokePodIdentityTarget) Subjects(p *iampolicy.Policy) []string {
	return iampolicy.AWSPrincipals(p)
}

func (e RevokePodIdentityTarget) String() string {
	return "remove role " + e.RoleARN + "'s EKS Pod Identity statements"
}

// AdmitWebIdentityPattern admits the tokens of every ServiceAccount whose subject matches Pattern, with
// Audience, through the OIDC provider Provider (iampolicy.AdmitSubjectPattern).
type AdmitWebIdentityPattern struct{ Provider, Host, Pattern, Audience string }

// Apply adds the pattern's statement.
func (e AdmitWebIdentityPattern) Apply(p *iampolicy.Policy) (*iampolicy.Policy, bool) {
	return iampolicy.AdmitSubjectPattern(p, e.Provider, e.Host, e.Pattern, e.Audience)
}

// Holds reports whether the trust has the pattern's statement.
func (e AdmitWebIdentityPattern) Holds(p *iampolicy.Policy) bool {
	_, changed := e.Apply(p)
	return p != nil && !changed
}

// Subjects are the ServiceAccounts the trust lists for the provider.
func (e AdmitWebIdentityPattern) Subjects(p *iampolicy.Policy) []string {
	return iampolicy.WebIdentitySubjects(p, e.Provider, e.Host)
}

func (e AdmitWebIdentityPattern) String() string { return "admit " + e.Pattern }
