package fleet

import (
	"fmt"
	"path"
	"sort"
	"strings"

	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// Select picks the contexts of a fleet from the kubeconfig: every context with all (--all-contexts), else
// those each of patterns names, exactly or as a shell pattern (path.Match: *, ?, [a-z]), in the order of
// the patterns, a pattern's matches sorted by name, each context once. A pattern that matches nothing is
// an error listing the kubeconfig's contexts: a typo must not quietly shrink the fleet.
func Select(cfg clientcmdapi.Config, patterns []string, all bool) ([]string, error) {
	names := make([]string, 0, len(cfg.Contexts))
	for n := range cfg.Contexts {
		names = append(names, n)
	}
	sort.Strings(names)
	if all {
		if len(names) == 0 {
			return nil, &vocab.FlagError{Flag: "--all-contexts", Rule: "the kubeconfig has no contexts: see 'kubectl config get-contexts'"}
		}
		return names, nil
	}
	if len(patterns) == 0 {
		return nil, &vocab.FlagError{Flag: "--contexts", Rule: "give context names or shell patterns, comma-separated (e.g. --contexts 'prod-*,staging'), or use --all-contexts"}
	}
	var out []string
	seen := map[string]bool{}
	for _, p := range patterns {
		p = strings.TrimSpace(p)
		if p == "" {
			return nil, &vocab.FlagError{Flag: "--contexts", Value: strings.Join(patterns, ","), Rule: "has an empty name: give context names or shell patterns separated by single commas"}
		}
		if _, err := path.Match(p, ""); err != nil {
			return nil, &vocab.FlagError{Flag: "--contexts", Value: p, Rule: "not a valid shell pattern (" + err.Error() + "): use *, ? and [a-z] as a shell does"}
		}
		matched := false
		for _, n := range names {
			if ok, _ := path.Match(p, n); ok || p == n {
				matched = true
				if !seen[n] {
					seen[n] = true
					out = append(out, n)
				}
			}
		}
		if !matched {
			return nil, &vocab.FlagError{Flag: "--contexts", Value: p, Rule: noMatch(names)}
		}
	}
	return out, nil
}

func noMatch(names []string) string {
	if len(names) == 0 {
		return "matches no context: the kubeconfig has none (see 'kubectl config get-contexts')"
	}
	return fmt.Sprintf("matches no context of the kubeconfig; its contexts are: %s", strings.Join(names, ", "))
}
