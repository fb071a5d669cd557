package catalog

import (
	"strings"
	"testing"

	kubectlsdc "github.com/kubectl-sdc/kubectl-sdc"
)

// The catalog's rule holds for the embedded catalog (Default parses it), and it bites: each edit below
// breaks the rule in one way, and parsing must say so.
func TestCatalogRuleBites(t *testing.T) {
	t.Parallel()
	if _, err := Default(); err != nil {
		t.Fatalf("the embedded catalog breaks its own rule: %v", err)
	}
	cases := []struct {
		name, old, new, want string
	}{
		{"a call no statement allows (DeleteTable dropped again)",
			"dynamodb:DescribeTable, dynamodb:DeleteTable, dynamodb:Scan", "dynamodb:DescribeTable, dynamodb:Scan",
			"calls[6] (dynamodb:DeleteTable): no statement allows dynamodb:DeleteTable"},
		{"an action no call makes (UpdateTable granted again)",
			"dynamodb:DescribeTable, dynamodb:DeleteTable, dynamodb:Scan", "dynamodb:DescribeTable, dynamodb:DeleteTable, dynamodb:UpdateTable, dynamodb:Scan",
			"statements[1] (Leases): no call needs dynamodb:UpdateTable"},
		{"a statement narrower than its call's setting (archive grant only on move)",
			"when: post-processing=archive|copy\n        actions: [s3:PutObject]", "when: post-processing=archive\n        actions: [s3:PutObject]",
			"(s3:PutObject): no statement allows s3:PutObject on arn:${partition}:s3:::${archive-bucket}/<object>"},
		{"a statement on another resource than the call's",
			`resources: ["arn:${partition}:s3:::${archive-bucket}/*"]`, `resources: ["arn:${partition}:s3:::${bucket}/archive/*"]`,
			"no statement allows s3:PutObject on arn:${partition}:s3:::${archive-bucket}/<object>"},
		{"a reason for an action the statement does not grant",
			"          s3:ListBucket: the executor lists nothing", "          s3:ListObjects: the executor lists nothing",
			"reasons names s3:ListObjects"},
		{"a call without its source",
			`source: "FirehoseTarget#flush"`, `source: "somewhere"`,
			`source "somewhere": want Class#method`},
		{"a call in a release range that ends before it starts",
			"before: 3.20.0, source: \"kcl 1.13.3", "since: 3.21.0, before: 3.20.0, source: \"kcl 1.13.3",
			"since 3.21.0 is not before 3.20.0"},
		{"a call on an optional parameter it does not require",
			`when: kms-key, source: "kcl 1.13.3/1.14.0 KinesisProxy#get`, `source: "kcl 1.13.3/1.14.0 KinesisProxy#get`,
			"uses optional parameter kms-key: add it to when:"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			src := string(kubectlsdc.PluginsYAML)
			if strings.Count(src, c.old) != 1 {
				t.Fatalf("plugins.yaml holds %q %d times, want once", c.old, strings.Count(src, c.old))
			}
			_, err := Parse([]byte(strings.Replace(src, c.old, c.new, 1)), "edited")
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want it to contain %q", err, c.want)
			}
		})
	}
}

// implies decides whether a call's setting guarantees a statement's.
func TestImplies(t *testing.T) {
	t.Parallel()
	def := "prefix"
	params := map[string]*Parameter{
		"post-processing": {Name: "post-processing", Kind: KindChoice, Values: []string{"archive", "delete", "copy"}},
		"kms-key":         {Name: "kms-key", Kind: KindKMSKey},
		"archive-kms-key": {Name: "archive-kms-key", Kind: KindKMSKey, DefaultFrom: "kms-key"},
		"lookup":          {Name: "lookup", Kind: KindChoice, Values: []string{"prefix", "url"}, Default: &def},
		"bucket":          {Name: "bucket", Kind: KindBucket, Required: true},
		"archive-bucket":  {Name: "archive-bucket", Kind: KindBucket, DefaultFrom: "bucket"},
	}
	cases := []struct {
		call, stmt string
		want       bool
	}{
		{"", "", true},
		{"post-processing=archive", "post-processing=archive|delete", true},
		{"post-processing=archive|copy", "post-processing=archive|delete", false},
		{"post-processing=archive|copy", "post-processing", true},
		{"post-processing", "post-processing=archive", false},
		{"", "kms-key", false},
		{"kms-key", "kms-key", true},
		{"archive-kms-key, post-processing=copy", "archive-kms-key, post-processing=archive|copy", true},
		{"archive-kms-key", "archive-kms-key, post-processing=archive|copy", false},
		{"", "lookup=prefix", true}, // the default
		{"", "lookup=url", false},
		{"", "archive-bucket", true}, // derived from a required parameter
		{"", "archive-kms-key", false},
	}
	for _, c := range cases {
		if got := implies(c.call, c.stmt, params); got != c.want {
			t.Errorf("implies(%q, %q) = %v, want %v", c.call, c.stmt, got, c.want)
		}
	}
}

