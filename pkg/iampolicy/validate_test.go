package iampolicy

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// policyOfSize builds a managed policy whose compact form is exactly n
// characters, by padding one resource ARN.
func policyOfSize(t *testing.T, n int) *Policy {
	t.Helper()
	p := NewPolicy(Statement{Effect: Allow, Action: Values{"s3:GetObject"}, Resource: Values{"arn:aws:s3:::b/"}})
	pad := n - p.Size()
	if pad < 0 {
		t.Fatalf("cannot build a policy of %d characters; the smallest is %d", n, p.Size())
	}
	p.Statements[0].Resource[0] += strings.Repeat("k", pad)
	if p.Size() != n {
		t.Fatalf("built policy has %d characters, want %d", p.Size(), n)
	}
	return p
}

func TestValidateSizeLimits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		kind    Kind
		size    int
		wantErr string
	}{
		{Identity, vocab.MaxManagedPolicy, ""},
		{Identity, vocab.MaxManagedPolicy + 1, "6145 characters without whitespace, over the 6144-character limit for a managed policy"},
		{Inline, vocab.MaxInlinePolicies, ""},
		{Inline, vocab.MaxInlinePolicies + 1, "10241 characters without whitespace, over the 10240-character limit for an inline policy"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s of %d", tt.kind, tt.size), func(t *testing.T) {
			t.Parallel()
			err := policyOfSize(t, tt.size).Validate(tt.kind)
			checkErr(t, err, tt.wantErr)
			if tt.wantErr != "" {
				var se *SizeError
				if !errors.As(err, &se) || se.Size != tt.size || se.Limit != tt.kind.MaxSize() {
					t.Errorf("want a *SizeError{Size: %d, Limit: %d}, got %#v", tt.size, tt.kind.MaxSize(), se)
				}
			}
		})
	}
}

// TestSizeIgnoresWhitespace parses the same document with and without
// generous whitespace: IAM counts neither.
func TestSizeIgnoresWhitespace(t *testing.T) {
	t.Parallel()
	p := policyOfSize(t, vocab.MaxManagedPolicy)
	indented := p.Canonical()
	spaced := strings.ReplaceAll(string(indented), "\n", "\n\t\t\t\t")
	if len(spaced) <= vocab.MaxManagedPolicy {
		t.Fatalf("test document is only %d bytes; it should exceed the limit with whitespace", len(spaced))
	}
	parsed := mustParse(t, spaced)
	if parsed.Size() != vocab.MaxManagedPolicy {
		t.Errorf("Size = %d, want %d", parsed.Size(), vocab.MaxManagedPolicy)
	}
	if err := parsed.Validate(Identity); err != nil {
		t.Errorf("Validate(Identity) of a %d-byte document with %d characters besides whitespace: %v", len(spaced), parsed.Size(), err)
	}
}

func TestSizeCountsCharactersNotBytes(t *testing.T) {
	t.Parallel()
	a := NewPolicy(Statement{Effect: Allow, Action: Values{"s3:GetObject"}, Resource: Values{"arn:aws:s3:::b/e"}})
	b := NewPolicy(Statement{Effect: Allow, Action: Values{"s3:GetObject"}, Resource: Values{"arn:aws:s3:::b/é"}})
	if a.Size() != b.Size() {
		t.Errorf("Size differs for one ASCII and one non-ASCII character: %d vs %d", a.Size(), b.Size())
	}
	if a.Size() != len(a.Compact()) {
		t.Errorf("Size = %d, compact form has %d characters", a.Size(), len(a.Compact()))
	}
}

func TestValidateKinds(t *testing.T) {
	t.Parallel()
	irsa := NewPolicy(WebIdentityStatement("arn:aws:iam::111122223333:oidc-provider/oidc.example/id/A", "oidc.example/id/A", "ns", "sa", ""))
	identity := NewPolicy(Statement{Effect: Allow, Action: Values{"s3:GetObject"}, Resource: Values{"arn:aws:s3:::b/*"}})
	bigTrust := irsa.Clone()
	for i := range 20 {
		bigTrust.Statements = append(bigTrust.Statements, WebIdentityStatement("arn:aws:iam::111122223333:oidc-provider/oidc.example/id/A", "oidc.example/id/A", "ns", "sa"+strconv.Itoa(i), ""))
	}
	tests := []struct {
		name    string
		p       *Policy
		kind    Kind
		wantErr string
	}{
		{"IRSA trust statement is a valid trust policy", irsa, Trust, ""},
		{"identity policy is a valid managed policy", identity, Identity, ""},
		{"identity policy is a valid inline policy", identity, Inline, ""},
		{"trust policy is no identity policy", irsa, Identity, "must not name a Principal"},
		{"identity policy is no trust policy", identity, Trust, "needs a Principal"},
		{"trust policy without Resource", identity, Trust, "must not have Resource"},
		{"trust policy with non-STS action", identity, Trust, `"s3:GetObject" is not an STS action`},
		{"identity statement needs a resource",
			NewPolicy(Statement{Effect: Allow, Action: Values{"s3:GetObject"}}), Identity, "needs Resource or NotResource"},
		{"Sid must be alphanumeric",
			NewPolicy(Statement{Sid: "read-s3", Effect: Allow, Action: Values{"s3:GetObject"}, Resource: Values{"*"}}), Identity, `"read-s3" has characters other than`},
		{"trust policy over 2048 characters", bigTrust, Trust, "limit for a trust policy"},
		{"structure rules apply to built policies",
			&Policy{Version: Version2012, Statements: []Statement{{Effect: "allow", Action: Values{"s3:GetObject"}, Resource: Values{"*"}}}}, Identity, `Statement[0].Effect: "allow" is not Allow or Deny`},
		{"empty condition block in a built policy",
			NewPolicy(Statement{Effect: Allow, Action: Values{"s3:GetObject"}, Resource: Values{"*"}, Condition: Conditions{}}), Identity, "empty condition block"},
		{"unknown kind", identity, Kind(7), "unknown policy kind 7"},
		{"nil policy", nil, Identity, "policy is nil"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			checkErr(t, tt.p.Validate(tt.kind), tt.wantErr)
		})
	}
}

func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("unexpected error: %v", err)
	case want != "" && err == nil:
		t.Errorf("no error, want one containing %q", want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Errorf("error %q does not contain %q", err, want)
	}
}
