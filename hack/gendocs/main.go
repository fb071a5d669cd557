// Command gendocs writes the Markdown command reference of kubectl sdc, one page per command, from the
// cobra commands themselves, into docs/commands (or -dir). `make docs` runs it; its test fails when the
// committed pages differ from what it would write.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra/doc"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/cmd"
)

func main() {
	dir := flag.String("dir", "docs/commands", "the directory to write the pages into (its .md files are replaced)")
	flag.Parse()
	if err := generate(*dir); err != nil {
		fmt.Fprintf(os.Stderr, "gendocs: %v\n", err)
		os.Exit(1)
	}
}

// homeDependent are flags whose default the libraries compute from the machine (cli-runtime's cache
// directory from $HOME); the reference shows them as a reader's shell would spell them, so that it is the
// same on every machine.
var homeDependent = map[string]string{
	"cache-dir": "$HOME/.kube/cache",
}

// generate replaces dir's Markdown pages with one per command of kubectl sdc.
func generate(dir string) error {
	var none bytes.Buffer
	root := cmd.NewRootCmd(genericiooptions.IOStreams{In: &none, Out: &none, ErrOut: &none})
	// No "Auto generated on <date>" footer: the pages must depend on the commands alone.
	root.DisableAutoGenTag = true
	for name, def := range homeDependent {
		f := root.PersistentFlags().Lookup(name)
		if f == nil {
			return fmt.Errorf("flag --%s is gone: update homeDependent in hack/gendocs", name)
		}
		f.DefValue = def
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	old, err := filepath.Glob(filepath.Join(dir, "*.md"))
	if err != nil {
		return err
	}
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			return err
		}
	}
	return doc.GenMarkdownTree(root, dir)
}
