package catalog_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/catalog"
	"github.com/kubectl-sdc/kubectl-sdc/test/oracle"
)

// Each stage's calls judged by an evaluator we did not write (iam-simulate, test/oracle): for every stage,
// every combination of its options and every SDC release range in which its calls differ, the policy
// bind renders must allow each call the stage makes (action, resource, condition context), and refuse
// one call beyond the stage's list (an action it never makes, on its own resource).

// beyond is, per stage, an action the stage never calls, asked on the resource of the stage's first call
// of the same service; most are actions the catalog granted before it was read against SDC's source.
var beyond = map[string]string{
	"s3":                   "s3:DeleteObject",
	"s3-origin":            "s3:DeleteBucket",
	"s3-destination":       "s3:DeleteObject",
	"s3-executor":          "s3:PutObjectAcl",
	"sqs-consumer":         "sqs:GetQueueAttributes",
	"kinesis-consumer":     "dynamodb:UpdateTable",
	"kinesis-producer":     "kinesis:PutRecord",
	"firehose-destination": "firehose:DeleteDeliveryStream",
	"secrets-manager":      "secretsmanager:PutSecretValue",
}

// optionValues are the values each parameter takes in the matrix; unset is added for optional ones.
// Buckets and keys differ from the stage's own, so "another bucket" and "another key" are exercised.
var optionValues = map[string][]string{
	"bucket":          {"sdc-data"},
	"prefix":          {"in/"},
	"archive-bucket":  {"sdc-archive"},
	"error-bucket":    {"sdc-errors"},
	"queue":           {"orders"},
	"stream":          {"clicks"},
	"application":     {"clicks-app"},
	"delivery-stream": {"to-s3"},
	"secret":          {"sdc/db"},
	"kms-key": {"arn:aws:kms:us-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
		"arn:aws:kms:us-west-2:123456789012:alias/sdc"},
	"archive-kms-key": {"arn:aws:kms:us-west-2:123456789012:key/5678abcd-12ab-34cd-56ef-1234567890ab"},
}

type matrixCase struct {
	stage, sdc string
	params     map[string]string
	call       catalog.RenderedCall
	want       oracle.Decision
}

func TestOracleEveryCallAllowedAndNoMore(t *testing.T) {
	o := oracle.Start(t)
	t.Parallel()
	start := time.Now()
	cat, err := catalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	target := catalog.Target{Partition: "aws", Region: "us-west-2", Account: "123456789012"}
	const principal = "arn:aws:sts::123456789012:assumed-role/sdc-pipelines/sdc"
	checked := cat.CallsChecked()
	rows := []string{fmt.Sprintf("%-22s %8s %7s %7s %7s %7s", "STAGE", "OPTIONS", "RANGES", "RENDERS", "ALLOW", "DENY")}
	total := 0
	for _, stage := range cat.Stages() {
		if len(stage.Calls) == 0 {
			t.Errorf("stage %s lists no calls", stage.Name)
			continue
		}
		ranges, err := cat.SDCRanges(stage.Name)
		if err != nil {
			t.Fatal(err)
		}
		combos := optionCombinations(t, stage)
		var cases []matrixCase
		var sims []oracle.Simulation
		renders := 0
		for _, params := range combos {
			for _, r := range ranges {
				if !settingExists(stage, params, r[0]) {
					continue
				}
				sel := catalog.Selection{Stages: []string{stage.Name}, Params: params}
				doc, _, err := cat.Render(sel, target)
				if err != nil {
					t.Fatalf("stage %s %v: %v", stage.Name, params, err)
				}
				calls, err := cat.Calls(sel, target, r[0])
				if err != nil {
					t.Fatalf("stage %s %v SDC %s: %v", stage.Name, params, r[0], err)
				}
				renders++
				extra := beyondCall(t, stage, calls)
				for i, c := range append(calls, extra) {
					want := oracle.Allowed
					if i == len(calls) {
						want = oracle.ImplicitlyDenied
					}
					cases = append(cases, matrixCase{stage.Name, r[0], params, c, want})
					sims = append(sims, simulation(principal, target.Account, c, doc))
				}
			}
		}
		decisions, err := o.Simulate(sims)
		if err != nil {
			t.Fatal(err)
		}
		allowed, denied := 0, 0
		for i, c := range cases {
			if decisions[i] != c.want {
				t.Errorf("stage %s, SDC %s+, options %v: %s (%s, %s) is %s by iam-simulate, want %s",
					c.stage, c.sdc, c.params, c.call, c.call.API, c.call.Source, decisions[i], c.want)
				continue
			}
			if c.want == oracle.Allowed {
				allowed++
			} else {
				denied++
			}
		}
		total += len(cases)
		rows = append(rows, fmt.Sprintf("%-22s %8d %7d %7d %7d %7d", stage.Name, len(combos), len(ranges), renders, allowed, denied))
	}
	t.Logf("calls checked against SDC %s-%s, iam-simulate %s, iam-data %s: %d cases in %s\n%s",
		checked.From, checked.Through, o.Versions.IAMSimulate, o.Versions.IAMData, total, time.Since(start).Round(time.Millisecond), strings.Join(rows, "\n"))
}

