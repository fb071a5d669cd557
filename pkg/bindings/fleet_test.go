package bindings

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/fleet"
)

// The fleet's document: fleet.Header then items per context ([] when it could not be listed), the totals
// with the bindings' statuses (left out for --orphans), and the exit code's rule.
func TestNewFleet(t *testing.T) {
	t.Parallel()
	down := &fleet.Unreachable{Reason: "API server does not answer", Err: errors.New("connection refused"), Fix: "kubectl --context dr cluster-info"}
	fl := NewBindingsFleet([]fleet.Result[Report[Binding]]{
		{Context: fleet.Context{Name: "prod"}, Identity: fleet.Identity{Cluster: "prod-eks", Account: "111122223333", Region: "eu-west-1"},
			Report: Report[Binding]{Items: []Binding{{Namespace: "a", ServiceAccount: "x", Status: OK}, {Namespace: "a", ServiceAccount: "y", Status: Fail}}}},
		{Context: fleet.Context{Name: "dr"}, Identity: fleet.Identity{Region: "us-east-1"}, Report: Report[Binding]{Namespace: "a"}, Err: down},
	})
	if c := fl.Contexts[1]; c.Reason != "API server does not answer" || c.Fix != "kubectl --context dr cluster-info" || c.Items == nil || c.Namespace != "a" {
		t.Errorf("the unreachable context: %+v", c)
	}
	b, err := json.Marshal(fl)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Contexts []map[string]json.RawMessage `json:"contexts"`
		Summary  map[string]int               `json:"summary"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	for _, c := range doc.Contexts {
		if len(c) != 6 || c["items"] == nil || c["error"] == nil || c["context"] == nil {
			t.Errorf("entry keys: %s", b)
		}
	}
	if want := map[string]int{"items": 2, "ok": 1, "warn": 0, "fail": 1, "errors": 1}; len(doc.Summary) != len(want) || doc.Summary["fail"] != 1 || doc.Summary["errors"] != 1 || doc.Summary["items"] != 2 || doc.Summary["ok"] != 1 {
		t.Errorf("summary %v, want %v", doc.Summary, want)
	}
	if !fl.Failed(false) || fl.Failed(true) {
		t.Errorf("an unreachable context fails the exit code unless ignored: %v, %v", fl.Failed(false), fl.Failed(true))
	}

	orphans := NewFleet([]fleet.Result[Report[Orphan]]{{Context: fleet.Context{Name: "prod"}, Report: Report[Orphan]{Items: []Orphan{{RoleName: "sdc-gone"}}}}})
	b, _ = json.Marshal(orphans.Summary)
	if string(b) != `{"items":1,"errors":0}` || orphans.Failed(false) {
		t.Errorf("--orphans summary %s, failed %v", b, orphans.Failed(false))
	}
	// A binding that fails its checks never fails list's exit code.
	ok := NewBindingsFleet([]fleet.Result[Report[Binding]]{{Context: fleet.Context{Name: "prod"}, Report: Report[Binding]{Items: []Binding{{Status: Fail}}}}})
	if ok.Failed(false) {
		t.Error("a failing binding failed the fleet")
	}
}
