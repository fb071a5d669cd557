package main

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"time"
)

// startupCase is one command whose start-to-exit time is measured, beside the kubectl command that does
// the same kind of nothing.
type startupCase struct {
	Name     string   // as shown in the table
	Args     []string // to the plugin binary itself (not through kubectl)
	Baseline []string // kubectl args
}

var startupCases = []startupCase{
	{Name: "kubectl-sdc --help", Args: []string{"--help"}, Baseline: []string{"--help"}},
	{Name: "kubectl-sdc version", Args: []string{"version"}, Baseline: []string{"version", "--client"}},
}

// startupResult is the median start-to-exit time of a command over reps runs.
type startupResult struct {
	Name             string    `json:"name"`
	Reps             int       `json:"reps"`
	MedianMS         float64   `json:"median_ms"`
	SamplesMS        []float64 `json:"samples_ms"`
	Baseline         string    `json:"baseline"`
	BaselineMedianMS float64   `json:"baseline_median_ms"`
	Ratio            float64   `json:"ratio"`
}

// measureStartup runs each case and its kubectl baseline reps times, alternating so both see the same noise;
// it also times `kubectl sdc version`, which is what users type (kubectl's own start plus the plugin's).
func measureStartup(ctx context.Context, tb *toolbox, reps int) ([]startupResult, error) {
	var out []startupResult
	cases := append([]startupCase(nil), startupCases...)
	cases = append(cases, startupCase{Name: "kubectl sdc version (through kubectl)", Baseline: []string{"version", "--client"}})
	for _, c := range cases {
		var own, base []time.Duration
		for range reps {
			var r cmdResult
			var err error
			if c.Args == nil {
				r, err = tb.run(ctx, nil, "kubectl", "sdc", "version")
			} else {
				r, err = tb.run(ctx, nil, tb.plugin, c.Args...)
			}
			if err != nil {
				return nil, err
			}
			if r.Code != 0 {
				return nil, fmt.Errorf("startup case %q failed:\n%s", c.Name, r)
			}
			own = append(own, r.Wall)
			b, err := tb.run(ctx, nil, "kubectl", c.Baseline...)
			if err != nil {
				return nil, err
			}
			if b.Code != 0 {
				return nil, fmt.Errorf("startup baseline kubectl %s failed:\n%s", strings.Join(c.Baseline, " "), b)
			}
			base = append(base, b.Wall)
		}
		res := startupResult{Name: c.Name, Reps: reps, MedianMS: ms(median(own)), SamplesMS: msAll(own),
			Baseline: "kubectl " + strings.Join(c.Baseline, " "), BaselineMedianMS: ms(median(base))}
		res.Ratio = ratio(res.MedianMS, res.BaselineMedianMS)
		out = append(out, res)
	}
	return out, nil
}

// binaryReport is the stripped release binary's size and what it is made of.
type binaryReport struct {
	Target        string         `json:"target"` // linux/amd64
	StrippedBytes int64          `json:"stripped_bytes"`
	KubectlBytes  int64          `json:"kubectl_bytes"` // the kubectl on PATH, for scale
	Sections      map[string]int `json:"sections"`      // bytes of .text, .rodata, .gopclntab, data
	// AttributedBytes is the part of the file that symbols account for (code, read-only and initialised
	// data); the rest is mostly .gopclntab, the line tables, which grow with code.
	AttributedBytes int          `json:"attributed_bytes"`
	TopPackages     []weightedID `json:"top_packages"`
	TopModules      []weightedID `json:"top_modules"`
}

type weightedID struct {
	Name  string `json:"name"`
	Bytes int    `json:"bytes"`
}

// measureBinary reports the stripped binary's size and, from the symbols of an unstripped build of the same
// code, which packages and modules take the space (`go tool nm -size -sort size`, summed by package).
func measureBinary(ctx context.Context, tb *toolbox, stripped, unstripped string, top int) (binaryReport, error) {
	rep := binaryReport{Target: "linux/amd64", Sections: map[string]int{}}
	st, err := os.Stat(stripped)
	if err != nil {
		return rep, err
	}
	rep.StrippedBytes = st.Size()
	if k, err := tb.lookPath("kubectl"); err == nil {
		if st, err := os.Stat(k); err == nil {
			rep.KubectlBytes = st.Size()
		}
	}
	f, err := elf.Open(unstripped)
	if err != nil {
		return rep, fmt.Errorf("reading the sections of %s: %w", unstripped, err)
	}
	defer f.Close()
	var noBits [][2]uint64 // .bss and .noptrbss take address space, not file space
	for _, s := range f.Sections {
		switch {
		case s.Type == elf.SHT_NOBITS:
			noBits = append(noBits, [2]uint64{s.Addr, s.Addr + s.Size})
		case s.Name == ".text" || s.Name == ".rodata" || s.Name == ".gopclntab":
			rep.Sections[s.Name] = int(s.Size)
		case s.Name == ".data" || s.Name == ".noptrdata":
			rep.Sections[".data+.noptrdata"] += int(s.Size)
		}
	}
	cmd := exec.CommandContext(ctx, "go", "tool", "nm", "-size", "-sort", "size", unstripped)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return rep, fmt.Errorf("go tool nm -size %s: %v: %s", unstripped, err, stderr.String())
	}
	byPkg := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		addr, size, kind, name, ok := parseNMLine(sc.Text())
		if !ok || size == 0 || !strings.ContainsAny(kind, "TtRrDd") || inRanges(addr, noBits) {
			continue
		}
		byPkg[symbolPackage(name)] += size
		rep.AttributedBytes += size
	}
	if err := sc.Err(); err != nil {
		return rep, err
	}
	mods, err := binaryModules(ctx, stripped)
	if err != nil {
		return rep, err
	}
	byMod := map[string]int{}
	for p, n := range byPkg {
		byMod[moduleOf(p, mods)] += n
	}
	rep.TopPackages = heaviest(byPkg, top)
	rep.TopModules = heaviest(byMod, top)
	return rep, nil
}

