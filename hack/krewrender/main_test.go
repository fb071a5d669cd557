package main

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var targets = []string{"linux_amd64.tar.gz", "linux_arm64.tar.gz", "darwin_amd64.tar.gz", "darwin_arm64.tar.gz", "windows_amd64.zip"}

// fakeDist writes one small archive-named file per target, each with different content, and returns the
// directory and the sha256 of each file by name.
func fakeDist(t *testing.T, tag string, skip string) (string, map[string]string) {
	t.Helper()
	dir := t.TempDir()
	sums := map[string]string{}
	for _, target := range targets {
		if target == skip {
			continue
		}
		name := "kubectl-sdc_" + tag + "_" + target
		data := []byte("archive " + name)
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		sums[name] = hex.EncodeToString(sum[:])
	}
	return dir, sums
}

func readTemplate(t *testing.T) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", "..", ".krew.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return string(src)
}

func TestRenderTheKrewTemplate(t *testing.T) {
	t.Parallel()
	const tag = "v1.2.3"
	dist, sums := fakeDist(t, tag, "")
	out, err := renderer{tag: tag, dist: dist}.render(".krew.yaml", readTemplate(t))
	if err != nil {
		t.Fatal(err)
	}
	manifest := string(out)
	if strings.Contains(manifest, "{{") {
		t.Errorf("unrendered template actions remain:\n%s", manifest)
	}
	if !strings.Contains(manifest, "\n  version: "+tag+"\n") {
		t.Errorf("version is not %s:\n%s", tag, manifest)
	}
	for name, sum := range sums {
		want := "    uri: https://github.com/kubectl-sdc/kubectl-sdc/releases/download/" + tag + "/" + name + "\n    sha256: " + sum + "\n"
		if !strings.Contains(manifest, want) {
			t.Errorf("manifest lacks\n%s", want)
		}
	}
}

func TestRenderWithFileURIs(t *testing.T) {
	t.Parallel()
	const tag = "v0.1.0-rc.1"
	dist, sums := fakeDist(t, tag, "")
	out, err := renderer{tag: tag, dist: dist, fileURIs: true}.render(".krew.yaml", readTemplate(t))
	if err != nil {
		t.Fatal(err)
	}
	for name, sum := range sums {
		want := "    uri: file://" + filepath.ToSlash(filepath.Join(dist, name)) + "\n    sha256: " + sum + "\n"
		if !strings.Contains(string(out), want) {
			t.Errorf("manifest lacks\n%s", want)
		}
	}
}

func TestRenderErrors(t *testing.T) {
	t.Parallel()
	dist, _ := fakeDist(t, "v1.2.3", "windows_amd64.zip")
	tests := []struct {
		name, tag, src string
		want           []string
	}{
		{"archive missing", "v1.2.3", readTemplate(t),
			[]string{"kubectl-sdc_v1.2.3_windows_amd64.zip", "not in " + dist, "make dist VERSION=v1.2.3"}},
		{"archives of another version", "v9.9.9", readTemplate(t),
			[]string{"kubectl-sdc_v9.9.9_linux_amd64.tar.gz", "make dist VERSION=v9.9.9"}},
		{"no tag", "", readTemplate(t), []string{"-tag is empty"}},
		// The bot knows .TagName only; anything else must fail here rather than in the bot.
		{"value the bot does not have", "v1.2.3", "version: {{ .Version }}\n", []string{"Version"}},
		{"function the bot does not have", "v1.2.3", "{{ upper .TagName }}\n", []string{"upper"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := renderer{tag: tc.tag, dist: dist}.render("t.yaml", tc.src)
			if err == nil {
				t.Fatalf("rendered without error, want one mentioning %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestURLVersionValue(t *testing.T) {
	t.Parallel()
	tests := []struct{ tag, want string }{
		{"v1.2.3", "1.2.3"},
		{"v0.1.0-rc.1", "0.1.0"},
		{"release", "release"},
	}
	for _, tc := range tests {
		got, err := renderer{}.expandURL("x/{{ .Version }}/{{ .TagName }}", tc.tag)
		if err != nil || got != "x/"+tc.want+"/"+tc.tag {
			t.Errorf("expandURL for %q = %q, %v; want %q", tc.tag, got, err, "x/"+tc.want+"/"+tc.tag)
		}
	}
}
