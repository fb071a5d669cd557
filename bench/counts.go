package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/client-go/rest"

	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox"
)

// awsCall is one API call as the sandbox's AWS front logged it: when it arrived and how long the front took
// to answer it (the injected latency included).
type awsCall struct {
	Key      string // "iam:GetRole"
	Start    time.Time
	Duration time.Duration
	Status   int
}

func (c awsCall) end() time.Time { return c.Start.Add(c.Duration) }

// frontLine is the front's log line for one call: "<RFC3339Nano> <service:Action> <METHOD> <path> -> <status> in <duration>".
// It is not anchored: other writers to the same log (moto's request log) write partial lines, and the
// front's line, always written whole, can land after one of those fragments.
var frontLine = regexp.MustCompile(`(\d{4}-\d\d-\d\dT[0-9:.]+Z) ([a-z0-9-]+:[A-Za-z0-9]+) [A-Z]+ \S+ -> (\d{3}) in (\S+)`)

// callLog is the io.Writer the sandbox logs to. It keeps the AWS front's call lines, parsed, so that a run's
// calls can be laid out in time (which ones overlapped, which waited for another), and copies every line to
// an optional file for when something goes wrong.
type callLog struct {
	mu    sync.Mutex
	tee   io.Writer
	part  []byte
	calls []awsCall
}

func (l *callLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.tee != nil {
		_, _ = l.tee.Write(p)
	}
	l.part = append(l.part, p...)
	for {
		i := bytes.IndexByte(l.part, '\n')
		if i < 0 {
			break
		}
		line := string(l.part[:i])
		l.part = l.part[i+1:]
		if c, ok := parseFrontLine(line); ok {
			l.calls = append(l.calls, c)
		}
	}
	// Keep the slice from growing over a long run of unrelated partial writes.
	if len(l.part) == 0 {
		l.part = nil
	}
	return len(p), nil
}

func parseFrontLine(line string) (awsCall, bool) {
	m := frontLine.FindStringSubmatch(line)
	if m == nil {
		return awsCall{}, false
	}
	start, err := time.Parse(time.RFC3339Nano, m[1])
	if err != nil {
		return awsCall{}, false
	}
	d, err := time.ParseDuration(m[4])
	if err != nil {
		return awsCall{}, false
	}
	var status int
	fmt.Sscanf(m[3], "%d", &status)
	return awsCall{Key: m[2], Start: start, Duration: d, Status: status}, true
}

// mark is the position a run's calls start from.
func (l *callLog) mark() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.calls)
}

