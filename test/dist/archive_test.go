package dist

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/buildinfo"
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"encoding/hex"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// entry is one file read back from an archive.
type entry struct {
	name       string
	mode       int64
	mtime      time.Time
	uid, gid   int
	data       []byte
	isRegular  bool
	zipCreator uint16
}

// readArchive returns the entries of a release archive in the order they are stored.
func readArchive(t *testing.T, path string) []entry {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var entries []entry
	if strings.HasSuffix(path, ".zip") {
		zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatalf("%s is not a zip: %v", path, err)
		}
		for _, f := range zr.File {
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatal(err)
			}
			entries = append(entries, entry{name: f.Name, mode: int64(f.Mode().Perm()), mtime: f.Modified,
				data: b, isRegular: f.Mode().IsRegular(), zipCreator: f.CreatorVersion >> 8})
		}
		return entries
	}
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s is not gzip: %v", path, err)
	}
	if gz.Name != "" || !gz.ModTime.IsZero() {
		t.Errorf("%s: the gzip header carries a name %q or time %v, which makes rebuilds differ", path, gz.Name, gz.ModTime)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, entry{name: h.Name, mode: h.Mode, mtime: h.ModTime, uid: h.Uid, gid: h.Gid,
			data: b, isRegular: h.Typeflag == tar.TypeReg})
	}
	return entries
}

func TestArchivesHoldExactlyTheReleaseFiles(t *testing.T) {
	needDist(t)
	license, err := os.ReadFile(filepath.Join(repoRoot, "LICENSE"))
	if err != nil {
		t.Fatal(err)
	}
	wantTime, err := strconv.ParseInt(commitTime, 10, 64)
	if err != nil {
		t.Fatalf("commit time %q: %v", commitTime, err)
	}
	for _, p := range platforms {
		t.Run(p.String(), func(t *testing.T) {
			t.Parallel()
			entries := readArchive(t, filepath.Join(distDir, p.archive()))
			got := map[string]int64{}
			var names []string
			for _, e := range entries {
				got[e.name] = e.mode
				names = append(names, e.name)
				if !e.isRegular {
					t.Errorf("%s is not a regular file", e.name)
				}
				if e.mtime.Unix() != wantTime {
					t.Errorf("%s has time %v, want the commit's %v", e.name, e.mtime.UTC(), time.Unix(wantTime, 0).UTC())
				}
				if e.uid != 0 || e.gid != 0 {
					t.Errorf("%s is owned by %d:%d, want 0:0", e.name, e.uid, e.gid)
				}
				if p.os == "windows" && e.zipCreator != 3 {
					t.Errorf("%s: zip creator %d, want 3 (Unix) so the permission bits are kept", e.name, e.zipCreator)
				}
			}
			if !maps.Equal(got, p.files()) {
				t.Errorf("archive holds %v, want exactly %v", got, p.files())
			}
			if !sort.StringsAreSorted(names) {
				t.Errorf("entries are stored in the order %v, want sorted", names)
			}
			for _, e := range entries {
				switch {
				case e.name == "LICENSE":
					if !bytes.Equal(e.data, license) {
						t.Errorf("LICENSE differs from the repository's")
					}
				case strings.HasPrefix(e.name, "kubectl_complete-sdc"):
					if !bytes.Contains(e.data, []byte("__complete")) {
						t.Errorf("%s does not call kubectl-sdc __complete", e.name)
					}
				default:
					checkBinary(t, p, e.data)
				}
			}
		})
	}
}