func TestSettingsMinSDCVersion(t *testing.T) {
	t.Parallel()
	c, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		sel              Selection
		version, setting string
	}{
		{Selection{Stages: []string{"sqs-consumer"}, Params: map[string]string{"queue": "q", "queue-lookup": "url"}}, "3.19.0", "queue-lookup=url"},
		{Selection{Stages: []string{"sqs-consumer"}, Params: map[string]string{"queue": "q", "queue-lookup": "prefix"}}, "", ""}, // the default
		{Selection{Stages: []string{"sqs-consumer"}, Params: map[string]string{"queue": "q"}}, "", ""},
		{Selection{Stages: []string{"s3-origin", "sqs-consumer"}, Params: map[string]string{"bucket": "b", "queue": "q", "queue-lookup": "url", "error-handling": "copy"}}, "3.19.0", "queue-lookup=url"},
	}
	for _, tc := range cases {
		if v, s := c.SettingsMinSDCVersion(tc.sel); v != tc.version || s != tc.setting {
			t.Errorf("SettingsMinSDCVersion(%v) = %q, %q; want %q, %q", tc.sel, v, s, tc.version, tc.setting)
		}
	}
}

// Mistakes in the schema's new fields are errors that name the field and the value.
func TestParseRejectsBrokenCalls(t *testing.T) {
	t.Parallel()
	const base = `
callsChecked: {from: 3.16.0, through: 3.22.2}
libraries:
  - {name: aws-lib, directory: streamsets-datacollector-aws-lib}
stages:
  - name: origin
    library: aws-lib
    description: test
    parameters:
      - {name: bucket, kind: bucket, required: true}
      - {name: archive-bucket, kind: bucket, defaultFrom: bucket}
      - {name: post-processing, kind: choice, values: [archive, delete]}
    statements:
      - sid: Read
        actions: [s3:GetObject]
        resources: ["arn:${partition}:s3:::${bucket}/*"]
      - sid: Archive
        when: post-processing=archive
        actions: [s3:PutObject]
        resources: ["arn:${partition}:s3:::${archive-bucket}/*"]
    calls:
      - {action: s3:GetObject, resource: "arn:${partition}:s3:::${bucket}/<object>", source: "Reader#read"}
      - {action: s3:PutObject, resource: "arn:${partition}:s3:::${archive-bucket}/<object>", when: post-processing=archive, source: "Archiver#copy"}
`
	if _, err := Parse([]byte(base), "base"); err != nil {
		t.Fatalf("the base catalog does not parse: %v", err)
	}
	cases := []struct{ name, old, new, want string }{
		{"defaultFrom of another kind", "defaultFrom: bucket", "defaultFrom: post-processing", `defaultFrom "post-processing" must name another parameter of the stage of kind bucket`},
		{"defaultFrom on a required parameter", "{name: archive-bucket, kind: bucket, defaultFrom: bucket}", "{name: archive-bucket, kind: bucket, required: true, defaultFrom: bucket}", "defaultFrom is for optional parameters without a default"},
		{"a since that is no version", "values: [archive, delete]}", "values: [archive, delete], since: three}", "since:"},
		{"callsChecked no version", "through: 3.22.2", "through: latest", "callsChecked: through:"},
		{"a when on an unknown value", "when: post-processing=archive, source", "when: post-processing=move, source", `"move" is not one of the values of post-processing`},
		{"an unknown field", "source: \"Reader#read\"}", "source: \"Reader#read\", sdc: 3.16.0}", `unknown field "sdc"`},
		{"an action that is no action", "{action: s3:GetObject,", "{action: GetObject,", `action "GetObject" is not service:Action`},
		{"a context that is no condition key", "source: \"Reader#read\"}", "source: \"Reader#read\", context: {prefix: in/}}", `context "prefix"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if strings.Count(base, c.old) != 1 {
				t.Fatalf("base holds %q %d times", c.old, strings.Count(base, c.old))
			}
			_, err := Parse([]byte(strings.Replace(base, c.old, c.new, 1)), "broken")
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want it to contain %q", err, c.want)
			}
		})
	}
}
