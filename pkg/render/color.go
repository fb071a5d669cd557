// Package render is the one place that styles output: it decides color once, holds the lipgloss styles,
// and renders plans, diffs, reports, notes, prompts and progress lines. Domain packages return data and
// never print; the cobra layer writes what it prints through here.
package render

import (
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/doctor"
	"golang.org/x/term"
)

// ColorMode is the value of --color.
type ColorMode string

// The values --color accepts.
const (
	ColorAuto   ColorMode = "auto"
	ColorAlways ColorMode = "always"
	ColorNever  ColorMode = "never"
)

// String implements pflag.Value.
func (m *ColorMode) String() string { return string(*m) }

// Set implements pflag.Value.
func (m *ColorMode) Set(s string) error {
	switch ColorMode(s) {
	case ColorAuto, ColorAlways, ColorNever:
		*m = ColorMode(s)
		return nil
	}
	return fmt.Errorf("must be one of auto, always, never")
}

// Type implements pflag.Value.
func (m *ColorMode) Type() string { return "when" }

// UseColor decides whether output to w is colored: --color=always and --color=never win; in auto mode
// NO_COLOR (any non-empty value, see no-color.org) or TERM=dumb turn color off, and otherwise w must be a
// terminal.
func UseColor(mode ColorMode, w io.Writer, getenv func(string) string) bool {
	switch mode {
	case ColorAlways:
		return true
	case ColorNever:
		return false
	}
	if getenv("NO_COLOR") != "" || getenv("TERM") == "dumb" {
		return false
	}
	return IsTerminal(w)
}

// IsTerminal reports whether w is an interactive terminal.
func IsTerminal(w any) bool {
	f, ok := w.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(int(f.Fd()))
}

// Theme holds the styles of one output stream. Color is never the only carrier of meaning: every styled
// piece of text also has a word or symbol that says the same.
type Theme struct {
	Color bool

	Bold, Dim, Title  lipgloss.Style
	Create, Update    lipgloss.Style
	Delete, Unchanged lipgloss.Style
	Pass, Warn, Fail  lipgloss.Style
	Skip, Fix, Hunk   lipgloss.Style

	// marks are the styled status marks, by status (see StatusMark).
	marks map[doctor.Status]string
}

// Paint is style.Render(s) without lipgloss's work where that gives s back unchanged: a plain theme and
// one line of valid UTF-8 without tabs (lipgloss turns tabs into spaces, invalid bytes into U+FFFD and
// pads a block's lines to one width; styles here have no width, padding, margin or border). doctor -A
// writes some 100,000 such lines, and rendering them was a fifth of its time.
func (th *Theme) Paint(style lipgloss.Style, s string) string {
	if !th.Color && !strings.ContainsAny(s, "\t\r\n") && utf8.ValidString(s) {
		return s
	}
	return style.Render(s)
}

// NewTheme returns the styles for w, colored or plain.
func NewTheme(w io.Writer, color bool) *Theme {
	r := lipgloss.NewRenderer(w)
	if color {
		r.SetColorProfile(termenv.ANSI)
	} else {
		r.SetColorProfile(termenv.Ascii)
	}
	fg := func(c string) lipgloss.Style { return r.NewStyle().Foreground(lipgloss.Color(c)) }
	th := &Theme{
		Color:     color,
		Bold:      r.NewStyle().Bold(true),
		Dim:       r.NewStyle().Faint(true),
		Title:     r.NewStyle().Bold(true).Underline(true),
		Create:    fg("2"),
		Update:    fg("3"),
		Delete:    fg("1"),
		Unchanged: r.NewStyle().Faint(true),
		Pass:      fg("2"),
		Warn:      fg("3"),
		Fail:      fg("1").Bold(true),
		Skip:      r.NewStyle().Faint(true),
		Fix:       fg("6").Bold(true),
		Hunk:      fg("6"),
	}
	th.marks = map[doctor.Status]string{}
	for _, st := range []doctor.Status{doctor.Pass, doctor.Warn, doctor.Fail, doctor.Skip} {
		th.marks[st] = statusMark(th, st)
	}
	return th
}

// ThemeFor is NewTheme with the color decision made from the mode and the process environment.
func ThemeFor(mode ColorMode, w io.Writer) *Theme {
	return NewTheme(w, UseColor(mode, w, os.Getenv))
}

// Indent prefixes every line of s with prefix.
func Indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n") + "\n"
}
