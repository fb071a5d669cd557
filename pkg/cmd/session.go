package cmd

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"unicode"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	appsv1client "k8s.io/client-go/kubernetes/typed/apps/v1"
	authorizationv1client "k8s.io/client-go/kubernetes/typed/authorization/v1"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"

	sdcaws "github.com/kubectl-sdc/kubectl-sdc/pkg/aws"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/bind"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/catalog"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/cluster"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/render"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// awsFlags are the AWS side of bind and doctor.
type awsFlags struct {
	Profile, Region, EKSCluster string
}

func (f *awsFlags) add(fs *pflag.FlagSet) {
	fs.StringVar(&f.Profile, "profile", "", "AWS `PROFILE` to use (default: the usual chain: environment, AWS_PROFILE, default profile, SSO)")
	fs.StringVar(&f.Region, "region", "", "AWS `REGION` (default: the AWS configuration's, else the cluster's)")
	fs.StringVar(&f.EKSCluster, "eks-cluster", "", "`NAME` of the EKS cluster, when it cannot be found from the kube context (kubectl's --cluster keeps its meaning: a kubeconfig cluster)")
}

// permissionFlags say which permissions the ServiceAccount needs: catalog stages and parameters.
type permissionFlags struct {
	Stages      []string
	Sets        []string
	Bucket      string
	Prefix      string
	CatalogFile string
}

func (f *permissionFlags) add(c *cobra.Command, g *Globals) {
	fs := c.Flags()
	fs.StringArrayVar(&f.Stages, "stage", nil, "SDC stage `NAME` whose IAM permissions to grant (repeatable; kubectl sdc stages lists them)")
	fs.StringArrayVar(&f.Sets, "set", nil, "Stage parameter as `KEY=VALUE`, e.g. --set bucket=my-bucket (repeatable)")
	fs.StringVar(&f.Bucket, "bucket", "", "S3 `BUCKET`: shorthand for --set bucket=...; alone it means --stage s3 (the original guide's policy)")
	fs.StringVar(&f.Prefix, "prefix", "", "S3 key `PREFIX`: shorthand for --set prefix=...")
	fs.StringVar(&f.CatalogFile, "catalog", "", "Read the stage catalog from this `FILE` instead of the built-in plugins.yaml")
	_ = c.RegisterFlagCompletionFunc("stage", completeStages(g))
}

// addTargetCompletions completes --service-account and --deployment from the cluster, for the commands
// that aim at one binding.
func addTargetCompletions(c *cobra.Command, g *Globals) {
	_ = c.RegisterFlagCompletionFunc("service-account", completeServiceAccounts(g))
	_ = c.RegisterFlagCompletionFunc("deployment", completeDeployments(g))
}

// catalog is the built-in catalog or --catalog's.
func (f *permissionFlags) catalog() (*catalog.Catalog, error) {
	return catalog.LoadOrDefault(f.CatalogFile)
}

// selection folds --stage, --set, --bucket and --prefix into one selection. --bucket without --stage
// means the original guide's s3 stage.
func (f *permissionFlags) selection() (catalog.Selection, error) {
	sel := catalog.Selection{Stages: append([]string(nil), f.Stages...), Params: map[string]string{}}
	for _, kv := range f.Sets {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return sel, fmt.Errorf("--set %q: want key=value, e.g. --set bucket=my-bucket", kv)
		}
		if _, dup := sel.Params[k]; dup {
			return sel, fmt.Errorf("--set %s: given twice", k)
		}
		sel.Params[k] = v
	}
	for flag, p := range map[string]struct{ key, value string }{"--bucket": {"bucket", f.Bucket}, "--prefix": {"prefix", f.Prefix}} {
		if p.value == "" {
			continue
		}
		if old, dup := sel.Params[p.key]; dup && old != p.value {
			return sel, fmt.Errorf("%s %q contradicts --set %s=%s", flag, p.value, p.key, old)
		}
		sel.Params[p.key] = p.value
		if sel.Via == nil {
			sel.Via = map[string]string{}
		}
		sel.Via[p.key] = flag
	}
	if len(sel.Stages) == 0 && f.Bucket != "" {
		sel.Stages = []string{"s3"}
	}
	if len(sel.Params) == 0 {
		sel.Params = nil
	}
	return sel, nil
}

// session is what a command that talks to the cluster and AWS needs.
type session struct {
	REST     *rest.Config
	Core     corev1client.CoreV1Interface
	Apps     appsv1client.AppsV1Interface
	Leases   coordinationv1client.CoordinationV1Interface
	Authz    authorizationv1client.AuthorizationV1Interface
	Metadata metadata.Interface
	AWS      *sdcaws.Clients
	Resolver *cluster.Resolver
	// Namespace and ReadWith are set for a fleet's contexts: the context's namespace (-n, else the
	// context's), and which AWS profile and region it is read with (for -v).
	Namespace, ReadWith string
}