// since returns the calls logged after mark once there are want of them: the front writes its log line
// after it has answered, so the last line can trail the client's exit by a moment.
func (l *callLog) since(ctx context.Context, mark, want int) ([]awsCall, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		l.mu.Lock()
		got := append([]awsCall(nil), l.calls[mark:]...)
		l.mu.Unlock()
		if len(got) >= want {
			return got, nil
		}
		if time.Now().After(deadline) {
			return got, fmt.Errorf("the AWS front counted %d calls but logged %d within 10s; is the sandbox's log writer the bench's?", want, len(got))
		}
		select {
		case <-ctx.Done():
			return got, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// sequentialRoundTrips is the length of the longest chain of calls that each began after the previous one
// had been answered: the number of AWS round trips the caller waited for one after another. Calls made in
// parallel overlap by about the injected latency; calls made one after another overlap, if at all, by the
// moment between the front's answer and its log line, so two calls count as sequential when they overlap
// by less than half the latency.
func sequentialRoundTrips(calls []awsCall, latency time.Duration) int {
	return len(sequentialChain(calls, latency))
}

// sequentialChain is one longest chain of one-after-another calls (see sequentialRoundTrips), in order. It
// is built from the end: the call that started last, then, among the calls answered before it started,
// again the one that started last, and so on. That gives a longest chain (the mirror of interval
// scheduling's earliest-end rule), and its links are each call's most likely cause: the answer it waited for.
func sequentialChain(calls []awsCall, latency time.Duration) []awsCall {
	byStart := append([]awsCall(nil), calls...)
	sort.SliceStable(byStart, func(i, j int) bool { return byStart[i].Start.After(byStart[j].Start) })
	slack := latency / 2
	var chain []awsCall
	for _, c := range byStart {
		if len(chain) == 0 || !c.end().Add(-slack).After(chain[len(chain)-1].Start) {
			chain = append(chain, c)
		}
	}
	slices.Reverse(chain)
	return chain
}

// auditLog reads one cluster's apiserver audit log from an offset, so a run's requests are found without
// re-reading everything that came before (seeding a large cluster writes tens of thousands of events).
type auditLog struct {
	c        *sandbox.Cluster
	sentinel *http.Client
	seq      atomic.Int64
}

func newAuditLog(c *sandbox.Cluster) (*auditLog, error) {
	cfg := rest.CopyConfig(c.RESTConfig)
	cfg.UserAgent = "sdc-bench-sentinel"
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("an HTTP client for the apiserver of %s: %w", c.Name, err)
	}
	return &auditLog{c: c, sentinel: hc}, nil
}

// mark is the audit log's current size: the offset a run's events start after.
func (a *auditLog) mark() (int64, error) {
	st, err := os.Stat(a.c.AuditLogPath())
	if err != nil {
		return 0, fmt.Errorf("the sandbox's audit log: %w", err)
	}
	return st.Size(), nil
}

// since returns the completed requests after offset whose user agent starts with prefix. It first sends a
// request of its own and waits for its event, so that every earlier request is in the log.
func (a *auditLog) since(ctx context.Context, offset int64, prefix string) ([]sandbox.AuditEvent, error) {
	ua := fmt.Sprintf("sdc-bench-sentinel-%d-%d", os.Getpid(), a.seq.Add(1))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.c.APIServerURL+"/api/v1/namespaces/default", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", ua)
	resp, err := a.sentinel.Do(req)
	if err != nil {
		return nil, fmt.Errorf("the audit log sentinel request: %w", err)
	}
	resp.Body.Close()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var found bool
		events, err := a.read(offset, func(e sandbox.AuditEvent) bool {
			if e.UserAgent == ua {
				found = true
			}
			return strings.HasPrefix(e.UserAgent, prefix)
		})
		if err != nil {
			return nil, err
		}
		if found {
			return events, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the audit log %s did not show the sentinel request within 15s", a.c.AuditLogPath())
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// read parses the completed requests after offset and keeps those keep accepts (keep sees every one).
func (a *auditLog) read(offset int64, keep func(sandbox.AuditEvent) bool) ([]sandbox.AuditEvent, error) {
	f, err := os.Open(a.c.AuditLogPath())
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return nil, err
	}
	var out []sandbox.AuditEvent
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e sandbox.AuditEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			continue // a line cut at the offset, or one being written right now
		}
		if e.Stage == "ResponseComplete" && keep(e) {
			out = append(out, e)
		}
	}
	return out, sc.Err()
}

// kubeSummary is what a run asked the apiserver.
type kubeSummary struct {
	Requests int            `json:"requests"`
	Writes   int            `json:"writes"`
	ByVerb   map[string]int `json:"by_verb"` // "list pods": 2
}

func summarizeKube(events []sandbox.AuditEvent) kubeSummary {
	s := kubeSummary{ByVerb: map[string]int{}}
	for _, e := range events {
		s.Requests++
		if e.Mutating() {
			s.Writes++
		}
		what := e.RequestURI
		if e.ObjectRef != nil {
			what = e.ObjectRef.Resource
			if e.ObjectRef.Subresource != "" {
				what += "/" + e.ObjectRef.Subresource
			}
		} else if i := strings.IndexByte(what, '?'); i >= 0 {
			what = what[:i]
		}
		s.ByVerb[e.Verb+" "+what]++
	}
	return s
}
