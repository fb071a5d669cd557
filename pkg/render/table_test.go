package render

import (
	"bytes"
	"testing"
)

func TestTableLooksLikeKubectlGet(t *testing.T) {
	t.Parallel()
	rows := [][]string{{"ns1", "sdc", "ok"}, {"a-long-namespace", "x", "fail"}}
	var b bytes.Buffer
	if err := Table(&b, []string{"NAMESPACE", "SERVICEACCOUNT", "STATUS"}, rows, false, nil); err != nil {
		t.Fatal(err)
	}
	want := "NAMESPACE          SERVICEACCOUNT   STATUS\n" +
		"ns1                sdc              ok\n" +
		"a-long-namespace   x                fail\n"
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	_ = Table(&b, []string{"NAMESPACE", "SERVICEACCOUNT", "STATUS"}, rows, true, nil)
	if want := "ns1                sdc   ok\na-long-namespace   x     fail\n"; b.String() != want {
		t.Errorf("--no-headers:\n%q\nwant:\n%q", b.String(), want)
	}
}

// Styling comes after padding: the columns of a colored table line up as the plain one's do.
func TestTableStylesAfterPadding(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	th := NewTheme(&b, true)
	rows := [][]string{{"ok", "x"}, {"fail", "y"}}
	_ = Table(&b, []string{"STATUS", "NAME"}, rows, false, func(col int, cell string) string {
		if col == 0 {
			return Verdict(th, cell)
		}
		return cell
	})
	want := "STATUS   NAME\n" + th.Pass.Render("ok") + "       x\n" + th.Fail.Render("fail") + "     y\n"
	if b.String() != want {
		t.Errorf("table:\n%q\nwant:\n%q", b.String(), want)
	}
}
