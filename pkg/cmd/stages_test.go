package cmd

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/catalog"
)

var updateGolden = flag.Bool("update-stages", false, "rewrite testdata/stages.golden")

// runStages runs `kubectl sdc stages ARGS` in-process the way main does.
func runStages(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	streams, _, out, errOut := genericiooptions.NewTestIOStreams()
	code = Execute(streams, append([]string{"stages"}, args...))
	return out.String(), errOut.String(), code
}

const customCatalog = `libraries:
  - name: aws-lib
    directory: streamsets-datacollector-aws-lib
stages:
  - name: glacier-archive
    library: aws-lib
    description: A stage of our own
    parameters:
      - name: bucket
        kind: bucket
        required: true
    statements:
      - sid: Put
        actions: [s3:PutObject]
        resources: ["arn:${partition}:s3:::${bucket}/*"]
`

var ansiRE = regexp.MustCompile("\x1b\\[[0-9;]*m")

// The environment (NO_COLOR) is process-wide, so these cases run one after another.
func TestStagesCommand(t *testing.T) {
	t.Setenv("NO_COLOR", "1")
	dir := t.TempDir()
	custom := filepath.Join(dir, "custom.yaml")
	broken := filepath.Join(dir, "broken.yaml")
	if err := os.WriteFile(custom, []byte(customCatalog), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(broken, []byte(strings.Replace(customCatalog, "kind: bucket", "kind: bukkit", 1)), 0o600); err != nil {
		t.Fatal(err)
	}

	t.Run("table", func(t *testing.T) {
		out, errOut, code := runStages(t)
		if code != ExitOK || errOut != "" {
			t.Fatalf("exit %d, stderr %q", code, errOut)
		}
		golden := filepath.Join("testdata", "stages.golden")
		if *updateGolden {
			if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run go test ./pkg/cmd -run TestStagesCommand -update-stages to create it)", err)
		}
		if out != string(want) {
			t.Errorf("output differs from %s (rerun with -update-stages after checking):\n%s", golden, out)
		}
		if strings.Contains(out, "\x1b[") {
			t.Error("NO_COLOR is set but the output has escape codes")
		}
		all := strings.Split(strings.TrimSpace(out), "\n")
		footer := slices.IndexFunc(all, func(l string) bool { return strings.Contains(l, "* required") })
		if footer < 0 {
			t.Fatalf("no line explains the * mark:\n%s", out)
		}
		lines, callLines := all[:footer+1], all[footer+1:]
		if fields := strings.Fields(lines[0]); strings.Join(fields, " ") != "NAME LIBRARY MIN SDC PARAMETERS DESCRIPTION" {
			t.Errorf("header = %q", lines[0])
		}
		rows := map[string][]string{}
		for _, l := range lines[1 : len(lines)-1] {
			f := strings.Fields(l)
			rows[f[0]] = f
		}
		c, _ := catalog.Default()
		if len(rows) != len(c.Stages()) {
			t.Errorf("%d rows, want one per stage (%d)", len(rows), len(c.Stages()))
		}
		checks := map[string][]string{
			"s3":               {"s3", "aws-lib", "3.17.0", "bucket*,", "prefix"},
			"kinesis-consumer": {"kinesis-consumer", "kinesis-lib", "3.19.0", "stream*,", "application*,", "lease-table-tags,", "kms-key"},
			"secrets-manager":  {"secrets-manager", "aws-secrets-manager-credentialstore-lib", "-", "secret*,", "kms-key"},
		}
		for name, want := range checks {
			if got := rows[name]; len(got) < len(want) || strings.Join(got[:len(want)], " ") != strings.Join(want, " ") {
				t.Errorf("row %s = %q, want it to start with %q", name, got, want)
			}
		}
		// Columns line up: every row's LIBRARY starts where the header's does.
		col := strings.Index(lines[0], "LIBRARY")
		for _, l := range lines[1 : len(lines)-1] {
			if l[col-1] != ' ' || l[col] == ' ' {
				t.Errorf("row %q does not align with the LIBRARY column at %d", l, col)
			}
		}
		// The calls follow, one row per distinct action, setting and release range.
		calls := map[string]bool{}
		for _, l := range callLines {
			calls[strings.Join(strings.Fields(l), " ")] = true
		}
		for _, want := range []string{
			"STAGE CALL WHEN SDC",
			"kinesis-consumer dynamodb:DeleteTable - all",
			"kinesis-consumer dynamodb:TagResource lease-table-tags=true all",
			"kinesis-producer kinesis:DescribeStream - all", // SDC's own check at init, and KPL 0.12's shard map
			"kinesis-consumer kinesis:ListShards - all",     // KCL 1.13.3, then 1.14.0
			"kinesis-producer kinesis:ListShards - 3.20.0 and later",
			"s3-origin s3:PutObject error-handling=archive|copy all",
			"sqs-consumer sqs:ListQueues queue-lookup=prefix all",
		} {
			if !calls[want] {
				t.Errorf("no call row %q in:\n%s", want, strings.Join(callLines, "\n"))
			}
		}
		if last := callLines[len(callLines)-1]; !strings.Contains(last, "calls read from the source of SDC 3.16.0 to 3.22.2") {
			t.Errorf("last line %q does not say which SDC releases the calls were read from", last)
		}
	})

	t.Run("color keeps the layout", func(t *testing.T) {
		plain, _, _ := runStages(t)
		colored, _, code := runStages(t, "--color=always")
		if code != ExitOK || !strings.Contains(colored, "\x1b[") {
			t.Fatalf("exit %d; --color=always output has no escape codes", code)
		}
		if stripped := ansiRE.ReplaceAllString(colored, ""); stripped != plain {
			t.Errorf("colored output without its escape codes differs from the plain output:\n%s", stripped)
		}
	})

	t.Run("json is the catalog", func(t *testing.T) {
		out, _, code := runStages(t, "-o", "json")
		if code != ExitOK {
			t.Fatalf("exit %d", code)
		}
		var f catalog.File
		if err := json.Unmarshal([]byte(out), &f); err != nil {
			t.Fatalf("-o json is not JSON: %v", err)
		}
		if len(f.Stages) != 9 || f.Stages[0].Name != "s3" || len(f.Stages[0].Statements) == 0 {
			t.Errorf("-o json has %d stages, first %+v", len(f.Stages), f.Stages[0])
		}
	})

	t.Run("yaml is a loadable catalog", func(t *testing.T) {
		out, _, code := runStages(t, "-o", "yaml")
		if code != ExitOK {
			t.Fatalf("exit %d", code)
		}
		c, err := catalog.Parse([]byte(out), "-o yaml")
		if err != nil {
			t.Fatalf("-o yaml does not load as a catalog: %v", err)
		}
		if len(c.Stages()) != 9 {
			t.Errorf("-o yaml has %d stages, want 9", len(c.Stages()))
		}
	})

	t.Run("--catalog", func(t *testing.T) {
		out, errOut, code := runStages(t, "--catalog", custom)
		if code != ExitOK {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		if !strings.Contains(out, "glacier-archive") || strings.Contains(out, "kinesis-consumer") || strings.Contains(out, "STAGE") {
			t.Errorf("--catalog output does not show exactly the custom catalog:\n%s", out)
		}
		if !regexp.MustCompile(`glacier-archive\s+aws-lib\s+-\s+bucket\*\s+A stage of our own`).MatchString(out) {
			t.Errorf("custom stage row is wrong:\n%s", out)
		}
	})

	errCases := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"missing catalog", []string{"--catalog", filepath.Join(dir, "nope.yaml")}, `error: --catalog "` + filepath.Join(dir, "nope.yaml") + `"`},
		{"broken catalog", []string{"--catalog", broken}, `kind "bukkit" is not one of`},
		{"bad output", []string{"-o", "wide"}, `--output "wide" is not supported: use json or yaml`},
		{"argument", []string{"s3"}, `unknown command "s3"`},
	}
	for _, tc := range errCases {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runStages(t, tc.args...)
			if code != ExitFailure {
				t.Errorf("exit %d, want %d", code, ExitFailure)
			}
			if out != "" {
				t.Errorf("stdout %q, want nothing on error", out)
			}
			if !strings.Contains(errOut, tc.wantErr) {
				t.Errorf("stderr %q, want it to contain %q", errOut, tc.wantErr)
			}
		})
	}
}
