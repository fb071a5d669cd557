package iampolicy

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/canonical/*.golden from the current output")

// TestCanonicalGolden renders each testdata/canonical/NAME.in and compares
// it with NAME.golden byte for byte.
func TestCanonicalGolden(t *testing.T) {
	t.Parallel()
	inputs, err := filepath.Glob(filepath.Join("testdata", "canonical", "*.in"))
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no golden inputs in testdata/canonical (err %v)", err)
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".in")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			src, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			p, err := Parse(src)
			if err != nil {
				t.Fatalf("Parse(%s): %v", in, err)
			}
			got := append(p.Canonical(), '\n')
			golden := strings.TrimSuffix(in, ".in") + ".golden"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run TestCanonicalGolden -update ./pkg/iampolicy to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("canonical form of %s differs from %s:\n got:\n%s\nwant:\n%s", in, golden, got, want)
			}
			// The canonical form is a fixed point and does not depend on the run.
			again, err := Parse(want)
			if err != nil {
				t.Fatalf("Parse(%s): %v", golden, err)
			}
			if c := append(again.Canonical(), '\n'); !bytes.Equal(c, want) {
				t.Errorf("canonical form of the golden file is not itself:\n%s", c)
			}
		})
	}
}

func TestEqual(t *testing.T) {
	t.Parallel()
	base := `{"Version":"2012-10-17","Statement":[` +
		`{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":["arn:aws:s3:::a/*","arn:aws:s3:::b/*"],"Condition":{"StringEquals":{"k":["1","2"]}}},` +
		`{"Effect":"Deny","Action":"iam:*","Resource":"*"}]}`
	tests := []struct {
		name, other string
		want        bool
	}{
		{"same text", base, true},
		{"values reordered and repeated", `{"Statement":[` +
			`{"Condition":{"StringEquals":{"k":["2","1","2"]}},"Resource":["arn:aws:s3:::b/*","arn:aws:s3:::a/*"],"Action":["s3:PutObject","s3:GetObject","s3:PutObject"],"Effect":"Allow"},` +
			`{"Effect":"Deny","Action":["iam:*"],"Resource":["*"]}],"Version":"2012-10-17"}`, true},
		{"statements reordered", `{"Version":"2012-10-17","Statement":[` +
			`{"Effect":"Deny","Action":"iam:*","Resource":"*"},` +
			`{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":["arn:aws:s3:::a/*","arn:aws:s3:::b/*"],"Condition":{"StringEquals":{"k":["1","2"]}}}]}`, false},
		{"one value fewer", `{"Version":"2012-10-17","Statement":[` +
			`{"Effect":"Allow","Action":"s3:GetObject","Resource":["arn:aws:s3:::a/*","arn:aws:s3:::b/*"],"Condition":{"StringEquals":{"k":["1","2"]}}},` +
			`{"Effect":"Deny","Action":"iam:*","Resource":"*"}]}`, false},
		{"other version", `{"Version":"2008-10-17","Statement":[` +
			`{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":["arn:aws:s3:::a/*","arn:aws:s3:::b/*"],"Condition":{"StringEquals":{"k":["1","2"]}}},` +
			`{"Effect":"Deny","Action":"iam:*","Resource":"*"}]}`, false},
	}
	p := mustParse(t, base)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := mustParse(t, tt.other)
			if got := p.Equal(o); got != tt.want {
				t.Errorf("Equal = %v, want %v\n%s\n%s", got, tt.want, p.Compact(), o.Compact())
			}
			if got := o.Equal(p); got != tt.want {
				t.Errorf("Equal is not symmetric")
			}
		})
	}
	var nilPolicy *Policy
	if nilPolicy.Equal(p) || p.Equal(nil) || !nilPolicy.Equal(nil) {
		t.Errorf("Equal with nil: want true only for two nils")
	}
}

// TestCanonicalOfBuiltPolicy checks a policy built in Go renders like the
// same policy parsed, and that Compact is Canonical without whitespace.
func TestCanonicalOfBuiltPolicy(t *testing.T) {
	t.Parallel()
	built := NewPolicy(Statement{
		Sid:      "Read",
		Effect:   Allow,
		Action:   Values{"s3:ListBucket", "s3:GetObject"},
		Resource: Values{"arn:aws:s3:::b", "arn:aws:s3:::b/*"},
	})
	want := `{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "Read",
      "Effect": "Allow",
      "Action": [
        "s3:GetObject",
        "s3:ListBucket"
      ],
      "Resource": [
        "arn:aws:s3:::b",
        "arn:aws:s3:::b/*"
      ]
    }
  ]
}`
	if got := string(built.Canonical()); got != want {
		t.Errorf("Canonical:\n%s\nwant:\n%s", got, want)
	}
	if !built.Equal(mustParse(t, want)) {
		t.Errorf("built policy is not Equal to its parsed canonical form")
	}
	var stripped bytes.Buffer
	for _, line := range strings.Split(want, "\n") {
		stripped.WriteString(strings.ReplaceAll(strings.TrimSpace(line), `": `, `":`))
	}
	if got := string(built.Compact()); got != stripped.String() {
		t.Errorf("Compact = %s, want %s", got, stripped.String())
	}
}

func mustParse(t testing.TB, doc string) *Policy {
	t.Helper()
	p, err := Parse([]byte(doc))
	if err != nil {
		t.Fatalf("Parse(%s): %v", doc, err)
	}
	return p
}
