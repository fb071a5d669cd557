package cmd

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	sdcaws "github.com/kubectl-sdc/kubectl-sdc/pkg/aws"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/bind"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/render"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// guardrailFlags are bind's flags for an organization's rules (boundary, path, tags, session length,
// description) and for SDC's "Assume Another Role" (the target role and the profile of its account).
type guardrailFlags struct {
	PermissionsBoundary string
	RolePath            string
	Tags                []string
	MaxSessionDuration  string
	Description         string
	AssumeRoleARN       string
	TargetProfile       string
}

func (f *guardrailFlags) add(c *cobra.Command) {
	fs := c.Flags()
	fs.StringVar(&f.PermissionsBoundary, "permissions-boundary", "", "Managed policy `ARN` to set as the role's permissions boundary (default $"+vocab.EnvPermissionsBoundary+")")
	fs.StringVar(&f.RolePath, "role-path", "", "IAM `PATH` of the role and its policy, e.g. /sdc/ (default $"+vocab.EnvRolePath+", else the annotated role's, else /)")
	fs.StringArrayVar(&f.Tags, "tag", nil, "Tag `KEY=VALUE` on every IAM resource bind creates or manages (repeatable; added to $"+vocab.EnvTags+", comma-separated KEY=VALUE)")
	fs.StringVar(&f.MaxSessionDuration, "max-session-duration", "", "The role's maximum session `DURATION`, 1h to 12h (e.g. 4h, or seconds)")
	fs.StringVar(&f.Description, "description", "", "The role's `TEXT` description (default: says which ServiceAccount and cluster it serves)")
	fs.StringVar(&f.AssumeRoleARN, "assume-role-arn", "", "Role `ARN` (in another account) the SDC stages assume, \"Assume Another Role\": the stages' permissions go there, and this role may only assume it")
	fs.StringVar(&f.TargetProfile, "target-profile", "", "AWS `PROFILE` of --assume-role-arn's or --target-role-arn's account: bind also creates or updates that role's trust and policy (without it, it prints what to add there)")
	noFileCompletions(c, "permissions-boundary", "role-path", "tag", "max-session-duration", "description", "assume-role-arn", "target-profile")
}

// noFileCompletions keeps the shell from offering file names for flags whose values are free text or ARNs.
func noFileCompletions(c *cobra.Command, flags ...string) {
	for _, f := range flags {
		_ = c.RegisterFlagCompletionFunc(f, cobra.NoFileCompletions)
	}
}

// complete fills the request's guardrails from the flags, and from the environment where a flag was not
// given (a flag wins; --tag values join $KUBECTL_SDC_TAGS, a key given both ways taking the flag's value).
func (f *guardrailFlags) complete(c *cobra.Command, r *bind.Request) error {
	fs := c.Flags()
	g := &r.Guardrails
	g.PermissionsBoundary, g.RolePath, g.Description = f.PermissionsBoundary, f.RolePath, f.Description
	if !fs.Changed("permissions-boundary") {
		if v := os.Getenv(vocab.EnvPermissionsBoundary); v != "" {
			g.PermissionsBoundary, g.Sources.PermissionsBoundary = v, "--permissions-boundary (from "+vocab.EnvPermissionsBoundary+")"
		}
	}
	if !fs.Changed("role-path") {
		if v := os.Getenv(vocab.EnvRolePath); v != "" {
			g.RolePath, g.Sources.RolePath = v, "--role-path (from "+vocab.EnvRolePath+")"
		}
	}
	env := map[string]string{}
	if v := os.Getenv(vocab.EnvTags); v != "" {
		if err := vocab.ParseTags(vocab.EnvTags, vocab.SplitEnvTags(v), env); err != nil {
			return err
		}
	}
	flags := map[string]string{}
	if err := vocab.ParseTags("--tag", f.Tags, flags); err != nil {
		return err
	}
	for k, v := range env {
		overridden := false
		for fk := range flags {
			overridden = overridden || strings.EqualFold(fk, k)
		}
		if !overridden {
			flags[k] = v
		}
	}
	if len(flags) > 0 {
		g.Tags = flags
	}
	if len(env) > 0 {
		g.Sources.Tags = "--tag and " + vocab.EnvTags
	}
	if f.MaxSessionDuration != "" {
		secs, err := vocab.ParseSessionDuration("--max-session-duration", f.MaxSessionDuration)
		if err != nil {
			return err
		}
		g.MaxSessionDuration = secs
	}
	r.AssumeRoleARN, r.TargetProfile = f.AssumeRoleARN, f.TargetProfile
	return nil
}

// targetClients are the AWS clients of --target-profile, or nil without it.
func (f *guardrailFlags) targetClients(ctx context.Context, region string) (*sdcaws.Clients, error) {
	if f.TargetProfile == "" {
		return nil, nil
	}
	c, err := sdcaws.Load(ctx, sdcaws.Options{Profile: f.TargetProfile, Region: region})
	if err != nil {
		return nil, fmt.Errorf("--target-profile: %w", err)
	}
	return c, nil
}

// guardrailFacts are the plan header's lines for the guardrails and the target role.
func guardrailFacts(res *bind.Result) []render.Fact {
	var out []render.Fact
	if g := res.GuardrailFacts(); g != "" {
		out = append(out, render.Fact{Label: "Guardrails", Value: g})
	}
	if t := res.Observed.Target; t != nil {
		v := fmt.Sprintf("%s in account %s: ", t.ARN, t.Parsed.Account)
		if t.Managed {
			v += fmt.Sprintf("changed here too, as %s (--target-profile %s)", t.Identity.ARN, t.Profile)
		} else {
			v += "not changed by bind (no --target-profile)"
		}
		label := "Assumes"
		if res.Request.TargetRoleARN != "" {
			label, v = "Target", v+"; EKS Pod Identity assumes it after the binding's role, and the pods get its credentials"
		}
		out = append(out, render.Fact{Label: label, Value: v})
	}
	return out
}

// printHandoff prints, after the plan, what the target account's owners must add.
func printHandoff(w io.Writer, th *render.Theme, h *bind.Handoff) {
	if h == nil {
		return
	}
	render.Snippet(w, th, fmt.Sprintf("For the trust policy of %s (account %s), a statement:", h.RoleARN, h.Account), string(h.TrustStatement))
	if len(h.Policy) > 0 {
		render.Snippet(w, th, fmt.Sprintf("A policy to attach to %s (the stages' permissions):", h.RoleARN), string(h.Policy))
	}
}
