package render

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/doctor"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/fleet"
)

func sampleFleet() *doctor.FleetReport {
	healthy := &doctor.Report{
		Checks: []doctor.Result{{ID: "kube.context", Layer: doctor.LayerCluster, Status: doctor.Pass, Title: `kube context "prod" answers`, Detail: "server https://prod"}},
		Targets: []doctor.TargetReport{{Namespace: "ns1", ServiceAccount: "sdc", Checks: []doctor.Result{
			{ID: "iam.trust", Layer: doctor.LayerIAM, Status: doctor.Pass, Title: "role r trusts ServiceAccount ns1/sdc"}}}},
		Summary: doctor.Summary{Pass: 2},
	}
	failing := sampleReport()
	down := &fleet.Unreachable{Reason: "API server does not answer",
		Err: errors.New(`the API server of kube context "dr" does not answer: GET https://10.0.0.9/version: connection refused`),
		Fix: "kubectl --context dr cluster-info"}
	return doctor.NewFleetReport([]fleet.Result[*doctor.Report]{
		{Context: fleet.Context{Name: "prod", Profile: "prod", ProfileFrom: "the context's exec plugin (AWS_PROFILE in its env)"},
			Identity: fleet.Identity{Cluster: "prod-eks", Account: "111122223333", Region: "eu-west-1", ReadWith: "AWS profile prod (from the context's exec plugin (AWS_PROFILE in its env)); region eu-west-1 (from profile prod)"},
			Report:   healthy, Elapsed: 412 * time.Millisecond},
		{Context: fleet.Context{Name: "staging", Region: "us-west-2", RegionFrom: "--region"},
			Identity: fleet.Identity{Cluster: "staging", Account: "123456789012", Region: "us-west-2"}, Report: failing, Elapsed: 388 * time.Millisecond},
		{Context: fleet.Context{Name: "dr"}, Identity: fleet.Identity{Account: "111122223333", Region: "us-east-1"}, Err: down, Elapsed: 5 * time.Millisecond},
	})
}

func TestFleetReportText(t *testing.T) {
	for _, verbose := range []bool{false, true} {
		var b bytes.Buffer
		if err := FleetReport(&b, NewTheme(&b, false), sampleFleet(), verbose); err != nil {
			t.Fatal(err)
		}
		name := "fleet.golden"
		if verbose {
			name = "fleet-verbose.golden"
		}
		golden(t, name, b.String())
	}
}

// The table and summary carry their meaning in words and numbers; color only repeats it.
func TestFleetReportColorNeverAlone(t *testing.T) {
	var plain, colored bytes.Buffer
	if err := FleetReport(&plain, NewTheme(&plain, false), sampleFleet(), false); err != nil {
		t.Fatal(err)
	}
	if err := FleetReport(&colored, NewTheme(&colored, true), sampleFleet(), false); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(colored.String(), "\x1b[") {
		t.Fatal("no color in colored output")
	}
	if stripANSI(colored.String()) != plain.String() {
		t.Errorf("colored output differs from plain output in more than color:\n%s\n---\n%s", stripANSI(colored.String()), plain.String())
	}
}

func TestTable(t *testing.T) {
	t.Parallel()
	got := Table(NewTheme(&bytes.Buffer{}, false), []string{"A", "LONGER", "C"}, [][]string{{"wide value", "", "x"}, {"é", "2", ""}}, nil)
	want := "A            LONGER   C\nwide value   -        x\né            2        -\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func stripANSI(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '[' {
			j := i + 2
			for j < len(s) && (s[j] < 0x40 || s[j] > 0x7e) {
				j++
			}
			i = j
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
