package iampolicy

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
)

// The generator of the differential test against iam-simulate (oracle_test.go). It draws documents and
// requests from a small vocabulary, so that conditions, patterns and principals match often enough to
// exercise both sides of every rule, from a seeded PRNG, so a seed names a set of cases.

const (
	genAccount      = "123456789012"
	genOtherAccount = "210987654321"
	genHost         = "oidc.eks.us-west-2.amazonaws.com/id/ABCDEF0123456789"
	genOtherHost    = "oidc.eks.eu-west-1.amazonaws.com/id/0123456789ABCDEF"
	genProvider     = "arn:aws:iam::" + genAccount + ":oidc-provider/" + genHost
	genOtherProv    = "arn:aws:iam::" + genAccount + ":oidc-provider/" + genOtherHost
	genRole         = "arn:aws:iam::" + genAccount + ":role/sdc-demo"
	genCaller       = "arn:aws:iam::" + genAccount + ":role/sdc-role"
)

// genKey is a condition context key: the values a request may carry and the values a policy compares
// them with (chosen to match some of the request's values, and some not).
type genKey struct {
	name    string
	fam     family
	multi   bool // a multivalued key (ArrayOf...), sent as a list
	request []string
	policy  []string
}

var identityKeys = []genKey{
	{"aws:PrincipalTag/team", famString, false, []string{"data", "Data", "ops", "data-eng"},
		[]string{"data", "DATA", "ops", "data*", "d?ta", "*", "${aws:username}", "${aws:PrincipalTag/team}", "${aws:PrincipalTag/dept, 'data'}"}},
	{"aws:username", famString, false, []string{"alice", "bob", "Alice", "al*ce"},
		[]string{"alice", "ALICE", "bob", "a*", "al?ce", "${aws:PrincipalTag/owner}", "${*}", "al${*}ce", "${aws:missing, 'bob'}"}},
	{"s3:prefix", famString, false, []string{"", "home/alice/", "home/bob/notes/", "in/"},
		[]string{"", "home/", "home/${aws:username}/", "home/${aws:username}/*", "in/*", "*", "home/*/", "${aws:nothing}"}},
	{"aws:PrincipalTag/owner", famString, false, []string{"alice", "carol"}, []string{"alice", "${aws:username}", "c*"}},
	{"aws:TagKeys", famString, true, []string{"Owner", "owner", "CostCenter", "Env"},
		[]string{"Owner", "owner", "Cost*", "Env", "*", "${aws:PrincipalTag/team}"}},
	{"aws:CalledVia", famString, true, []string{"cloudformation.amazonaws.com", "athena.amazonaws.com"},
		[]string{"cloudformation.amazonaws.com", "*.amazonaws.com", "athena.amazonaws.com"}},
	{"s3:max-keys", famNumeric, false, []string{"5", "10", "100", "10.5"}, []string{"10", "100", "7.5", "0", "10.50"}},
	{"aws:MultiFactorAuthAge", famNumeric, false, []string{"0", "300", "3600"}, []string{"300", "3600", "-1", "86400"}},
	{"aws:CurrentTime", famDate, false, []string{"2026-03-04T05:06:07Z", "2025-12-31T23:59:59Z", "2026-03-04T05:06:07.500Z"},
		[]string{"2026-01-01T00:00:00Z", "2026-03-04T05:06:07Z", "2026-03-04T05:06:07+00:00", "2025-12-31T23:59:59Z", "2026-06-30T12:00:00Z"}},
	{"aws:EpochTime", famDate, false, []string{"1772600767", "1700000000"}, []string{"1772600767", "1750000000", "1600000000"}},
	{"aws:SecureTransport", famBool, false, []string{"true", "false"}, []string{"true", "false", "True", "${aws:ViaAWSService}"}},
	{"aws:ViaAWSService", famBool, false, []string{"true", "false"}, []string{"true", "false", "${aws:SecureTransport}"}},
	{"s3:x-amz-content-sha256", famBinary, false, []string{"UU5WMg==", "YWJj"}, []string{"UU5WMg==", "YWJj", "uu5wmg=="}},
	{"aws:SourceIp", famIP, false, []string{"203.0.113.7", "198.51.100.20", "2001:db8::7", "10.1.2.3"},
		[]string{"203.0.113.0/24", "203.0.113.7/32", "198.51.100.0/22", "2001:db8::/32", "2001:db8::7/128", "10.0.0.0/8", "192.0.2.0/24", "128.0.0.0/1"}},
	{"aws:SourceArn", famArn, false, []string{"arn:aws:sns:us-west-2:123456789012:topic-a", "arn:aws:s3:::sdc-in", "arn:aws:sns:eu-west-1:210987654321:topic-b"},
		[]string{"arn:aws:sns:*:123456789012:topic-*", "arn:aws:sns:us-west-2:123456789012:topic-a", "arn:aws:s3:::sdc-*", "arn:aws:sns:??-west-?:*:topic-?", "arn:aws:*:*:*:*", "arn:aws:sns:us-west-2:123456789012:topic-${aws:username}"}},
	{"aws:PrincipalArn", famArn, false, []string{"arn:aws:iam::123456789012:role/sdc-role", "arn:aws:iam::210987654321:role/ext/other"},
		[]string{"arn:aws:iam::123456789012:role/*", "arn:aws:iam::*:role/ext/*", "arn:aws:iam::123456789012:role/sdc-role", "arn:aws:iam::123456789012:*"}},
}

