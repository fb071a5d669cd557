// Package dist tests the release as a user and krew receive it: `make dist`, `make krew-manifest` and
// `make krew-tools` run once for the package (TestMain), then the tests inspect the real archives, run
// krew's own validator on the rendered manifest and install the plugin with the real krew. No cluster and
// no network are needed. Under `go test -short` (unit tests only) every test here is skipped.
package dist

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// version is what the archives are stamped and named with; a pre-release, as krew's semver check allows.
const version = "v0.99.0-disttest.1"

// platform is one release target.
type platform struct{ os, arch string }

func (p platform) String() string { return p.os + "/" + p.arch }

// archive is the file name make dist gives this platform's archive.
func (p platform) archive() string {
	ext := ".tar.gz"
	if p.os == "windows" {
		ext = ".zip"
	}
	return fmt.Sprintf("kubectl-sdc_%s_%s_%s%s", version, p.os, p.arch, ext)
}

// files are the entries the archive must hold, exactly, with their permission bits.
func (p platform) files() map[string]int64 {
	if p.os == "windows" {
		return map[string]int64{"LICENSE": 0o644, "kubectl-sdc.exe": 0o755, "kubectl_complete-sdc.cmd": 0o755}
	}
	return map[string]int64{"LICENSE": 0o644, "kubectl-sdc": 0o755, "kubectl_complete-sdc": 0o755}
}

var platforms = []platform{
	{"linux", "amd64"}, {"linux", "arm64"}, {"darwin", "amd64"}, {"darwin", "arm64"}, {"windows", "amd64"},
}

// Set by TestMain.
var (
	repoRoot   string // the module root, where the Makefile is
	distDir    string // make dist's output for version
	rebuildDir string // a second make dist of linux/amd64 alone, for reproducibility
	toolsBin   string // kubectl-krew and validate-krew-manifest
	kubectlBin string // the real kubectl
	commitTime string // seconds since 1970 of HEAD, the time of every archive entry
	setupErr   error
)

func TestMain(m *testing.M) {
	flag.Parse()
	if !testing.Short() {
		tmp, err := os.MkdirTemp("", "sdc-dist-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		setupErr = setup(tmp)
		code := m.Run()
		os.RemoveAll(tmp)
		os.Exit(code)
	}
	os.Exit(m.Run())
}

func setup(tmp string) error {
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	repoRoot = filepath.Clean(filepath.Join(wd, "..", ".."))
	if _, err := os.Stat(filepath.Join(repoRoot, "Makefile")); err != nil {
		return fmt.Errorf("no Makefile at the repository root %s: %w", repoRoot, err)
	}
	for _, tool := range []string{"make", "git"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s is not on PATH; the distribution tests drive the Makefile and need it: %w", tool, err)
		}
	}
	if kubectlBin, err = exec.LookPath("kubectl"); err != nil {
		return fmt.Errorf("kubectl is not on PATH; the krew install tests need the real kubectl: %w", err)
	}
	// The commit facts are read once and handed to every build: another commit landing while the tests
	// run must not change the stamp or the archive times between the two builds compared below.
	out, err := exec.Command("git", "-C", repoRoot, "log", "-1", "--format=%ct %cI %h").Output()
	if err != nil {
		return fmt.Errorf("reading the commit facts: %w", err)
	}
	facts := strings.Fields(string(out))
	if len(facts) != 3 {
		return fmt.Errorf("git log printed %q, want the commit's time, date and hash", out)
	}
	commitTime = facts[0]
	pinned := []string{"VERSION=" + version, "SOURCE_DATE_EPOCH=" + facts[0], "DATE=" + facts[1], "COMMIT=" + facts[2]}
	distDir = filepath.Join(tmp, "dist")
	rebuildDir = filepath.Join(tmp, "rebuild")
	toolsBin = filepath.Join(repoRoot, "bin")
	steps := [][]string{
		// linux/amd64 alone, then the full release, whose first build is linux/amd64 again: back to back,
		// so both see the same sources and only a reproducible build gives the same checksum.
		append([]string{"dist", "DIST=" + rebuildDir, "PLATFORMS=linux/amd64"}, pinned...),
		append([]string{"dist", "krew-manifest", "krew-tools", "DIST=" + distDir}, pinned...),
	}
	for _, args := range steps {
		if _, err := runMake(args...); err != nil {
			return err
		}
	}
	return nil
}

// runMake runs make in the repository root and returns its combined output, which it includes in the error.
func runMake(args ...string) (string, error) {
	cmd := exec.Command("make", append([]string{"-C", repoRoot}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("make %s: %w\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String(), nil
}

// needDist skips under -short and fails when TestMain could not build the release.
func needDist(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the release with make dist; not a unit test")
	}
	if setupErr != nil {
		t.Fatalf("building the release failed, so nothing here can be checked: %v", setupErr)
	}
}
