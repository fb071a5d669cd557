package bind

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	sdcaws "github.com/kubectl-sdc/kubectl-sdc/pkg/aws"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/catalog"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/cluster"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/eksread"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iamread"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/plan"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// MigrateRequest is what `kubectl sdc migrate` asks for: move ServiceAccounts bound by IRSA to EKS Pod
// Identity, keeping each one's role and permissions.
type MigrateRequest struct {
	// Namespace and ServiceAccount name one ServiceAccount; AllNamespaces takes every ServiceAccount with
	// a role annotation instead.
	Namespace, ServiceAccount string
	AllNamespaces             bool
	// RemoveIRSA, Force, Restart and TrustPolicyLimit mean what they mean to bind.
	RemoveIRSA, Force, Restart bool
	TrustPolicyLimit           int
	// Catalog knows each stage's library, for the SDC image rule; nil means the built-in one.
	Catalog *catalog.Catalog
}

// Validate checks the request before anything is read.
func (m *MigrateRequest) Validate() error {
	if m.AllNamespaces {
		return nil
	}
	if err := vocab.ValidateNamespace("--namespace", m.Namespace); err != nil {
		return err
	}
	return vocab.ValidateObjectName("--service-account", m.ServiceAccount)
}

// Migration is migrate's plan: one bind result per ServiceAccount, their changes in one plan (each
// change's ID prefixed by its ServiceAccount).
type Migration struct {
	Request  *MigrateRequest
	Cluster  *cluster.Cluster
	Identity sdcaws.Identity
	Agent    eksread.Agent
	Results  []*Result
	Plan     *plan.Plan
	// Notes are facts worth telling (ServiceAccounts left out, and why); Warnings what the user must do.
	Notes, Warnings []string
}

// migrateParallelism bounds the IAM and EKS reads in flight.
const migrateParallelism = 16

