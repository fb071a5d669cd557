package iampolicy

import "testing"

func TestPodIdentityTargetTrust(t *testing.T) {
	t.Parallel()
	const first, target, ext = "arn:aws:iam::111122223333:role/first", "arn:aws:iam::444455556666:role/data", "us-west-2/111122223333/demo/ns1/sdc"
	tagged := PodIdentitySession{ClusterARN: "arn:aws:eks:us-west-2:111122223333:cluster/demo", ClusterName: "demo", Namespace: "ns1", ServiceAccount: "sdc"}
	untagged := tagged
	untagged.DisableSessionTags = true
	other := tagged
	other.Namespace = "ns2"
	keep := Statement{Effect: Allow, Principal: &Principal{Values: map[string]Values{"AWS": {"arn:aws:iam::444455556666:root"}}}, Action: Values{"sts:AssumeRole"},
		Condition: Conditions{"Bool": {"aws:MultiFactorAuthPresent": {"true"}}}}
	p, changed := AdmitPodIdentityTarget(NewPolicy(keep), first, target, tagged, "")
	if !changed || len(p.Statements) != 2 {
		t.Fatalf("admit: changed %v\n%s", changed, p.Canonical())
	}
	for _, c := range []struct {
		s      PodIdentitySession
		ext    string
		policy *Policy
		want   bool
	}{
		{tagged, "", p, true},
		{other, "", p, false},     // the tags name another namespace
		{untagged, ext, p, false}, // no tags, and no statement on the external ID
	} {
		if d, _ := AdmitsPodIdentityTarget(c.policy, c.s, first, target, c.ext); d.Allowed() != c.want {
			t.Errorf("%+v: allowed %v, want %v", c.s, d.Allowed(), c.want)
		}
	}
	q, _ := AdmitPodIdentityTarget(p, first, target, untagged, ext)
	if d, _ := AdmitsPodIdentityTarget(q, untagged, first, target, ext); !d.Allowed() {
		t.Errorf("the external ID statement does not admit the untagged hop:\n%s", q.Canonical())
	}
	if d, _ := AdmitsPodIdentityTarget(q, untagged, first, target, ext+"x"); d.Allowed() {
		t.Errorf("another external ID is admitted:\n%s", q.Canonical())
	}
	if _, again := AdmitPodIdentityTarget(q, first, target, tagged, ""); again {
		t.Errorf("a second admit changed the trust")
	}
	out, removed := RevokePodIdentityTarget(q, first, tagged, ext)
	if !removed || len(out.Statements) != 1 || !out.Statements[0].Equivalent(keep) {
		t.Errorf("revoke: removed %v\n%s", removed, out.Canonical())
	}
	if _, again := RevokePodIdentityTarget(out, first, tagged, ext); again {
		t.Errorf("a second revoke changed the trust")
	}
	if len(q.Statements) != 3 {
		t.Errorf("revoke modified its input:\n%s", q.Canonical())
	}
}

func TestSubjectPatternMatching(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		pattern, subject string
		want             bool
	}{
		{"system:serviceaccount:sdc-*:sdc", "system:serviceaccount:sdc-a:sdc", true},
		{"system:serviceaccount:sdc-*:sdc", "system:serviceaccount:sdc-a:other", false},
		{"system:serviceaccount:sdc-*:sdc", "system:serviceaccount:sdc:sdc", false},
		{"system:serviceaccount:team-?:sdc", "system:serviceaccount:team-1:sdc", true},
		{"system:serviceaccount:team-?:sdc", "system:serviceaccount:team-12:sdc", false},
	} {
		if got := PatternAdmits(c.pattern, c.subject); got != c.want {
			t.Errorf("PatternAdmits(%s, %s) = %v", c.pattern, c.subject, got)
		}
	}
	p, _ := AdmitSubjectPattern(nil, "arn:aws:iam::1:oidc-provider/h", "h", "system:serviceaccount:sdc-*:sdc", "")
	if got := SubjectPatterns(p, "arn:aws:iam::1:oidc-provider/h", "h"); len(got) != 1 || got[0] != "system:serviceaccount:sdc-*:sdc" {
		t.Errorf("SubjectPatterns = %v\n%s", got, p.Canonical())
	}
	if got := SubjectPatterns(p, "arn:aws:iam::1:oidc-provider/other", "other"); len(got) != 0 {
		t.Errorf("another provider's patterns = %v", got)
	}
}
