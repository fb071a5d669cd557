package iampolicy

import (
	"strings"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// PodIdentityStatement is the EKS Pod Identity trust statement as the EKS user guide gives it: Allow the
// service principal pods.eks.amazonaws.com sts:AssumeRole and sts:TagSession, without conditions (which
// ServiceAccounts may use the role is decided by the associations that name it).
func PodIdentityStatement() Statement {
	return Statement{
		Sid:       vocab.PodIdentityTrustSid,
		Effect:    Allow,
		Principal: &Principal{Values: map[string]Values{"Service": {vocab.PodIdentityService}}},
		Action:    Values{vocab.ActionAssumeRole, vocab.ActionTagSession},
	}
}

// PodIdentitySession is what EKS Auth tells STS when it assumes an association's role for a pod: the
// cluster, the association's namespace and ServiceAccount and, when known, the pod. They become the
// session tags (aws:RequestTag/<key>) a trust condition can test.
type PodIdentitySession struct {
	ClusterARN, ClusterName, Namespace, ServiceAccount string
	// PodName and PodUID are known only for a given pod; "" leaves those tags out of the request.
	PodName, PodUID string
	// DisableSessionTags is the association's setting: EKS Auth then asks for sts:AssumeRole alone.
	DisableSessionTags bool
}

// account is the cluster's account, from its ARN.
func (s PodIdentitySession) account() string {
	parts := strings.SplitN(s.ClusterARN, ":", 6)
	if len(parts) < 6 {
		return ""
	}
	return parts[4]
}

// tags are the session tags EKS Pod Identity sets, leaving out those whose value is unknown.
func (s PodIdentitySession) tags() map[string]string {
	all := map[string]string{
		vocab.SessionTagClusterARN: s.ClusterARN, vocab.SessionTagClusterName: s.ClusterName,
		vocab.SessionTagNamespace: s.Namespace, vocab.SessionTagServiceAccount: s.ServiceAccount,
		vocab.SessionTagPodName: s.PodName, vocab.SessionTagPodUID: s.PodUID,
	}
	for k, v := range all {
		if v == "" {
			delete(all, k)
		}
	}
	return all
}

// PodIdentityRequests are the requests STS evaluates against the role's trust when EKS Auth assumes it for
// the session: sts:AssumeRole and, with session tags, sts:TagSession, from the service principal, with the
// tags as aws:RequestTag/<key> and aws:TagKeys, and aws:SourceAccount and aws:SourceArn (the cluster).
func PodIdentityRequests(s PodIdentitySession, roleARN string) []Request {
	ctx := map[string][]string{}
	if a := s.account(); a != "" {
		ctx["aws:SourceAccount"] = []string{a}
	}
	if s.ClusterARN != "" {
		ctx["aws:SourceArn"] = []string{s.ClusterARN}
	}
	actions := []string{vocab.ActionAssumeRole}
	if !s.DisableSessionTags {
		actions = append(actions, vocab.ActionTagSession)
		tags := s.tags()
		var keys []string
		for _, k := range vocab.SessionTagKeys {
			if v, ok := tags[k]; ok {
				ctx["aws:RequestTag/"+k] = []string{v}
				keys = append(keys, k)
			}
		}
		ctx["aws:TagKeys"] = keys
	}
	out := make([]Request, 0, len(actions))
	for _, a := range actions {
		out = append(out, Request{Principal: &RequestPrincipal{Type: "Service", ID: vocab.PodIdentityService},
			Action: a, Resource: roleARN, Context: ctx})
	}
	return out
}

// AdmitsPodIdentity evaluates every request of the session against the trust: the first decision that is
// not an Allow, or the last Allow.
func AdmitsPodIdentity(p *Policy, s PodIdentitySession, roleARN string) (Decision, string) {
	var d Decision
	action := ""
	for _, r := range PodIdentityRequests(s, roleARN) {
		d, action = Evaluate(r, p), r.Action
		if !d.Allowed() {
			return d, action
		}
	}
	return d, action
}

// AdmitPodIdentity returns p changed so that EKS Auth may assume the role for the session: when p does not
// already admit it, PodIdentityStatement is appended (MergeStatement: every other statement stays, and an
// equivalent one is not added twice). p is not modified; a nil p yields a new policy.
func AdmitPodIdentity(p *Policy, s PodIdentitySession) (merged *Policy, changed bool) {
	if p != nil {
		if d, _ := AdmitsPodIdentity(p, s, ""); d.Allowed() {
			return p.Clone(), false
		}
	}
	return MergeStatement(p, PodIdentityStatement())
}

// PodIdentityStatements are the indexes of p's Allow statements that name the Pod Identity service
// principal (or any principal), for messages.
func PodIdentityStatements(p *Policy) []int {
	var out []int
	if p == nil {
		return nil
	}
	for i, st := range p.Statements {
		if st.Effect != Allow || st.Principal == nil {
			continue
		}
		if st.Principal.Wildcard {
			out = append(out, i)
			continue
		}
		for _, v := range st.Principal.Values["Service"] {
			if strings.EqualFold(v, vocab.PodIdentityService) {
				out = append(out, i)
				break
			}
		}
	}
	return out
}

// RevokePodIdentity returns p without its statements equivalent to PodIdentityStatement (whatever their
// Sids): the ones bind adds. A statement of another shape that admits the service principal (with
// conditions, or beside other principals) is never touched. p is not modified; changed is false when p had
// no such statement.
func RevokePodIdentity(p *Policy) (out *Policy, changed bool) {
	if p == nil {
		return nil, false
	}
	want := PodIdentityStatement()
	out = &Policy{Version: p.Version, ID: p.ID}
	for _, s := range p.Statements {
		if s.Equivalent(want) {
			changed = true
			continue
		}
		out.Statements = append(out.Statements, s.clone())
	}
	return out, changed
}

// HasPodIdentityStatement reports whether p has a statement equivalent to PodIdentityStatement.
func HasPodIdentityStatement(p *Policy) bool {
	_, has := RevokePodIdentity(p)
	return has
}
