package cmd

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"
)

var updateManifestGolden = flag.Bool("update-manifest", false, "rewrite testdata/manifest*.golden")

// runCmd runs `kubectl sdc ARGS` in-process the way main does.
func runCmd(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	streams, _, out, errOut := genericiooptions.NewTestIOStreams()
	code = Execute(streams, args)
	return out.String(), errOut.String(), code
}

// The manifest and the fragment, in both formats, as golden files. The kube context points at a port where
// nothing listens: the ServiceAccount cannot be read, which manifest says on standard error, and it prints
// the manifest all the same.
func TestManifestGolden(t *testing.T) {
	t.Setenv("NO_COLOR", "1")
	kubeconfig := writeCompletionKubeconfig(t)
	cases := []struct {
		golden string
		args   []string
	}{
		{"manifest.golden", []string{"--image", "streamsets/datacollector:5.11.0"}},
		{"manifest-json.golden", []string{"--image", "streamsets/datacollector:5.11.0", "-o", "json"}},
		{"manifest-named.golden", []string{"--name", "etl", "--service-account", "etl-sa", "--image", "registry.example.com/sdc:5.11.0-aws", "--fs-group", "-1", "-o", "yaml"}},
		// --deployment, the name bind and doctor use, is the same flag as --name: the same manifest.
		{"manifest-named.golden", []string{"--deployment", "etl", "--service-account", "etl-sa", "--image", "registry.example.com/sdc:5.11.0-aws", "--fs-group", "-1", "-o", "yaml"}},
		{"manifest-fragment.golden", []string{"--fragment"}},
		{"manifest-fragment-json.golden", []string{"--fragment", "-o", "json"}},
	}
	for _, c := range cases {
		t.Run(c.golden+" "+c.args[0], func(t *testing.T) {
			out, errOut, code := runCmd(t, append([]string{"manifest", "--kubeconfig", kubeconfig, "-n", "ns1"}, c.args...)...)
			if code != ExitOK {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if !strings.HasPrefix(errOut, "note: could not read ServiceAccount ns1/") || strings.Count(errOut, "\n") != 1 {
				t.Errorf("stderr %q, want one note that the ServiceAccount could not be read", errOut)
			}
			path := filepath.Join("testdata", c.golden)
			if *updateManifestGolden {
				if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./pkg/cmd -run TestManifestGolden -update-manifest to create it)", err)
			}
			if out != string(want) {
				t.Errorf("output differs from %s (rerun with -update-manifest after checking):\n%s", path, out)
			}
		})
	}
}

