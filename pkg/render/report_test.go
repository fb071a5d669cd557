package render

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/doctor"
)

var updateReport = flag.Bool("update-report", false, "rewrite testdata/report*.golden")

func sampleReport() *doctor.Report {
	r := func(id string, layer doctor.Layer, s doctor.Status, title, detail, fix string) doctor.Result {
		return doctor.Result{ID: id, Layer: layer, Status: s, Title: title, Detail: detail, Fix: fix}
	}
	rep := &doctor.Report{
		Checks: []doctor.Result{
			r("kube.context", doctor.LayerCluster, doctor.Pass, `kube context "demo" answers`, "server https://example, Kubernetes v1.34.4", ""),
			r("aws.identity", doctor.LayerAWS, doctor.Pass, "account 123456789012 as arn:aws:iam::123456789012:user/admin", "", ""),
			r("iam.oidc-provider", doctor.LayerIAM, doctor.Fail, "no IAM OIDC provider for the cluster's issuer", "account 123456789012 has no provider",
				"kubectl sdc bind -n ns1 --service-account sdc --bucket b"),
			r("iam.oidc-audience", doctor.LayerIAM, doctor.Skip, "skipped: iam.oidc-provider failed", "", ""),
		},
		Targets: []doctor.TargetReport{{Namespace: "ns1", ServiceAccount: "sdc", Deployment: "sdc", RoleARN: "arn:aws:iam::123456789012:role/r",
			Checks: []doctor.Result{
				r("kube.pod-env", doctor.LayerKubernetes, doctor.Fail, "Deployment ns1/sdc: pods predate the role annotation and have no AWS identity",
					"pods sdc-1 started before the role annotation", "kubectl rollout restart deployment/sdc -n ns1"),
				r("iam.trust-scope", doctor.LayerIAM, doctor.Warn, "role r's trust admits more than ServiceAccount ns1/sdc", "statement 1 has no :sub condition\nsecond line", "aws iam update-assume-role-policy ..."),
				r("iam.trust", doctor.LayerIAM, doctor.Pass, "role r trusts ServiceAccount ns1/sdc", "statement 1 admits it", ""),
			}}},
		Summary: doctor.Summary{Pass: 3, Warn: 1, Fail: 2, Skip: 1},
	}
	return rep
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *updateReport {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./pkg/render -update-report to write it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (go test ./pkg/render -update-report rewrites it):\n%s", name, Diff(NewTheme(&bytes.Buffer{}, false), "want", "got", string(want), got, ""))
	}
}

func TestReportText(t *testing.T) {
	for _, verbose := range []bool{false, true} {
		var b bytes.Buffer
		if err := Report(&b, NewTheme(&b, false), sampleReport(), verbose); err != nil {
			t.Fatal(err)
		}
		name := "report.golden"
		if verbose {
			name = "report-verbose.golden"
		}
		golden(t, name, b.String())
	}
}

func TestReportColoredKeepsSymbolsAndWords(t *testing.T) {
	var b bytes.Buffer
	if err := Report(&b, NewTheme(&b, true), sampleReport(), false); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if !strings.Contains(out, "\x1b[") {
		t.Error("no color with color on")
	}
	for _, want := range []string{"✓ pass", "! warn", "✗ fail", "- skip", "fix:", "kubectl rollout restart deployment/sdc -n ns1"} {
		if !strings.Contains(out, want) {
			t.Errorf("colored report lost %q", want)
		}
	}
}

func TestReportAllNamespacesWithoutTargets(t *testing.T) {
	var b bytes.Buffer
	rep := &doctor.Report{AllNamespaces: true, Summary: doctor.Summary{}}
	if err := Report(&b, NewTheme(&b, false), rep, false); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "No ServiceAccount in any namespace carries the eks.amazonaws.com/role-arn annotation or has an EKS Pod Identity association.") ||
		!strings.Contains(b.String(), "Summary: 0 pass, 0 warn, 0 fail, 0 skip.") {
		t.Errorf("report:\n%s", b.String())
	}
}

// TestReportWriterStreamsWhatReportWrites: a report written a target at a time, its targets never held,
// is Report's text, also when a check only some targets have (EKS Pod Identity's, the longest ID) widens
// the columns: the report's TargetCheckIDs say so before the first target.
func TestReportWriterStreamsWhatReportWrites(t *testing.T) {
	rep := sampleReport()
	rep.Targets = append(rep.Targets, doctor.TargetReport{Namespace: "ns2", ServiceAccount: "pi", PodIdentityAssociation: "arn:aws:eks:us-west-2:1:podidentityassociation/demo/a-1",
		Checks: []doctor.Result{{ID: "eks.pod-identity-association", Layer: doctor.LayerAWS, Status: doctor.Pass, Title: "association a-1"}}})
	rep.TargetCheckIDs = []string{"kube.pod-env", "eks.pod-identity-association", "iam.trust", "iam.trust-scope"}
	for _, verbose := range []bool{false, true} {
		var whole, streamed bytes.Buffer
		if err := Report(&whole, NewTheme(&whole, false), rep, verbose); err != nil {
			t.Fatal(err)
		}
		head := *rep
		head.Targets = nil
		rw := NewReportWriter(&streamed, NewTheme(&streamed, false), verbose)
		if err := rw.Begin(&head); err != nil {
			t.Fatal(err)
		}
		for i := range rep.Targets {
			if err := rw.Target(i, &rep.Targets[i]); err != nil {
				t.Fatal(err)
			}
		}
		if err := rw.End(rep.Summary); err != nil {
			t.Fatal(err)
		}
		if streamed.String() != whole.String() || !strings.Contains(whole.String(), "eks.pod-identity-association  ") {
			t.Errorf("verbose %v: streamed\n%s\nwhole\n%s", verbose, streamed.String(), whole.String())
		}
	}
}
