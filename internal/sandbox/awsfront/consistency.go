package awsfront

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Real IAM replicates new entities for seconds after it acknowledged them. The front imitates that for
// roles, managed policies and OIDC providers created through it while consistency_delay_ms is set: reads,
// attachments, updates and STS do not see them yet; creates and deletes reach the primary at once.

// entity keys in Front.created.
func roleKey(name string) string  { return "role:" + strings.ToLower(name) } // role names are case-insensitive
func policyKey(arn string) string { return "policy:" + arn }
func oidcKey(arn string) string   { return "oidc:" + arn }

// createdForget bounds the memory of creations; no sensible window is this long.
const createdForget = time.Hour

// remember records that an entity was created now.
func (f *Front) remember(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	for k, t := range f.created {
		if now.Sub(t) > createdForget {
			delete(f.created, k)
		}
	}
	f.created[key] = now
}

// hideFromNow hides key as if it were created now, and returns what undoes that.
func (f *Front) hideFromNow(key string) (restore func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	prev, had := f.created[key]
	f.created[key] = time.Now()
	return func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		if had {
			f.created[key] = prev
		} else {
			delete(f.created, key)
		}
	}
}

// createdKey is the consistency key of the entity a create call makes; "" when it cannot be known.
func (f *Front) createdKey(c *call) string {
	account := f.callerAccount(c)
	switch c.Action {
	case "CreateRole":
		return roleKey(c.Params.Get("RoleName"))
	case "CreatePolicy":
		path := c.Params.Get("Path")
		if path == "" {
			path = "/"
		}
		return policyKey("arn:aws:iam::" + account + ":policy" + path + c.Params.Get("PolicyName"))
	case "CreateOpenIDConnectProvider":
		return oidcKey("arn:aws:iam::" + account + ":oidc-provider/" + strings.TrimSuffix(strings.TrimPrefix(c.Params.Get("Url"), "https://"), "/"))
	}
	return ""
}

// hidden tells whether an entity is still inside the consistency window.
func (f *Front) hidden(key string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.created[key]
	if !ok || f.faults.ConsistencyDelayMS <= 0 {
		return false
	}
	return time.Since(t) < time.Duration(f.faults.ConsistencyDelayMS)*time.Millisecond
}

// listContainers are the list elements of IAM's List* answers that the window filters.
var listContainers = map[string]string{
	"ListRoles":                  "Roles",
	"ListPolicies":               "Policies",
	"ListOpenIDConnectProviders": "OpenIDConnectProviderList",
}

// serveIAM authorizes an IAM call (iamauthz.go) and forwards it, applying the consistency window; the front
// answers SimulatePrincipalPolicy itself (simulate.go).
func (f *Front) serveIAM(w http.ResponseWriter, r *http.Request, c *call) {
	if !f.authorizeIAM(w, r, c) {
		return
	}
	if c.Action == "SimulatePrincipalPolicy" {
		f.simulatePrincipalPolicy(w, r, c)
		return
	}
	if e, ok := f.invisible(c); ok {
		e.write(w, r, c.Service)
		return
	}
	if c.Write {
		f.iamWriteMu.Lock()
		defer f.iamWriteMu.Unlock()
	}
	if clientIDOps[c.Action] {
		f.changeClientIDs(w, r, c)
		return
	}
	if keyOps[c.Action] && c.Action != "DeleteUser" {
		f.serveKeyOp(w, r, c)
		return
	}
	if f.staleRead(w, r, c) {
		return
	}
	if key, st, ok := f.beforeUpdate(r.Context(), c); ok {
		resp, body, err := f.fetch(r, c)
		if err != nil {
			f.motoUnreachable(w, r, c, err)
			return
		}
		if resp.StatusCode == http.StatusOK {
			f.updated(key, st)
		}
		reply(w, resp, body)
		return
	}
	if userBoundaryOps[c.Action] {
		if c.Action == "DeleteUser" {
			f.serveKeyOp(w, r, c)
			f.userBoundaries.set(f.callerAccount(c), c.Params.Get("UserName"), "")
			return
		}
		f.serveUserBoundary(w, r, c)
		return
	}
	if c.Action == "DeletePolicy" {
		if e, conflict := f.deletePolicyConflict(r.Context(), c); conflict {
			e.write(w, r, c.Service)
			return
		}
	}
	container, isList := listContainers[c.Action]
	isCreate := c.Action == "CreateRole" || c.Action == "CreatePolicy" || c.Action == "CreateOpenIDConnectProvider"
	if !isList && !isCreate {
		f.proxy(w, r, c)
		return
	}
	// A new entity is hidden from the moment its create is sent, not from its answer: moto may answer a read
	// sent at the same time after it made the entity, and that read must not see it.
	key := ""
	if isCreate {
		key = f.createdKey(c)
	}
	var restore func()
	if key != "" {
		restore = f.hideFromNow(key)
	}
	resp, body, err := f.fetch(r, c)
	if err != nil {
		if restore != nil {
			restore()
		}
		f.motoUnreachable(w, r, c, err)
		return
	}
	switch {
	case key != "" && resp.StatusCode == http.StatusOK:
		f.remember(key) // the window starts when IAM acknowledged the create
	case key != "":
		restore() // not created by this call (it exists already, or the input was refused)
	case isList && resp.StatusCode == http.StatusOK:
		body = f.filterList(body, container)
	}
	reply(w, resp, body)
}

