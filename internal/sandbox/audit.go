package sandbox

import (
	"bufio"
	"encoding/json"
	"os"
	"strings"
)

// AuditEvent is the part of an apiserver audit event the tests and benchmarks count.
type AuditEvent struct {
	Stage      string `json:"stage"`
	Verb       string `json:"verb"`
	RequestURI string `json:"requestURI"`
	UserAgent  string `json:"userAgent"`
	ObjectRef  *struct {
		Resource    string `json:"resource"`
		Namespace   string `json:"namespace"`
		Name        string `json:"name"`
		Subresource string `json:"subresource"`
	} `json:"objectRef"`
	ResponseStatus *struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
}

// Mutating reports whether the request could have changed anything. A create of a review
// (SelfSubjectAccessReview, TokenReview, ...) only asks a question: nothing is stored.
func (e AuditEvent) Mutating() bool {
	if e.ObjectRef != nil && strings.HasSuffix(e.ObjectRef.Resource, "reviews") {
		return false
	}
	switch e.Verb {
	case "create", "update", "patch", "delete", "deletecollection":
		return true
	}
	return false
}

// AuditEvents returns the completed requests in the first cluster's audit log whose user agent starts
// with prefix.
func (s *Sandbox) AuditEvents(userAgentPrefix string) ([]AuditEvent, error) {
	return auditEvents(s.AuditLogPath(), userAgentPrefix)
}

func auditEvents(path, userAgentPrefix string) ([]AuditEvent, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []AuditEvent
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if !strings.Contains(string(line), userAgentPrefix) {
			continue
		}
		var e AuditEvent
		if err := json.Unmarshal(line, &e); err != nil {
			continue // a line being written right now
		}
		if e.Stage == "ResponseComplete" && strings.HasPrefix(e.UserAgent, userAgentPrefix) {
			out = append(out, e)
		}
	}
	return out, sc.Err()
}
