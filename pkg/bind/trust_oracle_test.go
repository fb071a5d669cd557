package bind

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iamread"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
	"github.com/kubectl-sdc/kubectl-sdc/test/oracle"
)

// The trust bind plans for an existing role, judged as sets of admitted requests by two evaluators:
// pkg/iampolicy and iam-simulate (test/oracle). For random existing trust policies (Allow and Deny
// statements for this cluster's and another cluster's OIDC provider, services and AWS roles; StringEquals,
// StringLike and their negations on :sub and :aud, single values and lists; statements already of bind's
// shape), Plan's trust must
//   - admit exactly what the old trust admitted, plus this ServiceAccount's token (unless a Deny of the old
//     trust denies it), over a sample of subjects, audiences and providers, AWS principals and services;
//   - keep every Deny statement, unchanged, and add none;
//   - have no statement admitting a request that no statement of the old trust admitted, this
//     ServiceAccount's token aside.
// The properties speak of admitted requests only, never of statement count or layout, so any merge that
// keeps them (appending a statement, adding the subject to an existing statement's :sub list) passes.
// ORACLE_SEED and ORACLE_TRUSTS change the generated trusts.

const (
	mergeDefaultSeed   = 20261202
	mergeDefaultTrusts = 200
	mOtherHost         = "oidc.eks.eu-west-1.amazonaws.com/id/FEDCBA9876543210"
	mOtherProvider     = "arn:aws:iam::123456789012:oidc-provider/" + mOtherHost
	mCustomAudience    = "sdc-audience"
)

// mergeRequest is one request the trusts are asked about.
type mergeRequest struct {
	req    iampolicy.Request
	target bool // this ServiceAccount's token through this cluster's provider, with bind's audience
}

