package cmd

// Saved plans: `bind|unbind|migrate --dry-run --out FILE` writes the plan, `kubectl sdc apply FILE` applies
// it after review (pkg/plan.Saved says what a file holds, pkg/bind what a plan depends on).

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/bind"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/plan"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/version"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// savingFlags are --out, of the commands whose plan can be saved.
type savingFlags struct {
	Out string
}

func (f *savingFlags) add(c *cobra.Command) {
	c.Flags().StringVar(&f.Out, "out", "", "With --dry-run: also save the plan to `FILE` (JSON), for review and kubectl sdc apply FILE")
}

// validate checks --out with the command's other flags (printManifest and wait are bind's; false elsewhere).
func (f savingFlags) validate(dryRun, printManifest, wait bool) error {
	if f.Out == "" {
		return nil
	}
	switch {
	case !dryRun:
		return errors.New("--out saves a plan for review and needs --dry-run (apply it later with kubectl sdc apply FILE)")
	case printManifest:
		return errors.New("--out cannot save a plan with --print-manifest: save the plan without it, and print the manifest with kubectl sdc manifest")
	case wait:
		return errors.New("--wait follows a rollout, and --out with --dry-run changes nothing to follow")
	}
	return nil
}

// appliedPlan is a saved plan being applied: the file's name and content.
type appliedPlan struct {
	File  string
	Saved *plan.Saved
}

// savedBind is bind's request in a saved plan: the request (its catalog left out: the same plugin's, or
// --catalog's file, read again when the plan is applied) and the flags apply uses again.
type savedBind struct {
	Request     *bind.Request `json:"request"`
	CatalogFile string        `json:"catalogFile,omitempty"`
}

// savedPlan writes the plan to --out, or, applying a saved plan, refuses it unless the plan made now (res)
// is the saved one.
func (o *BindOptions) savedPlan(res *bind.Result) error {
	if o.saved != nil {
		return res.CheckSaved(o.saved.Saved, o.saved.File, "kubectl sdc bind ... --dry-run --out "+o.saved.File)
	}
	if o.saving.Out == "" {
		return nil
	}
	s, err := res.Saved()
	if err != nil {
		return err
	}
	req := *o.req
	req.Catalog = nil
	return o.writeSaved(s, savedBind{Request: &req, CatalogFile: o.perms.CatalogFile}, o.aws, o.saving.Out)
}

// writeSaved completes s with the request and the flags, seals it and writes it to file.
func (g *Globals) writeSaved(s *plan.Saved, request any, af awsFlags, file string) error {
	req, err := json.Marshal(request)
	if err != nil {
		return err
	}
	s.Request = req
	v := version.Get()
	s.Plugin = plan.SavedPlugin{Version: v.Version, Commit: v.Commit}
	s.Created = time.Now().UTC().Format(time.RFC3339)
	s.Where.RegionFlag, s.Where.EKSClusterFlag = af.Region, af.EKSCluster
	data, err := s.Seal()
	if err != nil {
		return err
	}
	if err := os.WriteFile(file, data, 0o644); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	fmt.Fprintf(g.ErrOut, "Saved the plan to %s: after review, apply exactly it with kubectl sdc apply %s\n", file, file)
	return nil
}

const applyLong = `Apply a plan saved by bind, unbind or migrate with --dry-run --out FILE, after review (in a pull request,
say), as terraform applies a saved plan.

apply refuses a file that is not a kubectl-sdc plan, was made by another kubectl-sdc version, or whose
digest does not match its content (it was edited), before it reads anything. It then reads everything the
plan was made from again, with this kube context and these AWS credentials: a plan for another cluster or
account, or one whose resources moved since (a trust edited, a new policy version, the ServiceAccount
annotated...), is refused with the list of what moved, and nothing is written. Otherwise it plans again
and applies only a plan that is the saved one, change for change and operation for operation, without
asking (the plan was reviewed), with the saved command's output and exit codes.`

const applyExample = `  # In review: save the plan
  kubectl sdc bind -n ns1 --bucket sdc-ingest-bucket --deployment sdc --dry-run --out plan.json

  # After review, in the pipeline: apply exactly that plan
  kubectl sdc apply plan.json`

// ApplyOptions are apply's flags.
type ApplyOptions struct {
	*Globals
	aws     awsFlags
	lock    lockFlag
	Output  outputFlag
	Verbose int
	file    string
	saved   *plan.Saved
}

func newApplyCmd(g *Globals) *cobra.Command {
	o := &ApplyOptions{Globals: g}
	c := &cobra.Command{
		Use:     "apply FILE",
		Short:   "Apply a plan saved by bind, unbind or migrate --dry-run --out FILE, once reviewed (refused if anything moved)",
		Long:    applyLong,
		Example: applyExample,
		Args:    cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if err := o.Complete(args); err != nil {
				return err
			}
			return o.Run(c)
		},
	}
	f := c.Flags()
	o.aws.add(f)
	o.lock.add(f)
	o.Output.add(c, "the result object", "the plan in prose")
	f.CountVarP(&o.Verbose, "verbose", "v", "Say more: how the cluster's issuer was found")
	return c
}

