package catalog

import (
	"fmt"
	"strconv"
	"strings"
)

// MinSDCVersion returns the highest minimum SDC version among the libraries of the given stages: the
// oldest SDC whose stage libraries can all use web identity credentials. "" when no library states one.
func (c *Catalog) MinSDCVersion(stages []string) (string, error) {
	best := ""
	for _, name := range stages {
		s, ok := c.Stage(name)
		if !ok {
			return "", fmt.Errorf("--stage %q: unknown stage; known: %s", name, strings.Join(c.StageNames(), ", "))
		}
		l, ok := c.Library(s.Library)
		if !ok || l.MinSDCVersion == "" {
			continue
		}
		if best == "" {
			best = l.MinSDCVersion
			continue
		}
		if cmp, err := CompareVersions(l.MinSDCVersion, best); err == nil && cmp > 0 {
			best = l.MinSDCVersion
		}
	}
	return best, nil
}

// CompareVersions compares dotted SDC versions numerically (3.19.0 > 3.9.1), ignoring a leading "v" and
// a build suffix after '-' (3.22.3-0034): -1, 0 or 1. Missing components count as 0.
func CompareVersions(a, b string) (int, error) {
	va, err := parseVersion(a)
	if err != nil {
		return 0, err
	}
	vb, err := parseVersion(b)
	if err != nil {
		return 0, err
	}
	for i := 0; i < max(len(va), len(vb)); i++ {
		x, y := at(va, i), at(vb, i)
		switch {
		case x < y:
			return -1, nil
		case x > y:
			return 1, nil
		}
	}
	return 0, nil
}

func at(v []int, i int) int {
	if i < len(v) {
		return v[i]
	}
	return 0
}

func parseVersion(s string) ([]int, error) {
	core, _, _ := strings.Cut(strings.TrimPrefix(s, "v"), "-")
	parts := strings.Split(core, ".")
	if core == "" || len(parts) > 4 {
		return nil, fmt.Errorf("version %q is not MAJOR.MINOR.PATCH", s)
	}
	out := make([]int, len(parts))
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("version %q is not MAJOR.MINOR.PATCH", s)
		}
		out[i] = n
	}
	return out, nil
}

// AssumeRoleMinSDCVersion returns the oldest SDC whose libraries of the given stages all have "Assume
// Another Role" and can use web identity credentials: the highest of their assumeRoleMinSDCVersion and
// minSDCVersion. without lists the stages whose library has no known Assume Another Role.
func (c *Catalog) AssumeRoleMinSDCVersion(stages []string) (version string, without []string, err error) {
	if version, err = c.MinSDCVersion(stages); err != nil {
		return "", nil, err
	}
	for _, name := range stages {
		s, _ := c.Stage(name)
		l, ok := c.Library(s.Library)
		if !ok || l.AssumeRoleMinSDCVersion == "" {
			without = append(without, name)
			continue
		}
		if version == "" {
			version = l.AssumeRoleMinSDCVersion
			continue
		}
		if cmp, err := CompareVersions(l.AssumeRoleMinSDCVersion, version); err == nil && cmp > 0 {
			version = l.AssumeRoleMinSDCVersion
		}
	}
	return version, without, nil
}
