package iampolicy

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that Parse never panics and that every document it
// accepts has a canonical form that parses back to an Equal policy and is a
// fixed point. Evaluate and Validate must not panic on accepted documents.
func FuzzParse(f *testing.F) {
	inputs, err := filepath.Glob(filepath.Join("testdata", "canonical", "*.in"))
	if err != nil || len(inputs) == 0 {
		f.Fatalf("no seed inputs in testdata/canonical (err %v)", err)
	}
	for _, in := range inputs {
		data, err := os.ReadFile(in)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, seed := range []string{
		`{"Statement":{"Effect":"Deny","NotAction":"s3:*","NotResource":["a","b"]}}`,
		`{"Statement":{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole","Condition":{"ForAllValues:StringLikeIfExists":{"k":["${aws:username, 'x'}",1,true]}}}}`,
		`{"Id":"","Statement":[{"Sid":"","Effect":"Allow","Action":"*","Resource":"\u0000\u2028"}]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err != nil {
			return
		}
		canonical := p.Canonical()
		again, err := Parse(canonical)
		if err != nil {
			t.Fatalf("canonical form does not parse: %v\ninput: %q\ncanonical: %s", err, data, canonical)
		}
		if !again.Equal(p) {
			t.Fatalf("canonical form parses to another policy\ninput: %q\nfirst: %s\nagain: %s", data, p.Compact(), again.Compact())
		}
		if c := again.Canonical(); !bytes.Equal(c, canonical) {
			t.Fatalf("canonical form is not a fixed point\nfirst: %s\nagain: %s", canonical, c)
		}
		compact, err := Parse(p.Compact())
		if err != nil || !compact.Equal(p) {
			t.Fatalf("compact form does not parse to the same policy (err %v): %s", err, p.Compact())
		}
		if p.Size() > len(p.Compact()) {
			t.Fatalf("Size %d exceeds the compact length %d", p.Size(), len(p.Compact()))
		}
		for _, kind := range []Kind{Identity, Inline, Trust} {
			_ = p.Validate(kind)
		}
		ctx := map[string][]string{"k": {"v", "1"}, "aws:username": {"alice"}}
		Evaluate(Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k", Context: ctx}, p)
		Evaluate(Request{Principal: &RequestPrincipal{Type: "AWS", ID: "arn:aws:iam::111122223333:role/r"}, Action: "sts:AssumeRole", Context: ctx}, p)
	})
}

// FuzzMatchString holds the uncompiled matcher of patterns without variables to the compiled one.
func FuzzMatchString(f *testing.F) {
	for _, c := range [][2]string{{"s3:Get*", "s3:GetObject"}, {"arn:aws:s3:::b/*", "arn:aws:s3:::b/a/b"}, {"a?c", "abc"}, {"*a*b*", "xxaybz"},
		{"é*", "É"}, {"\xff*", "\xff\xfe"}, {"", ""}, {"**", "x"}, {"?", "ſ"}} {
		f.Add(c[0], c[1], true)
		f.Add(c[0], c[1], false)
	}
	f.Fuzz(func(t *testing.T, p, s string, fold bool) {
		if got, want := matchString(p, s, fold), matchPattern(literalPattern(p), s, fold); got != want {
			t.Errorf("matchString(%q, %q, %v) = %v, matchPattern: %v", p, s, fold, got, want)
		}
	})
}
