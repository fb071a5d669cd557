package catalog

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// Call is one AWS request an SDC stage makes, read from SDC's source (or the libraries it bundles): the
// IAM action IAM authorizes it as, on which resource, under which stage setting and in which SDC releases.
// The stage's statements must allow every call, and need a call (or a reason) for every action.
type Call struct {
	// Action is the IAM action the request is authorized as (s3:PutObject for a CopyObject's target).
	Action string `json:"action"`
	// API is the SDK operation, when it differs from the action's name (CopyObject, DeleteMessageBatch).
	API string `json:"api,omitempty"`
	// Resource is an ARN template, as in statements; "*" for actions without resource-level permissions.
	Resource string `json:"resource"`
	// Context holds the condition keys the request carries beyond the resource, values as templates.
	Context map[string]string `json:"context,omitempty"`
	// When is the stage setting the call depends on, in the statements' when: syntax.
	When string `json:"when,omitempty"`
	// Since is the first SDC release that makes the call; Before the first that no longer does.
	Since  string `json:"since,omitempty"`
	Before string `json:"before,omitempty"`
	// Source is where the call is made: Class#method, with the library when it is not SDC's own code.
	Source string `json:"source"`
}

// CallsChecked says which SDC releases the stages' calls were read from.
type CallsChecked struct {
	From    string `json:"from"`
	Through string `json:"through"`
}

// condition is one term of a when: expression: a parameter that is set, or set to one of values.
type condition struct {
	param  string
	values []string
}

// parseWhen reads a when: expression: terms joined by ", " that must all hold, each `param` (set) or
// `param=v1|v2` (set to one of the values).
func parseWhen(when string) []condition {
	if when == "" {
		return nil
	}
	var out []condition
	for _, term := range strings.Split(when, ",") {
		name, values, hasValue := strings.Cut(strings.TrimSpace(term), "=")
		c := condition{param: name}
		if hasValue {
			c.values = strings.Split(values, "|")
		}
		out = append(out, c)
	}
	return out
}

// validateWhen checks a when: expression against the stage's parameters.
func validateWhen(when string, params map[string]*Parameter) []string {
	var problems []string
	for _, c := range parseWhen(when) {
		p := params[c.param]
		switch {
		case p == nil:
			problems = append(problems, fmt.Sprintf("when %q names no parameter of the stage (%s)", when, c.param))
			continue
		case p.Required:
			problems = append(problems, fmt.Sprintf("when %q names a required parameter (%s), which is always set", when, c.param))
		}
		for _, v := range c.values {
			if !slices.Contains(p.Values, v) {
				problems = append(problems, fmt.Sprintf("when %q: %q is not one of the values of %s", when, v, p.Name))
			}
		}
	}
	return problems
}

// whenParams are the parameters a when: expression requires to be set.
func whenParams(when string) []string {
	var out []string
	for _, c := range parseWhen(when) {
		out = append(out, c.param)
	}
	return out
}

var sourceRE = regexp.MustCompile(`^([a-z0-9-]+ [0-9][0-9.x/]* )?[A-Za-z0-9_.]+#[A-Za-z0-9_]+( \(.+\))?$`)

// validateCalls checks a stage's calls and the catalog's rule: every call is allowed by a statement that
// applies whenever the call is made, and every action of a statement is needed by a call or has a reason.
func validateCalls(s *Stage, params map[string]*Parameter, where string, bad func(string, ...any)) {
	called := map[string]bool{}
	for i, c := range s.Calls {
		cw := fmt.Sprintf("%s: calls[%d] (%s)", where, i, c.Action)
		if !actionRE.MatchString(c.Action) || strings.ContainsAny(c.Action, "*?") {
			bad("%s: action %q is not service:Action", cw, c.Action)
		}
		called[strings.ToLower(c.Action)] = true
		if c.Resource == "" {
			bad("%s: no resource", cw)
		}
		for _, p := range validateWhen(c.When, params) {
			bad("%s: %s", cw, p)
		}
		templates := []string{c.Resource}
		for k, v := range c.Context {
			if !strings.Contains(k, ":") || v == "" {
				bad("%s: context %q: %q: want a condition key (service:Key) and a value", cw, k, v)
			}
			templates = append(templates, v)
		}
		for _, v := range templateVars(strings.Join(templates, " ")) {
			if p := params[v]; p == nil && !builtinVar(v) {
				bad("%s: %q: ${%s} is neither a parameter of the stage nor one of partition, region, account", cw, templates, v)
			} else if p != nil && !alwaysSet(p, params) && !slices.Contains(whenParams(c.When), v) {
				bad("%s: %q uses optional parameter %s: add it to when:", cw, templates, v)
			}
		}
		for _, f := range [][2]string{{"since", c.Since}, {"before", c.Before}} {
			if f[1] == "" {
				continue
			}
			if _, err := parseVersion(f[1]); err != nil {
				bad("%s: %s: %v", cw, f[0], err)
			}
		}
		if c.Since != "" && c.Before != "" {
			if cmp, err := CompareVersions(c.Since, c.Before); err == nil && cmp >= 0 {
				bad("%s: since %s is not before %s", cw, c.Since, c.Before)
			}
		}
		if !sourceRE.MatchString(c.Source) {
			bad("%s: source %q: want Class#method, optionally led by the library and its version (kcl 1.14.0 LeaseManager#scan) and followed by a note in parentheses", cw, c.Source)
		}
		if !slices.ContainsFunc(s.Statements, func(st Statement) bool { return covers(st, c, params) }) {
			bad("%s: no statement allows %s on %s whenever the call is made (when %q): add the action to a statement whose when: the call's implies", cw, c.Action, c.Resource, c.When)
		}
	}
	if len(s.Calls) == 0 {
		return // a catalog of statements alone (an older --catalog file) is still valid
	}
	for j, st := range s.Statements {
		for _, a := range st.Actions {
			if !called[strings.ToLower(a)] && st.Reasons[a] == "" {
				bad("%s: statements[%d] (%s): no call needs %s: list the call that does, or write why it is granted under reasons:", where, j, st.Sid, a)
			}
		}
		for a := range st.Reasons {
			if !slices.Contains(st.Actions, a) {
				bad("%s: statements[%d] (%s): reasons names %s, which is not one of the statement's actions", where, j, st.Sid, a)
			}
		}
	}
}

