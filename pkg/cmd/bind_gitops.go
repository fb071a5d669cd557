package cmd

// bind -o ack|cloudformation: what bind would create or change, as resources a controller applies from a
// Git repository (pkg/gitops), on standard output; the plan goes to standard error and nothing is written.

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/bind"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/gitops"
)

// The -o formats of bind that print GitOps resources.
const (
	outputACK            = "ack"
	outputCloudFormation = "cloudformation"
)

// gitops reports whether -o asked for GitOps resources.
func (f outputFlag) gitops() bool { return f == outputACK || f == outputCloudFormation }

// addGitOpsOutput says, in bind's -o help, that it also takes the GitOps formats.
func addGitOpsOutput(c *cobra.Command) {
	fl := c.Flags().Lookup("output")
	fl.Usage += "; or ack (AWS Controllers for Kubernetes resources) or cloudformation (a template per account), each with the Kubernetes objects: what bind would create or change, for a GitOps repository (implies --dry-run; the plan goes to standard error)"
}

// validateOutput is -o's check for bind: json, yaml, or a GitOps format, which implies --dry-run.
func (o *BindOptions) validateOutput() error {
	if !o.Output.gitops() {
		return o.Output.validate()
	}
	switch {
	case o.PrintManifest:
		return errors.New("-o " + string(o.Output) + " prints the Kubernetes objects with the AWS resources, and --print-manifest prints a manifest alone: use one or the other")
	case o.Yes:
		return errors.New("-o " + string(o.Output) + " writes nothing (it implies --dry-run): leave out --yes")
	case o.Wait:
		return errors.New("-o " + string(o.Output) + " writes nothing, so there is no rollout for --wait to follow")
	}
	o.DryRun = true
	return nil
}

// printGitOps prints res's end state in -o's GitOps format.
func (o *BindOptions) printGitOps(res *bind.Result) error {
	d, err := res.Desired()
	if err != nil {
		return err
	}
	docs := gitops.ACK(d)
	if o.Output == outputCloudFormation {
		docs = gitops.CloudFormation(d)
	}
	return gitops.Write(o.Out, docs)
}
