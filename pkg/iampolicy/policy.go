// Package iampolicy reads, writes and evaluates AWS IAM policy documents:
// identity policies (managed and inline) and role trust policies.
//
// It parses every form IAM accepts, renders one canonical JSON form so that
// diffs between what exists and what is wanted stay minimal, evaluates
// requests with IAM's documented rules, and builds the IRSA trust statement
// that lets a Kubernetes service account assume a role.
package iampolicy

import "maps"

// Effect is what a statement does when it applies: Allow or Deny.
// ImplicitDeny appears only in a Decision, when no statement applied.
type Effect string

// The effects a statement can have, and the result when none applies.
const (
	Allow        Effect = "Allow"
	Deny         Effect = "Deny"
	ImplicitDeny Effect = "ImplicitDeny"
)

// Version2012 is the current policy language version; it enables policy variables.
const Version2012 = "2012-10-17"

// Version2008 is the original policy language version, still accepted by IAM.
const Version2008 = "2008-10-17"

// Values is a JSON string-or-list of strings, as IAM accepts in Action,
// Resource, Principal and condition values.
type Values []string

// Principal is the Principal or NotPrincipal element of a statement.
type Principal struct {
	Wildcard bool              // "Principal": "*"
	Values   map[string]Values // "AWS", "Federated", "Service", "CanonicalUser" -> ids
}

// Conditions is operator -> condition key -> values, e.g.
// {"StringEquals": {"oidc.eks...:sub": ["system:serviceaccount:ns1:sdc"]}}.
type Conditions map[string]map[string]Values

// Statement is one statement of a policy document.
type Statement struct {
	Sid                   string
	Effect                Effect
	Principal             *Principal // nil when absent
	NotPrincipal          *Principal
	Action, NotAction     Values
	Resource, NotResource Values
	Condition             Conditions
}

// Policy is a parsed IAM policy document.
type Policy struct {
	Version    string // "2012-10-17"
	ID         string
	Statements []Statement
}

// NewPolicy returns a policy of version 2012-10-17 holding the statements.
func NewPolicy(statements ...Statement) *Policy {
	p := &Policy{Version: Version2012}
	for _, s := range statements {
		p.Statements = append(p.Statements, s.clone())
	}
	return p
}

// Clone returns a deep copy of p; changing the copy never changes p.
func (p *Policy) Clone() *Policy {
	if p == nil {
		return nil
	}
	c := &Policy{Version: p.Version, ID: p.ID}
	if p.Statements != nil {
		c.Statements = make([]Statement, len(p.Statements))
		for i, s := range p.Statements {
			c.Statements[i] = s.clone()
		}
	}
	return c
}

func (s Statement) clone() Statement {
	c := s
	c.Principal = s.Principal.clone()
	c.NotPrincipal = s.NotPrincipal.clone()
	c.Action = cloneValues(s.Action)
	c.NotAction = cloneValues(s.NotAction)
	c.Resource = cloneValues(s.Resource)
	c.NotResource = cloneValues(s.NotResource)
	if s.Condition != nil {
		c.Condition = make(Conditions, len(s.Condition))
		for op, keys := range s.Condition {
			m := make(map[string]Values, len(keys))
			for k, v := range keys {
				m[k] = cloneValues(v)
			}
			c.Condition[op] = m
		}
	}
	return c
}

func (p *Principal) clone() *Principal {
	if p == nil {
		return nil
	}
	c := &Principal{Wildcard: p.Wildcard}
	if p.Values != nil {
		c.Values = maps.Clone(p.Values)
		for k, v := range c.Values {
			c.Values[k] = cloneValues(v)
		}
	}
	return c
}

func cloneValues(v Values) Values {
	if v == nil {
		return nil
	}
	return append(Values{}, v...)
}
