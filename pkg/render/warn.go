package render

import (
	"fmt"
	"io"
	"strings"
)

// Warnings writes each warning on its own line after a highlighted "warning:": what the command did not do
// and the user has to.
func Warnings(w io.Writer, th *Theme, warnings []string) {
	for _, s := range warnings {
		fmt.Fprintf(w, "%s %s\n", th.Paint(th.Warn, "warning:"), s)
	}
}

// Snippet writes a bold heading, then text exactly as given: lines meant to be copied (a manifest, a
// fragment) carry no styling, so what is pasted is what was printed.
func Snippet(w io.Writer, th *Theme, heading, text string) {
	fmt.Fprintln(w, th.Paint(th.Bold, heading))
	if text != "" && !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	fmt.Fprint(w, text)
}