func (g *Globals) session(ctx context.Context, af awsFlags) (*session, error) {
	return newSession(ctx, g.ConfigFlags, sdcaws.Options{Profile: af.Profile, Region: af.Region}, af.EKSCluster)
}

// newSession makes the clients of the kube context flags select, and AWS clients with ao.
func newSession(ctx context.Context, flags *genericclioptions.ConfigFlags, ao sdcaws.Options, eksCluster string) (*session, error) {
	restCfg, err := flags.ToRESTConfig()
	if err != nil {
		return nil, fmt.Errorf("kube context: %w", err)
	}
	kubeconfig, err := cluster.Kubeconfig(flags)
	if err != nil {
		return nil, err
	}
	core, err := corev1client.NewForConfig(restCfg)
	if err != nil {
		return nil, err
	}
	apps, err := appsv1client.NewForConfig(restCfg)
	if err != nil {
		return nil, err
	}
	leases, err := coordinationv1client.NewForConfig(restCfg)
	if err != nil {
		return nil, err
	}
	authz, err := authorizationv1client.NewForConfig(restCfg)
	if err != nil {
		return nil, err
	}
	meta, err := metadata.NewForConfig(restCfg)
	if err != nil {
		return nil, err
	}
	clients, err := sdcaws.Load(ctx, ao)
	if err != nil {
		return nil, err
	}
	s := &session{REST: restCfg, Core: core, Apps: apps, Leases: leases, Authz: authz, Metadata: meta, AWS: clients}
	s.Resolver = &cluster.Resolver{
		Kubeconfig: kubeconfig,
		REST:       restCfg,
		EKSCluster: eksCluster,
		Region:     clients.Region,
		EKS:        func(region string) cluster.EKS { return clients.ForRegion(region).EKS },
	}
	return s, nil
}

// binder is a Binder of the session's cluster and account, whose edits of shared IAM documents hold
// Leases in lock's namespace.
func (s *session) binder(lock lockFlag) *bind.Binder {
	return &bind.Binder{AWS: s.AWS, Core: s.Core, Apps: s.Apps, Resolver: s.Resolver, Leases: s.Leases, LockNamespace: lock.Namespace, Authz: s.Authz}
}

// lockFlag is --lock-namespace, of the commands that edit shared IAM documents.
type lockFlag struct{ Namespace string }

func (l *lockFlag) add(f *pflag.FlagSet) {
	f.StringVar(&l.Namespace, "lock-namespace", bind.DefaultLockNamespace, "`NAMESPACE` of the Leases that serialise the edits of a shared trust or policy among the kubectl-sdc runs of this cluster")
}

func (l lockFlag) validate() error { return vocab.ValidateNamespace("--lock-namespace", l.Namespace) }

// warner says a warning on standard error, one at a time, as the plan's are said.
func (g *Globals) warner() func(string) {
	var mu sync.Mutex
	return func(w string) {
		mu.Lock()
		defer mu.Unlock()
		render.Warnings(g.ErrOut, g.ErrTheme(), []string{w})
	}
}

// explainPreflight says, for -v, what the check before writing asked (on standard error).
func explainPreflight(w io.Writer, pf bind.Preflight) {
	for _, a := range pf.Asked {
		fmt.Fprintf(w, "checked before writing: %s\n", a)
	}
}

// uncheckedNotes are the notes of what the check before writing could not check; the writes go ahead as
// without the check.
func uncheckedNotes(pf bind.Preflight) []string {
	var out []string
	for _, u := range pf.Unchecked {
		out = append(out, "Not checked before writing, so any refusal will come from the write itself: "+u)
	}
	return out
}

// rerun adds to the error of a command that stopped part way the command line that finishes the job: the
// same command, as it was run (kubectl's plugin name, kubectl-sdc, stands for kubectl sdc).
func rerun(err error) error {
	if err == nil || !strings.HasPrefix(filepath.Base(os.Args[0]), "kubectl-sdc") {
		return err
	}
	words := []string{"kubectl", "sdc"}
	for _, a := range os.Args[1:] {
		if a == "" || strings.ContainsFunc(a, func(r rune) bool {
			return !(unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("-_=./:,+@%", r))
		}) {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		words = append(words, a)
	}
	return fmt.Errorf("%w:\n  %s", err, strings.Join(words, " "))
}
