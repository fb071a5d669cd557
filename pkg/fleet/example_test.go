package fleet_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/fleet"
)

// A command joins the fleet in three parts: its per-context report, a Func that examines one context as a
// single-context run would (here a fake list that finds one binding, or cannot reach its context), and its
// JSON entry, fleet.Header first.
func ExampleRun() {
	type item struct {
		Namespace      string `json:"namespace"`
		ServiceAccount string `json:"serviceAccount"`
	}
	type entry struct {
		fleet.Header
		Items []item `json:"items"`
	}
	list := func(_ context.Context, c fleet.Context) ([]item, fleet.Identity, error) {
		if c.Name == "dr" {
			return nil, fleet.Identity{}, &fleet.Unreachable{Reason: "API server does not answer", Err: errors.New("connection refused")}
		}
		return []item{{"ns1", "sdc"}}, fleet.Identity{Cluster: "eks-" + c.Name, Account: "111122223333"}, nil
	}
	contexts := []fleet.Context{{Name: "prod", Region: "eu-west-1"}, {Name: "dr", Region: "us-east-1"}}
	var doc struct {
		Contexts []entry `json:"contexts"`
	}
	for _, r := range fleet.Run(context.Background(), contexts, fleet.Options{}, list) {
		doc.Contexts = append(doc.Contexts, entry{Header: r.Header(), Items: append([]item{}, r.Report...)})
	}
	b, _ := json.Marshal(doc)
	fmt.Println(string(b))
	// Output:
	// {"contexts":[{"context":"prod","cluster":"eks-prod","account":"111122223333","region":"eu-west-1","error":"","items":[{"namespace":"ns1","serviceAccount":"sdc"}]},{"context":"dr","cluster":"","account":"","region":"us-east-1","error":"connection refused","items":[]}]}
}
