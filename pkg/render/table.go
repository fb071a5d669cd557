package render

import "strings"

// Table lays rows out in columns like kubectl get: the first row is the header (bold), columns are
// separated by three spaces, and an empty cell is shown as "-". style, when not nil, styles a body cell
// (row and column counted from 0 in the body); padding is computed on the plain text, so escape codes
// never skew the columns.
func Table(th *Theme, rows [][]string, style func(row, col int, cell string) string) string {
	if len(rows) == 0 {
		return ""
	}
	widths := make([]int, len(rows[0]))
	cells := make([][]string, len(rows))
	for r, row := range rows {
		cells[r] = make([]string, len(row))
		for c, cell := range row {
			if cell == "" {
				cell = "-"
			}
			cells[r][c] = cell
			if c < len(widths) {
				widths[c] = max(widths[c], len([]rune(cell)))
			}
		}
	}
	var b strings.Builder
	for r, row := range cells {
		for c, cell := range row {
			pad := ""
			if c < len(row)-1 && c < len(widths) {
				pad = strings.Repeat(" ", widths[c]-len([]rune(cell))+3)
			}
			switch {
			case r == 0:
				cell = th.Bold.Render(cell)
			case style != nil:
				cell = style(r-1, c, cell)
			}
			b.WriteString(cell + pad)
		}
		b.WriteString("\n")
	}
	return b.String()
}
