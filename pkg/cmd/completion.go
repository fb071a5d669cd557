package cmd

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	appsv1client "k8s.io/client-go/kubernetes/typed/apps/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/catalog"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// completionTimeout bounds the cluster calls behind a TAB press when --request-timeout is not given: a
// shell that hangs on an unreachable cluster is worse than one that offers nothing.
const completionTimeout = 5 * time.Second

const completionLong = `Print a shell completion script.

Completion for "kubectl sdc ..." comes through kubectl's own completion (kubectl 1.26 or newer), which
asks the kubectl_complete-sdc helper shipped beside the plugin. To enable it:

  1. load kubectl's completion, for example in ~/.bashrc:  source <(kubectl completion bash)
  2. put kubectl_complete-sdc on your PATH next to kubectl-sdc (the release archives and
     "make install" provide it; krew users: see "kubectl krew info sdc")

The script this command prints completes the binary called directly as kubectl-sdc (without kubectl).

  bash:        source <(kubectl sdc completion bash)
  zsh:         kubectl sdc completion zsh > "${fpath[1]}/_kubectl-sdc"
  fish:        kubectl sdc completion fish | source
  powershell:  kubectl sdc completion powershell | Out-String | Invoke-Expression`

// newCompletionCmd replaces cobra's default completion command, whose help names the binary
// (kubectl-sdc) and says nothing about the kubectl plugin path that users of "kubectl sdc" need.
func newCompletionCmd(g *Globals) *cobra.Command {
	var noDescriptions bool
	c := &cobra.Command{
		Use:                   "completion bash|zsh|fish|powershell",
		Short:                 "Print a shell completion script (--help: completion through kubectl)",
		Long:                  completionLong,
		DisableFlagsInUseLine: true,
		ValidArgs:             []cobra.Completion{"bash", "zsh", "fish", "powershell"},
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return fmt.Errorf("completion needs exactly one shell, got %d arguments: use bash, zsh, fish or powershell", len(args))
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			root := c.Root()
			desc := !noDescriptions
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(g.Out, desc)
			case "zsh":
				if desc {
					return root.GenZshCompletion(g.Out)
				}
				return root.GenZshCompletionNoDesc(g.Out)
			case "fish":
				return root.GenFishCompletion(g.Out, desc)
			case "powershell":
				if desc {
					return root.GenPowerShellCompletionWithDesc(g.Out)
				}
				return root.GenPowerShellCompletion(g.Out)
			}
			return fmt.Errorf("shell %q is not supported: use bash, zsh, fish or powershell", args[0])
		},
	}
	c.Flags().BoolVar(&noDescriptions, "no-descriptions", false, "Leave the descriptions out of the completions")
	return c
}

// registerGlobalCompletions adds the completion command and completes kubectl's global flags: -n from the
// cluster, --context, --cluster and --user from the kubeconfig (which honours --kubeconfig typed before).
func registerGlobalCompletions(root *cobra.Command, g *Globals) {
	root.AddCommand(newCompletionCmd(g))
	for flag, fn := range map[string]cobra.CompletionFunc{
		"namespace": completeNamespaces(g),
		"context":   completeContexts(g),
		"cluster":   completeClusters(g),
		"user":      completeUsers(g),
	} {
		if err := root.RegisterFlagCompletionFunc(flag, fn); err != nil {
			// Only a change to the flag set can get here; the unit tests catch it before anyone types TAB.
			panic(fmt.Sprintf("registering completion for --%s: %v", flag, err))
		}
	}
}

// completeNamespaces lists the namespaces of the selected cluster.
func completeNamespaces(g *Globals) cobra.CompletionFunc {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		cfg, ctx, cancel, err := completionClient(g)
		if err != nil {
			return completionFailed("namespaces", err)
		}
		defer cancel()
		core, err := corev1client.NewForConfig(cfg)
		if err != nil {
			return completionFailed("namespaces", err)
		}
		list, err := core.Namespaces().List(ctx, metav1.ListOptions{})
		if err != nil {
			return completionFailed("namespaces", err)
		}
		choices := make([]choice, 0, len(list.Items))
		for _, ns := range list.Items {
			choices = append(choices, choice{name: ns.Name})
		}
		return withPrefix(choices, toComplete, nil), cobra.ShellCompDirectiveNoFileComp
	}
}

// completeServiceAccounts lists the ServiceAccounts of the selected namespace (-n, else the context's),
// describing each by the IAM role it is annotated with, if any. For bind's and doctor's --service-account.
func completeServiceAccounts(g *Globals) cobra.CompletionFunc {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		ns, _, err := g.Namespace()
		if err != nil {
			return completionFailed("service accounts", err)
		}
		cfg, ctx, cancel, err := completionClient(g)
		if err != nil {
			return completionFailed("service accounts", err)
		}
		defer cancel()
		core, err := corev1client.NewForConfig(cfg)
		if err != nil {
			return completionFailed("service accounts", err)
		}
		list, err := core.ServiceAccounts(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return completionFailed("service accounts", err)
		}
		choices := make([]choice, 0, len(list.Items))
		for _, sa := range list.Items {
			c := choice{name: sa.Name}
			if arn := sa.Annotations[vocab.RoleARNAnnotation]; arn != "" {
				c.desc = "role " + arn
			}
			choices = append(choices, c)
		}
		return withPrefix(choices, toComplete, nil), cobra.ShellCompDirectiveNoFileComp
	}
}