// trustKeys are the keys STS puts in the context of AssumeRoleWithWebIdentity for an EKS issuer; the same
// keys of another issuer are in identityKeys' place for trust cases.
func trustKeys(host string) []genKey {
	return []genKey{
		{host + ":sub", famString, false,
			[]string{"system:serviceaccount:ns1:sdc", "system:serviceaccount:ns1:other", "system:serviceaccount:ns2:sdc", "system:serviceaccount:ns1:sdc-2"},
			[]string{"system:serviceaccount:ns1:sdc", "system:serviceaccount:ns2:sdc", "system:serviceaccount:ns1:*", "system:serviceaccount:*:sdc",
				"system:serviceaccount:ns?:sdc", "system:serviceaccount:ns1:sdc*", "*", "system:serviceaccount:ns1:sdc-?"}},
		{host + ":aud", famString, false, []string{"sts.amazonaws.com", "other-audience"},
			[]string{"sts.amazonaws.com", "sts.*", "*.amazonaws.com", "other-audience", "STS.amazonaws.com"}},
		{host + ":amr", famString, true, []string{"authenticated", "unauthenticated", "graph.facebook.com"},
			[]string{"authenticated", "unauthenticated", "*authenticated", "graph.*"}},
	}
}

var (
	orActions = map[string][]string{
		"s3":       {"GetObject", "PutObject", "DeleteObject", "ListBucket", "GetBucketLocation"},
		"sqs":      {"ReceiveMessage", "DeleteMessage", "GetQueueUrl"},
		"kinesis":  {"GetRecords", "PutRecord", "DescribeStream"},
		"dynamodb": {"GetItem", "PutItem", "Scan"},
		"iam":      {"GetRole", "PassRole", "TagRole"},
	}
	orServices = []string{"s3", "sqs", "kinesis", "dynamodb", "iam"}
	// orResources are concrete request resources, each of its action's service.
	orResources = map[string][]string{
		"s3": {"arn:aws:s3:::sdc-in", "arn:aws:s3:::sdc-in/data/part-0001", "arn:aws:s3:::sdc-in/home/alice/notes.txt",
			"arn:aws:s3:::sdc-in/home/bob/x", "arn:aws:s3:::payroll/2024/q1", "arn:aws:s3:::sdc-out/run:7/out"},
		"sqs":      {"arn:aws:sqs:us-west-2:123456789012:sdc-events", "arn:aws:sqs:eu-west-1:123456789012:alice-queue"},
		"kinesis":  {"arn:aws:kinesis:us-west-2:123456789012:stream/sdc-stream", "arn:aws:kinesis:us-west-2:210987654321:stream/other"},
		"dynamodb": {"arn:aws:dynamodb:us-west-2:123456789012:table/sdc-app", "arn:aws:dynamodb:us-west-2:123456789012:table/sdc-app/index/by-day"},
		"iam":      {"arn:aws:iam::123456789012:role/sdc-role", "arn:aws:iam::123456789012:role/team/alice"},
	}
	// orResourcePatterns are Resource/NotResource values: exact ARNs, wildcards within segments, and
	// policy variables in the resource part.
	orResourcePatterns = []string{
		"*", "arn:aws:s3:::sdc-in", "arn:aws:s3:::sdc-in/*", "arn:aws:s3:::sdc-*", "arn:aws:s3:::sdc-in/home/${aws:username}/*",
		"arn:aws:s3:::sdc-in/data/part-000?", "arn:aws:s3:::*/home/*", "arn:aws:s3:::payroll*", "arn:aws:s3:::sdc-out/run:7/*",
		"arn:aws:sqs:us-west-2:123456789012:sdc-events", "arn:aws:sqs:*:123456789012:*", "arn:aws:sqs:eu-west-?:123456789012:*-queue",
		"arn:aws:kinesis:us-west-2:*:stream/*", "arn:aws:kinesis:us-west-2:123456789012:stream/sdc-*",
		"arn:aws:dynamodb:us-west-2:123456789012:table/sdc-app", "arn:aws:dynamodb:us-west-2:123456789012:table/sdc-app/*",
		"arn:aws:dynamodb:*:*:table/sdc-app*", "arn:aws:iam::123456789012:role/*", "arn:aws:iam::123456789012:role/team/${aws:username}",
		"arn:aws:iam::*:role/sdc-role", "arn:aws:*:us-west-2:123456789012:*",
	}

	trustActions = []string{"sts:AssumeRoleWithWebIdentity", "sts:AssumeRole", "sts:*", "sts:AssumeRole*", "sts:TagSession", "*", "sts:assumerolewithwebidentity"}

	// trustPrincipals are Principal element values by type.
	trustPrincipals = map[string][]string{
		"Federated": {genProvider, genOtherProv, "cognito-identity.amazonaws.com"},
		"Service":   {"eks.amazonaws.com", "ec2.amazonaws.com"},
		"AWS": {genAccount, "arn:aws:iam::" + genAccount + ":root", "arn:aws:iam::" + genAccount + ":role/ci",
			"arn:aws:iam::" + genOtherAccount + ":root", "arn:aws:iam::" + genAccount + ":user/alice"},
	}
)

