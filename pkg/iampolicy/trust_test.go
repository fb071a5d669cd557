package iampolicy

import (
	"bytes"
	"slices"
	"testing"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

const (
	providerA = "arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/AAAA"
	issuerA   = "oidc.eks.us-west-2.amazonaws.com/id/AAAA"
	providerB = "arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/BBBB"
	issuerB   = "oidc.eks.us-west-2.amazonaws.com/id/BBBB"
)

func TestWebIdentityStatement(t *testing.T) {
	t.Parallel()
	trust := NewPolicy(WebIdentityStatement(providerA, "https://"+issuerA+"/", "streamsets", "sdc", ""))
	sub := vocab.Subject("streamsets", "sdc")
	tests := []struct {
		name string
		req  Request
		want Effect
	}{
		{"matching service account and audience", WebIdentityRequest(providerA, issuerA, sub, vocab.DefaultAudience), Allow},
		{"issuer given with https:// to the request too", WebIdentityRequest(providerA, "https://"+issuerA, sub, vocab.DefaultAudience), Allow},
		{"another namespace", WebIdentityRequest(providerA, issuerA, vocab.Subject("default", "sdc"), vocab.DefaultAudience), ImplicitDeny},
		{"another service account", WebIdentityRequest(providerA, issuerA, vocab.Subject("streamsets", "other"), vocab.DefaultAudience), ImplicitDeny},
		{"another audience", WebIdentityRequest(providerA, issuerA, sub, "vault"), ImplicitDeny},
		{"another provider", WebIdentityRequest(providerB, issuerB, sub, vocab.DefaultAudience), ImplicitDeny},
		{"right provider ARN but keys of another issuer", WebIdentityRequest(providerA, issuerB, sub, vocab.DefaultAudience), ImplicitDeny},
		{"another action", func() Request {
			r := WebIdentityRequest(providerA, issuerA, sub, vocab.DefaultAudience)
			r.Action = "sts:AssumeRole"
			return r
		}(), ImplicitDeny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Evaluate(tt.req, trust); got.Effect != tt.want {
				t.Errorf("Evaluate = %s, want %s\ntrust: %s", got, tt.want, trust.Compact())
			}
		})
	}
	if err := trust.Validate(Trust); err != nil {
		t.Errorf("Validate(Trust): %v", err)
	}
	want := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"` + providerA + `"},` +
		`"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"` + issuerA + `:aud":"sts.amazonaws.com","` + issuerA + `:sub":"system:serviceaccount:streamsets:sdc"}}}]}`
	if got := string(trust.Compact()); got != want {
		t.Errorf("Compact:\n got %s\nwant %s", got, want)
	}
	custom := NewPolicy(WebIdentityStatement(providerA, issuerA, "streamsets", "sdc", "vault"))
	if !Evaluate(WebIdentityRequest(providerA, issuerA, sub, "vault"), custom).Allowed() {
		t.Errorf("custom audience vault is not allowed by %s", custom.Compact())
	}
}