// completeDeployments lists the Deployments of the selected namespace, described by their first image so
// the SDC ones stand out. For bind's and doctor's --deployment.
func completeDeployments(g *Globals) cobra.CompletionFunc {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		ns, _, err := g.Namespace()
		if err != nil {
			return completionFailed("deployments", err)
		}
		cfg, ctx, cancel, err := completionClient(g)
		if err != nil {
			return completionFailed("deployments", err)
		}
		defer cancel()
		apps, err := appsv1client.NewForConfig(cfg)
		if err != nil {
			return completionFailed("deployments", err)
		}
		list, err := apps.Deployments(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return completionFailed("deployments", err)
		}
		choices := make([]choice, 0, len(list.Items))
		for _, d := range list.Items {
			c := choice{name: d.Name}
			if cs := d.Spec.Template.Spec.Containers; len(cs) > 0 {
				c.desc = cs[0].Image
			}
			choices = append(choices, c)
		}
		return withPrefix(choices, toComplete, nil), cobra.ShellCompDirectiveNoFileComp
	}
}

// completeStages lists the stages of the catalog (--catalog when the command has it and it is given,
// else the built-in one) for --stage, leaving out those already given (the flag repeats).
func completeStages(g *Globals) cobra.CompletionFunc {
	_ = g // same signature as its siblings, so every flag completion is registered the same way
	return func(c *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		file := ""
		if f := c.Flags().Lookup("catalog"); f != nil {
			file = f.Value.String()
		}
		cat, err := catalog.LoadOrDefault(file)
		if err != nil {
			return completionFailed("stages", err)
		}
		stages := cat.Stages()
		choices := make([]choice, 0, len(stages))
		for _, s := range stages {
			choices = append(choices, choice{name: s.Name, desc: s.Description})
		}
		return withPrefix(choices, toComplete, alreadyGiven(c, "stage")), cobra.ShellCompDirectiveNoFileComp
	}
}

// completeContexts lists the contexts of the kubeconfig, each described by its cluster and namespace.
func completeContexts(g *Globals) cobra.CompletionFunc {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		raw, err := g.ConfigFlags.ToRawKubeConfigLoader().RawConfig()
		if err != nil {
			return completionFailed("contexts", err)
		}
		choices := make([]choice, 0, len(raw.Contexts))
		for name, kc := range raw.Contexts {
			desc := "cluster " + kc.Cluster
			if kc.Namespace != "" {
				desc += ", namespace " + kc.Namespace
			}
			choices = append(choices, choice{name: name, desc: desc})
		}
		return withPrefix(choices, toComplete, nil), cobra.ShellCompDirectiveNoFileComp
	}
}

// completeClusters lists the clusters of the kubeconfig, each described by its server.
func completeClusters(g *Globals) cobra.CompletionFunc {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		raw, err := g.ConfigFlags.ToRawKubeConfigLoader().RawConfig()
		if err != nil {
			return completionFailed("clusters", err)
		}
		choices := make([]choice, 0, len(raw.Clusters))
		for name, c := range raw.Clusters {
			choices = append(choices, choice{name: name, desc: c.Server})
		}
		return withPrefix(choices, toComplete, nil), cobra.ShellCompDirectiveNoFileComp
	}
}

// completeUsers lists the users of the kubeconfig.
func completeUsers(g *Globals) cobra.CompletionFunc {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		raw, err := g.ConfigFlags.ToRawKubeConfigLoader().RawConfig()
		if err != nil {
			return completionFailed("users", err)
		}
		choices := make([]choice, 0, len(raw.AuthInfos))
		for name := range raw.AuthInfos {
			choices = append(choices, choice{name: name})
		}
		return withPrefix(choices, toComplete, nil), cobra.ShellCompDirectiveNoFileComp
	}
}

// choice is one completion candidate before it is formatted for cobra.
type choice struct{ name, desc string }

// withPrefix keeps the choices that start with toComplete and are not in skip, sorted by name. Filtering
// here rather than in the shell keeps the answer small for shells that do not filter (kubectl's own
// completion hands our candidates through as they are).
func withPrefix(choices []choice, toComplete string, skip map[string]bool) []cobra.Completion {
	sort.Slice(choices, func(i, j int) bool { return choices[i].name < choices[j].name })
	out := make([]cobra.Completion, 0, len(choices))
	for _, c := range choices {
		if !strings.HasPrefix(c.name, toComplete) || skip[c.name] {
			continue
		}
		if c.desc == "" {
			out = append(out, c.name)
			continue
		}
		out = append(out, cobra.CompletionWithDesc(c.name, c.desc))
	}
	return out
}

// alreadyGiven returns the values a repeatable flag already holds on this command line.
func alreadyGiven(c *cobra.Command, flag string) map[string]bool {
	f := c.Flags().Lookup(flag)
	if f == nil {
		return nil
	}
	var values []string
	if sv, ok := f.Value.(pflag.SliceValue); ok {
		values = sv.GetSlice()
	} else if f.Changed {
		values = []string{f.Value.String()}
	}
	given := make(map[string]bool, len(values))
	for _, v := range values {
		given[v] = true
	}
	return given
}

// completionClient is the REST config of the selected context (honouring --kubeconfig, --context, --as,
// ... typed before the TAB) and a context bounded by --request-timeout, else by completionTimeout.
func completionClient(g *Globals) (*rest.Config, context.Context, context.CancelFunc, error) {
	cfg, err := g.RESTConfig()
	if err != nil {
		return nil, nil, nil, err
	}
	timeout := completionTimeout
	if cfg.Timeout > 0 {
		timeout = cfg.Timeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	return cfg, ctx, cancel, nil
}

// completionFailed offers nothing (not even file names) and leaves the reason in cobra's completion debug
// log (BASH_COMP_DEBUG_FILE), since anything printed would end up on the user's command line.
func completionFailed(what string, err error) ([]cobra.Completion, cobra.ShellCompDirective) {
	cobra.CompDebugln(fmt.Sprintf("cannot complete %s: %v", what, err), false)
	return nil, cobra.ShellCompDirectiveNoFileComp
}
