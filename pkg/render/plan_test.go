package render

import (
	"bytes"
	"strings"
	"testing"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/plan"
)

func samplePlan() *plan.Plan {
	return &plan.Plan{Changes: []*plan.Change{
		{Kind: "IAM role", Name: "sdc-r", Action: plan.Create, After: "{\n  \"a\": 1\n}\n"},
		{Kind: "ServiceAccount", Name: "ns1/sdc", Action: plan.Update, Before: "a: 1\nb: 2\n", After: "a: 1\nb: 3\n", Notes: []string{"by server-side apply"}},
		{Kind: "Namespace", Name: "ns1", Action: plan.Unchanged},
	}}
}

func TestPlanPlainText(t *testing.T) {
	var b bytes.Buffer
	if err := Plan(&b, NewTheme(&b, false), []Fact{{"Cluster", "sandbox"}}, samplePlan()); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"Cluster  sandbox\n",
		"+ create    IAM role sdc-r\n",
		"+  \"a\": 1",
		"~ update    ServiceAccount ns1/sdc\n",
		"    by server-side apply\n",
		"-b: 2", "+b: 3",
		"= unchanged Namespace ns1\n",
		"Plan: 1 to create, 1 to update, 1 unchanged.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b[") {
		t.Error("escape sequences in plain output")
	}
}

func TestPlanColoredKeepsWords(t *testing.T) {
	var b bytes.Buffer
	_ = Plan(&b, NewTheme(&b, true), nil, samplePlan())
	out := b.String()
	if !strings.Contains(out, "\x1b[") {
		t.Error("no color with color on")
	}
	for _, word := range []string{"create", "update", "unchanged"} {
		if !strings.Contains(out, word) {
			t.Errorf("colored output lost the word %q", word)
		}
	}
}

func TestSummaryWithoutChanges(t *testing.T) {
	p := &plan.Plan{Changes: []*plan.Change{{Action: plan.Unchanged}, {Action: plan.Unchanged}}}
	if got := Summary(NewTheme(&bytes.Buffer{}, false), p); got != "No changes: 2 unchanged." {
		t.Errorf("Summary = %q", got)
	}
}

func TestUseColor(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	var notTTY bytes.Buffer
	cases := []struct {
		mode ColorMode
		env  map[string]string
		want bool
	}{
		{ColorAlways, map[string]string{"NO_COLOR": "1"}, true},
		{ColorNever, nil, false},
		{ColorAuto, nil, false}, // a buffer is not a terminal
		{ColorAuto, map[string]string{"NO_COLOR": "1"}, false},
	}
	for _, c := range cases {
		if got := UseColor(c.mode, &notTTY, env(c.env)); got != c.want {
			t.Errorf("UseColor(%s, %v) = %v, want %v", c.mode, c.env, got, c.want)
		}
	}
}

func TestPlanShowsDeletes(t *testing.T) {
	p := &plan.Plan{Changes: []*plan.Change{
		{Kind: "IAM role", Name: "sdc-r", Action: plan.Delete, Before: "{\n  \"a\": 1\n}\n"},
		{Kind: "ServiceAccount", Name: "ns1/sdc", Action: plan.Update, Before: "a: 1\n", After: "{}\n"},
		{Kind: "Namespace", Name: "ns1", Action: plan.Unchanged},
	}}
	var b bytes.Buffer
	if err := Plan(&b, NewTheme(&b, false), nil, p); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"- delete    IAM role sdc-r\n",
		"-  \"a\": 1",
		"~ update    ServiceAccount ns1/sdc\n",
		"Plan: 0 to create, 1 to update, 1 to delete, 1 unchanged.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
	var colored bytes.Buffer
	_ = Plan(&colored, NewTheme(&colored, true), nil, p)
	if !strings.Contains(colored.String(), "\x1b[31m- delete") {
		t.Errorf("a delete is not styled as one:\n%q", colored.String())
	}
	var ending bytes.Buffer
	_ = PlanEnding(&ending, NewTheme(&ending, false), nil, &plan.Plan{}, "Nothing to do.")
	if !strings.HasSuffix(ending.String(), "Nothing to do.\n") {
		t.Errorf("PlanEnding's last line: %q", ending.String())
	}
}
