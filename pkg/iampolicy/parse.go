package iampolicy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
)

// Parse reads a policy document in any form IAM accepts: Statement as an
// object or a list; Action, Resource and Principal values as a string or a
// list; condition values as strings, booleans, numbers or lists of them
// (kept as the strings IAM compares, so true becomes "true"). It also
// accepts the URL-encoded JSON that IAM's Get* APIs return
// (GetRole's AssumeRolePolicyDocument, GetPolicyVersion's Document).
// It rejects what IAM rejects, naming the element and the value.
func Parse(data []byte) (*Policy, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, &Error{Msg: "policy document is empty: give a JSON object with a Statement"}
	}
	if trimmed[0] == '%' {
		decoded, err := urlDecode(string(trimmed))
		if err != nil {
			return nil, err
		}
		trimmed = bytes.TrimSpace([]byte(decoded))
	}
	root, err := decodeJSON(trimmed)
	if err != nil {
		return nil, err
	}
	p, err := policyFromNode(root)
	if err != nil {
		return nil, err
	}
	if errs := p.structureErrors(); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return p, nil
}

// urlDecode undoes the RFC 3986 encoding IAM applies to documents it returns.
// Some encoders write a space as '+', which is never meaningful JSON outside
// a string, so that form is tried when the strict one does not yield JSON.
func urlDecode(s string) (string, error) {
	decoded, err := url.PathUnescape(s)
	if err == nil && json.Valid([]byte(decoded)) {
		return decoded, nil
	}
	if strings.Contains(s, "+") {
		if q, qerr := url.QueryUnescape(s); qerr == nil && json.Valid([]byte(q)) {
			return q, nil
		}
	}
	if err != nil {
		return "", &Error{Msg: fmt.Sprintf("policy document looks URL-encoded but does not decode (%v): pass the document as IAM returned it, or as plain JSON", err)}
	}
	return decoded, nil
}

// node is a JSON value with object keys in document order; the standard
// decoder into map[string]any would silently keep only the last of two
// equal keys, and IAM refuses such documents.
type node struct {
	kind byte // 'o' object, 'a' array, 's' string, 'n' number, 'b' bool, 'z' null
	text string
	keys []string
	vals []*node
	arr  []*node
}

// maxDepth is deeper than any valid policy (document, Statement list,
// statement, Condition, operator, key, value list) so it only stops abuse.
const maxDepth = 10

func decodeJSON(data []byte) (*node, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	n, err := decodeValue(dec, 0)
	if err != nil {
		return nil, jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &Error{Msg: fmt.Sprintf("policy document has data after its end (at byte %d): remove it", dec.InputOffset())}
	}
	return n, nil
}

func jsonError(err error) error {
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return &Error{Msg: fmt.Sprintf("policy document is not valid JSON at byte %d: %v", syn.Offset, syn)}
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &Error{Msg: "policy document is not valid JSON: it ends early"}
	}
	return &Error{Msg: fmt.Sprintf("policy document is not valid JSON: %v", err)}
}

