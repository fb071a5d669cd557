package catalog

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// Selection is what the user asked for: stages (--stage) and parameters (--set, --bucket, --prefix).
type Selection struct {
	Stages []string          `json:"stages"`
	Params map[string]string `json:"params,omitempty"`
	// Via names the flag a parameter came from when it was not --set (e.g. "bucket" -> "--bucket"), so
	// errors name the flag the user typed.
	Via map[string]string `json:"-"`
}

// flagFor is how errors name parameter k: the shorthand flag the user typed, else "--set k".
func (s Selection) flagFor(k string) string {
	if f, ok := s.Via[k]; ok {
		return f
	}
	return "--set " + k
}

// Target is where the policy applies: the cluster's partition and region, and the AWS account.
type Target struct {
	Partition string
	Region    string
	Account   string
}

// PolicyVersion is the IAM policy language version every rendered document declares.
const PolicyVersion = "2012-10-17"

type policyDocument struct {
	Version   string            `json:"Version"`
	Statement []PolicyStatement `json:"Statement"`
}

// PolicyStatement is one rendered IAM statement; it marshals in IAM's policy grammar.
type PolicyStatement struct {
	// Stage is the catalog stage the statement belongs to (not part of the IAM document).
	Stage     string                         `json:"-"`
	Sid       string                         `json:"Sid"`
	Effect    string                         `json:"Effect"`
	Action    []string                       `json:"Action"`
	Resource  []string                       `json:"Resource"`
	Condition map[string]map[string][]string `json:"Condition,omitempty"`
}

// shorthandFlags are the parameters bind and doctor also accept as flags of their own.
var shorthandFlags = map[string]string{"bucket": "--bucket", "prefix": "--prefix"}

// Render returns the IAM policy document for sel (compact JSON, one statement per included stage
// statement, in catalog order) and the normalized selection: stages deduplicated in catalog order, and
// only the parameters that were set and differ from their defaults, which is what bind records on the role.
func (c *Catalog) Render(sel Selection, t Target) ([]byte, Selection, error) {
	statements, norm, err := c.Statements(sel, t)
	if err != nil {
		return nil, Selection{}, err
	}
	b, err := json.Marshal(policyDocument{Version: PolicyVersion, Statement: statements})
	if err != nil {
		return nil, Selection{}, err
	}
	return b, norm, nil
}

// Statements is Render before serialization: the statements with the stage each belongs to, for callers
// that check a role's permissions statement by statement (doctor) rather than write a policy (bind).
func (c *Catalog) Statements(sel Selection, t Target) ([]PolicyStatement, Selection, error) {
	stages, err := c.selectStages(sel.Stages)
	if err != nil {
		return nil, Selection{}, err
	}
	params, norm, err := c.resolveParams(stages, sel, t)
	if err != nil {
		return nil, Selection{}, err
	}
	var out []PolicyStatement
	for _, s := range stages {
		for _, st := range s.Statements {
			if !included(st.When, params) {
				continue
			}
			ps, err := renderStatement(s, st, params, t)
			if err != nil {
				return nil, Selection{}, err
			}
			out = append(out, ps)
		}
	}
	return out, norm, nil
}

func (c *Catalog) selectStages(names []string) ([]*Stage, error) {
	if len(names) == 0 {
		return nil, fmt.Errorf("no stage selected: pass --stage NAME (known: %s)", strings.Join(c.StageNames(), ", "))
	}
	want := map[string]bool{}
	for _, n := range names {
		if _, ok := c.Stage(n); !ok {
			return nil, fmt.Errorf("--stage %q: unknown stage; known: %s (see 'kubectl sdc stages')", n, strings.Join(c.StageNames(), ", "))
		}
		want[n] = true
	}
	var out []*Stage
	for i := range c.file.Stages {
		if want[c.file.Stages[i].Name] {
			out = append(out, &c.file.Stages[i])
		}
	}
	return out, nil
}