// PlanMigration reads everything once — the cluster, the caller, the ServiceAccounts, Deployments and pods
// of the scope, the agent, the associations (one paged list, then a describe of each in scope) and each
// distinct role — and plans every ServiceAccount as bind --mechanism pod-identity would, with its
// annotated role and without touching its permissions. It writes nothing. SDC images that cannot use Pod
// Identity are refused all together (unless Force); a ServiceAccount that cannot be planned (its role is
// gone, say) is an error, or with AllNamespaces left out with a note.
func (b *Binder) PlanMigration(ctx context.Context, m *MigrateRequest) (*Migration, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	ns := m.Namespace
	if m.AllNamespaces {
		ns = metav1.NamespaceAll
	}
	mg := &Migration{Request: m}
	var sas []corev1.ServiceAccount
	var deploys []appsv1.Deployment
	var pods []corev1.Pod
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		mg.Identity, err = b.AWS.Identity(gctx)
		return err
	})
	var listed []eksread.Summary
	g.Go(func() (err error) {
		if mg.Cluster, err = b.Resolver.Resolve(gctx); err != nil {
			return err
		}
		if err := mg.Cluster.RequireEKS(); err != nil {
			return err
		}
		// The associations hang off the cluster: one paged list (filtered to the ServiceAccount when one
		// is named), while the Kubernetes lists run.
		f := eksread.Filter{}
		if !m.AllNamespaces {
			f = eksread.Filter{Namespace: m.Namespace, ServiceAccount: m.ServiceAccount}
		}
		listed, err = eksread.List(gctx, b.AWS.ForRegion(mg.Cluster.Region).EKS, mg.Cluster.Name, f)
		return err
	})
	g.Go(func() error {
		l, err := b.Core.ServiceAccounts(ns).List(gctx, metav1.ListOptions{})
		if err != nil {
			return fmt.Errorf("listing ServiceAccounts: %w", err)
		}
		sas = l.Items
		return nil
	})
	g.Go(func() error {
		l, err := b.Apps.Deployments(ns).List(gctx, metav1.ListOptions{})
		if err != nil {
			return fmt.Errorf("listing Deployments: %w", err)
		}
		deploys = l.Items
		return nil
	})
	g.Go(func() error {
		l, err := b.Core.Pods(ns).List(gctx, metav1.ListOptions{})
		if err != nil {
			return fmt.Errorf("listing pods: %w", err)
		}
		pods = l.Items
		return nil
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	c, id := mg.Cluster, mg.Identity
	if c.AccountID != "" && c.AccountID != id.Account {
		return nil, fmt.Errorf("the AWS credentials are for account %s (%s) but cluster %s is in account %s: use credentials of the cluster's account (--profile)",
			id.Account, id.ARN, c.Name, c.AccountID)
	}
	associated := map[string]bool{}
	for _, a := range listed {
		associated[a.Key()] = true
	}
	targets, err := migrationTargets(m, sas, associated, id, mg)
	if err != nil {
		return nil, err
	}
	if len(targets) == 0 {
		mg.Plan = &plan.Plan{}
		return mg, nil
	}

	eks := b.AWS.ForRegion(c.Region).EKS
	aws := b.AWS
	var (
		assocs   map[string]eksread.Described
		roles    = map[string]*iamread.Role{}
		roleErrs = map[string]error{}
		mu       sync.Mutex
	)
	in := map[string]bool{}
	for _, sa := range targets {
		in[sa.Namespace+"/"+sa.Name] = true
	}
	var scope []eksread.Summary
	for _, s := range listed {
		if in[s.Key()] {
			scope = append(scope, s)
		}
	}
	// The describes come first: a ServiceAccount whose IRSA is already removed is served by its
	// association's role, which is read with the others.
	assocs = eksread.DescribeAll(ctx, eks, c.Name, scope, migrateParallelism)
	roleOf := func(sa *corev1.ServiceAccount) (vocab.ParsedRoleARN, string, bool) {
		if p, ok := vocab.ParseRoleARN(sa.Annotations[vocab.RoleARNAnnotation]); ok {
			return p, RoleFromAnnotation, true
		}
		if a := assocs[sa.Namespace+"/"+sa.Name].Association; a != nil {
			if p, ok := vocab.ParseRoleARN(a.RoleARN); ok {
				return p, RoleFromAssociation, true
			}
		}
		return vocab.ParsedRoleARN{}, "", false
	}
	names := map[string]bool{}
	for _, sa := range targets {
		if p, _, ok := roleOf(sa); ok {
			names[p.Name] = true
		}
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, migrateParallelism)
	goDo := func(fn func()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			fn()
		}()
	}
	goDo(func() { mg.Agent = eksread.ReadAgent(ctx, eks, c.Name, c.AutoMode) })
	for name := range names {
		goDo(func() {
			r, err := iamread.ReadRole(ctx, aws.IAM, name, iamread.RoleOptions{Concurrent: true})
			mu.Lock()
			roles[name], roleErrs[name] = r, err
			mu.Unlock()
		})
	}
	wg.Wait()
	for _, err := range roleErrs {
		if err != nil {
			return nil, err
		}
	}

	var problems, refusals []string
	mg.Plan = &plan.Plan{}
	for _, sa := range targets {
		r := &Request{Namespace: sa.Namespace, ServiceAccount: sa.Name, FSGroup: vocab.LeaveFSGroup, Restart: m.Restart,
			TrustPolicyLimit: m.TrustPolicyLimit, Catalog: m.Catalog, Via: vocab.MechanismPodIdentity,
			RemoveIRSA: m.RemoveIRSA, Force: m.Force, KeepPermissions: true}
		o := &Observed{Cluster: c, Identity: id, Now: b.now(), Agent: mg.Agent, Region: aws.Region,
			Namespace: &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: sa.Namespace}}, ServiceAccount: sa,
			Workloads: workloadsOf(sa, deploys, pods)}
		o.Names = NamesFor(r, c, id, sa)
		if p, source, ok := roleOf(sa); ok && source == RoleFromAssociation {
			o.Names = namesWithRole(r, o.Names, p, source) // IRSA already removed: the association's role
		}
		if role := roles[o.Names.RoleName]; role != nil && role.TrustErr == nil {
			o.Role = role
		} else if role != nil {
			problems = append(problems, fmt.Sprintf("%s/%s: the trust policy of IAM role %s: %v", sa.Namespace, sa.Name, role.Name, role.TrustErr))
			continue
		}
		d := assocs[sa.Namespace+"/"+sa.Name]
		if d.Err != nil {
			return nil, d.Err
		}
		o.Association = d.Association
		res, err := planAll(r, o)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s/%s: %v", sa.Namespace, sa.Name, err))
			continue
		}
		res.Command = "migrate"
		refusals = append(refusals, res.Refusals...)
		mg.Results = append(mg.Results, res)
		for _, w := range res.Warnings {
			mg.Warnings = append(mg.Warnings, sa.Namespace+"/"+sa.Name+": "+w)
		}
		for _, n := range res.Notes {
			mg.Notes = append(mg.Notes, sa.Namespace+"/"+sa.Name+": "+n)
		}
		prefix := sa.Namespace + "/" + sa.Name + ":"
		for _, ch := range res.Plan.Changes {
			cc := *ch
			cc.ID = prefix + ch.ID
			cc.Deps = nil
			for _, d := range ch.Deps {
				cc.Deps = append(cc.Deps, prefix+d)
			}
			mg.Plan.Changes = append(mg.Plan.Changes, &cc)
		}
	}
	sort.Strings(problems)
	switch {
	case len(problems) > 0 && !m.AllNamespaces:
		return nil, fmt.Errorf("migrate cannot move ServiceAccount %s/%s to EKS Pod Identity: %s", m.Namespace, m.ServiceAccount, strings.Join(problems, "; "))
	case len(problems) > 0:
		// One broken binding should not hold the others back; it is left out, and said so.
		for _, p := range problems {
			mg.Notes = append(mg.Notes, "left out: "+p)
		}
	}
	if len(refusals) > 0 {
		return nil, refused(refusals, "kubectl sdc bind ...")
	}
	return mg, nil
}