// Complete reads and checks the file; nothing else is read yet.
func (o *ApplyOptions) Complete(args []string) error {
	o.file = args[0]
	if err := o.Output.validate(); err != nil {
		return err
	}
	if err := o.lock.validate(); err != nil {
		return err
	}
	data, err := os.ReadFile(o.file)
	if err != nil {
		return fmt.Errorf("plan file: %w", err)
	}
	if o.saved, err = plan.ReadSaved(filepath.Base(o.file), data); err != nil {
		return err
	}
	if v := version.Get(); o.saved.Plugin.Version != v.Version || o.saved.Plugin.Commit != v.Commit {
		return fmt.Errorf("plan file %s was made by kubectl-sdc %s (%s) and this is %s (%s): a plan is applied by the version that made it; make it again with this one",
			o.file, o.saved.Plugin.Version, o.saved.Plugin.Commit, v.Version, v.Commit)
	}
	// --region and --eks-cluster as the plan was made, unless given here.
	if o.aws.Region == "" {
		o.aws.Region = o.saved.Where.RegionFlag
	}
	if o.aws.EKSCluster == "" {
		o.aws.EKSCluster = o.saved.Where.EKSClusterFlag
	}
	return nil
}

// Run runs the saved command in apply mode.
func (o *ApplyOptions) Run(c *cobra.Command) error {
	switch o.saved.Command {
	case "bind":
		b, err := o.bind()
		if err != nil {
			return err
		}
		return b.Run(c.Context())
	case "unbind":
		u, err := o.unbind()
		if err != nil {
			return err
		}
		return u.Run(c.Context())
	case "migrate":
		m, err := o.migrate()
		if err != nil {
			return err
		}
		return m.Run(c.Context())
	}
	return fmt.Errorf("plan file %s: command %q has no saved plans in this kubectl-sdc", o.file, o.saved.Command)
}

// strict decodes a saved request, refusing unknown fields.
func (o *ApplyOptions) strict(v any) error {
	dec := json.NewDecoder(bytes.NewReader(o.saved.Request))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("plan file %s: its %s request: %w", o.file, o.saved.Command, err)
	}
	return nil
}

// bind is bind's options for the saved plan: its request, applied without asking.
func (o *ApplyOptions) bind() (*BindOptions, error) {
	var s savedBind
	if err := o.strict(&s); err != nil {
		return nil, err
	}
	if s.Request == nil {
		return nil, fmt.Errorf("plan file %s: holds no bind request", o.file)
	}
	b := &BindOptions{Globals: o.Globals, aws: o.aws, lock: o.lock, Output: o.Output, Verbose: o.Verbose, Yes: true,
		req: s.Request, saved: &appliedPlan{File: o.file, Saved: o.saved}}
	b.perms.CatalogFile = s.CatalogFile
	b.guard.TargetProfile = s.Request.TargetProfile
	b.Deployment = s.Request.Deployment
	if len(s.Request.Selection.Stages) > 0 || s.Request.Mechanism() == vocab.MechanismPodIdentity {
		cat, err := b.perms.catalog()
		if err != nil {
			return nil, err
		}
		s.Request.Catalog = cat
	}
	if err := s.Request.Validate(); err != nil {
		return nil, fmt.Errorf("plan file %s: %w", o.file, err)
	}
	return b, nil
}

// savedPlan is BindOptions.savedPlan of unbind.
func (o *UnbindOptions) savedPlan(res *bind.UnbindResult) error {
	if o.saved != nil {
		return res.CheckSaved(o.saved.Saved, o.saved.File, "kubectl sdc unbind ... --dry-run --out "+o.saved.File)
	}
	if o.saving.Out == "" {
		return nil
	}
	s, err := res.Saved()
	if err != nil {
		return err
	}
	return o.writeSaved(s, o.req, o.aws, o.saving.Out)
}

// savedPlan is BindOptions.savedPlan of migrate.
func (o *MigrateOptions) savedPlan(mg *bind.Migration) error {
	if o.saved != nil {
		return mg.CheckSaved(o.saved.Saved, o.saved.File, "kubectl sdc migrate ... --dry-run --out "+o.saved.File)
	}
	if o.saving.Out == "" {
		return nil
	}
	s, err := mg.Saved()
	if err != nil {
		return err
	}
	req := *o.req
	req.Catalog = nil
	return o.writeSaved(s, &req, o.aws, o.saving.Out)
}

// unbind is unbind's options for the saved plan.
func (o *ApplyOptions) unbind() (*UnbindOptions, error) {
	var r bind.UnbindRequest
	if err := o.strict(&r); err != nil {
		return nil, err
	}
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("plan file %s: %w", o.file, err)
	}
	return &UnbindOptions{Globals: o.Globals, aws: o.aws, lock: o.lock, Output: o.Output, Verbose: o.Verbose, Yes: true,
		req: &r, saved: &appliedPlan{File: o.file, Saved: o.saved}}, nil
}

// migrate is migrate's options for the saved plan (its catalog is the plugin's own, as migrate's is).
func (o *ApplyOptions) migrate() (*MigrateOptions, error) {
	var r bind.MigrateRequest
	if err := o.strict(&r); err != nil {
		return nil, err
	}
	cat, err := (&permissionFlags{}).catalog()
	if err != nil {
		return nil, err
	}
	r.Catalog = cat
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("plan file %s: %w", o.file, err)
	}
	return &MigrateOptions{Globals: o.Globals, aws: o.aws, lock: o.lock, Output: o.Output, Yes: true,
		RemoveIRSA: r.RemoveIRSA, req: &r, saved: &appliedPlan{File: o.file, Saved: o.saved}}, nil
}
