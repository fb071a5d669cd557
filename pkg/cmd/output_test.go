package cmd

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/bindings"
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
				{Namespace: "d", ServiceAccount: "\u2028\x01\xff<é>", Checks: []doctor.Result{{Title: "\b\f\r\t\\"}}},
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

// TestListJSONIsMarshalIndent: list's items written one at a time are byte for byte what json.MarshalIndent
// writes.
func TestListJSONIsMarshalIndent(t *testing.T) {
	t.Parallel()
	for _, items := range [][]bindings.Binding{nil, {}, {
		{Namespace: "a", ServiceAccount: "sdc", Mechanism: "irsa", RoleARN: "arn:aws:iam::1:role/r", Stages: []string{"s3"}, Deployments: []string{"d"},
			Pods: bindings.Pods{Total: 2, WithIdentity: 1}, Status: bindings.Fail, Problems: []string{"kube.pod-env"}},
		{Namespace: "b", ServiceAccount: "<x>", SubjectPattern: "system:serviceaccount:b-*:x", Status: bindings.OK},
	}} {
		want, err := json.MarshalIndent(bindings.List{Items: items}, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		if err := outputFlag("json").print(&got, bindings.List{Items: items}); err != nil {
			t.Fatal(err)
		}
		if got.String() != string(want)+"\n" {
			t.Errorf("streamed:\n%s\nMarshalIndent:\n%s", got.String(), want)
		}
	}
}

// TestReportJSONFields fails when the report's types gain a JSON field reportWriter does not write.
func TestReportJSONFields(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		rt   reflect.Type
		want string
	}{
		{reflect.TypeFor[doctor.Report](), "checks,targets,summary"},
		{reflect.TypeFor[doctor.TargetReport](), "namespace,serviceAccount,deployment,roleArn,podIdentityAssociation,checks"},
		{reflect.TypeFor[doctor.Result](), "id,layer,status,title,detail,fix"},
		{reflect.TypeFor[doctor.Summary](), "pass,warn,fail,skip"},
		{reflect.TypeFor[bindings.List](), "items"},
	} {
		var names []string
		for i := range tc.rt.NumField() {
			if tag := tc.rt.Field(i).Tag.Get("json"); tag != "-" {
				names = append(names, strings.Split(tag, ",")[0])
			}
		}
		if got := strings.Join(names, ","); got != tc.want {
			t.Errorf("%s's JSON fields are %s: teach reportWriter (or writeItemsJSON) the new ones", tc.rt, got)
		}
	}
}

// FuzzJSONString holds appendJSONString to json.Marshal's quoting of every string.
func FuzzJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", "<a href=\"x\">&amp;</a>", "\x00\x1f\x7f", "\u2028\u2029", "\xff\xfe", "é\u00e9\U0001F600", "\b\f\n\r\t\\"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendJSONString(nil, s); string(got) != string(want) {
			t.Errorf("appendJSONString(%q) = %s, json.Marshal: %s", s, got, want)
		}
	})
}
