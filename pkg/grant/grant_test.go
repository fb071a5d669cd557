package grant

import (
	"testing"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
)

func doc(t *testing.T, js string) *iampolicy.Policy {
	t.Helper()
	p, err := iampolicy.Parse([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func allows(p *iampolicy.Policy, action, resource string) bool {
	return iampolicy.Evaluate(iampolicy.Request{Action: action, Resource: resource}, p).Allowed()
}

const (
	bucketOne = `{"Version":"2012-10-17","Statement":[{"Sid":"S3Bucket","Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::one/*"},{"Sid":"S3List","Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::one"}]}`
	bucketTwo = `{"Version":"2012-10-17","Statement":[{"Sid":"S3Bucket","Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::two/*"},{"Sid":"S3List","Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::two"}]}`
)

func TestMergeKeepsEveryBindingsStatements(t *testing.T) {
	t.Parallel()
	a, b := "aaaaaaaa", "bbbbbbbb"
	p, changed := Merge(nil, a, doc(t, bucketOne))
	if !changed || !allows(p, "s3:GetObject", "arn:aws:s3:::one/x") || !Serves(p, a, doc(t, bucketOne)) {
		t.Fatalf("first binding: %s", p.Compact())
	}
	p, _ = Merge(p, b, doc(t, bucketTwo))
	for _, r := range []string{"arn:aws:s3:::one/x", "arn:aws:s3:::two/x"} {
		if !allows(p, "s3:GetObject", r) {
			t.Errorf("after the second binding, %s is not allowed: %s", r, p.Compact())
		}
	}
	// A rerun of either changes nothing.
	if _, changed := Merge(p, a, doc(t, bucketOne)); changed {
		t.Error("rerun of a changed the policy")
	}
	if _, changed := Merge(p, b, doc(t, bucketTwo)); changed {
		t.Error("rerun of b changed the policy")
	}
	// b moves to bucket one: identical statements are kept once, serving both; bucket two goes.
	p2, _ := Merge(p, b, doc(t, bucketOne))
	if len(p2.Statements) != 2 || allows(p2, "s3:GetObject", "arn:aws:s3:::two/x") || !Serves(p2, a, doc(t, bucketOne)) || !Serves(p2, b, doc(t, bucketOne)) {
		t.Fatalf("shared statements: %s", p2.Compact())
	}
	if got := Bindings(p2); len(got) != 2 {
		t.Errorf("bindings %v", got)
	}
	// Removing a leaves b's statements whole.
	p3, changed := Remove(p2, a)
	if !changed || !Serves(p3, b, doc(t, bucketOne)) || Serves(p3, a, doc(t, bucketOne)) || len(p3.Statements) != 2 {
		t.Fatalf("remove a: %s", p3.Compact())
	}
	p4, _ := Remove(p3, b)
	if len(p4.Statements) != 0 {
		t.Errorf("remove the last binding left %s", p4.Compact())
	}
	if _, changed := Remove(p4, b); changed {
		t.Error("removing an absent binding changed the policy")
	}
}

func TestMergeKeepsStatementsOfOtherFormsAndTakesOverLegacyPolicies(t *testing.T) {
	t.Parallel()
	// An earlier version's policy of one binding (no binding Sids): the binding takes it over.
	legacy := doc(t, bucketOne)
	p, changed := Merge(legacy, "aaaaaaaa", doc(t, bucketTwo))
	if !changed || allows(p, "s3:GetObject", "arn:aws:s3:::one/x") || !allows(p, "s3:GetObject", "arn:aws:s3:::two/x") {
		t.Fatalf("legacy takeover: %s", p.Compact())
	}
	// Once the policy has binding Sids, a statement without one (added by hand) stays.
	hand := p.Clone()
	hand.Statements = append(hand.Statements, doc(t, `{"Statement":{"Sid":"Audit","Effect":"Allow","Action":"s3:GetBucketLogging","Resource":"*"}}`).Statements[0])
	q, _ := Merge(hand, "bbbbbbbb", doc(t, bucketOne))
	if !allows(q, "s3:GetBucketLogging", "arn:aws:s3:::x") {
		t.Errorf("a hand-written statement was dropped: %s", q.Compact())
	}
}