// resolveParams validates the given parameters against the selected stages and returns every parameter's
// effective value (defaults applied, unset ones absent) and the normalized selection.
func (c *Catalog) resolveParams(stages []*Stage, sel Selection, t Target) (map[string]string, Selection, error) {
	given := sel.Params
	declared := map[string]*Parameter{}
	var stageNames []string
	for _, s := range stages {
		stageNames = append(stageNames, s.Name)
		for i := range s.Parameters {
			if _, ok := declared[s.Parameters[i].Name]; !ok {
				declared[s.Parameters[i].Name] = &s.Parameters[i]
			}
		}
	}
	keys := make([]string, 0, len(given))
	for k := range given {
		keys = append(keys, k)
	}
	sort.Strings(keys)

	norm := Selection{Stages: stageNames}
	effective := map[string]string{}
	for _, k := range keys {
		v := given[k]
		p, ok := declared[k]
		if !ok {
			known := make([]string, 0, len(declared))
			for n := range declared {
				known = append(known, n)
			}
			sort.Strings(known)
			return nil, Selection{}, fmt.Errorf("--set %s: unknown parameter for %s %s; known: %s",
				k, plural(len(stageNames), "stage", "stages"), strings.Join(stageNames, ", "), strings.Join(known, ", "))
		}
		if v == "" {
			continue // "--set prefix=" means unset
		}
		if err := p.check(v); err != nil {
			return nil, Selection{}, fmt.Errorf("%s %q: %v", sel.flagFor(k), v, err)
		}
		if p.Kind == KindKMSKey {
			if part := strings.Split(v, ":")[1]; t.Partition != "" && part != t.Partition {
				return nil, Selection{}, fmt.Errorf("%s %q: the key is in partition %s but the cluster is in %s", sel.flagFor(k), v, part, t.Partition)
			}
		}
		effective[k] = v
		if p.Default == nil || *p.Default != v {
			if norm.Params == nil {
				norm.Params = map[string]string{}
			}
			norm.Params[k] = v
		}
	}
	for _, s := range stages {
		for _, p := range s.Parameters {
			if _, ok := effective[p.Name]; ok {
				continue
			}
			if p.Required {
				hint := ""
				if f, ok := shorthandFlags[p.Name]; ok {
					hint = " (or use " + f + ")"
				}
				return nil, Selection{}, fmt.Errorf("--set %s: required by stage %s%s", p.Name, s.Name, hint)
			}
			if p.Default != nil {
				effective[p.Name] = *p.Default
			}
		}
	}
	// A parameter that takes another's value when unset (archive-bucket from bucket); chains resolve in
	// as many passes as they are long.
	for range len(declared) {
		for _, s := range stages {
			for _, p := range s.Parameters {
				if _, ok := effective[p.Name]; !ok && p.DefaultFrom != "" {
					if v, ok := effective[p.DefaultFrom]; ok {
						effective[p.Name] = v
					}
				}
			}
		}
	}
	return effective, norm, nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// included evaluates a when: expression against the effective parameters.
func included(when string, params map[string]string) bool {
	for _, c := range parseWhen(when) {
		v, set := params[c.param]
		if !set || v == "" || (c.values != nil && !slices.Contains(c.values, v)) {
			return false
		}
	}
	return true
}

var (
	regionRE  = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
	accountRE = regexp.MustCompile(`^[0-9]{12}$`)
)

func renderStatement(s *Stage, st Statement, params map[string]string, t Target) (PolicyStatement, error) {
	out := PolicyStatement{Stage: s.Name, Sid: SidFor(s.Name, st.Sid), Effect: "Allow", Action: slices.Clone(st.Actions)}
	for _, tmpl := range st.Resources {
		// A kms-key is the statement's only resource (the catalog checks it); an alias ARN cannot authorize
		// key use by itself, IAM matches keys by key ARN, so it becomes "any key in the alias's account and
		// region" narrowed by the kms:ResourceAliases condition.
		if m := varRE.FindStringSubmatch(tmpl); m != nil && tmpl == m[0] {
			if p, ok := s.Parameter(m[1]); ok && p.Kind == KindKMSKey {
				if a := kmsAliasARNRE.FindStringSubmatch(params[p.Name]); a != nil {
					out.Resource = append(out.Resource, fmt.Sprintf("arn:%s:kms:%s:%s:key/*", a[1], a[2], a[3]))
					out.Condition = map[string]map[string][]string{
						"ForAnyValue:StringEquals": {"kms:ResourceAliases": {a[4]}},
					}
					continue
				}
			}
		}
		var missing error
		r := varRE.ReplaceAllStringFunc(tmpl, func(ref string) string {
			name := ref[2 : len(ref)-1]
			var v string
			switch name {
			case VarPartition:
				v = t.Partition
				if v == "" {
					missing = fmt.Errorf("stage %s needs the AWS partition (aws, aws-cn, aws-us-gov) and none is known", s.Name)
				}
			case VarRegion:
				v = t.Region
				if !regionRE.MatchString(v) {
					missing = fmt.Errorf("stage %s needs the AWS region for its resources and %q is not one: pass --region", s.Name, v)
				}
			case VarAccount:
				v = t.Account
				if !accountRE.MatchString(v) {
					missing = fmt.Errorf("stage %s needs the 12-digit AWS account ID for its resources and %q is not one", s.Name, v)
				}
			default:
				v = params[name]
			}
			return v
		})
		if missing != nil {
			return PolicyStatement{}, missing
		}
		if !slices.Contains(out.Resource, r) {
			out.Resource = append(out.Resource, r)
		}
	}
	return out, nil
}
