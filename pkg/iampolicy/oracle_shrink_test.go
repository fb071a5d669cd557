package iampolicy

import (
	"encoding/json"
	"testing"

	"github.com/kubectl-sdc/kubectl-sdc/test/oracle"
)

// shrink makes a case on which the two evaluators disagree as small as it can while they still disagree:
// it drops policies, statements, list values, principal types, condition operators, keys and values, and
// context keys, one at a time, asking the oracle about every smaller case of a round at once. A failing
// differential test prints the shrunk case, which usually names the rule at stake.
func shrink(t *testing.T, o *oracle.Oracle, c oracleCase) oracleCase {
	t.Helper()
	for round := 0; round < 100; round++ {
		smaller := c.smaller()
		if len(smaller) == 0 {
			return c
		}
		sims := make([]oracle.Simulation, len(smaller))
		for i, s := range smaller {
			sims[i] = s.simulation(t)
		}
		decisions, err := o.Simulate(sims)
		if err != nil {
			return c
		}
		next := -1
		for i, s := range smaller {
			if s.evaluate(t).Effect != fromOracle(decisions[i]) {
				next = i
				break
			}
		}
		if next < 0 {
			return c
		}
		c = smaller[next]
	}
	return c
}

// smaller lists the cases one step smaller than c.
func (c oracleCase) smaller() []oracleCase {
	var out []oracleCase
	with := func(policies []string, ctx map[string][]string) {
		n := c
		n.Policies, n.Request.Context = policies, ctx
		out = append(out, n)
	}
	if len(c.Policies) > 1 {
		for i := range c.Policies {
			with(append(c.Policies[:i:i], c.Policies[i+1:]...), c.Request.Context)
		}
	}
	for pi, p := range c.Policies {
		for _, q := range smallerDocuments(p) {
			policies := append([]string{}, c.Policies...)
			policies[pi] = q
			with(policies, c.Request.Context)
		}
	}
	for k := range c.Request.Context {
		ctx := map[string][]string{}
		for k2, v := range c.Request.Context {
			if k2 != k {
				ctx[k2] = v
			}
		}
		with(c.Policies, ctx)
	}
	return out
}

// smallerDocuments lists the documents one step smaller than doc.
func smallerDocuments(doc string) []string {
	var out []string
	// edit applies change to a fresh copy of doc's statements and keeps the result.
	edit := func(change func(statements []any) []any) {
		var d map[string]any
		if json.Unmarshal([]byte(doc), &d) != nil {
			return
		}
		d["Statement"] = change(statementList(d))
		b, _ := json.Marshal(d)
		out = append(out, string(b))
	}
	var d map[string]any
	if json.Unmarshal([]byte(doc), &d) != nil {
		return nil
	}
	statements := statementList(d)
	for si, s := range statements {
		stmt := func(sts []any) map[string]any { return sts[si].(map[string]any) }
		if len(statements) > 1 {
			edit(func(sts []any) []any { return append(sts[:si:si], sts[si+1:]...) })
		}
		m, _ := s.(map[string]any)
		for name, v := range m {
			switch v := v.(type) {
			case []any: // Action, Resource and their Not forms: drop one value
				for vi := range v {
					if len(v) > 1 {
						edit(func(sts []any) []any {
							l := stmt(sts)[name].([]any)
							stmt(sts)[name] = append(l[:vi:vi], l[vi+1:]...)
							return sts
						})
					}
				}
			case map[string]any:
				if name != "Condition" { // Principal or NotPrincipal: drop one type
					for typ := range v {
						if len(v) > 1 {
							edit(func(sts []any) []any {
								delete(stmt(sts)[name].(map[string]any), typ)
								return sts
							})
						}
					}
					continue
				}
				for op, keys := range v {
					edit(func(sts []any) []any {
						cond := stmt(sts)["Condition"].(map[string]any)
						if delete(cond, op); len(cond) == 0 {
							delete(stmt(sts), "Condition")
						}
						return sts
					})
					km, _ := keys.(map[string]any)
					for k, vals := range km {
						if len(km) > 1 {
							edit(func(sts []any) []any {
								delete(stmt(sts)["Condition"].(map[string]any)[op].(map[string]any), k)
								return sts
							})
						}
						l, _ := vals.([]any)
						for vi := range l {
							if len(l) > 1 {
								edit(func(sts []any) []any {
									keys := stmt(sts)["Condition"].(map[string]any)[op].(map[string]any)
									kl := keys[k].([]any)
									keys[k] = append(kl[:vi:vi], kl[vi+1:]...)
									return sts
								})
							}
						}
					}
				}
			}
		}
	}
	return out
}

// statementList is a document's Statement as a list, whichever form it has.
func statementList(d map[string]any) []any {
	if l, ok := d["Statement"].([]any); ok {
		return l
	}
	return []any{d["Statement"]}
}
