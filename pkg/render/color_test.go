package render

import (
	"io"
	"testing"

	"github.com/charmbracelet/lipgloss"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/doctor"
)

// themeStyles are every style of th, by name.
func themeStyles(th *Theme) map[string]lipgloss.Style {
	return map[string]lipgloss.Style{"Bold": th.Bold, "Dim": th.Dim, "Title": th.Title, "Create": th.Create,
		"Update": th.Update, "Delete": th.Delete, "Unchanged": th.Unchanged, "Pass": th.Pass, "Warn": th.Warn,
		"Fail": th.Fail, "Skip": th.Skip, "Fix": th.Fix, "Hunk": th.Hunk}
}

// Paint gives what lipgloss's Render gives, for every style of both themes: it only skips lipgloss where
// lipgloss would hand the text back unchanged.
func FuzzPaintIsRender(f *testing.F) {
	for _, s := range []string{"", "✓ pass", "fix: kubectl sdc bind -n ns1 sdc", "a\tb", "two\nlines", "short\nlonger line\n",
		"\r\n", " padded ", "\x1b[1mbold\x1b[0m", "ünïcødé · role arn:aws:iam::123456789012:role/sdc-x", "trailing \t", "\xb3 invalid"} {
		f.Add(s)
	}
	themes := []*Theme{NewTheme(io.Discard, false), NewTheme(io.Discard, true)}
	f.Fuzz(func(t *testing.T, s string) {
		for _, th := range themes {
			for name, style := range themeStyles(th) {
				if got, want := th.Paint(style, s), style.Render(s); got != want {
					t.Fatalf("color %v, %s: Paint(%q) = %q, Render gives %q", th.Color, name, s, got, want)
				}
			}
		}
	})
}

// The status marks a theme keeps are the ones it would render.
func TestStatusMarksKeptAsRendered(t *testing.T) {
	for _, color := range []bool{false, true} {
		th := NewTheme(io.Discard, color)
		for _, s := range []doctor.Status{doctor.Pass, doctor.Warn, doctor.Fail, doctor.Skip, doctor.Status("other")} {
			if got, want := StatusMark(th, s), statusMark(th, s); got != want {
				t.Errorf("color %v: StatusMark(%s) = %q, want %q", color, s, got, want)
			}
		}
		if !color && StatusMark(th, doctor.Fail) != "✗ fail" {
			t.Errorf("plain fail mark is %q", StatusMark(th, doctor.Fail))
		}
	}
}
