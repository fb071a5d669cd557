package awsfront

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"

	"github.com/aws/smithy-go"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/catalog"
)

// Replays of SDC stages' own AWS calls, made as the stage's code makes them (datacollector-oss and the
// libraries it runs: KCL 1.x, KPL, the AWS SDK for Java 1.x) through real SDK clients against the front,
// with the credentials of a role whose only policy is what a catalog renders for the stage, exactly as
// bind writes it. A call the policy does not allow is answered AccessDenied by the front as AWS would.
//
// Each replay is played twice, each time from a world of its own: with the built-in catalog, which must
// allow every call, and with the catalog as it was before its calls were read from SDC's source
// (oldCatalogPath), which must refuse exactly the calls the replay documents. So the replays prove both
// that a binding made today works and that one made with the old catalog breaks where we say it does.
//
// A refused call is recorded and then made with the admin's keys, so that one run lists every call the
// policy lacks rather than only the first (the stage itself would stop at the first).

// oldCatalogPath is the catalog before its calls were read from SDC's source, from this package's directory.
const oldCatalogPath = "../../../pkg/catalog/testdata/plugins-before-calls.yaml"

// replayStep is one AWS call of a stage.
type replayStep struct {
	Call string // service:Operation, for the log
	// Do makes the call with c and returns an error unless its answer is one the stage's code goes on from
	// (an error the code handles, like DescribeTable's ResourceNotFoundException before the lease table
	// exists, is no error).
	Do func(ctx context.Context, c svcClients) error
}

// replay is one path through a stage's code.
type replay struct {
	Name  string
	Stage string
	// Setup makes, with admin keys, the world one run starts from (the stream, a lease table a previous
	// run left, buckets and objects, a key), naming what it makes after n, which is unique to the run.
	Setup func(t *testing.T, a svcClients, n string) replayRun
	// RefusedByOldCatalog are the IAM actions the old catalog's policy (rendered with OldParams) refuses,
	// as a set: exactly these, no more and no fewer.
	RefusedByOldCatalog []string
}

// replayRun is one run's world, as its setup made it.
type replayRun struct {
	Params    map[string]string // the stage's parameters on the built-in catalog, as bind would be given them
	OldParams map[string]string // the same settings of SDC, as the old catalog's options could express them
	Steps     []replayStep
	// Check, when set, asserts with admin keys that the calls did what the stage wanted (objects moved,
	// tags set): the replay reached moto and worked, not only got past the front.
	Check func(t *testing.T, a svcClients)
}

// replayCatalog is a catalog a replay is played with, and what it must refuse.
type replayCatalog struct {
	Name   string
	Cat    *catalog.Catalog
	Params func(replayRun) map[string]string
	Want   func(replay) []string
}

// replayCatalogs are the built-in catalog, which must refuse nothing, and the old one.
func replayCatalogs(t *testing.T) []replayCatalog {
	t.Helper()
	builtin, err := catalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	old, err := catalog.Load(oldCatalogPath)
	if err != nil {
		t.Fatal(err)
	}
	return []replayCatalog{
		{"built-in catalog", builtin, func(r replayRun) map[string]string { return r.Params }, func(replay) []string { return nil }},
		{"old catalog", old, func(r replayRun) map[string]string { return r.OldParams }, func(rp replay) []string { return rp.RefusedByOldCatalog }},
	}
}

// renderedPolicy is the policy bind writes for the stage with these parameters, from cat.
func renderedPolicy(t *testing.T, cat *catalog.Catalog, stage string, params map[string]string) string {
	t.Helper()
	doc, _, err := cat.Render(catalog.Selection{Stages: []string{stage}, Params: params},
		catalog.Target{Partition: "aws", Region: "us-west-2", Account: shared.creds.AccountID})
	if err != nil {
		t.Fatalf("rendering the policy of stage %s with %v: %v", stage, params, err)
	}
	return string(doc)
}

// isAccessDenied tells whether err is AWS's refusal of an action by IAM, in any service's code.
func isAccessDenied(err error) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.ErrorCode() {
	case "AccessDenied", "AccessDeniedException":
		return true
	}
	return false
}

// deniedAction is the action an AccessDenied names ("... is not authorized to perform: ACTION ...").
func deniedAction(err error) string {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return ""
	}
	_, rest, ok := strings.Cut(ae.ErrorMessage(), "is not authorized to perform: ")
	if !ok {
		return ""
	}
	return strings.Fields(rest)[0]
}

