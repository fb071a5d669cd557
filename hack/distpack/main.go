// Command distpack packs the cross-compiled plugin binaries into the release archives and writes their
// checksums. It is called by hack/dist.sh after the builds; Go rather than tar and zip because the archives
// must be byte-for-byte the same for the same commit on any machine (GNU tar, BSD tar and zip disagree on
// the flags that fix order, owners and times).
//
//	distpack -version v1.2.3 -dir dist -license LICENSE -helper hack/kubectl_complete-sdc \
//	  -helper-windows hack/kubectl_complete-sdc.cmd -mtime 1700000000 linux/amd64 windows/amd64 ...
//
// For each os/arch it reads DIR/build/<os>_<arch>/kubectl-sdc[.exe] and writes
// DIR/kubectl-sdc_<version>_<os>_<arch>.tar.gz (.zip for windows); then DIR/checksums.txt in the format of
// sha256sum, sorted by file name.
package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

func main() {
	var o options
	flag.StringVar(&o.version, "version", "", "release version, as in the archive names (vX.Y.Z)")
	flag.StringVar(&o.dir, "dir", "dist", "dist directory: binaries are read from DIR/build/<os>_<arch>/, archives written to DIR")
	flag.StringVar(&o.license, "license", "LICENSE", "license file to put in every archive")
	flag.StringVar(&o.helper, "helper", "hack/kubectl_complete-sdc", "kubectl completion helper for Linux and macOS")
	flag.StringVar(&o.helperWindows, "helper-windows", "hack/kubectl_complete-sdc.cmd", "kubectl completion helper for Windows")
	flag.Int64Var(&o.mtime, "mtime", 0, "modification time of every archive entry, in seconds since 1970 (the commit's time)")
	flag.Parse()
	o.platforms = flag.Args()
	names, err := o.pack()
	if err != nil {
		fmt.Fprintf(os.Stderr, "distpack: %v\n", err)
		os.Exit(1)
	}
	for _, n := range names {
		fmt.Println(filepath.Join(o.dir, n))
	}
}

type options struct {
	version, dir, license, helper, helperWindows string
	mtime                                        int64
	platforms                                    []string
}

// entry is one file of an archive, in the order it is written.
type entry struct {
	name string
	mode int64
	data []byte
}

// pack writes every archive and checksums.txt, and returns the names it wrote.
func (o options) pack() ([]string, error) {
	if o.version == "" {
		return nil, fmt.Errorf("-version is empty: pass the release version, for example -version v1.2.3")
	}
	if len(o.platforms) == 0 {
		return nil, fmt.Errorf("no platforms given: pass them as arguments, for example linux/amd64 darwin/arm64")
	}
	license, err := os.ReadFile(o.license)
	if err != nil {
		return nil, fmt.Errorf("reading the license to pack: %w", err)
	}
	mtime := time.Unix(o.mtime, 0).UTC()
	sums := map[string]string{}
	for _, p := range o.platforms {
		goos, goarch, ok := strings.Cut(p, "/")
		if !ok || goos == "" || goarch == "" {
			return nil, fmt.Errorf("platform %q is not os/arch: write it like linux/amd64", p)
		}
		bin, helper, ext := "kubectl-sdc", o.helper, ".tar.gz"
		if goos == "windows" {
			bin, helper, ext = "kubectl-sdc.exe", o.helperWindows, ".zip"
		}
		binPath := filepath.Join(o.dir, "build", goos+"_"+goarch, bin)
		binData, err := os.ReadFile(binPath)
		if err != nil {
			return nil, fmt.Errorf("reading the %s binary: %w (hack/dist.sh builds it first)", p, err)
		}
		helperData, err := os.ReadFile(helper)
		if err != nil {
			return nil, fmt.Errorf("reading the completion helper for %s: %w", p, err)
		}
		entries := []entry{
			{name: "LICENSE", mode: 0o644, data: license},
			{name: bin, mode: 0o755, data: binData},
			{name: filepath.Base(helper), mode: 0o755, data: helperData},
		}
		// Byte order of names, so the archive does not depend on the order of this list.
		sort.Slice(entries, func(i, j int) bool { return entries[i].name < entries[j].name })
		var archive []byte
		if ext == ".zip" {
			archive, err = zipArchive(entries, mtime)
		} else {
			archive, err = tarGz(entries, mtime)
		}
		if err != nil {
			return nil, fmt.Errorf("packing %s: %w", p, err)
		}
		name := fmt.Sprintf("kubectl-sdc_%s_%s_%s%s", o.version, goos, goarch, ext)
		if err := os.WriteFile(filepath.Join(o.dir, name), archive, 0o644); err != nil {
			return nil, err
		}
		sum := sha256.Sum256(archive)
		sums[name] = hex.EncodeToString(sum[:])
	}
	names := make([]string, 0, len(sums))
	for n := range sums {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "%s  %s\n", sums[n], n)
	}
	if err := os.WriteFile(filepath.Join(o.dir, "checksums.txt"), []byte(b.String()), 0o644); err != nil {
		return nil, err
	}
	return append(names, "checksums.txt"), nil
}

// tarGz writes a gzip-compressed tar with root-owned entries of one fixed time and no gzip name or time.
func tarGz(entries []entry, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	gz, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		h := &tar.Header{
			Typeflag: tar.TypeReg,
			Name:     e.name,
			Mode:     e.mode,
			Size:     int64(len(e.data)),
			ModTime:  mtime,
			Uname:    "root",
			Gname:    "root",
			Format:   tar.FormatPAX,
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// zipArchive writes a deflated zip whose entries all carry one fixed time and Unix permissions.
func zipArchive(entries []entry, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate, Modified: mtime}
		h.SetMode(os.FileMode(e.mode))
		w, err := zw.CreateHeader(h)
		if err != nil {
			return nil, err
		}
		if _, err := io.Copy(w, bytes.NewReader(e.data)); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