func decodeValue(dec *json.Decoder, depth int) (*node, error) {
	if depth > maxDepth {
		return nil, &Error{Msg: fmt.Sprintf("policy document nests deeper than %d levels, which no policy element does", maxDepth)}
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			n := &node{kind: 'o'}
			seen := map[string]bool{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				key, ok := kt.(string)
				if !ok {
					return nil, &Error{Msg: "policy document is not valid JSON: object key is not a string"}
				}
				if seen[key] {
					return nil, &Error{Msg: fmt.Sprintf("key %q appears twice in one JSON object: keep one (IAM refuses duplicate keys)", key)}
				}
				seen[key] = true
				v, err := decodeValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				n.keys = append(n.keys, key)
				n.vals = append(n.vals, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return n, nil
		case '[':
			n := &node{kind: 'a', arr: []*node{}}
			for dec.More() {
				v, err := decodeValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				n.arr = append(n.arr, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return n, nil
		}
		return nil, &Error{Msg: fmt.Sprintf("policy document is not valid JSON: unexpected %q", t)}
	case string:
		return &node{kind: 's', text: t}, nil
	case json.Number:
		return &node{kind: 'n', text: t.String()}, nil
	case bool:
		if t {
			return &node{kind: 'b', text: "true"}, nil
		}
		return &node{kind: 'b', text: "false"}, nil
	case nil:
		return &node{kind: 'z'}, nil
	}
	return nil, fmt.Errorf("unexpected JSON token %v", tok)
}

func (n *node) describe() string {
	switch n.kind {
	case 'o':
		return "an object"
	case 'a':
		return "a list"
	case 's':
		return fmt.Sprintf("the string %q", n.text)
	case 'n':
		return "the number " + n.text
	case 'b':
		return n.text
	}
	return "null"
}

var topLevelKeys = []string{"Version", "Id", "Statement"}

var statementKeys = []string{"Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition"}

func policyFromNode(root *node) (*Policy, error) {
	if root.kind != 'o' {
		return nil, &Error{Msg: fmt.Sprintf("policy document is %s, not a JSON object: give {\"Version\": ..., \"Statement\": ...}", root.describe())}
	}
	p := &Policy{}
	var statements *node
	for i, key := range root.keys {
		v := root.vals[i]
		switch key {
		case "Version":
			s, err := stringOf("Version", v)
			if err != nil {
				return nil, err
			}
			p.Version = s
		case "Id":
			s, err := stringOf("Id", v)
			if err != nil {
				return nil, err
			}
			p.ID = s
		case "Statement":
			statements = v
		default:
			return nil, unknownKey("", key, topLevelKeys)
		}
	}
	if statements == nil {
		return nil, &Error{Path: "Statement", Msg: "is missing: a policy needs at least one statement"}
	}
	switch statements.kind {
	case 'o':
		s, err := statementFromNode("Statement[0]", statements)
		if err != nil {
			return nil, err
		}
		p.Statements = []Statement{s}
	case 'a':
		p.Statements = make([]Statement, 0, len(statements.arr))
		for i, sn := range statements.arr {
			s, err := statementFromNode(fmt.Sprintf("Statement[%d]", i), sn)
			if err != nil {
				return nil, err
			}
			p.Statements = append(p.Statements, s)
		}
	default:
		return nil, &Error{Path: "Statement", Msg: fmt.Sprintf("is %s: give a statement object or a list of them", statements.describe())}
	}
	return p, nil
}

func unknownKey(path, key string, allowed []string) error {
	where := "unknown top-level element"
	if path != "" {
		where = "unknown element"
	}
	for _, a := range allowed {
		if strings.EqualFold(a, key) {
			return &Error{Path: path, Msg: fmt.Sprintf("%s %q: element names are case-sensitive, write %q", where, key, a)}
		}
	}
	return &Error{Path: path, Msg: fmt.Sprintf("%s %q: IAM accepts only %s", where, key, strings.Join(allowed, ", "))}
}

func stringOf(path string, n *node) (string, error) {
	if n.kind != 's' {
		return "", &Error{Path: path, Msg: fmt.Sprintf("is %s: give a string", n.describe())}
	}
	return n.text, nil
}

func statementFromNode(path string, n *node) (Statement, error) {
	var s Statement
	if n.kind != 'o' {
		return s, &Error{Path: path, Msg: fmt.Sprintf("is %s: a statement is a JSON object", n.describe())}
	}
	for i, key := range n.keys {
		v := n.vals[i]
		ep := path + "." + key
		var err error
		switch key {
		case "Sid":
			s.Sid, err = stringOf(ep, v)
		case "Effect":
			var e string
			e, err = stringOf(ep, v)
			s.Effect = Effect(e)
		case "Principal":
			s.Principal, err = principalFromNode(ep, v)
		case "NotPrincipal":
			s.NotPrincipal, err = principalFromNode(ep, v)
		case "Action":
			s.Action, err = stringsFromNode(ep, v)
		case "NotAction":
			s.NotAction, err = stringsFromNode(ep, v)
		case "Resource":
			s.Resource, err = stringsFromNode(ep, v)
		case "NotResource":
			s.NotResource, err = stringsFromNode(ep, v)
		case "Condition":
			s.Condition, err = conditionsFromNode(ep, v)
		default:
			err = unknownKey(path, key, statementKeys)
		}
		if err != nil {
			return s, err
		}
	}
	if s.Effect == "" && !hasKey(n, "Effect") {
		return s, &Error{Path: path, Msg: "has no Effect: add \"Effect\": \"Allow\" or \"Deny\""}
	}
	return s, nil
}

func hasKey(n *node, key string) bool {
	for _, k := range n.keys {
		if k == key {
			return true
		}
	}
	return false
}

// stringsFromNode reads a string or a list of strings. The result is never
// nil, so an explicit empty list stays distinguishable from an absent element.
func stringsFromNode(path string, n *node) (Values, error) {
	switch n.kind {
	case 's':
		return Values{n.text}, nil
	case 'a':
		out := make(Values, 0, len(n.arr))
		for i, e := range n.arr {
			if e.kind != 's' {
				return nil, &Error{Path: fmt.Sprintf("%s[%d]", path, i), Msg: fmt.Sprintf("is %s: give a string", e.describe())}
			}
			out = append(out, e.text)
		}
		return out, nil
	}
	return nil, &Error{Path: path, Msg: fmt.Sprintf("is %s: give a string or a list of strings", n.describe())}
}

func principalFromNode(path string, n *node) (*Principal, error) {
	switch n.kind {
	case 's':
		if n.text != "*" {
			return nil, &Error{Path: path, Msg: fmt.Sprintf("%q is not a principal: write \"*\" or a map such as {\"AWS\": %q}", n.text, n.text)}
		}
		return &Principal{Wildcard: true}, nil
	case 'o':
		p := &Principal{Values: map[string]Values{}}
		for i, typ := range n.keys {
			v, err := stringsFromNode(path+"."+typ, n.vals[i])
			if err != nil {
				return nil, err
			}
			p.Values[typ] = v
		}
		return p, nil
	}
	return nil, &Error{Path: path, Msg: fmt.Sprintf("is %s: write \"*\" or a map of principal type to ids", n.describe())}
}

func conditionsFromNode(path string, n *node) (Conditions, error) {
	if n.kind != 'o' {
		return nil, &Error{Path: path, Msg: fmt.Sprintf("is %s: give a map of operator to {key: values}", n.describe())}
	}
	c := Conditions{}
	for i, op := range n.keys {
		block := n.vals[i]
		if block.kind != 'o' {
			return nil, &Error{Path: path + "." + op, Msg: fmt.Sprintf("is %s: give a map of condition key to values", block.describe())}
		}
		keys := map[string]Values{}
		for j, key := range block.keys {
			v, err := conditionValues(path+"."+op+"."+key, block.vals[j])
			if err != nil {
				return nil, err
			}
			keys[key] = v
		}
		c[op] = keys
	}
	return c, nil
}

// conditionValues reads condition values. IAM compares them as strings, so
// booleans and numbers keep their JSON text: true becomes "true", 10 "10".
func conditionValues(path string, n *node) (Values, error) {
	switch n.kind {
	case 's', 'n', 'b':
		return Values{n.text}, nil
	case 'a':
		out := make(Values, 0, len(n.arr))
		for i, e := range n.arr {
			switch e.kind {
			case 's', 'n', 'b':
				out = append(out, e.text)
			default:
				return nil, &Error{Path: fmt.Sprintf("%s[%d]", path, i), Msg: fmt.Sprintf("is %s: give a string, number or boolean", e.describe())}
			}
		}
		return out, nil
	}
	return nil, &Error{Path: path, Msg: fmt.Sprintf("is %s: give a string, number, boolean or a list of them", n.describe())}
}
