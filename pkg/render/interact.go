package render

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// Notes writes each note on its own line after a highlighted "note:".
func Notes(w io.Writer, th *Theme, notes []string) {
	for _, n := range notes {
		fmt.Fprintf(w, "%s %s\n", th.Paint(th.Warn, "note:"), n)
	}
}

// Applied writes the line that ends a successful apply, then next (what to run now), if any.
func Applied(w io.Writer, th *Theme, created, updated int, next string) {
	fmt.Fprintf(w, "%s %d created, %d updated.\n", th.Paint(th.Pass, "Applied:"), created, updated)
	if next != "" {
		fmt.Fprintln(w, next)
	}
}

// Removed is Applied for a plan that deletes: "Applied: 1 updated, 3 deleted.", then next, if any.
func Removed(w io.Writer, th *Theme, updated, deleted int, next string) {
	fmt.Fprintf(w, "%s %d updated, %d deleted.\n", th.Paint(th.Pass, "Applied:"), updated, deleted)
	if next != "" {
		fmt.Fprintln(w, next)
	}
}

// Confirm asks question on out and reads one answer line from in: true only for y or yes.
func Confirm(in io.Reader, out io.Writer, question string) bool {
	fmt.Fprintf(out, "%s [y/N] ", question)
	answer, _ := bufio.NewReader(in).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(answer)) {
	case "y", "yes":
		return true
	}
	return false
}

// Progress shows a changing status: on a terminal one line rewritten in place, elsewhere one line per
// change (a log stays readable). Repeats of the same line are dropped.
type Progress struct {
	w    io.Writer
	tty  bool
	last string
}

// NewProgress returns a Progress writing to w.
func NewProgress(w io.Writer) *Progress { return &Progress{w: w, tty: IsTerminal(w)} }

// Update shows line.
func (p *Progress) Update(line string) {
	if line == p.last {
		return
	}
	p.last = line
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
	} else {
		fmt.Fprintln(p.w, line)
	}
}

// Last is the line shown last.
func (p *Progress) Last() string { return p.last }

// Done ends the progress display (on a terminal, the line is kept and the cursor moves on).
func (p *Progress) Done() {
	if p.tty {
		fmt.Fprintln(p.w)
	}
}
