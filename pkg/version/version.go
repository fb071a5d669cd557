// Package version holds the build facts the Makefile stamps into the binary.
package version

import (
	"fmt"
	"runtime"
)

// Stamped at build time with -ldflags "-X github.com/kubectl-sdc/kubectl-sdc/pkg/version.Version=...".
var (
	Version = "v0.0.0-dev"
	Commit  = "unknown"
	Date    = "unknown"
)

// Info is what `kubectl sdc version` prints.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	BuildDate string `json:"buildDate"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// Get returns the build facts of the running binary.
func Get() Info {
	return Info{
		Version:   Version,
		Commit:    Commit,
		BuildDate: Date,
		GoVersion: runtime.Version(),
		Platform:  runtime.GOOS + "/" + runtime.GOARCH,
	}
}

// UserAgent is sent on every Kubernetes and AWS request the plugin makes, so audit logs can tell it apart.
func UserAgent() string {
	return fmt.Sprintf("kubectl-sdc/%s (%s/%s)", Version, runtime.GOOS, runtime.GOARCH)
}
