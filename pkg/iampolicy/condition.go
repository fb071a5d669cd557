package iampolicy

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

type family int

const (
	famString family = iota
	famNumeric
	famDate
	famBool
	famBinary
	famIP
	famArn
	famNull
)

type test int

const (
	testEquals test = iota
	testEqualsIgnoreCase
	testLike
	testLess
	testLessEquals
	testGreater
	testGreaterEquals
	testIn // IpAddress
)

// opSpec describes a base operator by its positive form; a negated
// operator (StringNotEquals) is true exactly when the positive one is not.
type opSpec struct {
	fam     family
	test    test
	negated bool
}

const opNull = "Null"

// operators are IAM's condition operators, by their documented names.
var operators = map[string]opSpec{
	"StringEquals":              {famString, testEquals, false},
	"StringNotEquals":           {famString, testEquals, true},
	"StringEqualsIgnoreCase":    {famString, testEqualsIgnoreCase, false},
	"StringNotEqualsIgnoreCase": {famString, testEqualsIgnoreCase, true},
	"StringLike":                {famString, testLike, false},
	"StringNotLike":             {famString, testLike, true},
	"NumericEquals":             {famNumeric, testEquals, false},
	"NumericNotEquals":          {famNumeric, testEquals, true},
	"NumericLessThan":           {famNumeric, testLess, false},
	"NumericLessThanEquals":     {famNumeric, testLessEquals, false},
	"NumericGreaterThan":        {famNumeric, testGreater, false},
	"NumericGreaterThanEquals":  {famNumeric, testGreaterEquals, false},
	"DateEquals":                {famDate, testEquals, false},
	"DateNotEquals":             {famDate, testEquals, true},
	"DateLessThan":              {famDate, testLess, false},
	"DateLessThanEquals":        {famDate, testLessEquals, false},
	"DateGreaterThan":           {famDate, testGreater, false},
	"DateGreaterThanEquals":     {famDate, testGreaterEquals, false},
	"Bool":                      {famBool, testEquals, false},
	"BinaryEquals":              {famBinary, testEquals, false},
	"IpAddress":                 {famIP, testIn, false},
	"NotIpAddress":              {famIP, testIn, true},
	"ArnEquals":                 {famArn, testLike, false},
	"ArnLike":                   {famArn, testLike, false},
	"ArnNotEquals":              {famArn, testLike, true},
	"ArnNotLike":                {famArn, testLike, true},
	opNull:                      {famNull, testEquals, false},
}

var operatorsByLower = func() map[string]string {
	m := make(map[string]string, len(operators))
	for name := range operators {
		m[strings.ToLower(name)] = name
	}
	return m
}()

// Set qualifiers for multivalued context keys.
const (
	forAnyValue  = "ForAnyValue"
	forAllValues = "ForAllValues"
)

// operator is a parsed condition operator such as "ForAllValues:StringLikeIfExists".
type operator struct {
	qualifier string // "", forAnyValue or forAllValues
	base      string // documented name of the base operator
	ifExists  bool
	opSpec
}

// parseOperator reads an operator name. Names are matched ignoring case, so
// documents IAM already holds are read whatever their spelling.
func parseOperator(op string) (operator, error) {
	var o operator
	rest := op
	if q, r, ok := strings.Cut(op, ":"); ok {
		switch {
		case strings.EqualFold(q, forAnyValue):
			o.qualifier = forAnyValue
		case strings.EqualFold(q, forAllValues):
			o.qualifier = forAllValues
		default:
			return o, fmt.Errorf("%q has the set qualifier %q: the set qualifiers are ForAnyValue and ForAllValues", op, q)
		}
		rest = r
	}
	if len(rest) > len("IfExists") && strings.EqualFold(rest[len(rest)-len("IfExists"):], "IfExists") {
		o.ifExists = true
		rest = rest[:len(rest)-len("IfExists")]
	}
	name, ok := operatorsByLower[strings.ToLower(rest)]
	if !ok {
		return o, fmt.Errorf("%q is not a condition operator: use one such as StringEquals, StringLike, ArnLike, NumericLessThan, Bool or Null, optionally with IfExists and a ForAnyValue or ForAllValues qualifier", op)
	}
	o.base = name
	o.opSpec = operators[name]
	return o, nil
}

// conditionsHold reports whether every condition holds: operators AND,
// keys within an operator AND, values of one key OR.
func (ev *evaluation) conditionsHold(c Conditions) bool {
	for op, keys := range c {
		o, err := parseOperator(op)
		if err != nil {
			// A statement with an operator IAM does not know cannot apply.
			return false
		}
		for key, values := range keys {
			if !ev.holds(o, ev.ctx[strings.ToLower(key)], values) {
				return false
			}
		}
	}
	return true
}

