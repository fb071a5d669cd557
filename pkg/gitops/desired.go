// Package gitops turns what a bind plan would create or change into resources that a controller applies from
// a Git repository: AWS Controllers for Kubernetes (ACK) resources, or a CloudFormation template, each with
// the Kubernetes objects beside them. It also reads those resources back, so tests can show that what is
// emitted is what bind would make. It writes nothing and reads nothing but its arguments.
package gitops

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
)

// Desired is the end state of a bind plan's AWS resources, whole (not the edits that reach it), by account,
// and the Kubernetes objects bind applies. A resource that exists already is marked so: a controller must
// adopt or import it rather than create it.
type Desired struct {
	// Accounts are the binding's account first, then (cross-account with --target-profile) the target's.
	Accounts []Account
	// Kube are the Kubernetes objects, as apply configurations or plain objects (the Namespace, the
	// ServiceAccount's fields, the Deployment's fields), in the order to apply them.
	Kube []KubeObject
	// Restarts are Deployments ("namespace/name") whose pods bind would restart: no controller does it.
	Restarts []string
	// Cluster, Namespace and ServiceAccount name the binding.
	Cluster, Namespace, ServiceAccount string
}

// Account is the AWS resources of one account.
type Account struct {
	ID           string
	Provider     *Provider
	Policies     []Policy
	Roles        []Role
	Associations []Association
}

// Provider is an IAM OIDC provider.
type Provider struct {
	ARN, URL               string
	ClientIDs, Thumbprints []string
	Tags                   map[string]string
	Exists                 bool
}

// Policy is a customer managed IAM policy: its default version's document.
type Policy struct {
	ARN, Name, Path, Description string
	Document                     *iampolicy.Policy
	Tags                         map[string]string
	Exists                       bool
}

// Role is an IAM role with its trust and attached managed policies.
type Role struct {
	ARN, Name, Path, Description string
	MaxSessionDuration           int32 // 0: IAM's default
	Boundary                     string
	Trust                        *iampolicy.Policy
	Policies                     []string // attached managed policy ARNs
	Tags                         map[string]string
	Exists                       bool
}

// Association is an EKS Pod Identity association.
type Association struct {
	Cluster, Namespace, ServiceAccount, RoleARN string
	Tags                                        map[string]string
	Exists                                      bool
}

// KubeObject is a Kubernetes object bind applies; Fields says it holds only bind's fields of an object that
// may hold others (server-side apply), not the whole object.
type KubeObject struct {
	Object any
	Fields bool
	// What says what it is, for the comment above it.
	What string
}

// Diff lists how b differs from a (policies and trusts compared as IAM documents, lists as sets); empty
// when they are the same end state. The Kubernetes objects are not compared: both formats print the same.
func Diff(a, b *Desired) []string { return diff(a, b, false) }

// DiffTemplate is Diff for b read from CloudFormation templates, which cannot hold a managed policy's tags:
// those are not compared.
func DiffTemplate(a, b *Desired) []string { return diff(a, b, true) }

func diff(a, b *Desired, noPolicyTags bool) []string {
	var out []string
	acct := func(d *Desired) map[string]Account {
		m := map[string]Account{}
		for _, x := range d.Accounts {
			m[x.ID] = x
		}
		return m
	}
	am, bm := acct(a), acct(b)
	for _, id := range slices.Sorted(maps.Keys(am)) {
		x, y := am[id], bm[id]
		if _, ok := bm[id]; !ok {
			out = append(out, "account "+id+": missing")
			continue
		}
		out = append(out, diffAccount(x, y, noPolicyTags)...)
	}
	for id := range bm {
		if _, ok := am[id]; !ok {
			out = append(out, "account "+id+": not expected")
		}
	}
	return out
}

func diffAccount(a, b Account, noPolicyTags bool) []string {
	var out []string
	add := func(what string, x, y any) {
		if fmt.Sprint(x) != fmt.Sprint(y) {
			out = append(out, fmt.Sprintf("%s: %v, want %v", what, y, x))
		}
	}
	switch {
	case (a.Provider == nil) != (b.Provider == nil):
		out = append(out, fmt.Sprintf("account %s: provider %v, want %v", a.ID, b.Provider != nil, a.Provider != nil))
	case a.Provider != nil:
		p, q := a.Provider, b.Provider
		add("provider ARN", p.ARN, q.ARN)
		add("provider URL", p.URL, q.URL)
		add("provider client IDs", sorted(p.ClientIDs), sorted(q.ClientIDs))
		add("provider thumbprints", sorted(p.Thumbprints), sorted(q.Thumbprints))
		add("provider tags", tagString(p.Tags), tagString(q.Tags))
	}
	pols := map[string]Policy{}
	for _, p := range b.Policies {
		pols[p.ARN] = p
	}
	add("policies", policyARNs(a.Policies), policyARNs(b.Policies))
	for _, p := range a.Policies {
		q, ok := pols[p.ARN]
		if !ok {
			continue
		}
		add("policy "+p.ARN+" name", p.Name, q.Name)
		add("policy "+p.ARN+" path", p.Path, q.Path)
		if !noPolicyTags {
			add("policy "+p.ARN+" tags", tagString(p.Tags), tagString(q.Tags))
		}
		if !p.Document.Equal(q.Document) {
			out = append(out, fmt.Sprintf("policy %s document:\n%s\nwant\n%s", p.ARN, q.Document, p.Document))
		}
	}
	roles := map[string]Role{}
	for _, r := range b.Roles {
		roles[r.ARN] = r
	}
	add("roles", roleARNs(a.Roles), roleARNs(b.Roles))
	for _, r := range a.Roles {
		q, ok := roles[r.ARN]
		if !ok {
			continue
		}
		add("role "+r.Name+" path", r.Path, q.Path)
		add("role "+r.Name+" boundary", r.Boundary, q.Boundary)
		add("role "+r.Name+" max session", maxSession(r.MaxSessionDuration), maxSession(q.MaxSessionDuration))
		add("role "+r.Name+" policies", sorted(r.Policies), sorted(q.Policies))
		add("role "+r.Name+" tags", tagString(r.Tags), tagString(q.Tags))
		if !r.Trust.Equal(q.Trust) {
			out = append(out, fmt.Sprintf("role %s trust:\n%s\nwant\n%s", r.Name, q.Trust, r.Trust))
		}
	}
	assoc := func(as []Association) []string {
		var s []string
		for _, x := range as {
			s = append(s, fmt.Sprintf("%s/%s/%s->%s %s", x.Cluster, x.Namespace, x.ServiceAccount, x.RoleARN, tagString(x.Tags)))
		}
		return sorted(s)
	}
	add("associations", assoc(a.Associations), assoc(b.Associations))
	return out
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}

func tagString(t map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(t)) {
		fmt.Fprintf(&b, "%s=%s;", k, t[k])
	}
	return b.String()
}

func policyARNs(ps []Policy) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.ARN)
	}
	return sorted(out)
}

func roleARNs(rs []Role) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.ARN)
	}
	return sorted(out)
}

// maxSession is a role's maximum session duration, IAM's default (an hour) for 0.
func maxSession(s int32) int32 {
	if s == 0 {
		return 3600
	}
	return s
}
