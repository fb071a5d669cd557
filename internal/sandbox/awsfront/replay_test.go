package awsfront

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/aws/smithy-go"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/catalog"
)

// Replays of SDC stages' own AWS calls, made as the stage's code makes them (datacollector-oss and the
// libraries it runs: KCL 1.x, KPL, the AWS SDK for Java 1.x) through real SDK clients against the front,
// with the credentials of a role whose only policy is what the catalog renders for the stage, exactly as
// bind writes it. A call the policy does not allow is answered AccessDenied by the front as AWS would.
//
// A refused call is recorded and then made with the admin's keys, so that one run lists every call the
// policy lacks rather than only the first (the stage itself would stop at the first).

// replayStep is one AWS call of a stage.
type replayStep struct {
	Call string // service:Operation, for the log
	// Do makes the call with c; ok tells whether its answer is one the stage's code expects (an error the
	// code handles, like DescribeTable's ResourceNotFoundException before the lease table exists, is ok).
	Do func(ctx context.Context, c svcClients) error
}

// replay is one path through a stage's code.
type replay struct {
	Name   string
	Stage  string
	Params map[string]string // the stage's catalog parameters, as bind would be given them
	// Setup makes what the path starts from (the stream, an existing lease table, objects), with admin keys.
	Setup func(t *testing.T, a svcClients)
	Steps []replayStep
	// RefusedToday are the calls the catalog of this commit does not allow (issue 26); they document the gap
	// and must be empty once plugins.yaml grants what SDC's code calls.
	RefusedToday []string
}

// renderedPolicy is the policy bind writes for the stage with these parameters, from the built-in catalog.
func renderedPolicy(t *testing.T, stage string, params map[string]string) string {
	t.Helper()
	cat, err := catalog.Default()
	if err != nil {
		t.Fatal(err)
	}
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

// runReplay plays rp with a session of a role holding the stage's rendered policy and returns the IAM
// actions refused, in order; any other failure fails the test.
func runReplay(t *testing.T, rp replay) []string {
	t.Helper()
	ctx := context.Background()
	admin := newClients(adminConfig(shared.url))
	a := newSvcClients(adminConfig(shared.url))
	if rp.Setup != nil {
		rp.Setup(t, a)
	}
	policy := renderedPolicy(t, rp.Stage, rp.Params)
	t.Logf("policy of %s %v: %s", rp.Stage, rp.Params, policy)
	s := newSvcClients(roleSession(t, admin, "replay", policy, ""))
	var refused []string
	for i, st := range rp.Steps {
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
	return refused
}

// checkReplays plays each replay once and asserts two things of it: the catalog allows every call the
// stage makes (fails until plugins.yaml grants them: the proof of issue 26's gaps), and the calls refused
// are no others than the ones documented as refused today (passes before and after the catalog's fix, and
// fails if a call is refused that nobody knew of).
func checkReplays(t *testing.T, replays []replay) {
	for _, rp := range replays {
		t.Run(rp.Name, func(t *testing.T) {
			t.Parallel()
			refused := runReplay(t, rp)
			t.Run("refused only the calls documented as refused today", func(t *testing.T) {
				t.Logf("refused on this catalog: %v (documented today: %v)", refused, rp.RefusedToday)
				for _, a := range refused {
					if !slices.Contains(rp.RefusedToday, a) {
						t.Errorf("%s was refused and is not among the calls documented as refused today %v", a, rp.RefusedToday)
					}
				}
			})
			t.Run("catalog allows every call the stage makes", func(t *testing.T) {
				if len(refused) > 0 {
					t.Errorf("the policy the catalog renders for %s %v refuses %v", rp.Stage, rp.Params, refused)
				}
			})
		})
	}
}
