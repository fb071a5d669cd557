package cmd

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/tools/clientcmd"

	sdcaws "github.com/kubectl-sdc/kubectl-sdc/pkg/aws"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/fleet"
)

// fleetFlags run a command over several kube contexts: --contexts, --all-contexts, --parallel and
// --ignore-unreachable. A command adds them, calls validate and then (when enabled) complete in its
// Complete, and hands runFleet a function that examines one context through g.contextSession.
type fleetFlags struct {
	Contexts          []string
	All               bool
	Parallel          int
	IgnoreUnreachable bool

	// selected and run are what complete found: the contexts, and how fleet.Run examines them.
	selected []fleet.Context
	run      fleet.Options
}

func (f *fleetFlags) add(c *cobra.Command, g *Globals) {
	fs := c.Flags()
	fs.StringSliceVar(&f.Contexts, "contexts", nil, "Check these kube `CONTEXTS` side by side: names or shell patterns, comma-separated (e.g. 'prod-*,staging'); each is read with its own AWS profile")
	fs.BoolVar(&f.All, "all-contexts", false, "Check every context of the kubeconfig, side by side")
	fs.IntVar(&f.Parallel, "parallel", fleet.DefaultParallel, "With --contexts or --all-contexts: how many contexts (`N`) to check at once")
	fs.BoolVar(&f.IgnoreUnreachable, "ignore-unreachable", false, "With --contexts or --all-contexts: a context that cannot be checked is reported but does not set the exit code")
	_ = c.RegisterFlagCompletionFunc("contexts", completeContextList(g))
}

// enabled reports whether the command runs over a fleet.
func (f *fleetFlags) enabled() bool { return len(f.Contexts) > 0 || f.All }

// validate refuses, before anything is read, the flags that make no sense over several contexts or
// without them.
func (f *fleetFlags) validate(c *cobra.Command, g *Globals, af awsFlags) error {
	changed := c.Flags().Changed
	if !f.enabled() {
		if changed("contexts") {
			return fmt.Errorf("--contexts: give context names or shell patterns, comma-separated (e.g. --contexts 'prod-*,staging'), or use --all-contexts")
		}
		for _, name := range []string{"parallel", "ignore-unreachable"} {
			if changed(name) {
				return fmt.Errorf("--%s applies to several contexts: add --contexts NAMES or --all-contexts", name)
			}
		}
		return nil
	}
	if f.All && len(f.Contexts) > 0 {
		return fmt.Errorf("--contexts names contexts and --all-contexts takes every one: use one or the other")
	}
	which := "--contexts"
	if f.All {
		which = "--all-contexts"
	}
	cf := g.ConfigFlags
	if v := deref(cf.Context); v != "" {
		return fmt.Errorf("--context %q picks one kube context and %s several: use one or the other", v, which)
	}
	for _, o := range []struct{ flag, value, what string }{
		{"--cluster", deref(cf.ClusterName), "kubeconfig cluster"},
		{"--user", deref(cf.AuthInfoName), "kubeconfig user"},
		{"--server", deref(cf.APIServer), "API server"},
	} {
		if o.value != "" {
			return fmt.Errorf("%s %q would put one %s under every context of %s: drop it (each context uses its own)", o.flag, o.value, o.what, which)
		}
	}
	if af.EKSCluster != "" {
		return fmt.Errorf("--eks-cluster %q names one EKS cluster and %s several: drop it (each context finds its own cluster)", af.EKSCluster, which)
	}
	if f.Parallel < 1 {
		return fmt.Errorf("--parallel %d: give at least 1", f.Parallel)
	}
	return nil
}

// complete selects the contexts from the kubeconfig and works out how each is read; errors are bad flags
// (a name or pattern that matches nothing lists the kubeconfig's contexts).
func (f *fleetFlags) complete(g *Globals, af awsFlags) error {
	raw, err := g.ConfigFlags.ToRawKubeConfigLoader().RawConfig()
	if err != nil {
		return fmt.Errorf("reading the kubeconfig: %w", err)
	}
	names, err := fleet.Select(raw, f.Contexts, f.All)
	if err != nil {
		return err
	}
	f.selected = make([]fleet.Context, len(names))
	for i, n := range names {
		f.selected[i] = fleet.Settings(raw, n, fleet.Flags{Profile: af.Profile, Region: af.Region})
	}
	f.run = fleet.Options{Parallel: f.Parallel}
	if t := deref(g.ConfigFlags.Timeout); t != "" && t != "0" {
		d, err := clientcmd.ParseTimeout(t)
		if err != nil {
			return fmt.Errorf("--request-timeout %q: %w", t, err)
		}
		f.run.Timeout, f.run.TimeoutFlag = d, "--request-timeout "+t
	}
	return nil
}

// runFleet examines the contexts complete selected with fn, as f's flags say (bound, timeout), and returns
// a result per context in their order.
func runFleet[R any](ctx context.Context, f *fleetFlags, fn fleet.Func[R]) []fleet.Result[R] {
	return fleet.Run(ctx, f.selected, f.run, fn)
}

// contextSession is the session of one context of a fleet, made exactly as a single-context run makes its
// own (kubectl's flags with --context set to it), with the context's AWS profile and region; the profile's
// region comes before the environment's. Its Namespace is -n, else the context's; its ReadWith says, for
// -v, which AWS profile and region it reads with.
func (g *Globals) contextSession(ctx context.Context, c fleet.Context) (*session, error) {
	flags := g.contextFlags(c.Name)
	ns, _, err := flags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return nil, fmt.Errorf("kube context %q: %w", c.Name, err)
	}
	s, err := newSession(ctx, flags, sdcaws.Options{Profile: c.Profile, Region: c.Region, ProfileRegionFirst: true}, "")
	if err != nil {
		if c.Profile != "" {
			err = fmt.Errorf("kube context %q, AWS profile %s (from %s): %w", c.Name, c.Profile, c.ProfileFrom, err)
		}
		return nil, err
	}
	s.Namespace, s.ReadWith = ns, c.Describe(s.AWS.Region, s.AWS.RegionFrom)
	return s, nil
}

// contextFlags are kubectl's flags as given, for context name: --context set, and none of the flags that
// validate refuses with a fleet.
func (g *Globals) contextFlags(name string) *genericclioptions.ConfigFlags {
	src := g.ConfigFlags
	f := genericclioptions.NewConfigFlags(true)
	f.CacheDir, f.KubeConfig = src.CacheDir, src.KubeConfig
	f.Namespace, f.TLSServerName, f.Insecure = src.Namespace, src.TLSServerName, src.Insecure
	f.CertFile, f.KeyFile, f.CAFile, f.BearerToken = src.CertFile, src.KeyFile, src.CAFile, src.BearerToken
	f.Impersonate, f.ImpersonateUID, f.ImpersonateGroup = src.Impersonate, src.ImpersonateUID, src.ImpersonateGroup
	f.Username, f.Password, f.Timeout, f.DisableCompression = src.Username, src.Password, src.Timeout, src.DisableCompression
	f.WrapConfigFn = src.WrapConfigFn
	f.Context = &name
	return f
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// completeContextList completes the last name of a comma-separated --contexts list.
func completeContextList(g *Globals) cobra.CompletionFunc {
	one := completeContexts(g)
	return func(c *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		head := ""
		if i := strings.LastIndexByte(toComplete, ','); i >= 0 {
			head, toComplete = toComplete[:i+1], toComplete[i+1:]
		}
		got, dir := one(c, args, toComplete)
		for i := range got {
			got[i] = head + got[i]
		}
		return got, dir | cobra.ShellCompDirectiveNoSpace
	}
}