func TestOracleTrustMergeAdmitsOldUnionServiceAccount(t *testing.T) {
	o := oracle.Start(t)
	t.Parallel()
	seed := oracle.Seed(t, mergeDefaultSeed)
	n := oracle.Count(t, "ORACLE_TRUSTS", mergeDefaultTrusts)
	g := &mergeGen{r: rand.New(rand.NewPCG(seed, seed^0x7a57))}

	type trial struct {
		old, merged *iampolicy.Policy
		audience    string
		requests    []mergeRequest
	}
	var (
		trials  []trial
		sims    []oracle.Simulation
		changed int
		denied  int
		refused []string
	)
	for i := range n {
		r := request(t)
		if g.r.IntN(4) == 0 {
			r.Audience = mCustomAudience
		}
		audience := r.Audience
		if audience == "" {
			audience = vocab.DefaultAudience
		}
		o := fresh(r)
		var old *iampolicy.Policy
		if i%10 != 0 { // one in ten roles does not exist yet
			old = mustParse(t, g.trust(audience))
			o.Role = &iamread.Role{ARN: tRole, Name: tRoleName, Trust: old,
				Tags: map[string]string{vocab.ManagedByKey: vocab.ManagedByValue, vocab.TagStages: "v1 s3 bucket=ingest"}}
		}
		res, err := Plan(r, o)
		if err != nil && old != nil && strings.Contains(err.Error(), "explicitly denied") {
			// bind refuses to add a ServiceAccount that a Deny keeps out (it never changes a Deny): right
			// exactly when the old trust denies this token.
			for _, mr := range mergeRequests(audience) {
				if mr.target && iampolicy.Evaluate(mr.req, old).Effect != iampolicy.Deny {
					t.Errorf("the planner refused for a Deny, but the old trust does not deny the target: %v\n  old: %s", err, compact(old))
				}
			}
			denied++
			continue
		}
		if err != nil {
			// bind refuses a merge that would break IAM's rules (e.g. the trust's size); it then changes nothing.
			refused = append(refused, err.Error())
			continue
		}
		merged := plannedTrust(t, res, old)
		if old == nil || !merged.Equal(old) {
			changed++
		}
		tr := trial{old: old, merged: merged, audience: audience, requests: mergeRequests(audience)}
		trials = append(trials, tr)
		for _, p := range []*iampolicy.Policy{old, merged} {
			for _, mr := range tr.requests {
				sims = append(sims, mergeSimulation(p, mr.req))
			}
		}
	}
	if len(refused) > n/10 {
		t.Fatalf("the planner refused %d of %d generated trusts; the generator makes too many invalid ones: %q", len(refused), n, refused[0])
	}
	decisions, err := o.Simulate(sims)
	if err != nil {
		t.Fatalf("seed %d: %v", seed, err)
	}

	failures := 0
	fail := func(tr trial, format string, a ...any) {
		failures++
		if failures <= 10 {
			t.Errorf("seed %d (ORACLE_SEED=%d ORACLE_TRUSTS=%d): %s\n  old:    %s\n  merged: %s", seed, seed, n,
				fmt.Sprintf(format, a...), compact(tr.old), compact(tr.merged))
		}
	}
	next := 0
	admittedTarget := 0
	for _, tr := range trials {
		oracleSays := func() oracle.Decision { d := decisions[next]; next++; return d }
		oldOracle := make([]oracle.Decision, len(tr.requests))
		for i := range tr.requests {
			oldOracle[i] = oracleSays()
		}
		for i, mr := range tr.requests {
			oldOurs := iampolicy.Evaluate(mr.req, tr.old)
			newOurs := iampolicy.Evaluate(mr.req, tr.merged)
			newOracle := oracleSays()
			want := func(admittedBefore, deniedBefore bool) bool {
				return admittedBefore || (mr.target && !deniedBefore)
			}
			if got, w := newOurs.Allowed(), want(oldOurs.Allowed(), oldOurs.Effect == iampolicy.Deny); got != w {
				fail(tr, "pkg/iampolicy: the merged trust admits %s: %v, want %v (old trust: %s)", describe(mr.req), got, w, oldOurs)
			}
			if got, w := newOracle == oracle.Allowed, want(oldOracle[i] == oracle.Allowed, oldOracle[i] == oracle.ExplicitlyDenied); got != w {
				fail(tr, "iam-simulate: the merged trust admits %s: %v, want %v (old trust: %s)", describe(mr.req), got, w, oldOracle[i])
			}
			if mr.target && newOurs.Allowed() {
				admittedTarget++
			}
			// Each statement on its own: none admits what no statement of the old trust admitted.
			for j, s := range tr.merged.Statements {
				if s.Effect != iampolicy.Allow || !statementAdmits(tr.merged.Version, s, mr.req) || mr.target {
					continue
				}
				if !slices.ContainsFunc(statements(tr.old), func(os iampolicy.Statement) bool {
					return os.Effect == iampolicy.Allow && statementAdmits(tr.old.Version, os, mr.req)
				}) {
					fail(tr, "merged statement %d admits %s, which no statement of the old trust admitted", j+1, describe(mr.req))
				}
			}
		}
		if !slices.Equal(denies(tr.old), denies(tr.merged)) {
			fail(tr, "Deny statements changed: %q -> %q", denies(tr.old), denies(tr.merged))
		}
	}
	if failures > 10 {
		t.Errorf("... %d failures in all", failures)
	}
	if n >= mergeDefaultTrusts && (changed < len(trials)/4 || changed == len(trials)) {
		t.Errorf("%d of %d plans changed the trust: the generator should make both trusts that need this ServiceAccount and trusts that already admit it", changed, len(trials))
	}
	for _, r := range refused {
		t.Logf("refused: %s", r)
	}
	t.Logf("seed %d: %d trusts (%d changed by the plan, %d refused for a Deny of the target, %d refused otherwise), %d requests judged by both evaluators, target admitted in %d",
		seed, len(trials), changed, denied, len(refused), len(sims)/2, admittedTarget)
}

// plannedTrust is the trust the role has after Apply: the planned document of the role change (After) when
// it creates the role or changes its trust, else old.
func plannedTrust(t *testing.T, res *Result, old *iampolicy.Policy) *iampolicy.Policy {
	t.Helper()
	for _, c := range res.Plan.Changes {
		if c.ID != "role" {
			continue
		}
		if op, ok := c.Op.(writeTrust); ok && (op.Create != nil || op.Update) {
			return mustParse(t, c.After)
		}
		if old == nil {
			t.Fatalf("no role exists and the plan creates none: %+v", c)
		}
		return old
	}
	t.Fatal("the plan has no role change")
	return nil
}