// migrationTargets are the ServiceAccounts to move: the one named, which must be bound by IRSA to a role of
// the account, or with AllNamespaces every such one (the others are noted and left out); and those already
// moved (an association, no annotation), for which a second run has nothing to change.
func migrationTargets(m *MigrateRequest, sas []corev1.ServiceAccount, associated map[string]bool, id sdcaws.Identity, mg *Migration) ([]*corev1.ServiceAccount, error) {
	var out []*corev1.ServiceAccount
	for i := range sas {
		sa := &sas[i]
		if !m.AllNamespaces && (sa.Namespace != m.Namespace || sa.Name != m.ServiceAccount) {
			continue
		}
		v := sa.Annotations[vocab.RoleARNAnnotation]
		p, ok := vocab.ParseRoleARN(v)
		var why string
		switch {
		case v == "" && associated[sa.Namespace+"/"+sa.Name]:
			// Moved already (IRSA removed): a second run finds nothing to change.
		case v == "":
			if m.AllNamespaces {
				continue
			}
			why = fmt.Sprintf("ServiceAccount %s/%s has no %s annotation, so it is not bound by IRSA and there is nothing to migrate: give it EKS Pod Identity with kubectl sdc bind -n %s --service-account %s --mechanism pod-identity --stage ...",
				sa.Namespace, sa.Name, vocab.RoleARNAnnotation, sa.Namespace, sa.Name)
		case !ok:
			why = fmt.Sprintf("ServiceAccount %s/%s: its annotation %s=%q is not a role ARN (kubectl sdc doctor -n %s --service-account %s says more)",
				sa.Namespace, sa.Name, vocab.RoleARNAnnotation, v, sa.Namespace, sa.Name)
		case p.Account != id.Account || p.Partition != id.Partition:
			why = fmt.Sprintf("ServiceAccount %s/%s is bound to role %s of account %s, and an EKS Pod Identity association can name only a role of the cluster's account (%s)",
				sa.Namespace, sa.Name, v, p.Account, id.Account)
		}
		if why != "" {
			if !m.AllNamespaces {
				return nil, fmt.Errorf("%s", why)
			}
			mg.Notes = append(mg.Notes, "left out: "+why)
			continue
		}
		out = append(out, sa)
	}
	if !m.AllNamespaces && len(out) == 0 {
		return nil, fmt.Errorf("ServiceAccount %s/%s does not exist: nothing to migrate (--service-account, -n)", m.Namespace, m.ServiceAccount)
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Namespace+"/"+out[i].Name < out[j].Namespace+"/"+out[j].Name
	})
	return out, nil
}

