package dist

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// manifest is the part of a krew plugin manifest these tests read.
type manifest struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Version          string `json:"version"`
		Homepage         string `json:"homepage"`
		ShortDescription string `json:"shortDescription"`
		Description      string `json:"description"`
		Caveats          string `json:"caveats"`
		Platforms        []struct {
			Selector struct {
				MatchLabels      map[string]string `json:"matchLabels"`
				MatchExpressions []any             `json:"matchExpressions"`
			} `json:"selector"`
			URI    string `json:"uri"`
			Sha256 string `json:"sha256"`
			Bin    string `json:"bin"`
			Files  []struct {
				From string `json:"from"`
				To   string `json:"to"`
			} `json:"files"`
		} `json:"platforms"`
	} `json:"spec"`
}

func readManifest(t *testing.T) manifest {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(distDir, "sdc.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var m manifest
	if err := yaml.UnmarshalStrict(data, &m); err != nil {
		t.Fatalf("dist/sdc.yaml: %v", err)
	}
	return m
}

func TestKrewValidatorAcceptsTheManifest(t *testing.T) {
	needDist(t)
	validator := filepath.Join(toolsBin, "validate-krew-manifest")
	out, err := exec.Command(validator, "-manifest", filepath.Join(distDir, "sdc.yaml"), "-skip-install").CombinedOutput()
	if err != nil {
		t.Fatalf("validate-krew-manifest rejected dist/sdc.yaml: %v\n%s", err, out)
	}
	for _, want := range []string{"structural validation OK", "no overlapping spec.platform[].selector"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("validator output lacks %q:\n%s", want, out)
		}
	}
}