// parseNMLine splits "  addr size kind name": the name may contain spaces (type:map[string]interface {}).
func parseNMLine(line string) (addr uint64, size int, kind, name string, ok bool) {
	f := strings.Fields(line)
	if len(f) < 4 {
		return 0, 0, "", "", false
	}
	a, err1 := strconv.ParseUint(f[0], 16, 64)
	s, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil {
		return 0, 0, "", "", false
	}
	i := strings.Index(line, " "+f[2]+" ")
	return a, s, f[2], strings.TrimSpace(line[i+len(f[2])+2:]), true
}

func inRanges(a uint64, rs [][2]uint64) bool {
	for _, r := range rs {
		if a >= r[0] && a < r[1] {
			return true
		}
	}
	return false
}

// symbolPackage is the import path a Go symbol belongs to: "k8s.io/api/core/v1.(*Pod).Marshal" is
// k8s.io/api/core/v1. Type descriptors count for the package of the type; the linker's own tables (go:...)
// and symbols of no package are grouped under a name in parentheses.
func symbolPackage(name string) string {
	switch {
	case strings.HasPrefix(name, "go:"):
		return "(go: funcdata, strings, itabs)"
	case strings.HasPrefix(name, "type:"):
		name = strings.TrimPrefix(name, "type:")
		name = strings.TrimPrefix(name, ".eq.")
		name = strings.TrimLeft(name, "*")
		if !namedType(name) {
			return "(type descriptors of composite types)"
		}
	}
	if i := strings.IndexAny(name, "[("); i >= 0 {
		// Generic instantiations and method receivers: the package is before them ("pkg.(*T).M", "pkg.F[...]").
		if i > 0 && name[i-1] == '.' {
			return name[:i-1]
		}
		name = name[:i]
	}
	slash := strings.LastIndex(name, "/")
	dot := strings.Index(name[slash+1:], ".")
	if dot < 0 {
		if slash < 0 {
			return "(no package)"
		}
		return name
	}
	return name[:slash+1+dot]
}

// namedType tells a named type ("k8s.io/api/core/v1.Pod") from a composite one ("map[string]int", "[4]T").
func namedType(name string) bool {
	for _, p := range []string{"map[", "func(", "struct {", "struct{", "chan ", "<-chan ", "interface {", "interface{"} {
		if strings.HasPrefix(name, p) {
			return false
		}
	}
	return name != "" && (name[0] >= 'a' && name[0] <= 'z' || name[0] >= 'A' && name[0] <= 'Z')
}

// binaryModules are the module paths `go version -m` lists for a binary (the main module included).
func binaryModules(ctx context.Context, bin string) ([]string, error) {
	out, err := exec.CommandContext(ctx, "go", "version", "-m", bin).Output()
	if err != nil {
		return nil, fmt.Errorf("go version -m %s: %w", bin, err)
	}
	var mods []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && (f[0] == "mod" || f[0] == "dep") {
			mods = append(mods, f[1])
		}
	}
	// Longest first, so that a nested module wins over its parent.
	sort.Slice(mods, func(i, j int) bool { return len(mods[i]) > len(mods[j]) })
	return mods, nil
}

// moduleOf is the module a package is in: the longest module path that is a prefix of it; "std" for the
// standard library (vendor/ included) and the groups in parentheses are their own.
func moduleOf(pkg string, mods []string) string {
	if strings.HasPrefix(pkg, "(") {
		return pkg
	}
	for _, m := range mods {
		if pkg == m || strings.HasPrefix(pkg, m+"/") {
			return m
		}
	}
	return "std"
}

func heaviest(m map[string]int, n int) []weightedID {
	out := make([]weightedID, 0, len(m))
	for k, v := range m {
		out = append(out, weightedID{k, v})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Bytes != out[j].Bytes {
			return out[i].Bytes > out[j].Bytes
		}
		return out[i].Name < out[j].Name
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}
