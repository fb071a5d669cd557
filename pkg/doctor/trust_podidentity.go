package doctor

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// podIdentitySession is what EKS Auth tells STS for the target's pods: the cluster, the association's
// namespace and ServiceAccount, and the first running pod's name and UID when there is one (a trust
// condition may test them).
func podIdentitySession(f *Facts, t *Target) iampolicy.PodIdentitySession {
	s := iampolicy.PodIdentitySession{ClusterARN: f.Cluster.ARN, ClusterName: f.Cluster.Name, Namespace: t.Namespace, ServiceAccount: t.ServiceAccount}
	if t.Association != nil {
		s.DisableSessionTags = t.Association.DisableSessionTags
	}
	if p := podOf(t); p != nil {
		s.PodName, s.PodUID = p.Name, string(p.UID)
	}
	return s
}

// podOf is the target's first pod that runs (or waits to run) under its ServiceAccount; nil when none.
func podOf(t *Target) *corev1.Pod {
	for i := range t.Pods {
		if serviceAccountOf(&t.Pods[i].Spec) == t.ServiceAccount {
			return t.Pods[i]
		}
	}
	return nil
}

// explainPodIdentityTrust says why the trust does not let EKS Auth assume the role for the session: action
// was refused with decision d.
func explainPodIdentityTrust(trust *iampolicy.Policy, s iampolicy.PodIdentitySession, roleARN, action string, d iampolicy.Decision) []reason {
	if d.Effect == iampolicy.Deny {
		return []reason{{"a statement explicitly denies it",
			fmt.Sprintf("%s denies %s to %s, and a Deny always wins", statementLabel(trust, d.StatementIndex), action, vocab.PodIdentityService)}}
	}
	var req iampolicy.Request
	for _, r := range iampolicy.PodIdentityRequests(s, roleARN) {
		if r.Action == action {
			req = r
		}
	}
	idx := iampolicy.PodIdentityStatements(trust)
	if len(idx) == 0 {
		return []reason{{"no statement trusts " + vocab.PodIdentityService,
			fmt.Sprintf("EKS Pod Identity assumes the role as the service principal %s, and the trust has no Allow statement for it (only %s)", vocab.PodIdentityService, principalsOf(trust))}}
	}
	var out []reason
	for _, i := range idx {
		st := trust.Statements[i]
		label := statementLabel(trust, i)
		if !iampolicy.Evaluate(iampolicy.Request{Principal: req.Principal, Action: action, Resource: req.Resource},
			&iampolicy.Policy{Version: trust.Version, Statements: []iampolicy.Statement{withoutConditions(st)}}).Allowed() {
			short := "no statement allows " + action
			long := fmt.Sprintf("%s allows %s, not %s", label, strings.Join(st.Action, ", "), action)
			if action == vocab.ActionTagSession {
				short = "it does not allow " + vocab.ActionTagSession
				long += ": EKS Pod Identity tags every session (eks-cluster-arn, kubernetes-namespace, kubernetes-service-account, ...), so the role must allow sts:TagSession beside sts:AssumeRole (or the association must disable session tags)"
			}
			out = append(out, reason{short, long})
			continue
		}
		out = append(out, explainPodIdentityConditions(label, trust.Version, st, req)...)
	}
	sort.SliceStable(out, func(i, j int) bool { return podRank(out[i]) < podRank(out[j]) })
	return out
}

// podRank puts the reasons that name this ServiceAccount's facts first.
func podRank(r reason) int {
	switch {
	case strings.Contains(r.short, "TagSession"):
		return 0
	case strings.Contains(r.short, "kubernetes-") || strings.Contains(r.short, "cluster"):
		return 1
	}
	return 2
}

// explainPodIdentityConditions says which of a statement's conditions fail for the session, and with which
// value the session has.
func explainPodIdentityConditions(label, version string, s iampolicy.Statement, req iampolicy.Request) []reason {
	var out []reason
	for _, c := range failedConditions(version, s, req) {
		key, values := c.key, c.values
		has := "none"
		for k, v := range req.Context {
			if strings.EqualFold(k, key) {
				has = strings.Join(v, ", ")
			}
		}
		tag := strings.TrimPrefix(strings.ToLower(key), "aws:requesttag/")
		short := fmt.Sprintf("its condition on %s does not hold", key)
		if tag != strings.ToLower(key) {
			short = fmt.Sprintf("it requires %s %s, the session has %s", tag, strings.Join(values, ", "), has)
		}
		out = append(out, reason{short,
			fmt.Sprintf("%s: %s %s = %s, and EKS Pod Identity's session for this ServiceAccount has %s = %s", label, c.op, key, strings.Join(values, ", "), key, has)})
	}
	if len(out) == 0 {
		out = append(out, reason{"its conditions do not admit it", label + "'s conditions do not hold together for this ServiceAccount's session"})
	}
	return out
}

// principalsOf lists the principals a trust's Allow statements name, for messages.
func principalsOf(p *iampolicy.Policy) string {
	var out []string
	for _, s := range p.Statements {
		if s.Effect != iampolicy.Allow || s.Principal == nil {
			continue
		}
		if s.Principal.Wildcard {
			out = append(out, "*")
		}
		kinds := make([]string, 0, len(s.Principal.Values))
		for k := range s.Principal.Values {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		for _, k := range kinds {
			for _, v := range s.Principal.Values[k] {
				out = append(out, k+" "+v)
			}
		}
	}
	if len(out) == 0 {
		return "no principal"
	}
	return strings.Join(out, ", ")
}
