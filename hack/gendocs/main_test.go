package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// committed is the reference in the repository, relative to this package.
const committed = "../../docs/commands"

// TestCommittedReferenceIsCurrent fails when docs/commands differs from what the cobra commands generate now,
// so a changed flag or help text cannot ship with a stale reference.
func TestCommittedReferenceIsCurrent(t *testing.T) {
	fresh := t.TempDir()
	if err := generate(fresh); err != nil {
		t.Fatal(err)
	}
	want := pages(t, fresh)
	got := pages(t, committed)
	if len(want) == 0 {
		t.Fatal("the generator wrote no page")
	}
	for name, w := range want {
		g, ok := got[name]
		switch {
		case !ok:
			t.Errorf("docs/commands/%s is missing; run make docs", name)
		case g != w:
			t.Errorf("docs/commands/%s is out of date (first difference at line %d); run make docs", name, firstDiff(g, w))
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("docs/commands/%s documents no command; run make docs", name)
		}
	}
}

// TestGenerateIsDeterministic guards against dates, home directories or map order in the pages: two runs,
// in different places, write the same bytes.
func TestGenerateIsDeterministic(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	if err := generate(a); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", b)
	if err := generate(b); err != nil {
		t.Fatal(err)
	}
	pa, pb := pages(t, a), pages(t, b)
	if !slices.Equal(names(pa), names(pb)) {
		t.Fatalf("two runs wrote different pages: %v and %v", names(pa), names(pb))
	}
	for name, text := range pa {
		if pb[name] != text {
			t.Errorf("%s differs between two runs at line %d", name, firstDiff(text, pb[name]))
		}
		if strings.Contains(text, "Auto generated") {
			t.Errorf("%s carries cobra's dated footer", name)
		}
	}
}

// TestGenerateRemovesStalePages checks that a page of a command that no longer exists does not survive.
func TestGenerateRemovesStalePages(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, "kubectl_sdc_gone.md")
	if err := os.WriteFile(stale, []byte("# gone\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := generate(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("generate left %s behind (stat: %v)", stale, err)
	}
}

func pages(t *testing.T, dir string) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = string(b)
	}
	return out
}

func names(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// firstDiff is the 1-based number of the first line where a and b differ.
func firstDiff(a, b string) int {
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(la), len(lb)) {
		if la[i] != lb[i] {
			return i + 1
		}
	}
	return min(len(la), len(lb)) + 1
}
