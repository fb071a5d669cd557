package render

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/bindings"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/fleet"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

func sampleBindings() []bindings.Binding {
	return []bindings.Binding{
		{Namespace: "etl", ServiceAccount: "loader", Mechanism: vocab.MechanismIRSA, RoleARN: "arn:aws:iam::123456789012:role/sdc/sdc-etl",
			Stages: []string{"s3"}, Deployments: []string{}, Status: bindings.OK, Problems: []string{}},
		{Namespace: "etl", ServiceAccount: "orders", Mechanism: vocab.MechanismIRSA, RoleARN: "arn:aws:iam::123456789012:role/sdc/sdc-etl",
			Stages: []string{"s3", "sqs-consumer"}, Deployments: []string{"orders"}, Pods: bindings.Pods{Total: 2, WithIdentity: 1},
			Status: bindings.Fail, Problems: []string{"kube.pod-env", "iam.trust-scope"}},
	}
}

func TestBindingsTable(t *testing.T) {
	t.Parallel()
	th := NewTheme(&bytes.Buffer{}, false)
	got := Bindings(th, sampleBindings(), ListLayout{})
	want := "SERVICEACCOUNT   MECHANISM   ROLE      STAGES            DEPLOYMENTS   PODS   STATUS\n" +
		"loader           irsa        sdc-etl   s3                <none>        0/0    ok\n" +
		"orders           irsa        sdc-etl   s3,sqs-consumer   orders        1/2    fail\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	got = Bindings(th, sampleBindings(), ListLayout{AllNamespaces: true, Wide: true, NoHeaders: true})
	want = "etl   loader   irsa   arn:aws:iam::123456789012:role/sdc/sdc-etl   s3                <none>   0/0   ok     <none>\n" +
		"etl   orders   irsa   arn:aws:iam::123456789012:role/sdc/sdc-etl   s3,sqs-consumer   orders   1/2   fail   kube.pod-env\n"
	if got != want {
		t.Errorf("-A -o wide --no-headers: got\n%s\nwant\n%s", got, want)
	}
	// The STATUS column is styled, whichever columns come before it.
	colored := NewTheme(&bytes.Buffer{}, true)
	for _, l := range []ListLayout{{}, {AllNamespaces: true, Wide: true}} {
		if out := Bindings(colored, sampleBindings(), l); !strings.Contains(out, colored.Fail.Render("fail")) || !strings.Contains(out, colored.Pass.Render("ok")) {
			t.Errorf("%+v: the status is not styled:\n%q", l, out)
		}
	}
}

func TestOrphansTable(t *testing.T) {
	t.Parallel()
	th := NewTheme(&bytes.Buffer{}, false)
	o := []bindings.Orphan{{RoleName: "sdc-gone", RoleARN: "arn:aws:iam::123456789012:role/sdc-gone", Namespace: "a", ServiceAccount: "gone",
		Command: "kubectl sdc unbind -n a --service-account gone --role-name sdc-gone"}}
	want := "ROLE       NAMESPACE   SERVICEACCOUNT   COMMAND\n" +
		"sdc-gone   a           gone             kubectl sdc unbind -n a --service-account gone --role-name sdc-gone\n"
	if got := Orphans(th, o, ListLayout{AllNamespaces: true}); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if got := Orphans(th, o, ListLayout{Wide: true, NoHeaders: true}); !strings.HasPrefix(got, "arn:aws:iam::123456789012:role/sdc-gone   a") {
		t.Errorf("-o wide --no-headers: %q", got)
	}
}

// Over a fleet: each context's table under doctor's heading, an empty context's line, an unreachable
// context's error with its fix, then the fleet's line.
func TestFleetListText(t *testing.T) {
	t.Parallel()
	down := &fleet.Unreachable{Reason: "API server does not answer", Err: errors.New(`the API server of kube context "dr" does not answer`),
		Fix: "kubectl --context dr cluster-info"}
	fl := bindings.NewBindingsFleet([]fleet.Result[bindings.Report[bindings.Binding]]{
		{Context: fleet.Context{Name: "prod"}, Identity: fleet.Identity{Cluster: "prod-eks", Account: "111122223333", Region: "eu-west-1"},
			Report: bindings.Report[bindings.Binding]{Items: sampleBindings(), Namespace: "etl"}},
		{Context: fleet.Context{Name: "staging"}, Identity: fleet.Identity{Cluster: "staging", Account: "123456789012", Region: "us-west-2"},
			Report: bindings.Report[bindings.Binding]{Items: nil, Namespace: "etl"}},
		{Context: fleet.Context{Name: "dr"}, Identity: fleet.Identity{Region: "us-east-1"}, Err: down},
	})
	var b bytes.Buffer
	th := NewTheme(&b, false)
	if err := FleetList(&b, th, fl, "binding", "bindings", func(items []bindings.Binding) string { return Bindings(th, items, ListLayout{}) }); err != nil {
		t.Fatal(err)
	}
	want := "=== Context prod · cluster prod-eks · account 111122223333 · eu-west-1\n" +
		Bindings(th, sampleBindings(), ListLayout{}) +
		"\n=== Context staging · cluster staging · account 123456789012 · us-west-2\n" +
		"No bindings found in etl namespace.\n" +
		"\n=== Context dr · us-east-1\n" +
		"✗ error  API server does not answer\n" +
		"         the API server of kube context \"dr\" does not answer\n" +
		"         fix: kubectl --context dr cluster-info\n" +
		"\nFleet: 3 contexts, 1 could not be listed; 2 bindings: 1 ok, 0 warn, 1 fail.\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}