// genRequestPrincipal is who asks to assume the role, and with which action.
type genRequestPrincipal struct {
	principal RequestPrincipal
	action    string
	host      string // the issuer whose keys the context carries; "" for AWS and service principals
}

var trustRequesters = []genRequestPrincipal{
	{RequestPrincipal{"Federated", genProvider}, "sts:AssumeRoleWithWebIdentity", genHost},
	{RequestPrincipal{"Federated", genProvider}, "sts:AssumeRoleWithWebIdentity", genHost},
	{RequestPrincipal{"Federated", genProvider}, "sts:AssumeRoleWithWebIdentity", genHost},
	{RequestPrincipal{"Federated", genOtherProv}, "sts:AssumeRoleWithWebIdentity", genOtherHost},
	{RequestPrincipal{"Service", "eks.amazonaws.com"}, "sts:AssumeRole", ""},
	{RequestPrincipal{"Service", "ec2.amazonaws.com"}, "sts:TagSession", ""},
	{RequestPrincipal{"AWS", "arn:aws:iam::" + genAccount + ":role/ci"}, "sts:AssumeRole", ""},
	{RequestPrincipal{"AWS", "arn:aws:sts::" + genAccount + ":assumed-role/ci/build-42"}, "sts:AssumeRole", ""},
	{RequestPrincipal{"AWS", "arn:aws:iam::" + genAccount + ":user/alice"}, "sts:AssumeRole", ""},
	{RequestPrincipal{"AWS", "arn:aws:iam::" + genOtherAccount + ":role/x"}, "sts:AssumeRole", ""},
}