// covers reports whether statement st allows call c whenever c is made: same action, a resource template
// that matches the call's (IAM wildcards in the statement), and a when: that the call's when: implies.
func covers(st Statement, c Call, params map[string]*Parameter) bool {
	if !slices.ContainsFunc(st.Actions, func(a string) bool { return strings.EqualFold(a, c.Action) }) {
		return false
	}
	if !slices.ContainsFunc(st.Resources, func(r string) bool { return templateMatches(r, c.Resource) }) {
		return false
	}
	return implies(c.When, st.When, params)
}

// implies reports whether every selection satisfying when a also satisfies when b.
func implies(a, b string, params map[string]*Parameter) bool {
	have := map[string][]string{} // param -> values a allows (nil: any set value)
	for _, c := range parseWhen(a) {
		have[c.param] = c.values
	}
	for _, need := range parseWhen(b) {
		got, ok := have[need.param]
		if !ok {
			p := params[need.param]
			// A parameter with a default (or one derived from an always-set one) is always set.
			if p == nil || !alwaysSet(p, params) {
				return false
			}
			if need.values == nil {
				continue
			}
			got = []string{effectiveDefault(p)}
		}
		if need.values == nil {
			continue
		}
		if got == nil {
			return false
		}
		for _, v := range got {
			if !slices.Contains(need.values, v) {
				return false
			}
		}
	}
	return true
}

func effectiveDefault(p *Parameter) string {
	if p.Default != nil {
		return *p.Default
	}
	return ""
}

// alwaysSet reports whether a parameter has a value in every selection: required, defaulted, or derived
// from a parameter that is.
func alwaysSet(p *Parameter, params map[string]*Parameter) bool {
	for range len(params) + 1 {
		switch {
		case p.Required, p.Default != nil:
			return true
		case p.DefaultFrom == "":
			return false
		}
		if p = params[p.DefaultFrom]; p == nil {
			return false
		}
	}
	return false
}

// templateMatches reports whether a statement's resource template matches a call's, IAM's * and ? in
// the statement standing for any characters of the call's (whose ${...} are kept as written).
func templateMatches(stmt, call string) bool {
	if stmt == call {
		return true
	}
	var b strings.Builder
	for _, r := range stmt {
		switch r {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	re, err := regexp.Compile("^" + b.String() + "$")
	return err == nil && re.MatchString(call)
}

func templateVars(tmpl string) []string {
	var out []string
	for _, m := range varRE.FindAllStringSubmatch(tmpl, -1) {
		out = append(out, m[1])
	}
	return out
}

func builtinVar(v string) bool { return v == VarPartition || v == VarRegion || v == VarAccount }

// SDCRanges are the release ranges within which a stage's calls and settings do not change: the catalog's
// checked range cut at every since:/before: of the stage's calls and since: of its parameters. Each is [from, before) with before "" for the
// last, open one.
func (c *Catalog) SDCRanges(stage string) ([][2]string, error) {
	s, ok := c.Stage(stage)
	if !ok {
		return nil, fmt.Errorf("stage %q: unknown stage", stage)
	}
	from := "0"
	if c.file.CallsChecked != nil {
		from = c.file.CallsChecked.From
	}
	cuts := []string{from}
	var bounds []string
	for _, call := range s.Calls {
		bounds = append(bounds, call.Since, call.Before)
	}
	for _, p := range s.Parameters {
		bounds = append(bounds, p.Since)
	}
	for _, v := range bounds {
		if cmp, err := CompareVersions(v, from); v != "" && err == nil && cmp > 0 && !slices.Contains(cuts, v) {
			cuts = append(cuts, v)
		}
	}
	sort.Slice(cuts, func(i, j int) bool { cmp, _ := CompareVersions(cuts[i], cuts[j]); return cmp < 0 })
	var out [][2]string
	for i, v := range cuts {
		next := ""
		if i+1 < len(cuts) {
			next = cuts[i+1]
		}
		out = append(out, [2]string{v, next})
	}
	return out, nil
}

// CallsChecked returns the SDC releases the calls were read from; zero when the catalog does not say.
func (c *Catalog) CallsChecked() CallsChecked {
	if c.file.CallsChecked == nil {
		return CallsChecked{}
	}
	return *c.file.CallsChecked
}
