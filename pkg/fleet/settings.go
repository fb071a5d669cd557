package fleet

import (
	"fmt"
	"strings"

	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Context is one kube context of a fleet and the AWS settings it is read with.
type Context struct {
	// Name is the kube context's name in the kubeconfig.
	Name string
	// Profile is the AWS profile the context is read with; "" leaves the SDK's usual chain (environment
	// keys, AWS_PROFILE, the default profile, SSO...). ProfileFrom says where it came from.
	Profile, ProfileFrom string
	// Region is the AWS region the context is read in when the flags or the context itself name one; ""
	// leaves it to the profile, then the environment (see Settings). RegionFrom says where it came from.
	Region, RegionFrom string
}

// Flags are the AWS flags of the command, which apply to every context.
type Flags struct {
	Profile, Region string
}

// Where a context's AWS settings came from, as -v says it.
const (
	FromProfileFlag = "--profile"
	FromRegionFlag  = "--region"
	FromExecArgs    = "the context's exec plugin (%s in its args)"
	FromExecEnv     = "the context's exec plugin (%s in its env)"
)

// Settings works out how a context is read: the AWS profile is --profile, else the one the context's exec
// credential plugin names (`--profile X` in its args, else AWS_PROFILE in its env, as `aws eks
// update-kubeconfig --profile X` writes it), else none (the SDK's usual chain). The region is --region,
// else the one the exec plugin names (`--region R` in its args, else AWS_REGION or AWS_DEFAULT_REGION in its
// env: where the cluster is), else none here: the command then takes the profile's own region before the
// environment's AWS_REGION, so that one region in the shell is not forced onto every context. Args come
// before env because that is how the aws CLI the plugin runs reads them.
func Settings(cfg clientcmdapi.Config, name string, f Flags) Context {
	c := Context{Name: name}
	var exec *clientcmdapi.ExecConfig
	if kc := cfg.Contexts[name]; kc != nil {
		if ai := cfg.AuthInfos[kc.AuthInfo]; ai != nil {
			exec = ai.Exec
		}
	}
	switch {
	case f.Profile != "":
		c.Profile, c.ProfileFrom = f.Profile, FromProfileFlag
	case exec != nil:
		c.Profile, c.ProfileFrom = execSetting(exec, []string{"--profile"}, []string{"AWS_PROFILE"})
	}
	switch {
	case f.Region != "":
		c.Region, c.RegionFrom = f.Region, FromRegionFlag
	case exec != nil:
		c.Region, c.RegionFrom = execSetting(exec, []string{"--region"}, []string{"AWS_REGION", "AWS_DEFAULT_REGION"})
	}
	return c
}

// execSetting is the value of the first of flags in the exec plugin's args, else of the first of vars in
// its env, with where it was found.
func execSetting(exec *clientcmdapi.ExecConfig, flags, vars []string) (value, from string) {
	for _, f := range flags {
		if v := flagValue(exec.Args, f); v != "" {
			return v, fmt.Sprintf(FromExecArgs, f)
		}
	}
	for _, name := range vars {
		for _, e := range exec.Env {
			if e.Name == name && e.Value != "" {
				return e.Value, fmt.Sprintf(FromExecEnv, name)
			}
		}
	}
	return "", ""
}

// flagValue is the value of flag in args, as "--flag value" or "--flag=value".
func flagValue(args []string, flag string) string {
	for i, a := range args {
		if a == flag && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(a, flag+"="); ok {
			return v
		}
	}
	return ""
}

// Describe says, for -v, which AWS profile and region the context was read with and why. region and
// regionFrom are what the command finally used when the context named none (the profile's, the
// environment's).
func (c Context) Describe(region, regionFrom string) string {
	profile := "AWS profile: none named, the usual chain (environment, AWS_PROFILE, default profile)"
	if c.Profile != "" {
		profile = fmt.Sprintf("AWS profile %s (from %s)", c.Profile, c.ProfileFrom)
	}
	switch {
	case c.Region != "":
		region, regionFrom = c.Region, c.RegionFrom
	case region == "":
		return profile + "; region: named by neither the flags nor the context"
	}
	if regionFrom == "" {
		return fmt.Sprintf("%s; region %s", profile, region)
	}
	return fmt.Sprintf("%s; region %s (from %s)", profile, region, regionFrom)
}
