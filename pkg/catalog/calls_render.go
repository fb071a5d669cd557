package catalog

import (
	"fmt"
	"strings"
)

// RenderedCall is a stage's call for one selection: its templates filled in, as IAM sees the request.
type RenderedCall struct {
	Stage    string `json:"stage"`
	Action   string `json:"action"`
	API      string `json:"api,omitempty"`
	Resource string `json:"resource"`
	// Context holds the request's condition keys: the call's own, and kms:ResourceAliases when the key is
	// named by an alias (the request then names some key of the alias's account and region).
	Context map[string][]string `json:"context,omitempty"`
	Since   string              `json:"since,omitempty"`
	Before  string              `json:"before,omitempty"`
	Source  string              `json:"source"`
}

// String is the call as messages name it.
func (c RenderedCall) String() string {
	s := c.Action + " on " + c.Resource
	for k, v := range c.Context {
		s += fmt.Sprintf(" (%s=%s)", k, strings.Join(v, ","))
	}
	return s
}

// Calls returns the calls the selected stages make with the selection's settings, in catalog order:
// those of SDC release sdcVersion, or of every release the catalog knows when sdcVersion is "".
func (c *Catalog) Calls(sel Selection, t Target, sdcVersion string) ([]RenderedCall, error) {
	stages, err := c.selectStages(sel.Stages)
	if err != nil {
		return nil, err
	}
	params, _, err := c.resolveParams(stages, sel, t)
	if err != nil {
		return nil, err
	}
	if sdcVersion != "" {
		if _, err := parseVersion(sdcVersion); err != nil {
			return nil, fmt.Errorf("SDC version %q: %v", sdcVersion, err)
		}
	}
	var out []RenderedCall
	for _, s := range stages {
		for _, call := range s.Calls {
			if !included(call.When, params) || !inRange(sdcVersion, call.Since, call.Before) {
				continue
			}
			rc, err := renderCall(s, call, params, t)
			if err != nil {
				return nil, err
			}
			out = append(out, rc)
		}
	}
	return out, nil
}

// inRange reports whether release v is in [since, before); "" for v means any release.
func inRange(v, since, before string) bool {
	if v == "" {
		return true
	}
	if since != "" {
		if cmp, err := CompareVersions(v, since); err != nil || cmp < 0 {
			return false
		}
	}
	if before != "" {
		if cmp, err := CompareVersions(v, before); err != nil || cmp >= 0 {
			return false
		}
	}
	return true
}

func renderCall(s *Stage, call Call, params map[string]string, t Target) (RenderedCall, error) {
	rc := RenderedCall{Stage: s.Name, Action: call.Action, API: call.API, Since: call.Since, Before: call.Before, Source: call.Source}
	// A key named by its alias: the request names a key of the alias's account and region, and carries
	// the alias, as KMS puts it in kms:ResourceAliases.
	if m := varRE.FindStringSubmatch(call.Resource); m != nil && call.Resource == m[0] {
		if p, ok := s.Parameter(m[1]); ok && p.Kind == KindKMSKey {
			if a := kmsAliasARNRE.FindStringSubmatch(params[p.Name]); a != nil {
				rc.Resource = fmt.Sprintf("arn:%s:kms:%s:%s:key/*", a[1], a[2], a[3])
				rc.Context = map[string][]string{"kms:ResourceAliases": {a[4]}}
			}
		}
	}
	if rc.Resource == "" {
		st, err := renderStatement(s, Statement{Sid: "Call", Actions: []string{call.Action}, Resources: []string{call.Resource}}, params, t)
		if err != nil {
			return RenderedCall{}, err
		}
		rc.Resource = st.Resource[0]
	}
	for k, tmpl := range call.Context {
		st, err := renderStatement(s, Statement{Sid: "Call", Actions: []string{call.Action}, Resources: []string{tmpl}}, params, t)
		if err != nil {
			return RenderedCall{}, err
		}
		if rc.Context == nil {
			rc.Context = map[string][]string{}
		}
		rc.Context[k] = []string{st.Resource[0]}
	}
	return rc, nil
}

// SettingsMinSDCVersion is the first SDC release that has every setting sel makes (a parameter with
// since: set to a value other than its default), and that setting as NAME=VALUE; "" when none needs one.
func (c *Catalog) SettingsMinSDCVersion(sel Selection) (version, setting string) {
	for _, name := range sel.Stages {
		s, ok := c.Stage(name)
		if !ok {
			continue
		}
		for _, p := range s.Parameters {
			v, set := sel.Params[p.Name]
			if !set || v == "" || p.Since == "" || (p.Default != nil && *p.Default == v) {
				continue
			}
			if cmp, err := CompareVersions(p.Since, version); version == "" || (err == nil && cmp > 0) {
				version, setting = p.Since, p.Name+"="+v
			}
		}
	}
	return version, setting
}
