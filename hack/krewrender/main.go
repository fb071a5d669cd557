// Command krewrender renders the krew-release-bot template (.krew.yaml) for the archives of a local
// `make dist`, the way the bot renders it for a published release: the same template function
// (addURIAndSha) and value (.TagName), but each sha256 is computed from the file in the dist
// directory that the release URL names, instead of downloading it.
//
//	krewrender -template .krew.yaml -tag v1.2.3 -dist dist -o dist/sdc.yaml [-file-uris]
//
// Without -file-uris the manifest keeps the release URLs, so it is the manifest the bot would open a pull
// request with (install it offline with `kubectl krew install --manifest=... --archive=...`); with
// -file-uris each uri is the file:// URL of the local archive.
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"text/template"
)

func main() {
	var r renderer
	var templatePath, out string
	flag.StringVar(&templatePath, "template", ".krew.yaml", "krew-release-bot template")
	flag.StringVar(&r.tag, "tag", "", "release tag the archives were built for (vX.Y.Z)")
	flag.StringVar(&r.dist, "dist", "dist", "directory holding the archives")
	flag.BoolVar(&r.fileURIs, "file-uris", false, "point each uri at the local archive (file://) instead of the release URL")
	flag.StringVar(&out, "o", "", "where to write the manifest (default: standard output)")
	flag.Parse()
	src, err := os.ReadFile(templatePath)
	if err == nil {
		var manifest []byte
		manifest, err = r.render(filepath.Base(templatePath), string(src))
		if err == nil {
			if out == "" {
				_, err = os.Stdout.Write(manifest)
			} else {
				err = os.WriteFile(out, manifest, 0o644)
			}
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "krewrender: %v\n", err)
		os.Exit(1)
	}
}

// renderer holds what the rendering needs besides the template.
type renderer struct {
	tag      string
	dist     string
	fileURIs bool
}

// values are what krew-release-bot hands the template; a template that uses anything else would render
// here and then fail in the bot, so nothing else is offered.
type values struct{ TagName string }

// urlValues are what the bot hands the URL template inside addURIAndSha.
type urlValues struct{ TagName, Version string }

var semverCore = regexp.MustCompile(`\d+(\.\d+)+`)

func (r renderer) render(name, src string) ([]byte, error) {
	if r.tag == "" {
		return nil, errors.New("-tag is empty: pass the version the archives were built with, for example -tag v1.2.3")
	}
	var missing []string
	funcs := template.FuncMap{
		"addURIAndSha": func(rawURL, tag string) (string, error) {
			u, err := r.expandURL(rawURL, tag)
			if err != nil {
				return "", err
			}
			archive := filepath.Join(r.dist, path.Base(u))
			data, err := os.ReadFile(archive)
			if errors.Is(err, fs.ErrNotExist) {
				missing = append(missing, archive)
				return "uri: " + u + "\n    sha256: missing", nil
			}
			if err != nil {
				return "", err
			}
			sum := sha256.Sum256(data)
			if r.fileURIs {
				abs, err := filepath.Abs(archive)
				if err != nil {
					return "", err
				}
				u = (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String()
			}
			// The same two lines, with the same indentation, as the bot writes.
			return fmt.Sprintf("uri: %s\n    sha256: %s", u, hex.EncodeToString(sum[:])), nil
		},
	}
	t, err := template.New(name).Option("missingkey=error").Funcs(funcs).Parse(src)
	if err != nil {
		return nil, fmt.Errorf("parsing the template %s: %w", name, err)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, values{TagName: r.tag}); err != nil {
		return nil, fmt.Errorf("rendering %s for %s: %w", name, r.tag, err)
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("the manifest for %s names archives that are not in %s: %s; run make dist VERSION=%s first",
			r.tag, r.dist, strings.Join(missing, ", "), r.tag)
	}
	return buf.Bytes(), nil
}

// expandURL renders the release URL template the bot nests in addURIAndSha's first argument.
func (r renderer) expandURL(rawURL, tag string) (string, error) {
	t, err := template.New("url").Option("missingkey=error").Parse(rawURL)
	if err != nil {
		return "", fmt.Errorf("parsing the URL %q: %w", rawURL, err)
	}
	version := semverCore.FindString(tag)
	if version == "" {
		version = tag
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, urlValues{TagName: tag, Version: version}); err != nil {
		return "", fmt.Errorf("rendering the URL %q: %w", rawURL, err)
	}
	return buf.String(), nil
}
