package render

import (
	"io"
	"strings"
)

// tableGap is the space between columns, as kubectl get prints them.
const tableGap = 3

// Table writes rows under headers the way `kubectl get` does: upper-case headers (left out with noHeaders,
// for scripts), every column as wide as its widest cell, three spaces between columns and none after the
// last. style, when not nil, styles a cell after it is padded, so escape codes never skew the columns; it
// is not called for headers.
func Table(w io.Writer, headers []string, rows [][]string, noHeaders bool, style func(col int, cell string) string) error {
	widths := make([]int, len(headers))
	all := rows
	if !noHeaders {
		all = append([][]string{headers}, rows...)
	}
	for _, r := range all {
		for i, cell := range r {
			if i < len(widths) {
				widths[i] = max(widths[i], len(cell))
			}
		}
	}
	var b strings.Builder
	for n, r := range all {
		isHeader := !noHeaders && n == 0
		for i, cell := range r {
			if i >= len(widths) {
				break
			}
			padding := ""
			if i < len(r)-1 {
				padding = strings.Repeat(" ", widths[i]-len(cell)+tableGap)
			}
			if style != nil && !isHeader {
				cell = style(i, cell)
			}
			b.WriteString(cell + padding)
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Verdict styles a binding's status word (ok, warn, fail) the way doctor styles its check statuses; the
// word itself carries the meaning.
func Verdict(th *Theme, word string) string {
	switch word {
	case "ok":
		return th.Pass.Render(word)
	case "warn":
		return th.Warn.Render(word)
	case "fail":
		return th.Fail.Render(word)
	}
	return word
}
