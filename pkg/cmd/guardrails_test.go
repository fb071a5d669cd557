package cmd

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/bind"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// completeBind parses bind's flags and completes the request, as bind does before anything is read.
func completeBind(t *testing.T, args ...string) (*bind.Request, error) {
	t.Helper()
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kc, []byte(offlineKubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	streams, _, _, _ := genericiooptions.NewTestIOStreams()
	g := &Globals{IOStreams: streams, ConfigFlags: genericclioptions.NewConfigFlags(true)}
	g.ConfigFlags.KubeConfig = &kc
	o := &BindOptions{Globals: g}
	c := bindCmd(o)
	if err := c.ParseFlags(append([]string{"--bucket", "b-ok"}, args...)); err != nil {
		t.Fatal(err)
	}
	if err := o.Complete(c); err != nil {
		return nil, err
	}
	return o.req, o.req.Validate()
}

// The KUBECTL_SDC_* defaults apply when no flag is given, a flag wins, and --tag joins the variable's
// tags, its value winning for a key given both ways.
func TestGuardrailDefaultsFromTheEnvironment(t *testing.T) {
	const b1, b2 = "arn:aws:iam::123456789012:policy/from-env", "arn:aws:iam::123456789012:policy/from-flag"
	cases := []struct {
		name     string
		env      map[string]string
		args     []string
		boundary string
		path     string
		tags     map[string]string
		errHas   string
	}{
		{name: "none", env: map[string]string{}},
		{name: "from the environment", env: map[string]string{vocab.EnvPermissionsBoundary: b1, vocab.EnvRolePath: "/env/", vocab.EnvTags: "cost-center=env, team=platform"},
			boundary: b1, path: "/env/", tags: map[string]string{"cost-center": "env", "team": "platform"}},
		{name: "flags win", env: map[string]string{vocab.EnvPermissionsBoundary: b1, vocab.EnvRolePath: "/env/", vocab.EnvTags: "cost-center=env,team=platform"},
			args:     []string{"--permissions-boundary", b2, "--role-path", "/flag/", "--tag", "cost-center=flag", "--tag", "owner=me"},
			boundary: b2, path: "/flag/", tags: map[string]string{"cost-center": "flag", "team": "platform", "owner": "me"}},
		{name: "an empty flag turns a default off", env: map[string]string{vocab.EnvPermissionsBoundary: b1},
			args: []string{"--permissions-boundary="}},
		{name: "a bad default names its variable", env: map[string]string{vocab.EnvRolePath: "env"},
			errHas: `--role-path (from KUBECTL_SDC_ROLE_PATH) "env": an IAM path starts and ends with /`},
		{name: "a bad tag default names its variable", env: map[string]string{vocab.EnvTags: "team"},
			errHas: `KUBECTL_SDC_TAGS "team": want KEY=VALUE`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{vocab.EnvPermissionsBoundary, vocab.EnvRolePath, vocab.EnvTags} {
				t.Setenv(k, tc.env[k])
			}
			r, err := completeBind(t, tc.args...)
			if tc.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errHas) {
					t.Fatalf("err = %v, want %q", err, tc.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			g := r.Guardrails
			if g.PermissionsBoundary != tc.boundary || g.RolePath != tc.path || !maps.Equal(g.Tags, tc.tags) {
				t.Errorf("guardrails = %+v, want boundary %q path %q tags %v", g, tc.boundary, tc.path, tc.tags)
			}
		})
	}
}
