package plan

// A saved plan: what `bind|unbind|migrate --dry-run --out FILE` writes and `kubectl sdc apply FILE` applies
// after review. It holds the request it was made from, the facts it was made from (each resource as it was
// read), the changes with their operations, and a digest over all of that. apply refuses a file whose digest
// does not match before it reads anything, re-observes, refuses when a fact moved, re-plans, and applies only
// when the new plan is the saved one, operation for operation.

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// SavedFormat and SavedVersion name the file format; a file of another format or version is refused.
const (
	SavedFormat  = "kubectl-sdc/plan"
	SavedVersion = 1
)

// Saved is a plan file.
type Saved struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
	// Command is bind, unbind or migrate; Request is its request, in the command's own shape.
	Command string          `json:"command"`
	Plugin  SavedPlugin     `json:"plugin"`
	Created string          `json:"created"` // RFC 3339, for people; nothing depends on it
	Where   Where           `json:"where"`
	Request json.RawMessage `json:"request"`
	// Facts are the resources as the plan read them; Changes the plan.
	Facts   []Fact        `json:"facts"`
	Changes []SavedChange `json:"changes"`
	// Digest is "sha256:" and the hex SHA-256 of the file's content without it (see Seal).
	Digest string `json:"digest"`
}

// SavedPlugin is the plugin that made the plan: only the same version applies it.
type SavedPlugin struct {
	Version string `json:"version"`
	Commit  string `json:"commit"`
}

// Where is the cluster and account a plan was made for; apply refuses to run it anywhere else.
type Where struct {
	Cluster string `json:"cluster"`
	Region  string `json:"region,omitempty"`
	Issuer  string `json:"issuer,omitempty"`
	Account string `json:"account"`
	// Context, Caller and the flags are what the plan was made with, for the reader: apply runs with its own
	// kube context and credentials, and only the cluster and the account must be the same.
	Context string `json:"context,omitempty"`
	Caller  string `json:"caller,omitempty"`
	// RegionFlag and EKSClusterFlag are --region and --eks-cluster as given (apply uses them unless given
	// its own).
	RegionFlag     string `json:"regionFlag,omitempty"`
	EKSClusterFlag string `json:"eksClusterFlag,omitempty"`
}

// Fact is one resource as the plan read it. State holds the parts a plan depends on, by name (a role's
// trust, tags, attached policies...); nil State means the resource did not exist.
type Fact struct {
	ID    string                     `json:"id"`
	Kind  string                     `json:"kind"`
	Name  string                     `json:"name"`
	State map[string]json.RawMessage `json:"state,omitempty"`
}

// SavedChange is one change of the plan: as shown, and its operation as data ({"type": ..., "value": ...}).
type SavedChange struct {
	ID     string          `json:"id"`
	Kind   string          `json:"kind"`
	Name   string          `json:"name"`
	Action Action          `json:"action"`
	Deps   []string        `json:"deps,omitempty"`
	Before string          `json:"before,omitempty"`
	After  string          `json:"after,omitempty"`
	Format string          `json:"format,omitempty"`
	Notes  []string        `json:"notes,omitempty"`
	Op     json.RawMessage `json:"op,omitempty"`
}

// content is s without its digest, compact: what the digest is over. Re-indenting the file changes
// nothing; changing any value does.
func (s *Saved) content() ([]byte, error) {
	c := *s
	c.Digest = ""
	return json.Marshal(&c)
}

