package bind

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// Files by phase: observe*.go read, plan*.go decide (pure), apply*.go write; the rest (the request, the
// operations and trust edits as data, results and entry points) is shared. A file of one phase never uses
// what a later phase declares: no observe file uses a planner's or an applier's names, no planner an
// applier's. Names are top-level identifiers, and unexported methods and fields declared only in later
// phases (reached through a selector).
func phaseOf(file string) int {
	switch base := filepath.Base(file); {
	case strings.HasPrefix(base, "observe"):
		return 1
	case strings.HasPrefix(base, "plan"):
		return 2
	case strings.HasPrefix(base, "apply"):
		return 3
	}
	return 0
}

var phaseNames = []string{"shared", "observe", "plan", "apply"}

func TestPhasesDoNotReachForward(t *testing.T) {
	t.Parallel()
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	parsed := map[string]*ast.File{}
	declared := map[string]int{}         // top-level name -> phase of its file
	methods := map[string]map[int]bool{} // method or field name -> phases declaring it
	note := func(name string, phase int) {
		if methods[name] == nil {
			methods[name] = map[int]bool{}
		}
		methods[name][phase] = true
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		parsed[f] = af
		p := phaseOf(f)
		for _, d := range af.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Recv != nil {
					note(d.Name.Name, p)
				} else {
					declared[d.Name.Name] = p
				}
			case *ast.GenDecl:
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.TypeSpec:
						declared[s.Name.Name] = p
						if st, ok := s.Type.(*ast.StructType); ok {
							for _, fl := range st.Fields.List {
								for _, n := range fl.Names {
									note(n.Name, p)
								}
							}
						}
						if it, ok := s.Type.(*ast.InterfaceType); ok {
							for _, m := range it.Methods.List {
								for _, n := range m.Names {
									note(n.Name, p)
								}
							}
						}
					case *ast.ValueSpec:
						for _, n := range s.Names {
							declared[n.Name] = p
						}
					}
				}
			}
		}
	}
	if len(parsed) < 10 {
		t.Fatalf("read %d files: the test no longer sees the package", len(parsed))
	}
	var bad []string
	for f, af := range parsed {
		p := phaseOf(f)
		if p == 0 {
			continue
		}
		var visit func(n ast.Node) bool
		visit = func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.SelectorExpr:
				if ph := methods[n.Sel.Name]; ph != nil && !ast.IsExported(n.Sel.Name) {
					earliest := 4
					for q := range ph {
						earliest = min(earliest, q)
					}
					if earliest > p {
						bad = append(bad, fmt.Sprintf("%s (%s) calls .%s, declared only in the %s phase", fset.Position(n.Pos()), phaseNames[p], n.Sel.Name, phaseNames[earliest]))
					}
				}
				ast.Inspect(n.X, visit)
				return false
			case *ast.Ident:
				if q, ok := declared[n.Name]; ok && q > p && n.Obj == nil {
					bad = append(bad, fmt.Sprintf("%s (%s) uses %s, declared in the %s phase", fset.Position(n.Pos()), phaseNames[p], n.Name, phaseNames[q]))
				}
			}
			return true
		}
		ast.Inspect(af, visit)
	}
	sort.Strings(bad)
	for _, b := range bad {
		t.Error(b)
	}
}