// Bad input is one line naming the flag, exit 1, nothing on standard output, before the cluster is asked
// anything (the kube context here would fail any request with a different message).
func TestManifestAndPrintManifestBadInput(t *testing.T) {
	kubeconfig := writeCompletionKubeconfig(t)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"manifest"}, "error: --image: is required for the full manifest"},
		{[]string{"manifest", "--image", "streamsets/datacollector:"}, `error: --image "streamsets/datacollector:": not an image reference`},
		{[]string{"manifest", "--image", "Streamsets/DataCollector"}, `error: --image "Streamsets/DataCollector": not an image reference`},
		{[]string{"manifest", "--image", "streamsets/datacollector:5.11.0", "--name", "sdc.v1"}, `error: --name "sdc.v1": not a valid name for the Deployment`},
		{[]string{"manifest", "--image", "streamsets/datacollector:5.11.0", "--name", "SDC"}, `error: --name "SDC"`},
		{[]string{"manifest", "--fragment", "--image", "streamsets/datacollector:5.11.0"}, `error: --image "streamsets/datacollector:5.11.0": only the full manifest has an image`},
		{[]string{"manifest", "--fragment", "--name", "sdc"}, `error: --name "sdc": only the full manifest has a name`},
		{[]string{"manifest", "--fragment", "--deployment", "sdc"}, `error: --deployment "sdc": only the full manifest has a name`},
		{[]string{"manifest", "--image", "streamsets/datacollector:5.11.0", "--deployment", "SDC"}, `error: --deployment "SDC": not a valid name for the Deployment`},
		{[]string{"manifest", "--image", "streamsets/datacollector:5.11.0", "--deployment", "a", "--name", "b"}, "error: --name: the same flag as --deployment (its older name): give only one"},
		{[]string{"manifest", "--fragment", "--service-account", "Bad_SA"}, `error: --service-account "Bad_SA"`},
		{[]string{"manifest", "--fragment", "--fs-group", "-7"}, `error: --fs-group "-7"`},
		{[]string{"manifest", "--fragment", "-o", "xml"}, `error: --output "xml" is not supported`},
		{[]string{"manifest", "--fragment", "-n", "Not_A_Namespace"}, `error: --namespace "Not_A_Namespace"`},
		{[]string{"bind", "--bucket", "sdc-ingest-bucket", "--fragment"}, "error: --fragment needs --print-manifest"},
		{[]string{"bind", "--bucket", "sdc-ingest-bucket", "--print-manifest"}, "error: --image: is required for the full manifest"},
		{[]string{"bind", "--bucket", "sdc-ingest-bucket", "--print-manifest", "--fragment", "--image", "streamsets/datacollector:5.11.0"}, "error: --image \"streamsets/datacollector:5.11.0\": only the full manifest has an image"},
		{[]string{"bind", "--bucket", "sdc-ingest-bucket", "--print-manifest", "--fragment", "--deployment", "sdc"}, `error: --deployment "sdc": only the full manifest has a name`},
		{[]string{"bind", "--bucket", "sdc-ingest-bucket", "--print-manifest", "--image", "streamsets/datacollector:5.11.0", "--deployment", "a.b"}, `error: --deployment "a.b": not a valid name`},
		{[]string{"bind", "--bucket", "sdc-ingest-bucket", "--print-manifest", "--image", "x", "--deployment", "sdc", "--create-deployment"}, "error: --print-manifest touches no Deployment and --create-deployment creates one"},
		{[]string{"bind", "--bucket", "sdc-ingest-bucket", "--print-manifest", "--image", "x", "--deployment", "sdc", "--wait"}, "error: --wait follows a Deployment's rollout"},
		{[]string{"bind", "--bucket", "sdc-ingest-bucket", "--deployment", "sdc.v1", "--create-deployment", "--image", "streamsets/datacollector:5.11.0"}, `error: --deployment "sdc.v1": not a valid name for the Deployment, its container and its app label`},
	}
	for _, c := range cases {
		out, errOut, code := runCmd(t, append(c.args, "--kubeconfig", kubeconfig)...)
		if code != ExitFailure || out != "" || !strings.HasPrefix(errOut, c.want) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit 1 and one line starting %q", strings.Join(c.args, " "), code, out, errOut, c.want)
		}
	}
}

// Every flag of manifest completes: -o with its formats, --service-account from the cluster (here one that
// does not answer: nothing, promptly), the free-text ones with nothing rather than file names.
func TestManifestFlagCompletions(t *testing.T) {
	t.Parallel()
	kubeconfig := writeCompletionKubeconfig(t)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"-o", ""}, "json\nyaml\n:4\n"},
		{[]string{"--service-account", ""}, ":4\n"},
		{[]string{"--name", ""}, ":4\n"},
		{[]string{"--deployment", ""}, ":4\n"},
		{[]string{"--image", ""}, ":4\n"},
		{[]string{"--fs-group", ""}, ":4\n"},
	}
	for _, c := range cases {
		args := append([]string{"__complete", "--kubeconfig", kubeconfig, "manifest"}, c.args...)
		out, _, code := runCmd(t, args...)
		if code != ExitOK || !strings.HasPrefix(out, c.want) {
			t.Errorf("%s: exit %d, %q; want %q", strings.Join(args, " "), code, out, c.want)
		}
	}
}
