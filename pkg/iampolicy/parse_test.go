package iampolicy

import (
	"net/url"
	"regexp"
	"strings"
	"testing"
)

func TestParseAccepts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		doc  string
		want string // compact canonical form
	}{
		{
			name: "statement as object, values as strings",
			doc:  `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}`,
			want: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}`,
		},
		{
			name: "statement as list, values as lists",
			doc:  `{"Statement":[{"Effect":"Deny","Action":["s3:PutObject","s3:GetObject"],"Resource":["b","a"]}]}`,
			want: `{"Statement":[{"Effect":"Deny","Action":["s3:GetObject","s3:PutObject"],"Resource":["a","b"]}]}`,
		},
		{
			name: "version 2008 and Id",
			doc:  `{"Version":"2008-10-17","Id":"p1","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`,
			want: `{"Version":"2008-10-17","Id":"p1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`,
		},
		{
			name: "NotAction and NotResource",
			doc:  `{"Statement":{"Effect":"Allow","NotAction":"iam:*","NotResource":"arn:aws:s3:::secret/*"}}`,
			want: `{"Statement":[{"Effect":"Allow","NotAction":"iam:*","NotResource":"arn:aws:s3:::secret/*"}]}`,
		},
		{
			name: "principal wildcard",
			doc:  `{"Statement":{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"}}`,
			want: `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"}]}`,
		},
		{
			name: "principal map with string and list",
			doc:  `{"Statement":{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com","AWS":["arn:aws:iam::111122223333:root","111122223333"]},"Action":"sts:AssumeRole"}}`,
			want: `{"Statement":[{"Effect":"Allow","Principal":{"AWS":["111122223333","arn:aws:iam::111122223333:root"],"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`,
		},
		{
			name: "NotPrincipal",
			doc:  `{"Statement":{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:role/admin"},"Action":"*","Resource":"*"}}`,
			want: `{"Statement":[{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:role/admin"},"Action":"*","Resource":"*"}]}`,
		},
		{
			name: "condition values as bool, number, string and list",
			doc:  `{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":true},"NumericLessThan":{"s3:max-keys":10},"StringEquals":{"s3:prefix":["b","a",false,1.5]}}}}`,
			want: `{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"true"},"NumericLessThan":{"s3:max-keys":"10"},"StringEquals":{"s3:prefix":["1.5","a","b","false"]}}}]}`,
		},
		{
			name: "qualified and IfExists operators",
			doc:  `{"Statement":{"Effect":"Allow","Action":"ec2:*","Resource":"*","Condition":{"ForAllValues:StringLike":{"aws:TagKeys":"env*"},"StringEqualsIfExists":{"ec2:InstanceType":"t3.micro"}}}}`,
			want: `{"Statement":[{"Effect":"Allow","Action":"ec2:*","Resource":"*","Condition":{"ForAllValues:StringLike":{"aws:TagKeys":"env*"},"StringEqualsIfExists":{"ec2:InstanceType":"t3.micro"}}}]}`,
		},
		{
			name: "action wildcards and dashed vendor",
			doc:  `{"Statement":{"Effect":"Allow","Action":["s3:Get*","execute-api:Invoke","s3:?etObject","*:*"],"Resource":"*"}}`,
			want: `{"Statement":[{"Effect":"Allow","Action":["*:*","execute-api:Invoke","s3:?etObject","s3:Get*"],"Resource":"*"}]}`,
		},
		{
			name: "duplicate values collapse",
			doc:  `{"Statement":{"Effect":"Allow","Action":["s3:GetObject","s3:GetObject"],"Resource":"*"}}`,
			want: `{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`,
		},
		{
			name: "unique Sids, byte order mark and surrounding whitespace",
			doc:  "\ufeff \n{\"Statement\":[{\"Sid\":\"A\",\"Effect\":\"Allow\",\"Action\":\"s3:*\",\"Resource\":\"*\"},{\"Sid\":\"B\",\"Effect\":\"Deny\",\"Action\":\"s3:*\",\"Resource\":\"*\"}]}\n",
			want: `{"Statement":[{"Sid":"A","Effect":"Allow","Action":"s3:*","Resource":"*"},{"Sid":"B","Effect":"Deny","Action":"s3:*","Resource":"*"}]}`,
		},
		{
			name: "HTML characters and unicode stay unescaped",
			doc:  `{"Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/<a&b>/\u00e9\t"}}`,
			want: `{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/<a&b>/é\t"}]}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := Parse([]byte(tt.doc))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := string(p.Compact()); got != tt.want {
				t.Errorf("Compact:\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

var percentEscape = regexp.MustCompile(`%[0-9A-F]{2}`)

// TestParseURLEncoded feeds documents encoded as IAM's GetRole and
// GetPolicyVersion return them.
func TestParseURLEncoded(t *testing.T) {
	t.Parallel()
	doc := `{
  "Version": "2012-10-17",
  "Statement": [{"Effect": "Allow", "Principal": {"Federated": "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/ABC"},
    "Action": "sts:AssumeRoleWithWebIdentity",
    "Condition": {"StringEquals": {"oidc.eks.us-west-2.amazonaws.com/id/ABC:sub": "system:serviceaccount:ns1:sdc+x"}}}]
}`
	plain, err := Parse([]byte(doc))
	if err != nil {
		t.Fatalf("Parse(plain): %v", err)
	}
	tests := []struct {
		name, encoded string
	}{
		{"RFC 3986 (spaces as %20)", strings.ReplaceAll(url.PathEscape(doc), "+", "%2B")},
		{"all reserved escaped", url.QueryEscape(doc)},
		{"lower-case escapes", percentEscape.ReplaceAllStringFunc(url.QueryEscape(doc), strings.ToLower)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if !strings.HasPrefix(tt.encoded, "%7B") && !strings.HasPrefix(tt.encoded, "%7b") {
				t.Fatalf("test input is not URL-encoded: %.20s", tt.encoded)
			}
			got, err := Parse([]byte(tt.encoded))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !got.Equal(plain) {
				t.Errorf("decoded document differs:\n got %s\nwant %s", got.Compact(), plain.Compact())
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	t.Parallel()
	const ok = `"Effect":"Allow","Action":"s3:GetObject","Resource":"*"`
	tests := []struct {
		name, doc, wantErr string
	}{
		{"empty document", "  ", "policy document is empty"},
		{"not JSON", `{"Statement":`, "not valid JSON"},
		{"trailing data", `{"Statement":{` + ok + `}} {}`, "data after its end"},
		{"not an object", `["Statement"]`, "not a JSON object"},
		{"no Statement", `{"Version":"2012-10-17"}`, "Statement: is missing"},
		{"empty Statement list", `{"Statement":[]}`, "Statement: the policy has no statement"},
		{"Statement is a string", `{"Statement":"x"}`, `Statement: is the string "x"`},
		{"statement is a string", `{"Statement":["x"]}`, `Statement[0]: is the string "x"`},
		{"unknown top-level key", `{"Statement":{` + ok + `},"Foo":1}`, `unknown top-level element "Foo"`},
		{"wrong case top-level key", `{"statement":{` + ok + `}}`, `element names are case-sensitive, write "Statement"`},
		{"unknown statement key", `{"Statement":{` + ok + `,"Resources":"*"}}`, `Statement[0]: unknown element "Resources"`},
		{"duplicate key", `{"Statement":{` + ok + `,"Effect":"Deny"}}`, `key "Effect" appears twice`},
		{"bad Version", `{"Version":"2012-10-18","Statement":{` + ok + `}}`, `Version: "2012-10-18" is not a policy language version`},
		{"Version not a string", `{"Version":2012,"Statement":{` + ok + `}}`, `Version: is the number 2012`},
		{"no Effect", `{"Statement":{"Action":"s3:*","Resource":"*"}}`, `Statement[0]: has no Effect`},
		{"lower-case Effect", `{"Statement":[{` + ok + `},{"Effect":"allow","Action":"s3:*","Resource":"*"}]}`, `Statement[1].Effect: "allow" is not Allow or Deny`},
		{"both Action and NotAction", `{"Statement":{` + ok + `,"NotAction":"s3:PutObject"}}`, "has both Action and NotAction"},
		{"neither Action nor NotAction", `{"Statement":{"Effect":"Allow","Resource":"*"}}`, "has neither Action nor NotAction"},
		{"empty Action list", `{"Statement":{"Effect":"Allow","Action":[],"Resource":"*"}}`, "Action: is an empty list"},
		{"both Resource and NotResource", `{"Statement":{` + ok + `,"NotResource":"arn:aws:s3:::b"}}`, "has both Resource and NotResource"},
		{"empty Resource", `{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":""}}`, "Resource: has an empty resource"},
		{"action without service", `{"Statement":{"Effect":"Allow","Action":"GetObject","Resource":"*"}}`, `Statement[0].Action: "GetObject" is not an action`},
		{"action with two colons", `{"Statement":{"Effect":"Allow","Action":"s3:Get:Object","Resource":"*"}}`, `"s3:Get:Object" is not an action`},
		{"action with space", `{"Statement":{"Effect":"Allow","Action":["s3:Get Object"],"Resource":"*"}}`, `"s3:Get Object" is not an action`},
		{"empty action", `{"Statement":{"Effect":"Allow","Action":"","Resource":"*"}}`, `"" is not an action`},
		{"action is a number", `{"Statement":{"Effect":"Allow","Action":[1],"Resource":"*"}}`, `Statement[0].Action[0]: is the number 1`},
		{"duplicate Sid", `{"Statement":[{"Sid":"A",` + ok + `},{"Sid":"A",` + ok + `}]}`, `Statement[1].Sid: "A" is already the Sid of Statement[0]`},
		{"empty Condition", `{"Statement":{` + ok + `,"Condition":{}}}`, "Condition: is an empty condition block"},
		{"empty operator block", `{"Statement":{` + ok + `,"Condition":{"StringEquals":{}}}}`, "Condition.StringEquals: is an empty condition block"},
		{"condition key without values", `{"Statement":{` + ok + `,"Condition":{"StringEquals":{"k":[]}}}}`, "StringEquals.k: has no values"},
		{"condition value null", `{"Statement":{` + ok + `,"Condition":{"StringEquals":{"k":null}}}}`, "StringEquals.k: is null"},
		{"condition value object", `{"Statement":{` + ok + `,"Condition":{"StringEquals":{"k":[{}]}}}}`, "StringEquals.k[0]: is an object"},
		{"unknown operator", `{"Statement":{` + ok + `,"Condition":{"StringEqual":{"k":"v"}}}}`, `"StringEqual" is not a condition operator`},
		{"unknown qualifier", `{"Statement":{` + ok + `,"Condition":{"ForSomeValues:StringEquals":{"k":"v"}}}}`, `set qualifier "ForSomeValues"`},
		{"Null with IfExists", `{"Statement":{` + ok + `,"Condition":{"NullIfExists":{"k":"true"}}}}`, "Null cannot take IfExists"},
		{"condition keys differing in case", `{"Statement":{` + ok + `,"Condition":{"StringEquals":{"aws:username":"a","AWS:UserName":"b"}}}}`, "differ only in case"},
		{"principal string not *", `{"Statement":{"Effect":"Allow","Principal":"arn:aws:iam::111122223333:root","Action":"sts:AssumeRole"}}`, `is not a principal: write "*"`},
		{"empty principal map", `{"Statement":{"Effect":"Allow","Principal":{},"Action":"sts:AssumeRole"}}`, "Principal: names no principal"},
		{"unknown principal type", `{"Statement":{"Effect":"Allow","Principal":{"User":"x"},"Action":"sts:AssumeRole"}}`, `"User" is not a principal type`},
		{"principal and NotPrincipal", `{"Statement":{"Effect":"Allow","Principal":"*","NotPrincipal":"*","Action":"sts:AssumeRole"}}`, "has both Principal and NotPrincipal"},
		{"URL-encoded garbage", `%7B%zz`, "looks URL-encoded but does not decode"},
		{"nested too deeply", `{"Statement":{` + ok + `,"Condition":{"StringEquals":{"k":[[[[[[[[[[[[1]]]]]]]]]]]]}}}}`, "nests deeper"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := Parse([]byte(tt.doc))
			if err == nil {
				t.Fatalf("Parse accepted it: %s", p.Compact())
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestUnmarshalJSONAcceptsDocumentInString(t *testing.T) {
	t.Parallel()
	doc := `{"Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}`
	want, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	for _, raw := range []string{doc, `"` + strings.ReplaceAll(doc, `"`, `\"`) + `"`, `"` + url.PathEscape(doc) + `"`} {
		var got Policy
		if err := got.UnmarshalJSON([]byte(raw)); err != nil {
			t.Fatalf("UnmarshalJSON(%s): %v", raw, err)
		}
		if !got.Equal(want) {
			t.Errorf("UnmarshalJSON(%s) = %s, want %s", raw, got.Compact(), want.Compact())
		}
	}
}