// The validator must be able to say no, or the test above proves nothing: a manifest with one platform
// repeated (overlapping selectors) and one with a long shortDescription broken over lines are rejected.
func TestKrewValidatorRejectsBrokenManifests(t *testing.T) {
	needDist(t)
	good, err := os.ReadFile(filepath.Join(distDir, "sdc.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	first := bytes.Index(good, []byte("  - selector:"))
	second := bytes.Index(good[first+1:], []byte("  - selector:")) + first + 1
	overlap := append(append(append([]byte{}, good[:second]...), good[first:second]...), good[second:]...)
	tests := []struct {
		name     string
		manifest []byte
		want     string
	}{
		{"overlapping platforms", overlap, "overlapping"},
		{"short description over two lines", regexp.MustCompile(`(?m)^  shortDescription: .*$`).ReplaceAll(good,
			[]byte("  shortDescription: |\n    two\n    lines")), "line breaks"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "sdc.yaml")
			if err := os.WriteFile(path, tc.manifest, 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(filepath.Join(toolsBin, "validate-krew-manifest"), "-manifest", path, "-skip-install").CombinedOutput()
			if err == nil || !strings.Contains(string(out), tc.want) {
				t.Errorf("validator error %v, output:\n%s\nwant a failure mentioning %q", err, out, tc.want)
			}
		})
	}
}

func TestManifestContent(t *testing.T) {
	needDist(t)
	m := readManifest(t)
	sums := readChecksums(t, distDir)
	if m.APIVersion != "krew.googlecontainertools.github.com/v1alpha2" || m.Kind != "Plugin" || m.Metadata.Name != "sdc" {
		t.Errorf("apiVersion %q, kind %q, name %q; want krew's v1alpha2 Plugin named sdc", m.APIVersion, m.Kind, m.Metadata.Name)
	}
	if m.Spec.Version != version {
		t.Errorf("version %q, want %q", m.Spec.Version, version)
	}
	if m.Spec.Homepage != "https://github.com/kubectl-sdc/kubectl-sdc" {
		t.Errorf("homepage %q", m.Spec.Homepage)
	}
	if n := len(m.Spec.ShortDescription); n == 0 || n > 50 {
		t.Errorf("shortDescription %q has %d characters, want 1 to 50", m.Spec.ShortDescription, n)
	}
	for field, text := range map[string]string{"description": m.Spec.Description, "caveats": m.Spec.Caveats} {
		for i, line := range strings.Split(text, "\n") {
			// The caveat's command names the versioned store path; everything else wraps at 80.
			if len(line) > 80 && !strings.Contains(line, "KREW_ROOT") {
				t.Errorf("%s line %d has %d characters, want at most 80: %q", field, i+1, len(line), line)
			}
		}
	}
	for _, want := range []string{"StreamSets Data Collector", "kubectl sdc bind", "kubectl sdc doctor", "IAM Roles for Service Accounts"} {
		if !strings.Contains(strings.Join(strings.Fields(m.Spec.Description), " "), want) {
			t.Errorf("description does not say %q", want)
		}
	}
	if !strings.Contains(m.Spec.Caveats, "kubectl_complete-sdc") {
		t.Errorf("caveats do not explain the completion helper: %q", m.Spec.Caveats)
	}

	seen := map[string]int{}
	for i, pl := range m.Spec.Platforms {
		labels := pl.Selector.MatchLabels
		if len(labels) != 2 || labels["os"] == "" || labels["arch"] == "" || len(pl.Selector.MatchExpressions) != 0 {
			t.Errorf("platform %d selector %v: want matchLabels with exactly os and arch", i, pl.Selector)
			continue
		}
		seen[labels["os"]+"/"+labels["arch"]]++
	}
	for _, p := range platforms {
		if seen[p.String()] != 1 {
			t.Errorf("%s is selected by %d platform entries, want exactly 1", p, seen[p.String()])
		}
		delete(seen, p.String())
	}
	if len(seen) != 0 {
		t.Errorf("platform entries for targets that are not built: %v", seen)
	}

	for _, pl := range m.Spec.Platforms {
		p := platform{pl.Selector.MatchLabels["os"], pl.Selector.MatchLabels["arch"]}
		t.Run(p.String(), func(t *testing.T) {
			wantURI := fmt.Sprintf("https://github.com/kubectl-sdc/kubectl-sdc/releases/download/%s/%s", version, p.archive())
			if pl.URI != wantURI {
				t.Errorf("uri %q, want %q", pl.URI, wantURI)
			}
			if pl.Sha256 != sums[p.archive()] {
				t.Errorf("sha256 %q, checksums.txt says %q", pl.Sha256, sums[p.archive()])
			}
			wantBin := "kubectl-sdc"
			if p.os == "windows" {
				wantBin = "kubectl-sdc.exe"
			}
			if pl.Bin != wantBin {
				t.Errorf("bin %q, want %q", pl.Bin, wantBin)
			}
			inArchive := p.files()
			for _, f := range pl.Files {
				if _, ok := inArchive[f.From]; !ok {
					t.Errorf("files: from %q is not in the archive %s", f.From, p.archive())
				}
				delete(inArchive, f.From)
			}
			if len(inArchive) != 0 {
				t.Errorf("files do not install %v from the archive", inArchive)
			}
		})
	}
}

// krewEnv is a clean environment for the real kubectl and krew: a temporary KREW_ROOT and HOME, krew's
// bin first on PATH, then kubectl-krew, then kubectl and the basic tools, and nothing else that could hold
// another kubectl-sdc.
func krewEnv(t *testing.T, extra ...string) (env []string, krewRoot string) {
	t.Helper()
	krewRoot = filepath.Join(t.TempDir(), "krew")
	tools := t.TempDir()
	if err := os.Symlink(filepath.Join(toolsBin, "kubectl-krew"), filepath.Join(tools, "kubectl-krew")); err != nil {
		t.Fatal(err)
	}
	path := strings.Join([]string{filepath.Join(krewRoot, "bin"), tools, filepath.Dir(kubectlBin), "/usr/bin", "/bin"}, string(os.PathListSeparator))
	env = append([]string{
		"PATH=" + path,
		"HOME=" + t.TempDir(),
		"KREW_ROOT=" + krewRoot,
		"KREW_NO_UPGRADE_CHECK=1",
		"KUBECONFIG=" + filepath.Join(t.TempDir(), "none"),
	}, extra...)
	return env, krewRoot
}

// kubectlIn runs the real kubectl with env and returns its standard output; it fails the test on error.
func kubectlIn(t *testing.T, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command(kubectlBin, args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("kubectl %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

func TestKrewInstallsThePlugin(t *testing.T) {
	needDist(t)
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Fatalf("this test runs the linux/amd64 archive; run it on linux/amd64, not %s/%s", runtime.GOOS, runtime.GOARCH)
	}
	env, krewRoot := krewEnv(t)
	archive := filepath.Join(distDir, platform{"linux", "amd64"}.archive())
	kubectlIn(t, env, "krew", "install", "--manifest="+filepath.Join(distDir, "sdc.yaml"), "--archive="+archive)

	if out := kubectlIn(t, env, "sdc", "version"); !strings.HasPrefix(out, "kubectl-sdc "+version+" ") {
		t.Errorf("kubectl sdc version printed %q, want the stamped %s", out, version)
	}
	wantPlugin := filepath.Join(krewRoot, "bin", "kubectl-sdc")
	if out := kubectlIn(t, env, "plugin", "list"); !strings.Contains(out, wantPlugin) {
		t.Errorf("kubectl plugin list does not show %s:\n%s", wantPlugin, out)
	}

	// The caveat's command, run as a user would paste it, must make kubectl's plugin completion work.
	m := readManifest(t)
	command := caveatCommand(t, m.Spec.Caveats)
	sh := exec.Command("/bin/sh", "-c", command)
	sh.Env = env
	if out, err := sh.CombinedOutput(); err != nil {
		t.Fatalf("the caveat's command %q failed: %v\n%s", command, err, out)
	}
	out := kubectlIn(t, env, "__complete", "sdc", "")
	for _, want := range []string{"version\t", "completion\t"} {
		if !strings.Contains(out, want) {
			t.Errorf("kubectl __complete sdc \"\" after the caveat's step lacks %q:\n%s", want, out)
		}
	}
}

// caveatCommand returns the shell command the caveats tell users to run: the indented lines, joined.
func caveatCommand(t *testing.T, caveats string) string {
	t.Helper()
	var lines []string
	for _, line := range strings.Split(caveats, "\n") {
		if strings.HasPrefix(line, "  ") {
			lines = append(lines, strings.TrimSpace(line))
		}
	}
	if len(lines) == 0 {
		t.Fatalf("the caveats hold no indented command:\n%s", caveats)
	}
	return strings.Join(lines, "\n")
}

// krew installs every platform's archive (KREW_OS/KREW_ARCH pretend to be that platform), the way the
// validator does without -skip-install: LICENSE, binary and completion helper land in the store.
func TestKrewInstallsEveryPlatform(t *testing.T) {
	needDist(t)
	for _, p := range platforms {
		t.Run(p.String(), func(t *testing.T) {
			t.Parallel()
			env, krewRoot := krewEnv(t, "KREW_OS="+p.os, "KREW_ARCH="+p.arch)
			kubectlIn(t, env, "krew", "install", "--manifest="+filepath.Join(distDir, "sdc.yaml"),
				"--archive="+filepath.Join(distDir, p.archive()))
			store := filepath.Join(krewRoot, "store", "sdc", version)
			for name := range p.files() {
				if _, err := os.Stat(filepath.Join(store, name)); err != nil {
					t.Errorf("%s was not installed: %v", name, err)
				}
			}
			bin := "kubectl-sdc"
			if p.os == "windows" {
				bin = "kubectl-sdc.exe"
			}
			if _, err := os.Lstat(filepath.Join(krewRoot, "bin", bin)); err != nil {
				t.Errorf("krew did not put %s into its bin directory: %v", bin, err)
			}
		})
	}
}

// make install puts the plugin and its completion helper where kubectl finds them.
func TestMakeInstall(t *testing.T) {
	needDist(t)
	prefix := t.TempDir()
	if _, err := runMake("install", "PREFIX="+prefix, "VERSION="+version); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(prefix, "bin")
	for _, name := range []string{"kubectl-sdc", "kubectl_complete-sdc"} {
		fi, err := os.Stat(filepath.Join(bin, name))
		if err != nil {
			t.Fatalf("make install did not install %s: %v", name, err)
		}
		if fi.Mode().Perm()&0o111 == 0 {
			t.Errorf("%s is not executable: %v", name, fi.Mode())
		}
	}
	env := []string{
		"PATH=" + strings.Join([]string{bin, filepath.Dir(kubectlBin), "/usr/bin", "/bin"}, string(os.PathListSeparator)),
		"HOME=" + t.TempDir(),
		"KUBECONFIG=" + filepath.Join(t.TempDir(), "none"),
	}
	if out := kubectlIn(t, env, "sdc", "version"); !strings.HasPrefix(out, "kubectl-sdc "+version+" ") {
		t.Errorf("kubectl sdc version printed %q, want %s", out, version)
	}
	out := kubectlIn(t, env, "__complete", "sdc", "")
	for _, want := range []string{"version\t", "completion\t"} {
		if !strings.Contains(out, want) {
			t.Errorf("kubectl __complete sdc \"\" lacks %q:\n%s", want, out)
		}
	}
}