// checkBinary checks the plugin binary is built for p, static, trimmed, stripped and stamped with the
// version: from its headers and the build facts the Go linker records. (Go leaves -ldflags out of those
// facts under -trimpath, so the stamp is looked for in the data itself.)
func checkBinary(t *testing.T, p platform, data []byte) {
	t.Helper()
	r := bytes.NewReader(data)
	var sections []string
	hasSymbols := false
	switch p.os {
	case "linux":
		f, err := elf.NewFile(r)
		if err != nil {
			t.Fatalf("not an ELF binary: %v", err)
		}
		want := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[p.arch]
		if f.Machine != want {
			t.Errorf("ELF machine %v, want %v", f.Machine, want)
		}
		for _, prog := range f.Progs {
			if prog.Type == elf.PT_INTERP {
				t.Errorf("the binary has an ELF interpreter: dynamically linked, so CGO was on")
			}
		}
		for _, s := range f.Sections {
			sections = append(sections, s.Name)
		}
		hasSymbols = f.Section(".symtab") != nil
	case "darwin":
		f, err := macho.NewFile(r)
		if err != nil {
			t.Fatalf("not a Mach-O binary: %v", err)
		}
		want := map[string]macho.Cpu{"amd64": macho.CpuAmd64, "arm64": macho.CpuArm64}[p.arch]
		if f.Cpu != want {
			t.Errorf("Mach-O CPU %v, want %v", f.Cpu, want)
		}
		for _, s := range f.Sections {
			sections = append(sections, s.Name)
		}
		if f.Segment("__DWARF") != nil {
			sections = append(sections, "__DWARF")
		}
	case "windows":
		f, err := pe.NewFile(r)
		if err != nil {
			t.Fatalf("not a PE binary: %v", err)
		}
		if f.Machine != pe.IMAGE_FILE_MACHINE_AMD64 {
			t.Errorf("PE machine %#x, want AMD64", f.Machine)
		}
		for _, s := range f.Sections {
			sections = append(sections, s.Name)
		}
		hasSymbols = len(f.Symbols) > 0
	}
	for _, s := range sections {
		if strings.Contains(s, "debug_info") || s == "__DWARF" {
			t.Errorf("the binary has DWARF (%s): built without -w", s)
		}
	}
	if hasSymbols {
		t.Errorf("the binary has a symbol table: built without -s")
	}
	info, err := buildinfo.Read(r)
	if err != nil {
		t.Fatalf("no Go build information in the binary: %v", err)
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	for key, want := range map[string]string{"GOOS": p.os, "GOARCH": p.arch, "CGO_ENABLED": "0", "-trimpath": "true"} {
		if settings[key] != want {
			t.Errorf("built with %s=%q, want %q", key, settings[key], want)
		}
	}
	if !bytes.Contains(data, []byte(version)) {
		t.Errorf("the binary does not hold the version %s: not stamped", version)
	}
}

var checksumLine = regexp.MustCompile(`^([0-9a-f]{64})  (\S+)$`)

// readChecksums parses a checksums.txt written in sha256sum's format.
func readChecksums(t *testing.T, dir string) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "checksums.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sums := map[string]string{}
	var order []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := checksumLine.FindStringSubmatch(sc.Text())
		if m == nil {
			t.Fatalf("checksums.txt line %q is not in sha256sum's format", sc.Text())
		}
		sums[m[2]] = m[1]
		order = append(order, m[2])
	}
	if !sort.StringsAreSorted(order) {
		t.Errorf("checksums.txt is not sorted by name: %v", order)
	}
	return sums
}

func TestChecksumsMatchTheArchives(t *testing.T) {
	needDist(t)
	sums := readChecksums(t, distDir)
	var want []string
	for _, p := range platforms {
		want = append(want, p.archive())
	}
	var got []string
	for name := range sums {
		got = append(got, name)
	}
	sort.Strings(want)
	sort.Strings(got)
	if !slices.Equal(got, want) {
		t.Fatalf("checksums.txt lists %v, want %v", got, want)
	}
	for name, sum := range sums {
		data, err := os.ReadFile(filepath.Join(distDir, name))
		if err != nil {
			t.Fatal(err)
		}
		actual := sha256.Sum256(data)
		if hex.EncodeToString(actual[:]) != sum {
			t.Errorf("%s: sha256 %x, checksums.txt says %s", name, actual, sum)
		}
	}
}

func TestRebuildGivesTheSameArchive(t *testing.T) {
	needDist(t)
	first := readChecksums(t, distDir)
	second := readChecksums(t, rebuildDir)
	name := platform{"linux", "amd64"}.archive()
	if second[name] == "" || second[name] != first[name] {
		t.Errorf("%s: first build %s, second build %s; the same commit must give the same archive (unless the working tree was edited between the two builds)", name, first[name], second[name])
	}
}