func TestMergeStatement(t *testing.T) {
	t.Parallel()
	existing := mustParse(t, `{"Version":"2012-10-17","Statement":[
		{"Sid":"EC2","Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"},
		{"Sid":"Other","Effect":"Allow","Principal":{"Federated":"`+providerB+`"},"Action":"sts:AssumeRoleWithWebIdentity",
		 "Condition":{"StringLike":{"`+issuerB+`:sub":"system:serviceaccount:team:*"}}}]}`)
	before := existing.Clone()
	s := WebIdentityStatement(providerA, issuerA, "streamsets", "sdc", "")

	merged, changed := MergeStatement(existing, s)
	if !changed {
		t.Fatalf("MergeStatement did not add the statement to %s", existing.Compact())
	}
	if !existing.Equal(before) {
		t.Errorf("MergeStatement modified its input:\n%s", existing.Compact())
	}
	if len(merged.Statements) != 3 {
		t.Fatalf("merged has %d statements, want 3", len(merged.Statements))
	}
	for i := range existing.Statements {
		if a, b := merged.Statements[i].appendCanonical(nil), existing.Statements[i].appendCanonical(nil); string(a) != string(b) {
			t.Errorf("statement %d changed:\n got %s\nwant %s", i, a, b)
		}
	}
	if got := Evaluate(WebIdentityRequest(providerA, issuerA, vocab.Subject("streamsets", "sdc"), vocab.DefaultAudience), merged); got.StatementIndex != 2 || !got.Allowed() {
		t.Errorf("new statement does not allow the service account: %s", got)
	}
	if got := Evaluate(WebIdentityRequest(providerB, issuerB, vocab.Subject("team", "x"), vocab.DefaultAudience), merged); got.StatementIndex != 1 || !got.Allowed() {
		t.Errorf("old statement no longer allows its service account: %s", got)
	}

	again, changed := MergeStatement(merged, s)
	if changed || !again.Equal(merged) {
		t.Errorf("second merge changed the policy (changed=%v):\n%s", changed, again.Compact())
	}
	withSid := s
	withSid.Sid = "KubectlSdc"
	if _, changed := MergeStatement(merged, withSid); changed {
		t.Errorf("a statement differing only in Sid was added again")
	}
	// Reordered and repeated values are the same statement.
	reordered := s.clone()
	reordered.Action = Values{"sts:AssumeRoleWithWebIdentity", "sts:AssumeRoleWithWebIdentity"}
	if _, changed := MergeStatement(merged, reordered); changed {
		t.Errorf("an equivalent statement with repeated values was added again")
	}

	clash := WebIdentityStatement(providerA, issuerA, "streamsets", "other", "")
	clash.Sid = "EC2"
	withClash, changed := MergeStatement(merged, clash)
	if !changed {
		t.Fatalf("a new statement was not added")
	}
	if got := withClash.Statements[3].Sid; got != "EC22" {
		t.Errorf("clashing Sid became %q, want EC22", got)
	}
	if err := withClash.Validate(Trust); err != nil {
		t.Errorf("merged policy is not a valid trust policy: %v", err)
	}

	fresh, changed := MergeStatement(nil, s)
	if !changed || !fresh.Equal(NewPolicy(s)) {
		t.Errorf("MergeStatement(nil) = %s, %v", fresh.Compact(), changed)
	}
	// The result shares no memory with the input.
	merged.Statements[0].Principal.Values["Service"][0] = "changed"
	if existing.Statements[0].Principal.Values["Service"][0] != "ec2.amazonaws.com" {
		t.Errorf("changing the merged policy changed the input")
	}
}

func TestAdmitAndRevokeSubject(t *testing.T) {
	t.Parallel()
	sub := func(ns, sa string) string { return vocab.Subject(ns, sa) }
	admits := func(p *Policy, s string) bool {
		return Evaluate(WebIdentityRequest(providerA, issuerA, s, vocab.DefaultAudience), p).Allowed()
	}
	// From nothing: one statement of bind's shape.
	p, changed := AdmitSubject(nil, providerA, issuerA, sub("a", "x"), "")
	if !changed || len(p.Statements) != 1 || !admits(p, sub("a", "x")) || admits(p, sub("a", "y")) {
		t.Fatalf("from nil: %s", p.Compact())
	}
	// A second subject joins the list: still one statement, about 35 characters more.
	before := p.Size()
	p2, changed := AdmitSubject(p, providerA, issuerA, sub("b", "y"), "")
	if !changed || len(p2.Statements) != 1 || !admits(p2, sub("a", "x")) || !admits(p2, sub("b", "y")) {
		t.Fatalf("second subject: %s", p2.Compact())
	}
	if grew := p2.Size() - before; grew > 40 {
		t.Errorf("a second ServiceAccount costs %d characters, want about 35", grew)
	}
	if len(p.Statements[0].Condition["StringEquals"][vocab.IssuerHostPath(issuerA)+":sub"]) != 1 {
		t.Error("AdmitSubject modified its input")
	}
	// Idempotent.
	if _, changed := AdmitSubject(p2, providerA, issuerA, sub("b", "y"), ""); changed {
		t.Error("admitting a listed subject changed the policy")
	}
	// Another audience is another statement; another provider's statement is left alone.
	other := WebIdentityStatement(providerB, issuerB, "team", "x", "")
	hand := Statement{Effect: Allow, Principal: &Principal{Values: map[string]Values{"Federated": {providerA}}}, Action: Values{vocab.ActionAssumeRoleWithWebIdentity},
		Condition: Conditions{"StringLike": {vocab.IssuerHostPath(issuerA) + ":sub": {"system:serviceaccount:ops:*"}}}}
	deny := Statement{Effect: Deny, Principal: &Principal{Values: map[string]Values{"Federated": {providerA}}}, Action: Values{vocab.ActionAssumeRoleWithWebIdentity},
		Condition: Conditions{"StringEquals": {vocab.IssuerHostPath(issuerA) + ":sub": {sub("blocked", "x")}}}}
	base := NewPolicy(other, hand, deny)
	m, _ := AdmitSubject(base, providerA, issuerA, sub("c", "z"), "other-aud")
	if len(m.Statements) != 4 || !Evaluate(WebIdentityRequest(providerA, issuerA, sub("c", "z"), "other-aud"), m).Allowed() {
		t.Fatalf("new audience: %s", m.Compact())
	}
	for i := 0; i < 3; i++ {
		if !bytes.Equal(m.Statements[i].appendCanonical(nil), base.Statements[i].appendCanonical(nil)) {
			t.Errorf("statement %d of another shape changed", i)
		}
	}
	// A Deny stays a Deny: the subject it names is not admitted, though it is now listed.
	d, _ := AdmitSubject(base, providerA, issuerA, sub("blocked", "x"), "")
	if admits(d, sub("blocked", "x")) {
		t.Error("a Deny was overridden")
	}
	// Revoke: from a list, then the last one removes the statement; other shapes stay.
	r, changed := RevokeSubject(p2, providerA, issuerA, sub("a", "x"), "")
	if !changed || admits(r, sub("a", "x")) || !admits(r, sub("b", "y")) || len(r.Statements) != 1 {
		t.Fatalf("revoke one of two: %s", r.Compact())
	}
	r2, _ := RevokeSubject(r, providerA, issuerA, sub("b", "y"), "")
	if len(r2.Statements) != 0 {
		t.Errorf("revoking the last subject left %s", r2.Compact())
	}
	w := NewPolicy(hand)
	if _, changed := RevokeSubject(w, providerA, issuerA, sub("ops", "x"), ""); changed {
		t.Error("revoke touched a wildcard statement")
	}
	if got := WebIdentitySubjects(m, providerA, issuerA); len(got) != 1 || got[0] != sub("c", "z") {
		t.Errorf("subjects %v", got)
	}
}