// mergeRequests are the requests asked of every trust: tokens of a few subjects with a few audiences
// through both providers, an AWS role, a role session and a service.
func mergeRequests(audience string) []mergeRequest {
	var out []mergeRequest
	for _, p := range []struct{ provider, host string }{{tProvider, tHost}, {mOtherProvider, mOtherHost}} {
		for _, sub := range []string{"system:serviceaccount:ns1:sdc", "system:serviceaccount:ns1:other", "system:serviceaccount:ns2:sdc", "system:serviceaccount:ns1:sdc-2"} {
			for _, aud := range slices.Compact([]string{audience, vocab.DefaultAudience, "other-audience"}) {
				out = append(out, mergeRequest{req: iampolicy.WebIdentityRequest(p.provider, p.host, sub, aud),
					target: p.provider == tProvider && sub == vocab.Subject("ns1", "sdc") && aud == audience})
			}
		}
	}
	for _, p := range []iampolicy.RequestPrincipal{
		{Type: "AWS", ID: "arn:aws:iam::123456789012:role/ci"},
		{Type: "AWS", ID: "arn:aws:sts::123456789012:assumed-role/ci/build-7"},
		{Type: "Service", ID: "ec2.amazonaws.com"},
	} {
		out = append(out, mergeRequest{req: iampolicy.Request{Principal: &p, Action: "sts:AssumeRole"}})
	}
	for i := range out {
		out[i].req.Resource = tRole
	}
	return out
}

