package fleet

import (
	"testing"

	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

func withExec(name string, exec *clientcmdapi.ExecConfig) clientcmdapi.Config {
	cfg := kubeconfigWith(name)
	cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{Exec: exec}
	return cfg
}

func env(kv ...string) []clientcmdapi.ExecEnvVar {
	var out []clientcmdapi.ExecEnvVar
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, clientcmdapi.ExecEnvVar{Name: kv[i], Value: kv[i+1]})
	}
	return out
}

func TestSettings(t *testing.T) {
	t.Parallel()
	// What `aws eks update-kubeconfig --name prod --region eu-west-1 --profile prod` writes.
	updateKubeconfig := &clientcmdapi.ExecConfig{Command: "aws",
		Args: []string{"--region", "eu-west-1", "eks", "get-token", "--cluster-name", "prod", "--output", "json"},
		Env:  env("AWS_PROFILE", "prod")}
	cases := []struct {
		name    string
		exec    *clientcmdapi.ExecConfig
		flags   Flags
		want    Context
		explain string
	}{
		{name: "aws eks update-kubeconfig --profile", exec: updateKubeconfig,
			want:    Context{Profile: "prod", ProfileFrom: "the context's exec plugin (AWS_PROFILE in its env)", Region: "eu-west-1", RegionFrom: "the context's exec plugin (--region in its args)"},
			explain: "AWS profile prod (from the context's exec plugin (AWS_PROFILE in its env)); region eu-west-1 (from the context's exec plugin (--region in its args))"},
		{name: "flags win", exec: updateKubeconfig, flags: Flags{Profile: "ops", Region: "us-east-1"},
			want: Context{Profile: "ops", ProfileFrom: "--profile", Region: "us-east-1", RegionFrom: "--region"}},
		{name: "--profile in the args before AWS_PROFILE, as the aws CLI reads them",
			exec: &clientcmdapi.ExecConfig{Command: "aws", Args: []string{"eks", "get-token", "--cluster-name", "x", "--profile=args"}, Env: env("AWS_PROFILE", "env", "AWS_REGION", "ap-south-1")},
			want: Context{Profile: "args", ProfileFrom: "the context's exec plugin (--profile in its args)", Region: "ap-south-1", RegionFrom: "the context's exec plugin (AWS_REGION in its env)"}},
		{name: "AWS_DEFAULT_REGION", exec: &clientcmdapi.ExecConfig{Command: "aws-iam-authenticator", Args: []string{"token", "-i", "x"}, Env: env("AWS_DEFAULT_REGION", "us-east-2")},
			want:    Context{Region: "us-east-2", RegionFrom: "the context's exec plugin (AWS_DEFAULT_REGION in its env)"},
			explain: "AWS profile: none named, the usual chain (environment, AWS_PROFILE, default profile); region us-east-2 (from the context's exec plugin (AWS_DEFAULT_REGION in its env))"},
		{name: "a flag without a value is no value", exec: &clientcmdapi.ExecConfig{Command: "aws", Args: []string{"eks", "get-token", "--profile", "--region"}}},
		{name: "no exec plugin", explain: "AWS profile: none named, the usual chain (environment, AWS_PROFILE, default profile); region: named by neither the flags nor the context"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got := Settings(withExec("ctx", c.exec), "ctx", c.flags)
			c.want.Name = "ctx"
			if got != c.want {
				t.Errorf("got %+v\nwant %+v", got, c.want)
			}
			if c.explain != "" {
				if d := got.Describe("", ""); d != c.explain {
					t.Errorf("Describe: %q\nwant      %q", d, c.explain)
				}
			}
		})
	}
}

func TestDescribeNamesTheRegionTheCommandChose(t *testing.T) {
	t.Parallel()
	c := Context{Name: "x", Profile: "p", ProfileFrom: FromProfileFlag}
	if got, want := c.Describe("eu-west-1", "profile p"), "AWS profile p (from --profile); region eu-west-1 (from profile p)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
