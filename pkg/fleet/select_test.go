package fleet

import (
	"slices"
	"strings"
	"testing"

	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

func kubeconfigWith(names ...string) clientcmdapi.Config {
	cfg := clientcmdapi.NewConfig()
	for _, n := range names {
		cfg.Contexts[n] = &clientcmdapi.Context{Cluster: n, AuthInfo: n}
	}
	return *cfg
}

func TestSelect(t *testing.T) {
	t.Parallel()
	cfg := kubeconfigWith("prod-eu", "prod-us", "staging", "dev", "arn:aws:eks:eu-west-1:111122223333:cluster/x")
	cases := []struct {
		name     string
		patterns []string
		all      bool
		want     []string
		err      []string
	}{
		{name: "all, sorted", all: true, want: []string{"arn:aws:eks:eu-west-1:111122223333:cluster/x", "dev", "prod-eu", "prod-us", "staging"}},
		{name: "names in the order given", patterns: []string{"staging", "dev"}, want: []string{"staging", "dev"}},
		{name: "a pattern's matches sorted", patterns: []string{"prod-*"}, want: []string{"prod-eu", "prod-us"}},
		{name: "each context once", patterns: []string{"prod-us", "prod-*", "?rod-eu"}, want: []string{"prod-us", "prod-eu"}},
		{name: "character classes", patterns: []string{"[ds]*"}, want: []string{"dev", "staging"}},
		{name: "a name with pattern characters matches itself", patterns: []string{"arn:aws:eks:eu-west-1:111122223333:cluster/x"}, want: []string{"arn:aws:eks:eu-west-1:111122223333:cluster/x"}},
		{name: "spaces around names", patterns: []string{" dev "}, want: []string{"dev"}},
		{name: "no match lists the contexts", patterns: []string{"dev", "prod"},
			err: []string{`--contexts "prod": matches no context of the kubeconfig; its contexts are: arn:aws:eks:eu-west-1:111122223333:cluster/x, dev, prod-eu, prod-us, staging`}},
		{name: "a pattern matching nothing", patterns: []string{"qa-*"}, err: []string{`--contexts "qa-*": matches no context`}},
		{name: "bad pattern", patterns: []string{"prod-["}, err: []string{`--contexts "prod-[": not a valid shell pattern`}},
		{name: "empty name", patterns: []string{"dev", ""}, err: []string{`--contexts "dev,": has an empty name`}},
		{name: "nothing given", err: []string{"--contexts: give context names or shell patterns"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, err := Select(cfg, c.patterns, c.all)
			if c.err != nil {
				if err == nil {
					t.Fatalf("got %v, want an error", got)
				}
				for _, w := range c.err {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q lacks %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestSelectFromAnEmptyKubeconfig(t *testing.T) {
	t.Parallel()
	if _, err := Select(kubeconfigWith(), nil, true); err == nil || !strings.Contains(err.Error(), "--all-contexts: the kubeconfig has no contexts") {
		t.Errorf("--all-contexts: %v", err)
	}
	if _, err := Select(kubeconfigWith(), []string{"x"}, false); err == nil || !strings.Contains(err.Error(), "the kubeconfig has none") {
		t.Errorf("--contexts x: %v", err)
	}
}