// optionCombinations are every combination of the stage's parameters: required ones at their one value,
// each optional one unset and at each of its values (each choice).
func optionCombinations(t *testing.T, stage catalog.Stage) []map[string]string {
	t.Helper()
	sets := []map[string]string{{}}
	for _, p := range stage.Parameters {
		values := optionValues[p.Name]
		if p.Kind == catalog.KindChoice {
			values = p.Values
		}
		if len(values) == 0 {
			t.Fatalf("stage %s: no matrix values for parameter %s: add them to optionValues", stage.Name, p.Name)
		}
		var next []map[string]string
		for _, set := range sets {
			if !p.Required && p.Default == nil {
				next = append(next, set)
			}
			for _, v := range values {
				s := maps.Clone(set)
				s[p.Name] = v
				next = append(next, s)
			}
		}
		sets = next
	}
	return sets
}

// settingExists reports whether SDC release sdc has every setting of params (a parameter's since: says
// from which release a value other than its default can be chosen).
func settingExists(stage catalog.Stage, params map[string]string, sdc string) bool {
	for _, p := range stage.Parameters {
		v, set := params[p.Name]
		if !set || p.Since == "" || (p.Default != nil && *p.Default == v) {
			continue
		}
		if cmp, err := catalog.CompareVersions(sdc, p.Since); err != nil || cmp < 0 {
			return false
		}
	}
	return true
}

// beyondCall is the stage's call beyond its list: beyond[stage] on the resource of its first call of
// that service. The action must be one the stage never calls.
func beyondCall(t *testing.T, stage catalog.Stage, calls []catalog.RenderedCall) catalog.RenderedCall {
	t.Helper()
	action, ok := beyond[stage.Name]
	if !ok {
		t.Fatalf("stage %s: no call beyond its list in beyond", stage.Name)
	}
	if slices.ContainsFunc(stage.Calls, func(c catalog.Call) bool { return strings.EqualFold(c.Action, action) }) {
		t.Fatalf("stage %s calls %s: pick another action for beyond", stage.Name, action)
	}
	svc, _, _ := strings.Cut(action, ":")
	for _, c := range calls {
		if strings.HasPrefix(c.Action, svc+":") {
			return catalog.RenderedCall{Stage: stage.Name, Action: action, Resource: c.Resource, Source: "(none: beyond the stage's calls)"}
		}
	}
	t.Fatalf("stage %s makes no %s call whose resource %s could be asked on", stage.Name, svc, action)
	return catalog.RenderedCall{}
}

func simulation(principal, account string, c catalog.RenderedCall, policy []byte) oracle.Simulation {
	s := oracle.Simulation{Principal: principal, Action: c.Action, Resource: c.Resource, ResourceAccount: account,
		Identity: []json.RawMessage{policy}}
	if strings.HasPrefix(c.Action, "kms:") {
		// KMS asks the key's own policy too; the default key policy delegates to the account's IAM policies.
		s.ResourcePolicy = json.RawMessage(`{"Version":"2012-10-17","Statement":[{"Sid":"Enable IAM User Permissions","Effect":"Allow",` +
			`"Principal":{"AWS":"arn:aws:iam::` + account + `:root"},"Action":"kms:*","Resource":"*"}]}`)
	}
	if len(c.Context) > 0 {
		s.Context = map[string]any{}
		for k, v := range c.Context {
			// kms:ResourceAliases is multivalued: a request carries it as a list.
			if strings.EqualFold(k, "kms:ResourceAliases") {
				s.Context[k] = v
			} else {
				s.Context[k] = v[0]
			}
		}
	}
	return s
}

