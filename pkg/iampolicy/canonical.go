package iampolicy

import (
	"bytes"
	"cmp"
	"encoding/json"
	"slices"
	"unicode/utf8"
)

// Canonical renders p as indented (two spaces) canonical JSON: keys in
// IAM's documented order (Version, Id, Statement; Sid, Effect, Principal,
// NotPrincipal, Action, NotAction, Resource, NotResource, Condition),
// values of each list de-duplicated and sorted, a one-element list written
// as a plain string (as IAM returns it), statements in their given order.
// Equal documents give equal bytes, so a diff shows only real changes.
func (p *Policy) Canonical() []byte {
	var out bytes.Buffer
	// Indenting valid compact JSON cannot fail.
	_ = json.Indent(&out, p.Compact(), "", "  ")
	return out.Bytes()
}

// Compact renders the canonical form without whitespace: what to send to IAM.
func (p *Policy) Compact() []byte {
	if p == nil {
		return []byte("null")
	}
	o := beginObject(nil)
	if p.Version != "" {
		o.key("Version")
		o.b = appendString(o.b, p.Version)
	}
	if p.ID != "" {
		o.key("Id")
		o.b = appendString(o.b, p.ID)
	}
	o.key("Statement")
	o.b = append(o.b, '[')
	for i := range p.Statements {
		if i > 0 {
			o.b = append(o.b, ',')
		}
		o.b = p.Statements[i].appendCanonical(o.b)
	}
	o.b = append(o.b, ']')
	return o.end()
}

// Equal reports whether p and o have the same canonical form: the same
// statements in the same order, ignoring the order and repetition of values.
func (p *Policy) Equal(o *Policy) bool {
	if p == nil || o == nil {
		return p == o
	}
	return bytes.Equal(p.Compact(), o.Compact())
}

// Size is the length of p as IAM counts it against its limits: characters
// of the compact canonical form, so whitespace does not count.
func (p *Policy) Size() int {
	return utf8.RuneCount(p.Compact())
}

// String returns the canonical indented JSON.
func (p *Policy) String() string {
	return string(p.Canonical())
}

// MarshalJSON renders the compact canonical form.
func (p *Policy) MarshalJSON() ([]byte, error) {
	return p.Compact(), nil
}

// UnmarshalJSON parses a document with Parse. It also accepts a JSON string
// holding the document, plain or URL-encoded, as IAM's APIs return it.
func (p *Policy) UnmarshalJSON(data []byte) error {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) > 0 && trimmed[0] == '"' {
		var s string
		if err := json.Unmarshal(trimmed, &s); err != nil {
			return err
		}
		trimmed = []byte(s)
	}
	parsed, err := Parse(trimmed)
	if err != nil {
		return err
	}
	*p = *parsed
	return nil
}

func (s *Statement) appendCanonical(b []byte) []byte {
	o := beginObject(b)
	if s.Sid != "" {
		o.key("Sid")
		o.b = appendString(o.b, s.Sid)
	}
	o.key("Effect")
	o.b = appendString(o.b, string(s.Effect))
	if s.Principal != nil {
		o.key("Principal")
		o.b = s.Principal.appendCanonical(o.b)
	}
	if s.NotPrincipal != nil {
		o.key("NotPrincipal")
		o.b = s.NotPrincipal.appendCanonical(o.b)
	}
	for _, e := range []struct {
		name string
		v    Values
	}{{"Action", s.Action}, {"NotAction", s.NotAction}, {"Resource", s.Resource}, {"NotResource", s.NotResource}} {
		if e.v != nil {
			o.key(e.name)
			o.b = appendValues(o.b, e.v)
		}
	}
	if len(s.Condition) > 0 {
		o.key("Condition")
		ops := beginObject(o.b)
		for _, op := range sortedKeys(s.Condition) {
			ops.key(op)
			keys := s.Condition[op]
			ks := beginObject(ops.b)
			for _, k := range sortedKeys(keys) {
				ks.key(k)
				ks.b = appendValues(ks.b, keys[k])
			}
			ops.b = ks.end()
		}
		o.b = ops.end()
	}
	return o.end()
}

func (p *Principal) appendCanonical(b []byte) []byte {
	if p.Wildcard {
		return appendString(b, "*")
	}
	o := beginObject(b)
	for _, typ := range sortedKeys(p.Values) {
		o.key(typ)
		o.b = appendValues(o.b, p.Values[typ])
	}
	return o.end()
}

// object appends one JSON object's members to b in the order they are keyed: the canonical form's key
// order is IAM's documented one, not the alphabetical one encoding/json would give.
type object struct {
	b []byte
	n int
}

func beginObject(b []byte) *object { return &object{b: append(b, '{')} }

// key starts the next member; its value is appended to o.b next.
func (o *object) key(name string) {
	if o.n > 0 {
		o.b = append(o.b, ',')
	}
	o.n++
	o.b = appendString(o.b, name)
	o.b = append(o.b, ':')
}

func (o *object) end() []byte { return append(o.b, '}') }

// normalized returns the values sorted and without repeats.
func (v Values) normalized() Values {
	out := slices.Clone(v)
	slices.Sort(out)
	return slices.Compact(out)
}

func appendValues(b []byte, v Values) []byte {
	n := v.normalized()
	if len(n) == 1 {
		return appendString(b, n[0])
	}
	b = append(b, '[')
	for i, s := range n {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

// appendString writes s as a JSON string. Unlike encoding/json it leaves
// <, > and & alone, so ARNs and conditions read as written.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

func sortedKeys[M ~map[K]V, K cmp.Ordered, V any](m M) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
