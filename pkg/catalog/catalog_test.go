package catalog

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	kubectlsdc "github.com/kubectl-sdc/kubectl-sdc"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

func TestDefaultCatalog(t *testing.T) {
	t.Parallel()
	c := defaultCatalog(t)
	want := []string{"s3", "s3-origin", "s3-destination", "s3-executor", "sqs-consumer", "kinesis-consumer",
		"kinesis-producer", "firehose-destination", "secrets-manager"}
	if got := c.StageNames(); !reflect.DeepEqual(got, want) {
		t.Errorf("stages = %v, want %v", got, want)
	}
	libs := map[string]string{}
	for _, l := range c.Libraries() {
		libs[l.Name] = l.MinSDCVersion
	}
	if libs["aws-lib"] != "3.17.0" || libs["kinesis-lib"] != "3.19.0" {
		t.Errorf("library minimums = %v, want aws-lib 3.17.0 and kinesis-lib 3.19.0", libs)
	}
	s, ok := c.Stage("kinesis-consumer")
	if !ok || s.Library != "kinesis-lib" {
		t.Errorf("Stage(kinesis-consumer) = %+v, %v", s, ok)
	}
	if _, ok := c.Stage("nope"); ok {
		t.Error("Stage(nope) found something")
	}
	// Stages returns a copy: a caller cannot change the catalog.
	st := c.Stages()
	st[0].Name = "changed"
	if c.StageNames()[0] != "s3" {
		t.Error("mutating Stages() changed the catalog")
	}
}

// TestMarshalRoundTrip: what `kubectl sdc stages -o yaml` prints is itself a valid catalog, equal to the
// original, so users can start their own --catalog from it.
func TestMarshalRoundTrip(t *testing.T) {
	t.Parallel()
	c := defaultCatalog(t)
	out, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(out, "marshalled")
	if err != nil {
		t.Fatalf("the marshalled catalog does not parse: %v\n%s", err, out)
	}
	if !reflect.DeepEqual(back, c) {
		t.Error("the marshalled catalog differs from the original")
	}
}

func TestLoad(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "plugins.yaml")
	if err := os.WriteFile(good, kubectlsdc.PluginsYAML, 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(good)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Stages()) != len(defaultCatalog(t).Stages()) {
		t.Error("Load of the shipped file differs from Default")
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "--catalog") {
		t.Errorf("Load of a missing file: %v, want an error naming --catalog", err)
	}
	if c, err := LoadOrDefault(""); err != nil || len(c.Stages()) == 0 {
		t.Errorf("LoadOrDefault(\"\") = %v", err)
	}
}

const minimal = `
libraries:
  - name: aws-lib
    directory: streamsets-datacollector-aws-lib
    minSDCVersion: 3.17.0
stages:
  - name: s3
    library: aws-lib
    description: d
    parameters:
      - name: bucket
        kind: bucket
        required: true
      - name: kms-key
        kind: kms-key
    statements:
      - sid: Bucket
        actions: [s3:GetObject]
        resources: ["arn:${partition}:s3:::${bucket}/*"]
      - sid: Kms
        when: kms-key
        actions: [kms:Decrypt]
        resources: ["${kms-key}"]
`

