package iampolicy

import (
	"bytes"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// EKS Pod Identity's own role chain (EKS user guide, "pod-id-assign-target-role"): an association names a
// role of the cluster's account and a target role of any account; EKS Auth assumes the first for the pod,
// then the target with the first's session. The second hop is an ordinary sts:AssumeRole of that session,
// tagged with the six session tags, or, with session tags disabled, untagged and carrying the association's
// external ID as sts:ExternalId.

// PodIdentityTargetStatement is the statement the EKS user guide gives a target role's trust: the first
// role as principal, sts:AssumeRole and sts:TagSession, conditioned on the session tags that name the
// binding's cluster, namespace and ServiceAccount or, with session tags disabled, on sts:ExternalId being
// the association's external ID.
func PodIdentityTargetStatement(firstRoleARN string, s PodIdentitySession, externalID string) Statement {
	cond := map[string]Values{}
	if s.DisableSessionTags {
		cond["sts:ExternalId"] = Values{externalID}
	} else {
		cond["aws:RequestTag/"+vocab.SessionTagClusterARN] = Values{s.ClusterARN}
		cond["aws:RequestTag/"+vocab.SessionTagNamespace] = Values{s.Namespace}
		cond["aws:RequestTag/"+vocab.SessionTagServiceAccount] = Values{s.ServiceAccount}
	}
	return Statement{
		Effect:    Allow,
		Principal: &Principal{Values: map[string]Values{"AWS": {firstRoleARN}}},
		Action:    Values{vocab.ActionAssumeRole, vocab.ActionTagSession},
		Condition: Conditions{"StringEquals": cond},
	}
}

// PodIdentityTargetSession is the role session name EKS Auth's second hop is judged with (EKS names its
// sessions eks-<cluster>-<pod>-<uuid>; a trust that conditions on it is unusual).
func PodIdentityTargetSession(s PodIdentitySession) string {
	name := "eks-" + s.ClusterName + "-" + s.PodName
	if s.PodName == "" {
		name += "pod"
	}
	if len(name) > 64 {
		name = name[:64]
	}
	return name
}

// PodIdentityTargetRequests are the requests STS evaluates when EKS Auth assumes targetARN with the session
// of firstRoleARN: sts:AssumeRole and, with session tags, sts:TagSession, with the tags as
// aws:RequestTag/<key> and aws:TagKeys; with session tags disabled, sts:AssumeRole alone with
// sts:ExternalId. The same requests without a Principal are what the first role's own policies must allow.
func PodIdentityTargetRequests(s PodIdentitySession, firstRoleARN, targetARN, externalID string) []Request {
	base := AssumeRoleRequest(firstRoleARN, PodIdentityTargetSession(s))
	base.Resource = targetARN
	actions := []string{vocab.ActionAssumeRole}
	if s.DisableSessionTags {
		base.Context["sts:ExternalId"] = []string{externalID}
	} else {
		actions = append(actions, vocab.ActionTagSession)
		tags := s.tags()
		var keys []string
		for _, k := range vocab.SessionTagKeys {
			if v, ok := tags[k]; ok {
				base.Context["aws:RequestTag/"+k] = []string{v}
				keys = append(keys, k)
			}
		}
		base.Context["aws:TagKeys"] = keys
	}
	out := make([]Request, 0, len(actions))
	for _, a := range actions {
		r := base
		r.Action = a
		out = append(out, r)
	}
	return out
}

// AdmitsPodIdentityTarget decides the second hop against the target's trust: the first refused request's
// decision and action, or the last allowed one's.
func AdmitsPodIdentityTarget(trust *Policy, s PodIdentitySession, firstRoleARN, targetARN, externalID string) (Decision, string) {
	var d Decision
	var action string
	for _, req := range PodIdentityTargetRequests(s, firstRoleARN, targetARN, externalID) {
		d, action = Evaluate(req, trust), req.Action
		if !d.Allowed() {
			break
		}
	}
	return d, action
}

// PodIdentityTargetPolicy is what the first role needs for EKS to chain into target, least privilege:
// sts:AssumeRole on exactly target, and sts:TagSession on it for EKS Pod Identity's session tags only.
func PodIdentityTargetPolicy(target string) *Policy {
	return NewPolicy(
		Statement{Sid: "PodIdentityTargetRole", Effect: Allow, Action: Values{vocab.ActionAssumeRole}, Resource: Values{target}},
		Statement{Sid: "PodIdentityTargetRoleSessionTags", Effect: Allow, Action: Values{vocab.ActionTagSession}, Resource: Values{target},
			Condition: Conditions{"ForAllValues:StringEquals": {"aws:TagKeys": Values(vocab.SessionTagKeys)}}},
	)
}

// AdmitPodIdentityTarget returns the target's trust with PodIdentityTargetStatement added, unless the
// trust already admits the second hop (p is not modified; every other statement stays).
func AdmitPodIdentityTarget(p *Policy, firstRoleARN, targetARN string, s PodIdentitySession, externalID string) (merged *Policy, changed bool) {
	if p != nil {
		if d, _ := AdmitsPodIdentityTarget(p, s, firstRoleARN, targetARN, externalID); d.Allowed() {
			return p.Clone(), false
		}
	}
	return MergeStatement(p, PodIdentityTargetStatement(firstRoleARN, s, externalID))
}

// RevokePodIdentityTarget removes from the target's trust the statements bind wrote for the binding: those
// equal to PodIdentityTargetStatement with the session tags, or with the external ID (externalID "": only
// the former). Statements of any other shape stay. p is not modified.
func RevokePodIdentityTarget(p *Policy, firstRoleARN string, s PodIdentitySession, externalID string) (out *Policy, changed bool) {
	if p == nil {
		return nil, false
	}
	tagged, untagged := s, s
	tagged.DisableSessionTags, untagged.DisableSessionTags = false, true
	shapes := [][]byte{PodIdentityTargetStatement(firstRoleARN, tagged, "").equivalenceKey()}
	if externalID != "" {
		shapes = append(shapes, PodIdentityTargetStatement(firstRoleARN, untagged, externalID).equivalenceKey())
	}
	out = p.Clone()
	out.Statements = out.Statements[:0]
	for _, st := range p.Statements {
		drop := false
		for _, shape := range shapes {
			if bytes.Equal(st.equivalenceKey(), shape) {
				drop = true
			}
		}
		if drop {
			changed = true
			continue
		}
		out.Statements = append(out.Statements, st)
	}
	return out, changed
}
