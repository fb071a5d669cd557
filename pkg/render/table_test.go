package render

import (
	"bytes"
	"testing"
)

func TestTableLooksLikeKubectlGet(t *testing.T) {
	t.Parallel()
	th := NewTheme(&bytes.Buffer{}, false)
	rows := [][]string{{"ns1", "sdc", "ok"}, {"a-long-namespace", "x", "fail"}}
	got := Table(th, []string{"NAMESPACE", "SERVICEACCOUNT", "STATUS"}, rows, nil)
	want := "NAMESPACE          SERVICEACCOUNT   STATUS\n" +
		"ns1                sdc              ok\n" +
		"a-long-namespace   x                fail\n"
	if got != want {
		t.Errorf("table:\n%s\nwant:\n%s", got, want)
	}
	if got, want := Table(th, nil, rows, nil), "ns1                sdc   ok\na-long-namespace   x     fail\n"; got != want {
		t.Errorf("--no-headers:\n%q\nwant:\n%q", got, want)
	}
	if got := Table(th, nil, nil, nil); got != "" {
		t.Errorf("no headers, no rows: %q", got)
	}
}

// Styling comes after padding: the columns of a colored table line up as the plain one's do; the style
// sees body rows counted from 0, never the header.
func TestTableStylesAfterPadding(t *testing.T) {
	t.Parallel()
	th := NewTheme(&bytes.Buffer{}, true)
	rows := [][]string{{"ok", "x"}, {"fail", "y"}}
	var seen []int
	got := Table(th, []string{"STATUS", "NAME"}, rows, func(row, col int, cell string) string {
		if col == 0 {
			seen = append(seen, row)
			return Verdict(th, cell)
		}
		return cell
	})
	want := th.Bold.Render("STATUS") + "   " + th.Bold.Render("NAME") + "\n" +
		th.Pass.Render("ok") + "       x\n" + th.Fail.Render("fail") + "     y\n"
	if got != want {
		t.Errorf("table:\n%q\nwant:\n%q", got, want)
	}
	if len(seen) != 2 || seen[0] != 0 || seen[1] != 1 {
		t.Errorf("style saw rows %v, want [0 1]", seen)
	}
}