func mergeSimulation(p *iampolicy.Policy, req iampolicy.Request) oracle.Simulation {
	s := oracle.Simulation{Principal: req.Principal.ID, Action: req.Action, Resource: tRole, ResourceAccount: tAccount,
		Context: map[string]any{}}
	for k, v := range req.Context {
		s.Context[k] = v[0]
	}
	if p == nil {
		p = &iampolicy.Policy{Version: iampolicy.Version2012} // no role yet: a trust admitting nobody
	}
	s.ResourcePolicy = p.Compact()
	if req.Principal.Type == "AWS" {
		// IAM needs the caller's own permission too; allowing everything leaves the decision to the trust.
		s.Identity = []json.RawMessage{json.RawMessage(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`)}
	}
	return s
}

func statements(p *iampolicy.Policy) []iampolicy.Statement {
	if p == nil {
		return nil
	}
	return p.Statements
}

func statementAdmits(version string, s iampolicy.Statement, req iampolicy.Request) bool {
	return iampolicy.Evaluate(req, &iampolicy.Policy{Version: version, Statements: []iampolicy.Statement{s}}).Allowed()
}

// denies are the canonical forms of a trust's Deny statements, Sid included, sorted.
func denies(p *iampolicy.Policy) []string {
	var out []string
	for _, s := range statements(p) {
		if s.Effect == iampolicy.Deny {
			out = append(out, string(iampolicy.NewPolicy(s).Compact()))
		}
	}
	slices.Sort(out)
	return out
}

func compact(p *iampolicy.Policy) string {
	if p == nil {
		return "(no role)"
	}
	return string(p.Compact())
}

func describe(req iampolicy.Request) string {
	var ctx []string
	for k, v := range req.Context {
		ctx = append(ctx, k[strings.LastIndex(k, ":")+1:]+"="+v[0])
	}
	slices.Sort(ctx)
	return fmt.Sprintf("%s %s %s", req.Principal.Type, req.Principal.ID, strings.Join(ctx, " "))
}

// mergeGen draws existing trust policies.
type mergeGen struct{ r *rand.Rand }

func (g *mergeGen) pick(list ...string) string { return list[g.r.IntN(len(list))] }

// some renders 1-3 draws as a JSON string or list.
func (g *mergeGen) some(draw func() string) any {
	n := 1 + g.r.IntN(3)
	if n == 1 && g.r.IntN(2) == 0 {
		return draw()
	}
	out := make([]string, n)
	for i := range out {
		out[i] = draw()
	}
	return out
}

func (g *mergeGen) subject() string {
	return g.pick("system:serviceaccount:ns1:sdc", "system:serviceaccount:ns1:other", "system:serviceaccount:ns2:sdc",
		"system:serviceaccount:ns1:*", "system:serviceaccount:*:sdc", "system:serviceaccount:ns?:sdc", "system:serviceaccount:ns2:*", "*")
}

func (g *mergeGen) exactSubject() string {
	return g.pick("system:serviceaccount:ns1:sdc", "system:serviceaccount:ns1:other", "system:serviceaccount:ns2:sdc", "system:serviceaccount:ns3:app")
}

// trust draws a trust policy of one to four statements. audience is the audience bind will trust, so that
// statements of bind's shape sometimes already name it.
func (g *mergeGen) trust(audience string) string {
	n := 1 + g.r.IntN(4)
	var sts []map[string]any
	for i := range n {
		s := g.statement(audience)
		if sid, ok := s["Sid"].(string); ok {
			s["Sid"] = fmt.Sprintf("%s%d", sid, i) // IAM refuses two statements with one Sid
		}
		sts = append(sts, s)
	}
	doc := map[string]any{"Version": iampolicy.Version2012, "Statement": sts}
	b, err := json.Marshal(doc)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func (g *mergeGen) statement(audience string) map[string]any {
	switch g.r.IntN(8) {
	case 0, 1: // bind's own shape, for this or another ServiceAccount, with bind's audience or another
		aud := g.pick(audience, audience, vocab.DefaultAudience, "other-audience")
		return map[string]any{"Effect": "Allow", "Principal": map[string]any{"Federated": tProvider},
			"Action":    "sts:AssumeRoleWithWebIdentity",
			"Condition": map[string]any{"StringEquals": map[string]any{tHost + ":sub": g.some(g.exactSubject), tHost + ":aud": aud}}}
	case 2: // an AWS role
		s := map[string]any{"Effect": g.pick("Allow", "Allow", "Deny"), "Principal": map[string]any{"AWS": "arn:aws:iam::123456789012:role/ci"},
			"Action": g.some(func() string { return g.pick("sts:AssumeRole", "sts:TagSession", "sts:*") })}
		if g.r.IntN(3) == 0 {
			s["Sid"] = "CI"
		}
		return s
	case 3: // a service
		return map[string]any{"Effect": "Allow", "Principal": map[string]any{"Service": g.pick("ec2.amazonaws.com", "eks.amazonaws.com")}, "Action": "sts:AssumeRole"}
	}
	// Web identities of either cluster, with conditions on :sub and :aud.
	effect := g.pick("Allow", "Allow", "Deny")
	providers := g.some(func() string { return g.pick(tProvider, tProvider, mOtherProvider) })
	host := tHost
	if g.r.IntN(4) == 0 {
		host = mOtherHost
	}
	ops := []string{"StringEquals", "StringLike"}
	if effect == "Deny" {
		ops = append(ops, "StringNotEquals", "StringNotLike")
	}
	cond := map[string]any{}
	for range 1 + g.r.IntN(2) {
		op := g.pick(ops...)
		keys, _ := cond[op].(map[string]any)
		if keys == nil {
			keys = map[string]any{}
			cond[op] = keys
		}
		if g.r.IntN(3) != 0 {
			keys[host+":sub"] = g.some(g.subject)
		} else {
			keys[host+":aud"] = g.some(func() string {
				return g.pick(audience, vocab.DefaultAudience, "sts.*", "*.amazonaws.com", "other-audience")
			})
		}
	}
	s := map[string]any{"Effect": effect, "Principal": map[string]any{"Federated": providers},
		"Action": g.some(func() string {
			return g.pick("sts:AssumeRoleWithWebIdentity", "sts:AssumeRoleWithWebIdentity", "sts:*", "sts:TagSession")
		})}
	if g.r.IntN(5) != 0 {
		s["Condition"] = cond
	}
	if g.r.IntN(4) == 0 {
		s["Sid"] = g.pick("Web", "Deny", "Old")
	}
	return s
}
