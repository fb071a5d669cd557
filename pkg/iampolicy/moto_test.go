package iampolicy

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"strings"
	"testing"
)

// The differential test runs generated (documents, action, resource) cases
// through moto's evaluator (moto.iam.access_control.IAMPolicy, moto 5.2.1)
// and requires the same decision. It generates only what moto evaluates the
// way IAM does, as read in moto's source:
//
//   - Action and NotAction, Resource, Effect Allow and Deny, Statement as an
//     object or a list, values as a string or a list, several statements and
//     several policies (combined as moto combines a principal's policies).
//   - Wildcards: only '*'. moto turns a pattern into a regular expression by
//     replacing '*' with '.*' and escaping nothing, so '?' becomes a regex
//     quantifier and '.' matches any character; the vocabulary below has no
//     '?', '.', or other regex metacharacters.
//   - Action case: always as AWS spells it. moto matches actions
//     case-sensitively; IAM (and this package) does not.
//
// Left out, because moto does not evaluate them as IAM does:
//   - NotResource: moto ignores it and treats a statement without Resource as
//     a trust statement: PERMITTED when the action matches, even for Deny.
//   - Condition: moto knows only StringEquals (moto/iam/policy_conditions.py)
//     and ignores every other operator, skips keys the request lacks, and
//     answers DENIED, not "statement does not apply", when a condition of an
//     Allow statement fails.
//   - Principal and NotPrincipal: moto knows only "*" and AWS principals.
//   - Policy variables (${...}), which moto does not substitute.

const motoCases = 3000

func TestDifferentialAgainstMoto(t *testing.T) {
	if testing.Short() {
		t.Skip("differential test against moto runs python3; skipped in -short mode")
	}
	t.Parallel()
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Fatalf("python3 is not on PATH: the differential test needs python3 with moto 5.2.1 " +
			"(pip install 'moto[server]==5.2.1'); use go test -short to run unit tests only")
	}

	gen := newCaseGenerator(20240917)
	cases := make([]motoCase, motoCases)
	for i := range cases {
		cases[i] = gen.next()
	}

	cmd := exec.CommandContext(t.Context(), python, "testdata/moto_eval.py")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start python3: %v", err)
	}
	writeErr := make(chan error, 1)
	go func() {
		w := bufio.NewWriter(stdin)
		enc := json.NewEncoder(w)
		for _, c := range cases {
			if err := enc.Encode(c); err != nil {
				writeErr <- err
				return
			}
		}
		if err := w.Flush(); err != nil {
			writeErr <- err
			return
		}
		writeErr <- stdin.Close()
	}()

	lines := bufio.NewScanner(stdout)
	lines.Buffer(make([]byte, 1<<20), 1<<20)
	var hello struct {
		Ready bool   `json:"ready"`
		Moto  string `json:"moto"`
		Fatal string `json:"fatal"`
	}
	if !lines.Scan() {
		_ = cmd.Wait()
		t.Fatalf("python3 testdata/moto_eval.py said nothing: %s", stderr.String())
	}
	if err := json.Unmarshal(lines.Bytes(), &hello); err != nil || !hello.Ready {
		_ = cmd.Wait()
		reason := hello.Fatal
		if err != nil {
			reason = fmt.Sprintf("unreadable first line %q: %v", lines.Text(), err)
		}
		t.Fatalf("moto is not usable from %s (%s): install it with pip install 'moto[server]==5.2.1'; stderr: %s",
			python, reason, stderr.String())
	}
	t.Logf("comparing %d cases with moto %s", len(cases), hello.Moto)

	var (
		mismatches []string
		outcomes   = map[Effect]int{}
		read       int
	)
	for lines.Scan() {
		if read >= len(cases) {
			t.Fatalf("moto_eval.py wrote more answers than cases: %s", lines.Text())
		}
		c := cases[read]
		read++
		var answer struct {
			Result string `json:"result"`
			Error  string `json:"error"`
		}
		if err := json.Unmarshal(lines.Bytes(), &answer); err != nil {
			t.Fatalf("case %d: unreadable answer %q: %v", read-1, lines.Text(), err)
		}
		if answer.Error != "" {
			t.Fatalf("case %d: moto raised %s for %s", read-1, answer.Error, c)
		}
		var policies []*Policy
		for _, doc := range c.Policies {
			p, err := Parse([]byte(doc))
			if err != nil {
				t.Fatalf("case %d: generated document does not parse: %v\n%s", read-1, err, doc)
			}
			policies = append(policies, p)
		}
		got := Evaluate(Request{Action: c.Action, Resource: c.Resource}, policies...)
		outcomes[got.Effect]++
		want := map[string]Effect{"PERMITTED": Allow, "DENIED": Deny, "NEUTRAL": ImplicitDeny}[answer.Result]
		if got.Effect != want {
			mismatches = append(mismatches, fmt.Sprintf("case %d: we say %s, moto says %s\n%s", read-1, got, answer.Result, c))
		}
	}
	if err := lines.Err(); err != nil {
		t.Fatalf("reading moto_eval.py output: %v", err)
	}
	if err := <-writeErr; err != nil {
		t.Fatalf("writing cases to moto_eval.py: %v", err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("python3 testdata/moto_eval.py: %v\n%s", err, stderr.String())
	}
	if read != len(cases) {
		t.Fatalf("moto_eval.py answered %d of %d cases; stderr: %s", read, len(cases), stderr.String())
	}
	for i, m := range mismatches {
		if i == 10 {
			t.Errorf("... and %d more", len(mismatches)-10)
			break
		}
		t.Error(m)
	}
	// A generator that only produced one outcome would prove little.
	for _, e := range []Effect{Allow, Deny, ImplicitDeny} {
		if outcomes[e] < len(cases)/20 {
			t.Errorf("only %d of %d cases decided %s; the generator is too narrow: %v", outcomes[e], len(cases), e, outcomes)
		}
	}
	t.Logf("outcomes: %v, mismatches: %d", outcomes, len(mismatches))
}