// Seal sets the digest and returns the file's bytes (indented JSON, for review in a pull request).
func (s *Saved) Seal() ([]byte, error) {
	s.Format, s.Version = SavedFormat, SavedVersion
	b, err := s.content()
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(b)
	s.Digest = "sha256:" + hex.EncodeToString(sum[:])
	out, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// ReadSaved parses a plan file strictly: unknown fields, another format or version, a missing part or a
// digest that does not match the content are errors, each saying what to do. It reads nothing else.
func ReadSaved(name string, data []byte) (*Saved, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var s Saved
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("plan file %s: not a kubectl-sdc plan (%v): make one with kubectl sdc bind ... --dry-run --out FILE", name, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("plan file %s: more than one JSON value: a plan file holds exactly one plan", name)
	}
	if s.Format != SavedFormat {
		return nil, fmt.Errorf("plan file %s: format %q, want %q: make one with kubectl sdc bind ... --dry-run --out FILE", name, s.Format, SavedFormat)
	}
	if s.Version != SavedVersion {
		return nil, fmt.Errorf("plan file %s: format version %d, and this kubectl-sdc reads version %d: make the plan again with this kubectl-sdc", name, s.Version, SavedVersion)
	}
	b, err := s.content()
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(b)
	if want := "sha256:" + hex.EncodeToString(sum[:]); s.Digest != want {
		return nil, fmt.Errorf("plan file %s: its digest %q does not match its content (%s): the file was changed after it was made; nothing was read or written: make the plan again", name, s.Digest, want)
	}
	switch {
	case s.Command == "":
		return nil, fmt.Errorf("plan file %s: names no command", name)
	case len(s.Request) == 0 || string(s.Request) == "null":
		return nil, fmt.Errorf("plan file %s: holds no request", name)
	case s.Where.Cluster == "" || s.Where.Account == "":
		return nil, fmt.Errorf("plan file %s: names no cluster or account", name)
	}
	return &s, nil
}

// Moved compares the facts a plan was made from with the same resources read again: one line for each
// resource that appeared, disappeared or changed, naming the parts that changed. Empty: nothing moved.
func Moved(saved, now []Fact) []string {
	byID := map[string]Fact{}
	for _, f := range now {
		byID[f.ID] = f
	}
	var out []string
	seen := map[string]bool{}
	for _, was := range saved {
		seen[was.ID] = true
		is, ok := byID[was.ID]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("%s %s: no longer read by this plan", was.Kind, was.Name))
		case was.State == nil && is.State != nil:
			out = append(out, fmt.Sprintf("%s %s: exists now, and did not when planned", is.Kind, is.Name))
		case was.State != nil && is.State == nil:
			out = append(out, fmt.Sprintf("%s %s: no longer exists", was.Kind, was.Name))
		case was.Name != is.Name:
			out = append(out, fmt.Sprintf("%s %s: is now %s", was.Kind, was.Name, is.Name))
		default:
			if parts := changedParts(was.State, is.State); len(parts) > 0 {
				out = append(out, fmt.Sprintf("%s %s: %s changed", was.Kind, was.Name, strings.Join(parts, ", ")))
			}
		}
	}
	for _, f := range now {
		if !seen[f.ID] {
			out = append(out, fmt.Sprintf("%s %s: read now, and not when planned", f.Kind, f.Name))
		}
	}
	return out
}

// changedParts are the names of the parts whose values differ (as JSON, compacted).
func changedParts(a, b map[string]json.RawMessage) []string {
	var out []string
	for k, v := range a {
		if !jsonEqual(v, b[k]) {
			out = append(out, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}

func jsonEqual(a, b json.RawMessage) bool {
	var x, y bytes.Buffer
	if json.Compact(&x, a) != nil || json.Compact(&y, b) != nil {
		return bytes.Equal(a, b)
	}
	return bytes.Equal(x.Bytes(), y.Bytes())
}

// Differences compares a saved plan's changes with the changes planned again: one line per change that is
// not the same (added, gone, another action, another document or another operation). Empty: the same plan.
func Differences(saved, now []SavedChange) []string {
	byID := map[string]SavedChange{}
	for _, c := range now {
		byID[c.ID] = c
	}
	var out []string
	seen := map[string]bool{}
	for _, was := range saved {
		seen[was.ID] = true
		is, ok := byID[was.ID]
		if !ok {
			out = append(out, fmt.Sprintf("%s %s %s: no longer planned", was.Action, was.Kind, was.Name))
			continue
		}
		var what []string
		if was.Kind != is.Kind || was.Name != is.Name {
			what = append(what, "now "+is.Kind+" "+is.Name)
		}
		if was.Action != is.Action {
			what = append(what, fmt.Sprintf("action %s, now %s", was.Action, is.Action))
		}
		if was.Before != is.Before || was.After != is.After || was.Format != is.Format {
			what = append(what, "document")
		}
		if !slices.Equal(was.Deps, is.Deps) {
			what = append(what, "order")
		}
		if !jsonEqual(was.Op, is.Op) {
			what = append(what, "operation")
		}
		if len(what) > 0 {
			out = append(out, fmt.Sprintf("%s %s %s: %s differs", was.Action, was.Kind, was.Name, strings.Join(what, ", ")))
		}
	}
	for _, c := range now {
		if !seen[c.ID] {
			out = append(out, fmt.Sprintf("%s %s %s: planned now, and not when saved", c.Action, c.Kind, c.Name))
		}
	}
	return out
}

// ErrStale is what a StaleError wraps: the world moved since the plan was saved.
var ErrStale = errors.New("saved plan is stale")

// StaleError says why a saved plan was refused: the facts that moved, or (when none did) the changes that
// would now differ. Nothing was written.
type StaleError struct {
	File      string
	Moved     []string
	Different []string
	// Again is the command that makes a new plan.
	Again string
}

func (e *StaleError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: the saved plan %s no longer holds; nothing was written", ErrStale, e.File)
	if len(e.Moved) > 0 {
		b.WriteString("\nwhat moved since it was planned:")
		for _, m := range e.Moved {
			b.WriteString("\n  " + m)
		}
	}
	if len(e.Different) > 0 {
		b.WriteString("\nthe plan made now differs from the saved one:")
		for _, d := range e.Different {
			b.WriteString("\n  " + d)
		}
	}
	if e.Again != "" {
		b.WriteString("\nreview a new plan: " + e.Again)
	}
	return b.String()
}

func (e *StaleError) Unwrap() error { return ErrStale }
