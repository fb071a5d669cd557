// Package docs holds no code: its test checks that the relative links of the README, CONTRIBUTING.md and
// the pages under docs/ point at files that exist, and at headings those files have.
package docs

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// link is a Markdown inline link's target; images and reference-style links are not used in these pages.
var link = regexp.MustCompile(`\]\(([^()\s]+)\)`)

// pagesToCheck are the Markdown files, relative to the repository root, whose links must resolve.
func pagesToCheck(t *testing.T) []string {
	t.Helper()
	out := []string{"README.md", "CONTRIBUTING.md"}
	for _, pattern := range []string{"docs/*.md", "docs/*/*.md"} {
		m, err := filepath.Glob(filepath.Join("..", pattern))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range m {
			out = append(out, strings.TrimPrefix(filepath.ToSlash(f), "../"))
		}
	}
	return out
}

func TestRelativeLinksResolve(t *testing.T) {
	t.Parallel()
	pages := pagesToCheck(t)
	if len(pages) < 10 {
		t.Fatalf("found only %v: is the test run from docs/?", pages)
	}
	anchors := map[string]map[string]bool{} // page → its heading anchors, read once
	for _, page := range pages {
		text := read(t, page)
		for _, target := range links(text) {
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			file, frag, _ := strings.Cut(target, "#")
			dest := page
			if file != "" {
				dest = filepath.ToSlash(filepath.Join(filepath.Dir(page), file))
			}
			if _, err := os.Stat(filepath.Join("..", dest)); err != nil {
				t.Errorf("%s links to %s: %s does not exist", page, target, dest)
				continue
			}
			if frag == "" {
				continue
			}
			if !strings.HasSuffix(dest, ".md") {
				t.Errorf("%s links to %s: an anchor into a file that is not Markdown", page, target)
				continue
			}
			if anchors[dest] == nil {
				anchors[dest] = headingAnchors(read(t, dest))
			}
			if !anchors[dest][frag] {
				t.Errorf("%s links to %s: %s has no heading with anchor #%s", page, target, dest, frag)
			}
		}
	}
}

// TestTheCheckBites runs the two halves of the check on text with known answers, so that a check that
// accepted everything would be noticed.
func TestTheCheckBites(t *testing.T) {
	t.Parallel()
	text := "# `bind --mechanism pod-identity`\n## Cross-account data (Assume Another Role)\n## The sandbox's AWS endpoint\n" +
		"## Twice\n## Twice\n```\n## not a heading\n[in a fence](nowhere.md)\n```\nSee [a](x.md#y) and [`b`](../c.md).\n"
	got := headingAnchors(text)
	for _, want := range []string{"bind---mechanism-pod-identity", "cross-account-data-assume-another-role",
		"the-sandboxs-aws-endpoint", "twice", "twice-1"} {
		if !got[want] {
			t.Errorf("headingAnchors lacks %q: %v", want, got)
		}
	}
	if got["not-a-heading"] {
		t.Error("a line in a code fence was taken for a heading")
	}
	if l := links(text); strings.Join(l, " ") != "x.md#y ../c.md" {
		t.Errorf("links = %q, want x.md#y and ../c.md (none from the fence)", l)
	}
}

func read(t *testing.T, page string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", filepath.FromSlash(page)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// outsideFences returns the lines of text that are not inside ``` code fences.
func outsideFences(text string) []string {
	var out []string
	fenced := false
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "```") {
			fenced = !fenced
			continue
		}
		if !fenced {
			out = append(out, l)
		}
	}
	return out
}

func links(text string) []string {
	var out []string
	for _, l := range outsideFences(text) {
		for _, m := range link.FindAllStringSubmatch(l, -1) {
			out = append(out, m[1])
		}
	}
	return out
}

// headingAnchors are the anchors GitHub gives a page's headings: lower case, spaces to hyphens, punctuation
// other than hyphens and underscores dropped, and -1, -2, ... for repeats.
func headingAnchors(text string) map[string]bool {
	out := map[string]bool{}
	seen := map[string]int{}
	for _, l := range outsideFences(text) {
		title, ok := strings.CutPrefix(strings.TrimLeft(l, "#"), " ")
		if !ok || !strings.HasPrefix(l, "#") {
			continue
		}
		var b strings.Builder
		for _, r := range strings.ToLower(strings.TrimSpace(title)) {
			switch {
			case r == ' ':
				b.WriteRune('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
				b.WriteRune(r)
			}
		}
		slug := b.String()
		if n := seen[slug]; n > 0 {
			out[slug+"-"+strconv.Itoa(n)] = true
		} else {
			out[slug] = true
		}
		seen[slug]++
	}
	return out
}