// The same evaluator on the policies the catalog rendered before its calls were read from SDC's source
// (testdata/plugins-before-calls.yaml): exactly the calls the issue found missing are refused, so the
// matrix above is a check that bites, and a binding made then needs the rerun of bind.
func TestOracleOlderCatalogFailsTheCalls(t *testing.T) {
	o := oracle.Start(t)
	t.Parallel()
	data, err := os.ReadFile(filepath.Join("testdata", "plugins-before-calls.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	older, err := catalog.Parse(data, "plugins-before-calls.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	target := catalog.Target{Partition: "aws", Region: "us-west-2", Account: "123456789012"}
	key := "arn:aws:kms:us-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	cases := []struct {
		name      string
		stage     string
		oldParams map[string]string // what the older catalog could express
		params    map[string]string // SDC's settings, as today's catalog expresses them
		sdc       string
		refused   []string // "action on resource", exactly the calls the older policy refuses
	}{
		{"Kinesis Consumer start without stored offsets", "kinesis-consumer",
			map[string]string{"stream": "clicks", "application": "clicks-app"},
			map[string]string{"stream": "clicks", "application": "clicks-app"}, "3.22.2",
			[]string{"dynamodb:DeleteTable on arn:aws:dynamodb:us-west-2:123456789012:table/clicks-app"}},
		{"Kinesis Consumer with lease table tags", "kinesis-consumer",
			map[string]string{"stream": "clicks", "application": "clicks-app"},
			map[string]string{"stream": "clicks", "application": "clicks-app", "lease-table-tags": "true"}, "3.16.0",
			[]string{"dynamodb:DeleteTable on arn:aws:dynamodb:us-west-2:123456789012:table/clicks-app",
				"dynamodb:TagResource on arn:aws:dynamodb:us-west-2:123456789012:table/clicks-app"}},
		{"Kinesis Producer before KPL 0.14", "kinesis-producer",
			map[string]string{"stream": "clicks"}, map[string]string{"stream": "clicks"}, "3.19.1", nil},
		{"Kinesis Producer's shard map from SDC 3.20", "kinesis-producer",
			map[string]string{"stream": "clicks"}, map[string]string{"stream": "clicks"}, "3.20.0",
			[]string{"kinesis:ListShards on arn:aws:kinesis:us-west-2:123456789012:stream/clicks"}},
		{"S3 Origin error handling deletes, post-processing unset", "s3-origin",
			map[string]string{"bucket": "sdc-data"}, map[string]string{"bucket": "sdc-data", "error-handling": "delete"}, "3.22.2",
			[]string{"s3:DeleteObject on arn:aws:s3:::sdc-data/<object>"}},
		{"S3 Origin archives into another bucket", "s3-origin",
			map[string]string{"bucket": "sdc-data", "post-processing": "archive"},
			map[string]string{"bucket": "sdc-data", "post-processing": "archive", "archive-bucket": "sdc-archive"}, "3.22.2",
			[]string{"s3:PutObject on arn:aws:s3:::sdc-archive/<object>"}},
		{"S3 Origin archives on an SSE-KMS bucket", "s3-origin",
			map[string]string{"bucket": "sdc-data", "post-processing": "archive", "kms-key": key},
			map[string]string{"bucket": "sdc-data", "post-processing": "archive", "kms-key": key}, "3.22.2",
			[]string{"kms:GenerateDataKey on " + key}},
		{"SQS Consumer", "sqs-consumer",
			map[string]string{"queue": "orders"}, map[string]string{"queue": "orders"}, "3.22.2", nil},
	}
	var sims []oracle.Simulation
	var asked [][]catalog.RenderedCall
	for _, c := range cases {
		doc, _, err := older.Render(catalog.Selection{Stages: []string{c.stage}, Params: c.oldParams}, target)
		if err != nil {
			t.Fatalf("%s: the older catalog: %v", c.name, err)
		}
		calls, err := cat.Calls(catalog.Selection{Stages: []string{c.stage}, Params: c.params}, target, c.sdc)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		for _, call := range calls {
			sims = append(sims, simulation("arn:aws:sts::123456789012:assumed-role/sdc-pipelines/sdc", target.Account, call, doc))
		}
		asked = append(asked, calls)
	}
	decisions, err := o.Simulate(sims)
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	for n, c := range cases {
		var refused []string
		for _, call := range asked[n] {
			if decisions[i] != oracle.Allowed && !slices.Contains(refused, call.Action+" on "+call.Resource) {
				refused = append(refused, call.Action+" on "+call.Resource)
			}
			i++
		}
		if !slices.Equal(refused, c.refused) {
			t.Errorf("%s: the older policy refuses %q, want %q", c.name, refused, c.refused)
		}
	}
}
