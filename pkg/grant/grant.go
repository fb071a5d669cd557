// Package grant keeps the permissions policy kubectl-sdc makes for a role. A role may serve several
// bindings (ServiceAccounts that share it on purpose), and IAM allows only ten managed policies per role, so
// there is one policy whose statements are the union of the bindings' permissions. Each statement's Sid
// names the bindings it serves (vocab.BindingSid): a bind replaces only its own statements, never drops
// another binding's, keeps identical statements once, and an unbind removes only its own.
package grant

import (
	"slices"
	"strconv"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// Merge returns current with binding's statements made exactly want's: binding leaves the statements it
// served, statements nobody serves any more go, and each statement of want joins an identical one (Sid
// aside) or is appended with a Sid naming binding. Statements without a binding Sid are kept as they are,
// except in a policy that has no binding Sid at all: an earlier version's policy of one binding, which
// the binding takes over (its statements are replaced). current and want are not modified; a nil current
// yields a new policy. changed is false when the result equals current.
func Merge(current *iampolicy.Policy, binding string, want *iampolicy.Policy) (merged *iampolicy.Policy, changed bool) {
	merged = &iampolicy.Policy{Version: iampolicy.Version2012}
	if current != nil {
		merged.Version, merged.ID = current.Version, current.ID
	}
	var wanted []iampolicy.Statement
	if want != nil {
		wanted = want.Clone().Statements
	}
	matched := make([]bool, len(wanted))
	legacy := current != nil && len(Bindings(current)) == 0
	if current != nil && !legacy {
		for i, s := range current.Clone().Statements {
			base, ids, ok := vocab.ParseBindingSid(s.Sid)
			if !ok {
				merged.Statements = append(merged.Statements, s)
				continue
			}
			ids = slices.DeleteFunc(ids, func(id string) bool { return id == binding })
			for k, w := range wanted {
				if !matched[k] && s.Equivalent(w) {
					matched[k] = true
					ids = append(ids, binding)
					break
				}
			}
			if len(ids) == 0 {
				continue
			}
			s.Sid = vocab.BindingSid(baseOf(base, i), ids)
			merged.Statements = append(merged.Statements, s)
		}
	}
	for k, w := range wanted {
		if matched[k] {
			continue
		}
		w.Sid = vocab.BindingSid(baseOf(w.Sid, len(merged.Statements)), []string{binding})
		merged.Statements = append(merged.Statements, w)
	}
	if current == nil {
		return merged, true
	}
	return merged, !merged.Equal(current)
}

// Remove returns current without binding: it leaves the statements it shared and the ones only it served
// go (in a policy without binding Sids, every statement goes: it was the binding's alone). Statements with
// a Sid of another form are kept. changed is false when binding served nothing here.
func Remove(current *iampolicy.Policy, binding string) (out *iampolicy.Policy, changed bool) {
	if current == nil {
		return nil, false
	}
	out = &iampolicy.Policy{Version: current.Version, ID: current.ID}
	legacy := len(Bindings(current)) == 0
	for i, s := range current.Clone().Statements {
		base, ids, ok := vocab.ParseBindingSid(s.Sid)
		switch {
		case !ok && legacy:
			changed = true // an earlier version's statement of this binding's own policy
			continue
		case !ok || !slices.Contains(ids, binding):
			out.Statements = append(out.Statements, s)
			continue
		}
		changed = true
		rest := slices.DeleteFunc(ids, func(id string) bool { return id == binding })
		if len(rest) == 0 {
			continue
		}
		s.Sid = vocab.BindingSid(baseOf(base, i), rest)
		out.Statements = append(out.Statements, s)
	}
	if out.Version == "" {
		out.Version = iampolicy.Version2012
	}
	return out, changed
}

// Bindings are the binding IDs p's statements serve, sorted.
func Bindings(p *iampolicy.Policy) []string {
	if p == nil {
		return nil
	}
	var out []string
	for _, s := range p.Statements {
		if _, ids, ok := vocab.ParseBindingSid(s.Sid); ok {
			out = append(out, ids...)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Serves reports whether p holds every statement of want for binding (Sids aside): what a bind checks
// after writing, to see that no concurrent writer dropped them.
func Serves(p *iampolicy.Policy, binding string, want *iampolicy.Policy) bool {
	if want == nil {
		return true
	}
	if p == nil {
		return len(want.Statements) == 0
	}
	for _, w := range want.Statements {
		ok := false
		for _, s := range p.Statements {
			if _, ids, parsed := vocab.ParseBindingSid(s.Sid); parsed && slices.Contains(ids, binding) && s.Equivalent(w) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// baseOf is a statement's own Sid, or Stmt<i> when it has none (Sids must stay unique in a policy).
func baseOf(sid string, i int) string {
	if sid != "" {
		return sid
	}
	return "Stmt" + strconv.Itoa(i)
}