// oracleCase is one generated case: documents, and the request both evaluators decide.
type oracleCase struct {
	Kind      string // "identity" or "trust"
	Policies  []string
	Request   Request
	MultiKeys map[string]bool // context keys sent as lists
	Features  []string        // what the case exercises, for the coverage check
}

func (c oracleCase) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s case: action %s on %s", c.Kind, c.Request.Action, c.Request.Resource)
	if c.Request.Principal != nil {
		fmt.Fprintf(&b, " by %s %s", c.Request.Principal.Type, c.Request.Principal.ID)
	}
	ctx, _ := json.Marshal(c.Request.Context)
	var lists []string
	for k, v := range c.Request.Context {
		if c.MultiKeys[k] && len(v) > 1 {
			lists = append(lists, k)
		}
	}
	slices.Sort(lists)
	fmt.Fprintf(&b, "\n  context %s (sent as lists: %v)", ctx, lists)
	for i, p := range c.Policies {
		fmt.Fprintf(&b, "\n  policy %d: %s", i, p)
	}
	return b.String()
}

func mapsKeys(m map[string]bool) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

type oracleGen struct {
	r        *rand.Rand
	features map[string]bool
	context  map[string][]string // the context of the case being generated
}

// variableRefs finds ${key} references without a default.
var variableRefs = regexp.MustCompile(`\$\{([^},']+)\}`)

// unresolved reports whether v names a policy variable the case's context has no value for.
func (g *oracleGen) unresolved(v string) bool {
	for _, m := range variableRefs.FindAllStringSubmatch(v, -1) {
		if _, ok := g.context[m[1]]; !ok && !strings.ContainsAny(m[1], "*?$") {
			return true
		}
	}
	return false
}

func newOracleGen(seed uint64) *oracleGen {
	return &oracleGen{r: rand.New(rand.NewPCG(seed, seed^0x0c0ffee))}
}

func (g *oracleGen) pick(list []string) string { return list[g.r.IntN(len(list))] }
func (g *oracleGen) chance(n, outOf int) bool  { return g.r.IntN(outOf) < n }
func (g *oracleGen) feature(f string)          { g.features[f] = true }

// values renders 1-3 generated values as a JSON string or list.
func (g *oracleGen) values(gen func() string) any {
	n := 1 + g.r.IntN(3)
	if n == 1 && g.chance(1, 2) {
		return gen()
	}
	out := make([]string, n)
	for i := range out {
		out[i] = gen()
	}
	return out
}

var familyOperators = map[family][]string{
	famString:  {"StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase", "StringLike", "StringNotLike"},
	famNumeric: {"NumericEquals", "NumericNotEquals", "NumericLessThan", "NumericLessThanEquals", "NumericGreaterThan", "NumericGreaterThanEquals"},
	famDate:    {"DateEquals", "DateNotEquals", "DateLessThan", "DateLessThanEquals", "DateGreaterThan", "DateGreaterThanEquals"},
	famBool:    {"Bool"},
	famBinary:  {"BinaryEquals"},
	famIP:      {"IpAddress", "NotIpAddress"},
	famArn:     {"ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike"},
}