// invisible answers NoSuchEntity when the call names an entity still inside the consistency window.
func (f *Front) invisible(c *call) (awsError, bool) {
	if strings.HasPrefix(c.Action, "Create") || strings.HasPrefix(c.Action, "Delete") {
		return awsError{}, false
	}
	if name := c.Params.Get("RoleName"); name != "" && f.hidden(roleKey(name)) {
		return noSuchEntity(fmt.Sprintf("The role with name %s cannot be found.", name)), true
	}
	if arn := c.Params.Get("PolicyArn"); arn != "" && f.hidden(policyKey(arn)) {
		return noSuchEntity(fmt.Sprintf("Policy %s was not found.", arn)), true
	}
	if arn := c.Params.Get("OpenIDConnectProviderArn"); arn != "" && f.hidden(oidcKey(arn)) {
		return noSuchEntity(fmt.Sprintf("OpenIDConnect Provider not found for arn %s", arn)), true
	}
	return awsError{}, false
}

func noSuchEntity(msg string) awsError {
	return awsError{Status: http.StatusNotFound, Code: "NoSuchEntity", Message: msg, Sender: true}
}

// filterList removes from an IAM List* answer the members of container that are still hidden. It cuts
// byte ranges out of moto's answer, so everything else stays exactly as moto wrote it.
func (f *Front) filterList(body []byte, container string) []byte {
	type span struct{ from, to int64 }
	var cut []span
	dec := xml.NewDecoder(bytes.NewReader(body))
	var path []string
	var memberStart int64
	var memberHidden bool
	var field string
	for {
		before := dec.InputOffset()
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return body // not what we expected: leave it alone
		}
		switch t := tok.(type) {
		case xml.StartElement:
			path = append(path, t.Name.Local)
			n := len(path)
			if n >= 2 && t.Name.Local == "member" && path[n-2] == container {
				memberStart, memberHidden = before, false
			}
			if n >= 3 && path[n-2] == "member" && path[n-3] == container {
				field = t.Name.Local
			}
		case xml.CharData:
			v := strings.TrimSpace(string(t))
			switch field {
			case "RoleName":
				memberHidden = memberHidden || f.hidden(roleKey(v))
			case "Arn":
				memberHidden = memberHidden || f.hidden(policyKey(v)) || f.hidden(oidcKey(v))
			}
		case xml.EndElement:
			n := len(path)
			if n >= 2 && t.Name.Local == "member" && path[n-2] == container && memberHidden {
				cut = append(cut, span{memberStart, dec.InputOffset()})
			}
			field = ""
			path = path[:n-1]
		}
	}
	if len(cut) == 0 {
		return body
	}
	var out bytes.Buffer
	var at int64
	for _, s := range cut {
		out.Write(body[at:s.from])
		at = s.to
	}
	out.Write(body[at:])
	return out.Bytes()
}

// xmlText returns the text of the first element named local in an XML document.
func xmlText(body []byte, local string) string {
	dec := xml.NewDecoder(bytes.NewReader(body))
	in := false
	for {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		switch t := tok.(type) {
		case xml.StartElement:
			in = t.Name.Local == local
		case xml.CharData:
			if in {
				return strings.TrimSpace(string(t))
			}
		case xml.EndElement:
			in = false
		}
	}
}
