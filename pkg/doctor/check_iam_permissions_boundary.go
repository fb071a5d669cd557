package doctor

import (
	"context"
	"fmt"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// iamPermissionsBoundary: the role's permissions boundary, which iam.permissions judges the role's
// permissions within. No boundary passes too, unless the organization asks for one
// ($KUBECTL_SDC_PERMISSIONS_BOUNDARY): then a role without it (or with another) warns.
var iamPermissionsBoundary = Check{
	ID: "iam.permissions-boundary", Layer: LayerIAM, Scope: TargetScope,
	Needs: []string{"iam.role"},
	Run: func(_ context.Context, f *Facts, t *Target) Result {
		r := f.Roles[t.RoleARN]
		want := f.Options.ExpectedBoundary
		fix := func() string {
			if r.Tags[vocab.ManagedByKey] == vocab.ManagedByValue {
				return bindFix(f, t) + " --permissions-boundary " + shellQuote(want)
			}
			return command("aws", "iam", "put-role-permissions-boundary", "--role-name", r.Name, "--permissions-boundary", want)
		}
		if r.BoundaryARN == "" {
			if want != "" {
				return warn(fmt.Sprintf("role %s has no permissions boundary, and %s asks for one", r.Name, vocab.EnvPermissionsBoundary),
					fmt.Sprintf("%s=%s: the organization's roles carry that boundary", vocab.EnvPermissionsBoundary, want), fix())
			}
			return pass(fmt.Sprintf("role %s has no permissions boundary", r.Name), "its policies alone decide what it may do")
		}
		version := ""
		switch p := f.Policies[r.BoundaryARN]; {
		case p == nil || p.Err != nil:
			err := "not read"
			if p != nil {
				err = p.Err.Error()
			}
			return warn(fmt.Sprintf("the permissions boundary of role %s could not be read", r.Name),
				fmt.Sprintf("boundary %s: %s; iam.permissions judges the role without it, IAM with it", r.BoundaryARN, err),
				"grant iam:GetPolicy and iam:GetPolicyVersion to the credentials doctor uses (docs/permissions/doctor-policy.json)")
		case !p.Exists:
			return warn(fmt.Sprintf("the permissions boundary of role %s does not exist", r.Name),
				fmt.Sprintf("boundary %s is gone, so the role may do nothing", r.BoundaryARN), fix())
		default:
			version = " (version " + p.DefaultVersion + ")"
		}
		if want != "" && want != r.BoundaryARN {
			return warn(fmt.Sprintf("role %s has permissions boundary %s, not the one %s names", r.Name, r.BoundaryARN, vocab.EnvPermissionsBoundary),
				fmt.Sprintf("%s=%s", vocab.EnvPermissionsBoundary, want), fix())
		}
		return pass(fmt.Sprintf("role %s has permissions boundary %s", r.Name, r.BoundaryARN),
			"policy "+r.BoundaryARN+version+": iam.permissions judges the role's permissions within it, as IAM does")
	},
}