// condition draws one operator with one to three keys for it.
func (g *oracleGen) condition(keys []genKey, cond map[string]map[string]any) {
	if g.chance(1, 8) {
		k := keys[g.r.IntN(len(keys))]
		op := opNull
		g.feature("op:Null")
		addCondition(cond, op, k.name, g.values(func() string { return g.pick([]string{"true", "false"}) }))
		return
	}
	k := keys[g.r.IntN(len(keys))]
	if strings.HasPrefix(k.name, "oidc.") {
		g.feature("key:" + k.name[strings.LastIndex(k.name, ":")+1:])
	}
	op := g.pick(familyOperators[k.fam])
	g.feature("op:" + op)
	switch {
	case k.multi && g.chance(9, 10), !k.multi && g.chance(1, 12):
		q := g.pick([]string{forAnyValue, forAllValues})
		g.feature(q)
		op = q + ":" + op
	}
	// ForAnyValue with IfExists is divergence "ForAnyValue with IfExists and the key absent".
	if g.chance(1, 4) && !strings.HasPrefix(op, forAnyValue) {
		op += "IfExists"
		g.feature("IfExists")
	}
	// ${*}, ${?} and ${$} only where iam-simulate reads them as IAM does: divergence "${*} in StringEquals".
	// A negated ARN operator with a variable without a value is divergence "an unresolved variable after a
	// differing ARN segment".
	negatedARN := k.fam == famArn && strings.Contains(op, "Not")
	pool := slices.DeleteFunc(slices.Clone(k.policy), func(v string) bool {
		special := strings.Contains(v, "${*}") || strings.Contains(v, "${?}") || strings.Contains(v, "${$}")
		return (special && !strings.Contains(op, "Like")) || (negatedARN && g.unresolved(v))
	})
	addCondition(cond, op, k.name, g.values(func() string {
		v := g.pick(pool)
		if strings.Contains(v, "${") {
			g.feature("variable")
		}
		return v
	}))
}

func addCondition(cond map[string]map[string]any, op, key string, v any) {
	if cond[op] == nil {
		cond[op] = map[string]any{}
	}
	cond[op][key] = v
}

// drawContext draws the request's context: each key present with probability 3/5, a multivalued key with one
// to three distinct values.
func (g *oracleGen) drawContext(keys []genKey, ctx map[string][]string, multi map[string]bool) {
	for _, k := range keys {
		if !g.chance(3, 5) {
			continue
		}
		if !k.multi {
			ctx[k.name] = []string{g.pick(k.request)}
			continue
		}
		n := 1 + g.r.IntN(min(3, len(k.request)))
		perm := g.r.Perm(len(k.request))
		for _, i := range perm[:n] {
			ctx[k.name] = append(ctx[k.name], k.request[i])
		}
		multi[k.name] = true
	}
}

func (g *oracleGen) actionPattern() string {
	svc := g.pick(orServices)
	name := g.pick(orActions[svc])
	switch g.r.IntN(10) {
	case 0:
		return "*"
	case 1:
		return svc + ":*"
	case 2:
		return svc + ":" + name[:1+g.r.IntN(len(name)-1)] + "*"
	case 3:
		return svc + ":*" + name[g.r.IntN(len(name)):]
	case 4:
		i := g.r.IntN(len(name))
		return svc + ":" + name[:i] + "?" + name[i+1:]
	case 5:
		return svc + ":" + strings.ToLower(name)
	}
	return svc + ":" + name
}

func (g *oracleGen) identityStatement() map[string]any {
	s := map[string]any{"Effect": "Allow"}
	if g.chance(1, 4) {
		s["Effect"] = "Deny"
		g.feature("Deny")
	}
	if g.chance(1, 5) {
		s["NotAction"] = g.values(g.actionPattern)
		g.feature("NotAction")
	} else {
		s["Action"] = g.values(g.actionPattern)
	}
	resource := func() string {
		v := g.pick(orResourcePatterns)
		if strings.ContainsAny(v, "*?") {
			g.feature("resource wildcard")
		}
		if strings.Contains(v, "${") {
			g.feature("variable")
		}
		return v
	}
	if g.chance(1, 6) {
		// NotResource with a variable without a value is divergence "an unresolved variable after a
		// differing ARN segment".
		s["NotResource"] = g.values(func() string {
			for {
				if v := resource(); !g.unresolved(v) {
					return v
				}
			}
		})
		g.feature("NotResource")
	} else {
		s["Resource"] = g.values(resource)
	}
	if g.chance(2, 3) {
		cond := map[string]map[string]any{}
		for range 1 + g.r.IntN(3) {
			g.condition(identityKeys, cond)
		}
		s["Condition"] = cond
	}
	return s
}