// runReplay plays one run of rp with a session of a role holding the policy c renders for the stage, and
// returns the IAM actions refused, in order, and the number of calls made; any other failure fails the test.
func runReplay(t *testing.T, rp replay, c replayCatalog) (refused []string, calls int) {
	t.Helper()
	ctx := context.Background()
	admin := newClients(adminConfig(shared.url))
	a := newSvcClients(adminConfig(shared.url))
	run := rp.Setup(t, a, uniqueName("replay"))
	params := c.Params(run)
	policy := renderedPolicy(t, c.Cat, rp.Stage, params)
	t.Logf("policy of %s %v (%s): %s", rp.Stage, params, c.Name, policy)
	s := newSvcClients(roleSession(t, admin, "replay", policy, ""))
	for i, st := range run.Steps {
		err := st.Do(ctx, s)
		if err == nil {
			continue
		}
		action := deniedAction(err)
		if !isAccessDenied(err) || action == "" {
			t.Fatalf("step %d (%s) failed otherwise than AccessDenied: %v", i+1, st.Call, err)
		}
		t.Logf("refused: step %d %s needs %s: %v", i+1, st.Call, action, err)
		refused = append(refused, action)
		if err := st.Do(ctx, a); err != nil {
			t.Fatalf("step %d (%s) failed with the admin's keys too, so the replay cannot go on: %v", i+1, st.Call, err)
		}
	}
	if run.Check != nil {
		run.Check(t, a)
	}
	return refused, len(run.Steps)
}

// refusalDiff compares the refused actions with the wanted ones as sets: unexpected were refused and not
// wanted, missing were wanted and not refused.
func refusalDiff(refused, want []string) (unexpected, missing []string) {
	for _, a := range refused {
		if !slices.Contains(want, a) && !slices.Contains(unexpected, a) {
			unexpected = append(unexpected, a)
		}
	}
	for _, a := range want {
		if !slices.Contains(refused, a) && !slices.Contains(missing, a) {
			missing = append(missing, a)
		}
	}
	return unexpected, missing
}

// checkReplays plays each replay with each catalog, in parallel and each from its own setup, asserts
// that the calls refused are exactly the ones the catalog must refuse, and logs a table of the outcomes.
func checkReplays(t *testing.T, replays []replay) {
	cats := replayCatalogs(t)
	var mu sync.Mutex
	outcome := map[string]string{} // replay name + "\x00" + catalog name -> refused actions
	calls := map[string]int{}
	t.Run("replays", func(t *testing.T) {
		for _, rp := range replays {
			t.Run(rp.Name, func(t *testing.T) {
				for _, c := range cats {
					t.Run(c.Name, func(t *testing.T) {
						t.Parallel()
						refused, n := runReplay(t, rp, c)
						mu.Lock()
						outcome[rp.Name+"\x00"+c.Name] = strings.Join(slices.Compact(slices.Sorted(slices.Values(refused))), " ")
						calls[rp.Name] = n
						mu.Unlock()
						unexpected, missing := refusalDiff(refused, c.Want(rp))
						if len(unexpected) > 0 {
							t.Errorf("the policy the %s renders for %s refused %v, not among the calls documented as refused %v", c.Name, rp.Stage, unexpected, c.Want(rp))
						}
						if len(missing) > 0 {
							t.Errorf("the policy the %s renders for %s allowed %v, documented as refused", c.Name, rp.Stage, missing)
						}
					})
				}
			})
		}
	})
	t.Log("\n" + replayTable(replays, cats, outcome, calls))
}

// replayTable is replay × catalog → refused actions ("-" for none, "(did not finish)" for a run that failed).
func replayTable(replays []replay, cats []replayCatalog, outcome map[string]string, calls map[string]int) string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprint(w, "replay\tcalls")
	for _, c := range cats {
		fmt.Fprintf(w, "\trefused, %s", c.Name)
	}
	fmt.Fprintln(w)
	total := 0
	for _, rp := range replays {
		fmt.Fprintf(w, "%s\t%d", rp.Name, calls[rp.Name])
		total += calls[rp.Name]
		for _, c := range cats {
			o, ok := outcome[rp.Name+"\x00"+c.Name]
			switch {
			case !ok:
				o = "(did not finish)"
			case o == "":
				o = "-"
			}
			fmt.Fprintf(w, "\t%s", o)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "%d replays\t%d\n", len(replays), total)
	w.Flush()
	return b.String()
}

func TestReplayRefusalDiff(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name                string
		refused, want       []string
		unexpected, missing []string
	}{
		{"none and none", nil, nil, nil, nil},
		{"exactly the wanted ones, in another order and twice", []string{"b", "a", "b"}, []string{"a", "b"}, nil, nil},
		{"one more than wanted", []string{"a", "c"}, []string{"a"}, []string{"c"}, nil},
		{"one fewer than wanted", []string{"a"}, []string{"a", "b"}, nil, []string{"b"}},
		{"refused when none is wanted", []string{"a", "a"}, nil, []string{"a"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			unexpected, missing := refusalDiff(c.refused, c.want)
			if !slices.Equal(unexpected, c.unexpected) || !slices.Equal(missing, c.missing) {
				t.Errorf("refusalDiff(%v, %v) = %v, %v; want %v, %v", c.refused, c.want, unexpected, missing, c.unexpected, c.missing)
			}
		})
	}
}
