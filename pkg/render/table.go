package render

import "strings"

// tableGap is the space between columns, as kubectl get prints them.
const tableGap = 3

// Table lays rows out under headers the way kubectl get does: headers first (bold; left out when nil, as
// --no-headers asks, for scripts), every column as wide as its widest cell, three spaces between columns
// and none after the last, and an empty cell shown as "-". style, when not nil, styles a body cell (row
// and column counted from 0 in the body) after it is padded, so escape codes never skew the columns.
func Table(th *Theme, headers []string, rows [][]string, style func(row, col int, cell string) string) string {
	all := rows
	if headers != nil {
		all = append([][]string{headers}, rows...)
	}
	if len(all) == 0 {
		return ""
	}
	width := 0
	for _, r := range all {
		width = max(width, len(r))
	}
	widths := make([]int, width)
	cells := make([][]string, len(all))
	for r, row := range all {
		cells[r] = make([]string, len(row))
		for c, cell := range row {
			if cell == "" {
				cell = "-"
			}
			cells[r][c] = cell
			widths[c] = max(widths[c], len([]rune(cell)))
		}
	}
	var b strings.Builder
	for r, row := range cells {
		header := headers != nil && r == 0
		body := r
		if headers != nil {
			body--
		}
		for c, cell := range row {
			pad := ""
			if c < len(row)-1 {
				pad = strings.Repeat(" ", widths[c]-len([]rune(cell))+tableGap)
			}
			switch {
			case header:
				cell = th.Paint(th.Bold, cell)
			case style != nil:
				cell = style(body, c, cell)
			}
			b.WriteString(cell + pad)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// Verdict styles a binding's status word (ok, warn, fail) the way doctor styles its check statuses; the
// word itself carries the meaning.
func Verdict(th *Theme, word string) string {
	switch word {
	case "ok":
		return th.Paint(th.Pass, word)
	case "warn":
		return th.Paint(th.Warn, word)
	case "fail":
		return th.Paint(th.Fail, word)
	}
	return word
}