func (g *oracleGen) document(statement func() map[string]any) string {
	n := 1 + g.r.IntN(3)
	statements := make([]map[string]any, n)
	for i := range statements {
		statements[i] = statement()
	}
	doc := map[string]any{"Version": Version2012}
	if n == 1 && g.chance(1, 2) {
		doc["Statement"] = statements[0]
	} else {
		doc["Statement"] = statements
	}
	b, err := json.Marshal(doc)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func (g *oracleGen) identityCase() oracleCase {
	g.features = map[string]bool{}
	svc := g.pick(orServices)
	c := oracleCase{Kind: "identity", MultiKeys: map[string]bool{},
		Request: Request{Action: svc + ":" + g.pick(orActions[svc]), Resource: g.pick(orResources[svc]), Context: map[string][]string{}}}
	g.drawContext(identityKeys, c.Request.Context, c.MultiKeys)
	g.context = c.Request.Context
	for range 1 + g.r.IntN(3) {
		c.Policies = append(c.Policies, g.document(g.identityStatement))
	}
	c.Features = slices.Sorted(mapsKeys(g.features))
	return c
}

// trustPrincipal draws a Principal or NotPrincipal value. An account (its id or root ARN) is named only
// when an AWS principal asks: divergence "an AWS account principal and a web identity".
func (g *oracleGen) trustPrincipal(requester string) any {
	if g.chance(1, 12) {
		return "*"
	}
	p := map[string]any{}
	for range 1 + g.r.IntN(2) {
		typ := g.pick([]string{"Federated", "Federated", "Service", "AWS"})
		g.feature("principal:" + typ)
		pool := trustPrincipals[typ]
		if typ == "AWS" && requester != "AWS" {
			pool = slices.DeleteFunc(slices.Clone(pool), func(v string) bool { return accountID.MatchString(v) || strings.HasSuffix(v, ":root") })
		}
		p[typ] = g.values(func() string { return g.pick(pool) })
	}
	return p
}

func (g *oracleGen) trustStatement(requester string) map[string]any {
	s := map[string]any{"Effect": "Allow"}
	if g.chance(1, 4) {
		s["Effect"] = "Deny"
		g.feature("Deny")
	}
	if g.chance(1, 10) {
		s["NotPrincipal"] = g.trustPrincipal(requester)
		g.feature("NotPrincipal")
	} else {
		s["Principal"] = g.trustPrincipal(requester)
	}
	if g.chance(1, 8) {
		s["NotAction"] = g.values(func() string { return g.pick(trustActions) })
		g.feature("NotAction")
	} else {
		s["Action"] = g.values(func() string { return g.pick(trustActions) })
	}
	if g.chance(3, 4) {
		keys := trustKeys(genHost)
		if g.chance(1, 6) {
			keys = append(keys, trustKeys(genOtherHost)...)
		}
		cond := map[string]map[string]any{}
		for range 1 + g.r.IntN(3) {
			g.condition(keys, cond)
		}
		s["Condition"] = cond
	}
	return s
}

func (g *oracleGen) trustCase() oracleCase {
	g.features = map[string]bool{}
	who := trustRequesters[g.r.IntN(len(trustRequesters))]
	g.feature("requester:" + who.principal.Type)
	c := oracleCase{Kind: "trust", MultiKeys: map[string]bool{},
		Request: Request{Principal: &who.principal, Action: who.action, Resource: genRole, Context: map[string][]string{}}}
	if who.host != "" {
		g.drawContext(trustKeys(who.host), c.Request.Context, c.MultiKeys)
	}
	g.context = c.Request.Context
	c.Policies = []string{g.document(func() map[string]any { return g.trustStatement(who.principal.Type) })}
	c.Features = slices.Sorted(mapsKeys(g.features))
	return c
}