// Unbind revokes a subject whatever audience bind admitted it with, and nothing of another shape.
func TestRevokeWebIdentitySubjectEveryAudience(t *testing.T) {
	t.Parallel()
	sub := vocab.Subject("a", "x")
	p, _ := AdmitSubject(nil, providerA, issuerA, sub, "")
	p, _ = AdmitSubject(p, providerA, issuerA, vocab.Subject("b", "y"), "")
	p, _ = AdmitSubject(p, providerA, issuerA, sub, "vault")
	p, _ = AdmitSubject(p, providerB, issuerB, sub, "")
	hand := Statement{Effect: Allow, Principal: &Principal{Values: map[string]Values{"Federated": {providerA}}}, Action: Values{vocab.ActionAssumeRoleWithWebIdentity},
		Condition: Conditions{"StringLike": {vocab.IssuerHostPath(issuerA) + ":sub": {"system:serviceaccount:a:*"}}}}
	p.Statements = append(p.Statements, hand)
	out, changed := RevokeWebIdentitySubject(p, providerA, issuerA, sub)
	if !changed {
		t.Fatal("nothing revoked")
	}
	for _, aud := range []string{vocab.DefaultAudience, "vault"} {
		for _, st := range out.Statements {
			if subs, ok := webIdentityShape(st, providerA, issuerA, aud); ok && slices.Contains(subs, sub) {
				t.Errorf("audience %s still lists %s: %s", aud, sub, out.Compact())
			}
		}
	}
	// b/y stays, the other provider's statement stays, the wildcard stays (and still admits a/x: the caller
	// reports that).
	if !Evaluate(WebIdentityRequest(providerA, issuerA, vocab.Subject("b", "y"), vocab.DefaultAudience), out).Allowed() ||
		!Evaluate(WebIdentityRequest(providerB, issuerB, sub, vocab.DefaultAudience), out).Allowed() ||
		!slices.ContainsFunc(out.Statements, func(s Statement) bool { return s.Equivalent(hand) }) {
		t.Errorf("revoke took too much: %s", out.Compact())
	}
	if len(out.Statements) != 3 {
		t.Errorf("the vault statement held only a/x and should be gone: %s", out.Compact())
	}
	if _, again := RevokeWebIdentitySubject(out, providerA, issuerA, sub); again {
		t.Error("a second revoke changed the policy")
	}
	if !TrustsProvider(out, providerA) || TrustsProvider(NewPolicy(WebIdentityStatement(providerB, issuerB, "a", "x", "")), providerA) {
		t.Error("TrustsProvider")
	}
	if !TrustsAnyone(out) || TrustsAnyone(NewPolicy(Statement{Effect: Deny, Principal: &Principal{Wildcard: true}, Action: Values{"sts:AssumeRole"}})) || TrustsAnyone(nil) {
		t.Error("TrustsAnyone")
	}
}