// holds applies one operator to one key. A missing key (or one with no
// values) makes a positive operator false and a negated one true;
// IfExists makes it true; ForAllValues is true and ForAnyValue false over
// an empty set. A key with several values is compared only through
// ForAnyValue or ForAllValues: IAM's documentation says multivalued keys
// require a set operator, and without one the condition does not hold,
// negated or not.
//
// A policy value whose variable cannot be resolved fails to match, and so
// does the negation: IAM documents that any attempt to match it fails and
// makes the statement invalid, so a negated operator listing it does not
// hold either.
func (ev *evaluation) holds(o operator, ctxValues []string, policyValues Values) bool {
	if o.fam == famNull {
		present := len(ctxValues) > 0
		for _, v := range policyValues {
			if (strings.EqualFold(v, "true") && !present) || (strings.EqualFold(v, "false") && present) {
				return true
			}
		}
		return false
	}
	if len(ctxValues) == 0 {
		switch {
		case o.ifExists:
			return true
		case o.qualifier == forAllValues:
			return true
		case o.qualifier == forAnyValue:
			return false
		}
		return o.negated
	}
	if o.qualifier == "" && len(ctxValues) > 1 {
		return false
	}
	// satisfied applies the operator, negation included, to one request value.
	satisfied := func(v string) bool {
		for _, pv := range policyValues {
			matched, resolved := ev.match(o, v, pv)
			switch {
			case !resolved && o.negated:
				return false
			case matched:
				return !o.negated
			}
		}
		return o.negated
	}
	if o.qualifier == forAllValues {
		for _, v := range ctxValues {
			if !satisfied(v) {
				return false
			}
		}
		return true
	}
	for _, v := range ctxValues {
		if satisfied(v) {
			return true
		}
	}
	return false
}

// match applies the positive form of an operator to a request value and a
// policy value. resolved is false when the policy value names a policy
// variable that has no value (and no default); matched is then false.
func (ev *evaluation) match(o operator, v, pv string) (matched, resolved bool) {
	switch o.fam {
	case famString:
		if ev.literal(pv) {
			switch o.test {
			case testEqualsIgnoreCase:
				return strings.EqualFold(v, pv), true
			case testLike:
				return matchString(pv, v, false), true
			}
			return v == pv, true
		}
		pat, ok := ev.pattern(pv)
		if !ok {
			return false, false
		}
		switch o.test {
		case testEqualsIgnoreCase:
			return strings.EqualFold(v, patternString(pat)), true
		case testLike:
			return matchPattern(pat, v, false), true
		}
		return v == patternString(pat), true
	case famArn:
		pat, ok := ev.pattern(pv)
		if !ok {
			return false, false
		}
		return matchARN(pat, v), true
	case famBool:
		// The Boolean operator takes policy variables, as the string and
		// ARN operators do (IAM's condition operator reference).
		if ev.literal(pv) {
			return strings.EqualFold(v, pv), true
		}
		pat, ok := ev.pattern(pv)
		if !ok {
			return false, false
		}
		return strings.EqualFold(v, patternString(pat)), true
	case famBinary:
		return v == pv, true
	case famNumeric:
		a, err1 := strconv.ParseFloat(strings.TrimSpace(v), 64)
		b, err2 := strconv.ParseFloat(strings.TrimSpace(pv), 64)
		return err1 == nil && err2 == nil && compare(o.test, cmpFloat(a, b)), true
	case famDate:
		a, ok1 := parseDate(v)
		b, ok2 := parseDate(pv)
		return ok1 && ok2 && compare(o.test, a.Compare(b)), true
	case famIP:
		addr, err := netip.ParseAddr(strings.TrimSpace(v))
		if err != nil {
			return false, true
		}
		prefix, ok := parsePrefix(pv)
		return ok && prefix.Contains(addr.Unmap()), true
	}
	return false, true
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func compare(t test, c int) bool {
	switch t {
	case testLess:
		return c < 0
	case testLessEquals:
		return c <= 0
	case testGreater:
		return c > 0
	case testGreaterEquals:
		return c >= 0
	}
	return c == 0
}

var dateLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05Z0700",
	"2006-01-02T15:04:05",
	"2006-01-02T15:04Z07:00",
	"2006-01-02",
}

// parseDate reads the ISO 8601 forms and the epoch seconds IAM accepts.
func parseDate(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	for _, layout := range dateLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	if secs, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(secs, 0), true
	}
	return time.Time{}, false
}

func parsePrefix(s string) (netip.Prefix, bool) {
	s = strings.TrimSpace(s)
	if p, err := netip.ParsePrefix(s); err == nil {
		a, bits := p.Addr(), p.Bits()
		if a.Is4In6() && bits >= 96 {
			a, bits = a.Unmap(), bits-96
		}
		return netip.PrefixFrom(a, bits).Masked(), true
	}
	if a, err := netip.ParseAddr(s); err == nil {
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	return netip.Prefix{}, false
}

// matchARN compares an ARN pattern with an ARN segment by segment, as
// ArnEquals and ArnLike do: a wildcard never reaches across the colons
// that separate partition, service, region, account and resource.
func matchARN(pat []pchar, arn string) bool {
	const segments = 6
	var patSegs [][]pchar
	start := 0
	for i, c := range pat {
		if len(patSegs) == segments-1 {
			break
		}
		if !c.wild && c.r == ':' {
			patSegs = append(patSegs, pat[start:i])
			start = i + 1
		}
	}
	patSegs = append(patSegs, pat[start:])
	arnSegs := strings.SplitN(arn, ":", segments)
	if len(patSegs) != segments || len(arnSegs) != segments {
		return false
	}
	for i := range segments {
		if !matchPattern(patSegs[i], arnSegs[i], false) {
			return false
		}
	}
	return true
}
