package cmd

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/doctor"
)

// TestReportJSONIsMarshalIndent: doctor's report written a target at a time is byte for byte what
// json.MarshalIndent writes.
func TestReportJSONIsMarshalIndent(t *testing.T) {
	t.Parallel()
	res := func(id string) doctor.Result {
		return doctor.Result{ID: id, Layer: doctor.LayerIAM, Status: doctor.Warn, Title: "a <title> & \"quotes\"", Detail: "line\nbreak", Fix: "kubectl sdc bind -n a --service-account b"}
	}
	for _, tc := range []struct {
		name string
		rep  doctor.Report
	}{
		{"nothing", doctor.Report{}},
		{"no target", doctor.Report{Checks: []doctor.Result{res("kube.context")}, Targets: []doctor.TargetReport{}}},
		{"targets", doctor.Report{Checks: []doctor.Result{res("kube.context"), res("aws.identity")},
			Targets: []doctor.TargetReport{
				{Namespace: "a", ServiceAccount: "sdc", Deployment: "d", RoleARN: "arn:aws:iam::1:role/r", Checks: []doctor.Result{res("iam.role")}},
				{Namespace: "b", ServiceAccount: "sdc", PodIdentityAssociation: "arn:aws:eks:us-west-2:1:podidentityassociation/c/a-1"},
				{Namespace: "c", ServiceAccount: "x", Checks: []doctor.Result{}},
			},
			Summary: doctor.Summary{Pass: 1, Warn: 2, Fail: 3, Skip: 4}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			want, err := json.MarshalIndent(&tc.rep, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, '\n')
			var got bytes.Buffer
			if err := outputFlag("json").print(&got, &tc.rep); err != nil {
				t.Fatal(err)
			}
			if got.String() != string(want) {
				t.Errorf("streamed:\n%s\nMarshalIndent:\n%s", got.String(), want)
			}
		})
	}
}

// TestReportJSONFields fails when Report gains a JSON field writeReportJSON does not write.
func TestReportJSONFields(t *testing.T) {
	t.Parallel()
	var names []string
	rt := reflect.TypeFor[doctor.Report]()
	for i := range rt.NumField() {
		if tag := rt.Field(i).Tag.Get("json"); tag != "-" {
			names = append(names, strings.Split(tag, ",")[0])
		}
	}
	if got := strings.Join(names, ","); got != "checks,targets,summary" {
		t.Errorf("doctor.Report's JSON fields are %s: teach writeReportJSON the new ones", got)
	}
}