type motoCase struct {
	Policies []string `json:"policies"`
	Action   string   `json:"action"`
	Resource string   `json:"resource"`
}

func (c motoCase) String() string {
	return fmt.Sprintf("action %s resource %s\npolicies: %s", c.Action, c.Resource, strings.Join(c.Policies, "\n          "))
}

// caseGenerator draws cases from a fixed vocabulary with a seeded PRNG, so
// every run tests the same cases.
type caseGenerator struct{ r *rand.Rand }

func newCaseGenerator(seed uint64) *caseGenerator {
	return &caseGenerator{r: rand.New(rand.NewPCG(seed, seed^0x5dc))}
}

var (
	genActions = map[string][]string{
		"s3":       {"GetObject", "PutObject", "DeleteObject", "ListBucket", "GetBucketLocation", "AbortMultipartUpload"},
		"sqs":      {"ReceiveMessage", "DeleteMessage", "GetQueueUrl", "GetQueueAttributes"},
		"kinesis":  {"GetRecords", "PutRecord", "PutRecords", "DescribeStream"},
		"dynamodb": {"GetItem", "PutItem", "Scan", "DescribeTable"},
		"iam":      {"CreateRole", "GetRole", "PassRole"},
	}
	genServices  = []string{"s3", "sqs", "kinesis", "dynamodb", "iam"}
	genResources = []string{
		"arn:aws:s3:::sdc-in",
		"arn:aws:s3:::sdc-in/data/part-0001",
		"arn:aws:s3:::sdc-in/archive/part-0002",
		"arn:aws:s3:::sdc-out/run-7/out",
		"arn:aws:s3:::payroll/2024/q1",
		"arn:aws:sqs:us-west-2:123456789012:sdc-events",
		"arn:aws:sqs:eu-west-1:123456789012:other-queue",
		"arn:aws:kinesis:us-west-2:123456789012:stream/sdc-stream",
		"arn:aws:dynamodb:us-west-2:123456789012:table/sdc-app",
		"arn:aws:iam::123456789012:role/sdc-role",
		"*",
	}
)

func (g *caseGenerator) pick(list []string) string { return list[g.r.IntN(len(list))] }

func (g *caseGenerator) action() string {
	svc := g.pick(genServices)
	return svc + ":" + g.pick(genActions[svc])
}

// actionPattern derives a pattern that often, but not always, matches real actions.
func (g *caseGenerator) actionPattern() string {
	svc := g.pick(genServices)
	name := g.pick(genActions[svc])
	switch g.r.IntN(9) {
	case 0:
		return "*"
	case 1:
		return svc + ":*"
	case 2:
		return svc + ":" + name[:1+g.r.IntN(len(name)-1)] + "*"
	case 3:
		return svc + ":*" + name[g.r.IntN(len(name)):]
	case 4:
		return "*:" + name
	case 5:
		cut := g.r.IntN(len(name))
		return svc + ":" + name[:cut] + "*" + name[min(len(name), cut+1+g.r.IntN(3)):]
	}
	return svc + ":" + name
}

func (g *caseGenerator) resourcePattern() string {
	res := g.pick(genResources)
	switch g.r.IntN(8) {
	case 0:
		return "*"
	case 1, 2:
		if res != "*" {
			return res[:g.r.IntN(len(res))] + "*"
		}
	case 3:
		if res != "*" {
			cut := g.r.IntN(len(res))
			return res[:cut] + "*" + res[min(len(res), cut+1+g.r.IntN(6)):]
		}
	case 4:
		return "arn:aws:*:us-west-2:123456789012:*"
	}
	return res
}

// values renders 1-3 generated values as a JSON string or list.
func (g *caseGenerator) values(gen func() string) any {
	n := 1 + g.r.IntN(3)
	if n == 1 && g.r.IntN(2) == 0 {
		return gen()
	}
	out := make([]string, n)
	for i := range out {
		out[i] = gen()
	}
	return out
}

func (g *caseGenerator) statement(sid int) map[string]any {
	s := map[string]any{"Effect": "Allow"}
	if g.r.IntN(4) == 0 {
		s["Effect"] = "Deny"
	}
	if g.r.IntN(3) == 0 {
		s["Sid"] = fmt.Sprintf("S%d", sid)
	}
	if g.r.IntN(5) == 0 {
		s["NotAction"] = g.values(g.actionPattern)
	} else {
		s["Action"] = g.values(g.actionPattern)
	}
	s["Resource"] = g.values(g.resourcePattern)
	return s
}

func (g *caseGenerator) document() string {
	n := 1 + g.r.IntN(3)
	statements := make([]map[string]any, n)
	for i := range statements {
		statements[i] = g.statement(i)
	}
	doc := map[string]any{"Version": Version2012}
	if n == 1 && g.r.IntN(2) == 0 {
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

func (g *caseGenerator) next() motoCase {
	c := motoCase{Action: g.action(), Resource: g.pick(genResources)}
	for range 1 + g.r.IntN(3) {
		c.Policies = append(c.Policies, g.document())
	}
	return c
}