func TestParseRejectsBrokenCatalogs(t *testing.T) {
	t.Parallel()
	if _, err := Parse([]byte(minimal), "minimal"); err != nil {
		t.Fatalf("the minimal catalog is rejected: %v", err)
	}
	cases := []struct{ name, old, new, wantErr string }{
		{"unknown field", "    description: d\n", "    description: d\n    descripton: typo\n", `catalog broken: unknown field "descripton"`},
		{"not YAML", "stages:", "stages: [", "catalog broken:"},
		{"unknown library", "    library: aws-lib", "    library: kinesis", `library "kinesis" is not in libraries`},
		{"library without directory", "    directory: streamsets-datacollector-aws-lib\n", "", "directory is empty"},
		{"bad minimum version", "3.17.0", "three", `minSDCVersion: version "three"`},
		{"bad stage name", "  - name: s3\n", "  - name: S3\n", `name "S3" must be lower-case`},
		{"no description", "    description: d\n", "", "description is empty"},
		{"unknown kind", "        kind: bucket", "        kind: bukkit", `kind "bukkit" is not one of`},
		{"required with default", "        required: true", "        required: true\n        default: x", "a required parameter cannot have a default"},
		{"invalid default", "      - name: kms-key\n        kind: kms-key", "      - name: kms-key\n        kind: kms-key\n        default: nope", "default: a KMS key is a key ARN"},
		{"values without choice", "        kind: bucket", "        kind: bucket\n        values: [a]", "values are for kind choice"},
		{"parameter named like a built-in", "      - name: bucket\n", "      - name: region\n", `"region" is a built-in template variable`},
		{"unknown template variable", "${bucket}/*", "${bukket}/*", "${bukket} is neither a parameter of the stage nor one of partition, region, account"},
		{"unclosed template", "${bucket}/*", "${bucket/*", "has an unclosed ${"},
		{"optional parameter used without when", "        when: kms-key\n", "", "uses optional parameter kms-key, which has no default: add `when: kms-key`"},
		{"kms-key not alone", `resources: ["${kms-key}"]`, `resources: ["${kms-key}", "*"]`, "a kms-key parameter must be the statement's only resource"},
		{"when unknown", "when: kms-key", "when: key", `when "key" names no parameter`},
		{"when required", "when: kms-key", "when: bucket", `when "bucket" names a required parameter`},
		{"when value of a non-choice", "when: kms-key", "when: kms-key=x", `"x" is not one of the values of kms-key`},
		{"bad sid", "sid: Bucket", "sid: Bucket-1", `sid "Bucket-1" must be letters and digits`},
		{"duplicate sid", "sid: Kms", "sid: Bucket", `sid "Bucket" is used twice`},
		{"bad action", "[s3:GetObject]", "[GetObject]", `action "GetObject" is not service:Action`},
		{"no actions", "actions: [s3:GetObject]", "actions: []", "no actions"},
		{"no resources", `resources: ["arn:${partition}:s3:::${bucket}/*"]`, "resources: []", "no resources"},
		{"duplicate stage", "stages:\n", "stages:\n  - {name: s3, library: aws-lib, description: x, statements: [{sid: A, actions: [s3:GetObject], resources: [\"*\"]}]}\n", `stage "s3" is listed twice`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if !strings.Contains(minimal, tc.old) {
				t.Fatalf("test bug: %q is not in the minimal catalog", tc.old)
			}
			broken := strings.Replace(minimal, tc.old, tc.new, 1)
			_, err := Parse([]byte(broken), "broken")
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("err = %v, want it to contain %q", err, tc.wantErr)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "catalog broken: ") {
				t.Errorf("err = %v, want it to name the catalog", err)
			}
		})
	}
}

func TestParseRejectsConflictingParameterKinds(t *testing.T) {
	t.Parallel()
	two := minimal + `  - name: other
    library: aws-lib
    description: d
    parameters:
      - name: bucket
        kind: queue
        required: true
    statements:
      - sid: Q
        actions: [sqs:ReceiveMessage]
        resources: ["arn:${partition}:sqs:${region}:${account}:${bucket}"]
`
	_, err := Parse([]byte(two), "two")
	if err == nil || !strings.Contains(err.Error(), "one name, one meaning") {
		t.Errorf("err = %v, want the parameter kind conflict", err)
	}
}

// The catalog's account of SDC's Assume Another Role is what bind grants and doctor plays.
func TestAssumeRoleFactsAreWhatTheCodeUses(t *testing.T) {
	c, err := LoadOrDefault("")
	if err != nil {
		t.Fatal(err)
	}
	a := c.AssumeRole()
	if a.SessionTagKey != vocab.SDCSessionTagKey || !a.SessionTagsDefault || a.SessionSecondsDefault != vocab.SDCSessionSeconds ||
		a.SessionSecondsMin != vocab.SDCSessionSeconds || len(a.Sources) == 0 {
		t.Errorf("plugins.yaml assumeRole = %+v; the code uses tag %s and %d s", a, vocab.SDCSessionTagKey, vocab.SDCSessionSeconds)
	}
	if kl, ok := c.Library("kinesis-lib"); !ok || kl.MinSDCVersion != "3.19.0" {
		t.Errorf("kinesis-lib: web identity arrives with aws-java-sdk-sts in SDC 3.19.0; the catalog says %+v", kl)
	}
	bad := []byte("assumeRole:\n  sessionTagKey: k\n  sessionTagsDefault: true\n  sessionSecondsDefault: 7200\n  sessionSecondsMin: 7200\n  sessionSecondsMax: 43200\n  sessionName: x\n  sources: [s]\n")
	if _, err := Parse(append(bad, defaultWithoutAssumeRole(t)...), "bad.yaml"); err == nil || !strings.Contains(err.Error(), "lasts at most 3600 s") {
		t.Errorf("a minimum above role chaining's hour: %v", err)
	}
}

func defaultWithoutAssumeRole(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("../../plugins.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i, j := strings.Index(s, "\nassumeRole:"), strings.Index(s, "\nlibraries:")
	return []byte(s[:i] + s[j:])
}
