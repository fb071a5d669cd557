package vocab

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The words are spelled once: no other package's code spells an environment variable name or an
// annotation key that this package defines (constants named Env* or *Annotation) as a string literal.
func TestWordsAreSpelledOnce(t *testing.T) {
	t.Parallel()
	fset := token.NewFileSet()
	words := map[string]string{} // value -> constant
	vocabFiles, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range vocabFiles {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range file.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, spec := range g.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, n := range vs.Names {
					if !strings.HasPrefix(n.Name, "Env") && !strings.HasSuffix(n.Name, "Annotation") || i >= len(vs.Values) {
						continue
					}
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						v, _ := strconv.Unquote(lit.Value)
						words[v] = n.Name
					}
				}
			}
		}
	}
	if len(words) < 5 {
		t.Fatalf("found only %d words in pkg/vocab: the test no longer reads it", len(words))
	}
	err = filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && filepath.Base(path) == "vocab" {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		file, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(file, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			if v, _ := strconv.Unquote(lit.Value); words[v] != "" {
				t.Errorf("%s: %q is vocab.%s: use the constant", fset.Position(lit.Pos()), v, words[v])
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
