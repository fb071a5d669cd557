package plan

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
)

func sealed(t *testing.T) []byte {
	t.Helper()
	s := &Saved{Command: "bind", Plugin: SavedPlugin{Version: "v1.2.3", Commit: "abc"},
		Where:   Where{Cluster: "prod", Region: "eu-west-1", Account: "123456789012"},
		Request: json.RawMessage(`{"request":{"Namespace":"ns1"}}`),
		Facts:   []Fact{{ID: "role", Kind: "IAM role", Name: "r", State: map[string]json.RawMessage{"Trust": json.RawMessage(`{"a":1}`)}}},
		Changes: []SavedChange{{ID: "role", Kind: "IAM role", Name: "r", Action: Update, Op: json.RawMessage(`{"type":"writeTrust"}`)}}}
	b, err := s.Seal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReadSaved(t *testing.T) {
	t.Parallel()
	good := sealed(t)
	var compact bytes.Buffer
	if err := json.Compact(&compact, good); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		data []byte
		want string // "" for no error
	}{
		{"as sealed", good, ""},
		{"re-indented", compact.Bytes(), ""},
		{"a value edited", bytes.Replace(good, []byte(`"ns1"`), []byte(`"ns2"`), 1), "does not match its content"},
		{"an operation edited", bytes.Replace(good, []byte(`writeTrust`), []byte(`deleteRole`), 1), "does not match its content"},
		{"the digest removed", bytes.Replace(good, []byte(`"digest": "sha256:`), []byte(`"digest": "x`), 1), "does not match its content"},
		{"an unknown field", bytes.Replace(good, []byte(`"command"`), []byte(`"comand": "x", "command"`), 1), "unknown field"},
		{"another format", bytes.Replace(good, []byte(SavedFormat), []byte("terraform"), 1), `format "terraform"`},
		{"another version", bytes.Replace(good, []byte(`"version": 1`), []byte(`"version": 2`), 1), "format version 2"},
		{"two plans", append(append([]byte{}, good...), good...), "more than one JSON value"},
		{"not JSON", []byte("apiVersion: v1\n"), "not a kubectl-sdc plan"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s, err := ReadSaved("plan.json", c.data)
			if c.want == "" {
				if err != nil || s.Command != "bind" || s.Where.Cluster != "prod" {
					t.Fatalf("ReadSaved = %+v, %v", s, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("ReadSaved: got %v, want an error with %q", err, c.want)
			}
		})
	}
}

func TestMoved(t *testing.T) {
	t.Parallel()
	st := func(kv ...string) map[string]json.RawMessage {
		m := map[string]json.RawMessage{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = json.RawMessage(kv[i+1])
		}
		return m
	}
	was := []Fact{
		{ID: "role", Kind: "IAM role", Name: "r", State: st("Trust", `{"a": 1}`, "Tags", `{}`)},
		{ID: "policy", Kind: "IAM policy", Name: "p"},
		{ID: "sa", Kind: "ServiceAccount", Name: "ns/sa", State: st("annotations", `{"x":"1"}`)},
		{ID: "deploy", Kind: "Deployment", Name: "ns/d", State: st("spec", `{}`)},
	}
	if m := Moved(was, was); len(m) != 0 {
		t.Fatalf("Moved of the same facts = %q", m)
	}
	now := []Fact{
		{ID: "role", Kind: "IAM role", Name: "r", State: st("Trust", `{"a":1}`, "Tags", `{"t":"v"}`)}, // re-spaced trust, new tag
		{ID: "policy", Kind: "IAM policy", Name: "p", State: st()},
		{ID: "sa", Kind: "ServiceAccount", Name: "ns/sa", State: st("annotations", `{"x":"1"}`, "labels", `{"l":"1"}`)},
		{ID: "assoc", Kind: "EKS Pod Identity association", Name: "c/ns/sa"},
	}
	want := []string{
		"IAM role r: Tags changed",
		"IAM policy p: exists now, and did not when planned",
		"ServiceAccount ns/sa: labels changed",
		"Deployment ns/d: no longer read by this plan",
		"EKS Pod Identity association c/ns/sa: read now, and not when planned",
	}
	if got := Moved(was, now); !slices.Equal(got, want) {
		t.Errorf("Moved =\n%q\nwant\n%q", got, want)
	}
}

func TestDifferences(t *testing.T) {
	t.Parallel()
	was := []SavedChange{
		{ID: "a", Kind: "IAM role", Name: "r", Action: Update, After: "x", Op: json.RawMessage(`{"type":"writeTrust","value":{"Role":"r"}}`)},
		{ID: "b", Kind: "ServiceAccount", Name: "ns/sa", Action: Create},
		{ID: "c", Kind: "Deployment", Name: "ns/d", Action: Unchanged},
	}
	if d := Differences(was, was); len(d) != 0 {
		t.Fatalf("Differences of the same plan = %q", d)
	}
	now := []SavedChange{
		{ID: "a", Kind: "IAM role", Name: "r", Action: Update, After: "x", Op: json.RawMessage(`{"type":"writeTrust","value":{"Role":"other"}}`)},
		{ID: "b", Kind: "ServiceAccount", Name: "ns/sa", Action: Update, Deps: []string{"a"}},
		{ID: "d", Kind: "Deployment restart", Name: "ns/d", Action: Create},
	}
	want := []string{
		"update IAM role r: operation differs",
		"create ServiceAccount ns/sa: action create, now update, order differs",
		"unchanged Deployment ns/d: no longer planned",
		"create Deployment restart ns/d: planned now, and not when saved",
	}
	if got := Differences(was, now); !slices.Equal(got, want) {
		t.Errorf("Differences =\n%q\nwant\n%q", got, want)
	}
	err := error(&StaleError{File: "plan.json", Different: want})
	if !errors.Is(err, ErrStale) || !strings.Contains(err.Error(), "nothing was written") {
		t.Errorf("StaleError: %v", err)
	}
}
