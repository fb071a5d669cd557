// Package testenv keeps the developer's shell out of the tests: AWS settings, kubeconfig, color and the
// plugin's own defaults are cleared before a package's tests run, so a test passes or fails the same
// whatever the shell holds. Tests that need one of these variables set it themselves (t.Setenv).
package testenv

import (
	"os"
	"path/filepath"
	"strings"
)

// prefixes name the variables cleared by their start: every AWS SDK and CLI setting and the plugin's own
// KUBECTL_SDC_* defaults.
var prefixes = []string{"AWS_", "KUBECTL_SDC_"}

// names are the other variables cleared.
var names = []string{"KUBECONFIG", "NO_COLOR", "CLICOLOR_FORCE", "FORCE_COLOR"}

// Isolate clears the variables above and points the AWS configuration and credentials files at files that
// do not exist (so ~/.aws is not read either), and turns off the instance metadata lookup. Call it from
// TestMain before m.Run; it returns a function that removes the directory it made.
func Isolate() (cleanup func()) {
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		for _, p := range prefixes {
			if strings.HasPrefix(k, p) {
				os.Unsetenv(k)
			}
		}
	}
	for _, k := range names {
		os.Unsetenv(k)
	}
	dir, err := os.MkdirTemp("", "kubectl-sdc-testenv-")
	if err != nil {
		dir = os.TempDir()
	}
	os.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "no-config"))
	os.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "no-credentials"))
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	return func() { _ = os.RemoveAll(dir) }
}