// workloadsOf are the Deployments running under the ServiceAccount, with their pods.
func workloadsOf(sa *corev1.ServiceAccount, deploys []appsv1.Deployment, pods []corev1.Pod) []Workload {
	var out []Workload
	for i := range deploys {
		d := &deploys[i]
		name := d.Spec.Template.Spec.ServiceAccountName
		if name == "" {
			name = "default"
		}
		if d.Namespace != sa.Namespace || name != sa.Name {
			continue
		}
		w := Workload{Deployment: d}
		if d.Spec.Selector != nil {
			if sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector); err == nil && !sel.Empty() {
				for _, p := range pods {
					if p.Namespace == d.Namespace && sel.Matches(labels.Set(p.Labels)) {
						w.Pods = append(w.Pods, p)
					}
				}
			}
		}
		out = append(out, w)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Deployment.Name < out[j].Deployment.Name })
	return out
}

// ApplyMigration applies the migration's plan; see Apply.
func (b *Binder) ApplyMigration(ctx context.Context, mg *Migration) (plan.Result, error) {
	if len(mg.Results) == 0 {
		return plan.Result{}, nil
	}
	res := *mg.Results[0]
	res.Plan, res.Command = mg.Plan, "migrate"
	return b.Apply(ctx, &res)
}

// MigrationOutput is what `migrate -o json|yaml` prints.
type MigrationOutput struct {
	Cluster         string            `json:"cluster"`
	Mechanism       string            `json:"mechanism"`
	RemoveIRSA      bool              `json:"removeIrsa"`
	DryRun          bool              `json:"dryRun"`
	ServiceAccounts []MigratedAccount `json:"serviceAccounts"`
	Warnings        []string          `json:"warnings,omitempty"`
}

// MigratedAccount is one ServiceAccount of MigrationOutput.
type MigratedAccount struct {
	Namespace              string         `json:"namespace"`
	ServiceAccount         string         `json:"serviceAccount"`
	RoleARN                string         `json:"roleArn"`
	PodIdentityAssociation string         `json:"podIdentityAssociation"`
	Changes                []ChangeOutput `json:"changes"`
}

// Output summarizes the migration; applied may be nil (dry run, or nothing applied yet).
func (mg *Migration) Output(dryRun bool, applied *plan.Result) MigrationOutput {
	out := MigrationOutput{Mechanism: string(vocab.MechanismPodIdentity), RemoveIRSA: mg.Request.RemoveIRSA, DryRun: dryRun,
		ServiceAccounts: []MigratedAccount{}, Warnings: mg.Warnings}
	if mg.Cluster != nil {
		out.Cluster = mg.Cluster.Name
	}
	outcome := map[*plan.Change]plan.Outcome{}
	if applied != nil {
		for _, o := range applied.Outcomes {
			outcome[o.Change] = o
		}
	}
	i := 0
	for _, res := range mg.Results {
		acct := MigratedAccount{Namespace: res.Request.Namespace, ServiceAccount: res.Request.ServiceAccount, RoleARN: res.Names.RoleARN,
			PodIdentityAssociation: vocab.AssociationName(res.Cluster.Name, res.Request.Namespace, res.Request.ServiceAccount), Changes: []ChangeOutput{}}
		for range res.Plan.Changes {
			c := mg.Plan.Changes[i]
			i++
			var oc *plan.Outcome
			if o, ok := outcome[c]; ok {
				oc = &o
			}
			acct.Changes = append(acct.Changes, changeOutput(c, oc))
		}
		out.ServiceAccounts = append(out.ServiceAccounts, acct)
	}
	return out
}
