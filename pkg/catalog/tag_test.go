package catalog

import (
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// iamTagValueRE is IAM's documented character set for tag values.
var iamTagValueRE = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)

func TestTagRoundTrip(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		sel  Selection
		want string // "" when only the round trip is checked
	}{
		{"guide", Selection{Stages: []string{"s3"}, Params: map[string]string{"bucket": "sdc-ingest-bucket"}}, "v1 s3 bucket=sdc-ingest-bucket"},
		{"no params", Selection{Stages: []string{"s3-origin"}}, "v1 s3-origin"},
		{"params sorted", Selection{Stages: []string{"s3-origin", "kinesis-consumer"},
			Params: map[string]string{"stream": "clicks", "bucket": "b", "application": "app", "prefix": "in/2024/"}},
			"v1 s3-origin+kinesis-consumer application=app bucket=b prefix=in/2024/ stream=clicks"},
		{"ARN values stay readable", Selection{Stages: []string{"s3-destination"}, Params: map[string]string{"bucket": "b", "kms-key": aliasARN}},
			"v1 s3-destination bucket=b kms-key=" + aliasARN},
		{"prefix with spaces and symbols", Selection{Stages: []string{"s3"}, Params: map[string]string{"bucket": "b", "prefix": "my data/2024 #1;x,y"}}, ""},
		{"prefix with non-ASCII", Selection{Stages: []string{"s3"}, Params: map[string]string{"bucket": "b", "prefix": "données/é"}}, ""},
		{"value with = and +", Selection{Stages: []string{"secrets-manager"}, Params: map[string]string{"secret": "a=b+c@d"}}, "v1 secrets-manager secret=a=b+c@d"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v, err := EncodeTag(tc.sel)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want != "" && v != tc.want {
				t.Errorf("EncodeTag = %q, want %q", v, tc.want)
			}
			if len(v) > vocab.MaxTagValue || !iamTagValueRE.MatchString(v) {
				t.Errorf("EncodeTag = %q: not a valid IAM tag value", v)
			}
			got, err := DecodeTag(v)
			if err != nil {
				t.Fatalf("DecodeTag(%q): %v", v, err)
			}
			if !reflect.DeepEqual(got, tc.sel) {
				t.Errorf("round trip = %+v, want %+v", got, tc.sel)
			}
		})
	}
}

func TestTagDeterministic(t *testing.T) {
	t.Parallel()
	var first string
	for i := 0; i < 20; i++ {
		// A fresh map each time: Go randomizes map iteration, so an unsorted encoder would differ.
		sel := Selection{Stages: []string{"kinesis-consumer"}, Params: map[string]string{}}
		for _, k := range []string{"stream", "application", "kms-key", "zz", "aa"} {
			sel.Params[k] = k + "-v"
		}
		v, err := EncodeTag(sel)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = v
		} else if v != first {
			t.Fatalf("EncodeTag gave %q, then %q", first, v)
		}
	}
}

func TestTagLimits(t *testing.T) {
	t.Parallel()
	fits := Selection{Stages: []string{"s3"}, Params: map[string]string{"prefix": strings.Repeat("p", vocab.MaxTagValue-len("v1 s3 prefix="))}}
	v, err := EncodeTag(fits)
	if err != nil || len(v) != vocab.MaxTagValue {
		t.Errorf("a %d-character value: %d, %v; want it to fit exactly", vocab.MaxTagValue, len(v), err)
	}
	over := Selection{Stages: []string{"s3"}, Params: map[string]string{"prefix": strings.Repeat("p", vocab.MaxTagValue-len("v1 s3 prefix=")+1)}}
	if _, err := EncodeTag(over); err == nil || !strings.Contains(err.Error(), "IAM allows 256") || !strings.Contains(err.Error(), "--policy-file") {
		t.Errorf("a 257-character value: %v, want an error naming the limit and the way out", err)
	}
	if _, err := EncodeTag(Selection{}); err == nil {
		t.Error("EncodeTag of no stages succeeded")
	}
	if _, err := EncodeTag(Selection{Stages: []string{"S3 Bad"}}); err == nil {
		t.Error("EncodeTag of a malformed stage name succeeded")
	}
	if _, err := EncodeTag(Selection{Stages: []string{"s3"}, Params: map[string]string{"a b": "x"}}); err == nil {
		t.Error("EncodeTag of a malformed parameter name succeeded")
	}
}

func TestDecodeTagErrors(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"":                        "not in the v1 format",
		"s3 bucket=b":             "not in the v1 format",
		"v2 s3":                   "not in the v1 format",
		"v1":                      "not in the v1 format",
		"v1 S3":                   `"S3" is not a stage name`,
		"v1 s3 bucket":            `"bucket" is not NAME=VALUE`,
		"v1 s3 prefix:b64=***":    "prefix:b64=***",
		"v1 s3 bucket=a bucket=b": "parameter bucket appears twice",
		"v1 s3 Bucket=a":          `"Bucket" is not a parameter name`,
	}
	for in, want := range cases {
		if _, err := DecodeTag(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("DecodeTag(%q) = %v, want an error containing %q", in, err, want)
		}
	}
}
