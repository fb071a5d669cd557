package doctor

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
)

// manyTargets is the fixture with n annotated ServiceAccounts in namespaces of their own, every other one
// without its role (so that the targets' reports differ), made with -A.
func manyTargets(t *testing.T, n int) *Facts {
	f := fixture(t)
	f.Options.AllNamespaces = true
	sa := f.ServiceAccounts[0]
	f.ServiceAccounts = nil
	for i := range n {
		s := *sa.DeepCopy()
		s.Namespace = fmt.Sprintf("ns-%04d", i)
		if i%2 == 1 {
			s.Annotations = map[string]string{"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/missing"}
		}
		f.ServiceAccounts = append(f.ServiceAccounts, s)
	}
	finish(f)
	return f
}

// TestJudgeEachHandsOverWhatJudgeKeeps: the streamed reports are the kept ones, in the targets' order, and
// the summaries agree.
func TestJudgeEachHandsOverWhatJudgeKeeps(t *testing.T) {
	f := manyTargets(t, 300)
	whole := Judge(context.Background(), f)
	var got []TargetReport
	next := 0
	streamed := JudgeEach(context.Background(), f, func(i int, tr *TargetReport) {
		if i != next {
			t.Fatalf("target %d handed over when %d was due", i, next)
		}
		next++
		got = append(got, *tr)
	})
	if len(whole.Targets) != 300 || !reflect.DeepEqual(got, whole.Targets) {
		t.Fatalf("JudgeEach handed over %d reports, not Judge's %d (or not the same)", len(got), len(whole.Targets))
	}
	if streamed.Summary != whole.Summary || len(streamed.Targets) != 0 || !reflect.DeepEqual(streamed.Checks, whole.Checks) {
		t.Errorf("JudgeEach's report: summary %+v, %d targets kept; Judge's: %+v", streamed.Summary, len(streamed.Targets), whole.Summary)
	}
	// What the report says its targets' checks are, before judging them, is what they turned out to be.
	ran := map[string]bool{}
	for _, tr := range whole.Targets {
		for _, r := range tr.Checks {
			ran[r.ID] = true
		}
	}
	var want []string
	for _, c := range judgeChecks() {
		if ran[c.ID] {
			want = append(want, c.ID)
		}
	}
	if !reflect.DeepEqual(whole.TargetCheckIDs, want) || !reflect.DeepEqual(streamed.TargetCheckIDs, want) {
		t.Errorf("TargetCheckIDs %v (streamed %v); the targets ran %v", whole.TargetCheckIDs, streamed.TargetCheckIDs, want)
	}
	if whole.Summary.Fail == 0 || whole.Summary.Pass == 0 {
		t.Errorf("the fixture's targets should pass and fail: %+v", whole.Summary)
	}
}

// TestStreamStopsOnError: an error from the stream ends the run with it, and no later target is handed over.
func TestStreamStopsOnError(t *testing.T) {
	f := manyTargets(t, 200)
	stop := errors.New("the reader went away")
	var seen []int
	_, err := runChecksErr(context.Background(), f, judgeChecks(), &Stream{
		Begin: func(rep *Report) error {
			if len(rep.Checks) == 0 {
				t.Error("Begin got no cluster-wide check")
			}
			return nil
		},
		Target: func(i int, _ *TargetReport) error {
			seen = append(seen, i)
			if i == 10 {
				return stop
			}
			return nil
		},
	})
	if !errors.Is(err, stop) {
		t.Fatalf("the run ended with %v, not the stream's error", err)
	}
	if len(seen) != 11 || seen[10] != 10 {
		t.Errorf("targets handed over: %v; want 0 to 10", seen)
	}
}
