// Package cfnspec validates CloudFormation templates against the resource registry schemas that
// @aws-cdk/aws-service-spec holds (a test-only npm package pinned by testdata/package-lock.json, installed by
// `make cfnspec-deps` into testdata/node_modules, which git ignores): resource types, property names,
// required properties and value types. It is an oracle we did not write for bind -o cloudformation.
package cfnspec

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/kubectl-sdc/kubectl-sdc/test/oracle"
)

// Dir is the npm project's directory (package.json, package-lock.json, validate.js).
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "testdata")
}

// Result is what the validator said.
type Result struct {
	Version  string   `json:"version"` // of @aws-cdk/aws-service-spec
	Checked  int      `json:"checked"` // resources
	Problems []string `json:"problems"`
}

// Validate checks templates; a missing node or install fails t with what to do.
func Validate(t testing.TB, templates []map[string]any) Result {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is not on PATH: the CloudFormation schema tests need Node and npm (Debian: apt-get install nodejs npm), then `make cfnspec-deps`")
	}
	dir := Dir()
	if err := oracle.CheckInstalled(dir); err != nil {
		t.Fatalf("%v: run `make cfnspec-deps` (npm ci in %s)", err, dir)
	}
	in, err := json.Marshal(templates)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, "validate.js")
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); !strings.HasPrefix(k, "NODE_") && !strings.HasPrefix(strings.ToLower(k), "npm_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("validate.js: %v\n%s", err, stderr.String())
	}
	var r Result
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("validate.js answered %q: %v", out, err)
	}
	return r
}
