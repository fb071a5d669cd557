package doctor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/version"
	admissionv1client "k8s.io/client-go/kubernetes/typed/admissionregistration/v1"
	appsv1client "k8s.io/client-go/kubernetes/typed/apps/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/metadata"

	sdcaws "github.com/kubectl-sdc/kubectl-sdc/pkg/aws"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/catalog"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/cluster"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/eksread"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iamread"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// DefaultParallelism bounds the IAM reads (and probes) in flight at once: enough to hide latency, few
// enough to stay clear of IAM's per-account throttling.
const DefaultParallelism = 16

// listPageSize is the page size of every Kubernetes list.
const listPageSize = 500

// Doctor holds the clients a run reads through and the options of the run.
type Doctor struct {
	Core      corev1client.CoreV1Interface
	Apps      appsv1client.AppsV1Interface
	Admission admissionv1client.AdmissionregistrationV1Interface
	// Metadata lists ServiceAccounts as metadata only; nil lists them whole through Core.
	Metadata metadata.Interface
	AWS      *sdcaws.Clients
	// TargetAWS are the clients of --target-profile, which read the roles the stages assume in their
	// account; nil without it.
	TargetAWS *sdcaws.Clients
	// TargetAWSErr is why --target-profile gave no clients (its account's roles are then not readable).
	TargetAWSErr error
	Resolver     *cluster.Resolver
	// Catalog renders the permissions the stages need; the built-in one or --catalog's.
	Catalog *catalog.Catalog
	Options Options
	// Operator asks what the caller may do with bind and unbind in the cluster, for a binding of the
	// namespace and ServiceAccount given (the aws.operator check); nil: not asked (list, fleets).
	Operator func(ctx context.Context, c *cluster.Cluster, id sdcaws.Identity, namespace, serviceAccount, boundary string) *OperatorRights
}

// OperatorRights is what the caller may do with bind and unbind here: what each misses (see
// bind.OperatorRights, which answers it).
type OperatorRights struct {
	Principal                                   string
	Bind, BindWithBoundary, PodIdentity, Unbind []string
	Boundary                                    string
	Unchecked                                   string
}

// Options are what the user asked doctor to look at.
type Options struct {
	// Namespace is -n (or the context's namespace); ignored with AllNamespaces.
	Namespace     string
	AllNamespaces bool
	// Annotated makes every ServiceAccount of Namespace with the role annotation a target, as -A does for
	// the whole cluster (kubectl sdc list without -A); ServiceAccount and Deployment are then not used.
	Annotated bool
	// ReadAccount reads the account's roles and policies in one batch whatever their number, and keeps the
	// read in Facts.Account (kubectl sdc list --orphans looks at roles no ServiceAccount names).
	ReadAccount bool
	// ServiceAccount is --service-account; ServiceAccountSet records that it was given explicitly, which
	// matters with --deployment (whose own ServiceAccount is otherwise the target).
	ServiceAccount    string
	ServiceAccountSet bool
	Deployment        string
	// Selection is the permissions from --stage/--set/--bucket/--prefix; nil means: read the role's tag.
	Selection *catalog.Selection
	// CatalogFile is --catalog, repeated in the bind commands doctor suggests.
	CatalogFile string
	Probe       bool
	ProbeWrite  bool
	// ProbePrincipal is the value of SDC's session tag (vocab.SDCSessionTagKey) in the probe's Assume
	// Another Role call: the SDC user who starts the pipelines ("" means DefaultProbePrincipal).
	ProbePrincipal string
	// Parallelism bounds concurrent IAM reads and probes; 0 means DefaultParallelism.
	Parallelism int
	// AssumeRoleARN is --assume-role-arn: the role the stages assume ("" means: read the role's tag);
	// TargetProfile is --target-profile, whose credentials read it.
	AssumeRoleARN, TargetProfile string
	// ExpectedBoundary is the permissions boundary the organization asks for ($KUBECTL_SDC_PERMISSIONS_BOUNDARY).
	ExpectedBoundary string
}

func (o *Options) validate() error {
	switch {
	case o.AllNamespaces && o.Deployment != "":
		return errors.New("--deployment names one Deployment and -A/--all-namespaces looks at all of them: use one or the other")
	case o.AllNamespaces && o.ServiceAccountSet:
		return errors.New("--service-account names one ServiceAccount and -A/--all-namespaces looks at every annotated one: use one or the other")
	case o.ProbeWrite && !o.Probe:
		return errors.New("--probe-write needs --probe (it writes with the credentials the probe obtains)")
	case o.ProbePrincipal != "" && !o.Probe:
		return errors.New("--probe-principal needs --probe (it is the session tag of the probe's Assume Another Role call)")
	case o.ProbePrincipal != "" && !vocab.ValidTagValue(o.ProbePrincipal):
		return fmt.Errorf("--probe-principal %q: STS takes a session tag value of at most 256 letters, digits, spaces and _.:/=+-@", o.ProbePrincipal)
	case o.Parallelism < 0:
		return fmt.Errorf("parallelism %d: must be positive", o.Parallelism)
	}
	if o.AssumeRoleARN != "" {
		if err := vocab.ValidateRoleARN("--assume-role-arn", o.AssumeRoleARN); err != nil {
			return err
		}
	}
	if !o.AllNamespaces {
		if err := vocab.ValidateNamespace("--namespace", o.Namespace); err != nil {
			return err
		}
	}
	if !o.everyAnnotated() {
		if err := vocab.ValidateObjectName("--service-account", o.ServiceAccount); err != nil {
			return err
		}
		if o.Deployment != "" {
			if err := vocab.ValidateObjectName("--deployment", o.Deployment); err != nil {
				return err
			}
		}
	}
	return nil
}

// Validate checks the options before anything is read.
func (o *Options) Validate() error { return o.validate() }

// everyAnnotated reports whether the targets are every annotated ServiceAccount of the scope (-A, or list's
// namespace) rather than one named ServiceAccount.
func (o *Options) everyAnnotated() bool { return o.AllNamespaces || o.Annotated }

// Provider is the IAM OIDC provider of the cluster's issuer.
type Provider = iamread.Provider

// Role is what IAM says about one role named by a ServiceAccount (or the role bind would have made).
type Role struct {
	// ARN is the ARN as named; ActualARN what IAM returned (they differ when the named path is wrong).
	ARN, ActualARN, Name string
	Exists               bool
	Err                  error // reading it failed (other than not found)
	Trust                *iampolicy.Policy
	TrustErr             error
	Tags                 map[string]string
	Attached             []string                     // managed policy ARNs
	InlineNames          []string                     // in IAM's order
	Inline               map[string]*iampolicy.Policy // by name
	// BoundaryARN is the role's permissions boundary ("" for none); its document is in Facts.Policies.
	BoundaryARN string
}

// ManagedPolicy is a managed policy attached to one of the roles, with its default version's document.
type ManagedPolicy struct {
	ARN            string
	DefaultVersion string
	Document       *iampolicy.Policy
	Exists         bool
	Err            error
}

// EnvSource is a Secret or ConfigMap a Deployment takes environment variables from (envFrom): only its key
// names are kept, never values.
type EnvSource struct {
	Kind, Namespace, Name string
	Keys                  []string
}

// Facts is everything the checks look at, gathered once per run.
type Facts struct {
	Options Options
	Catalog *catalog.Catalog

	KubeContext, KubeServer string
	KubeVersion             *version.Info
	KubeErr                 error

	Cluster    *cluster.Cluster
	ClusterErr error

	Identity    *sdcaws.Identity
	IdentityErr error
	// Operator is what the caller may do with bind and unbind here; nil when not asked (Doctor.Operator),
	// and OperatorNotAsked says why.
	Operator         *OperatorRights
	OperatorNotAsked string
	// Region is where STS and S3 calls of the probes go: the cluster's, else the AWS configuration's.
	Region string

	ServiceAccounts    []corev1.ServiceAccount
	ServiceAccountsErr error
	// AllServiceAccounts are the whole cluster's ServiceAccounts ("namespace/name" with the role annotation's
	// value), read only when a target's trust admits ServiceAccounts by a pattern (iam.trust-scope lists
	// those it admits); ServiceAccounts when doctor reads every namespace anyway.
	AllServiceAccounts    map[string]string
	AllServiceAccountsErr error
	// Deployments and Pods are the lists of facts made by hand (tests); gather keeps what it lists in kube.
	Deployments    []appsv1.Deployment
	DeploymentsErr error
	Pods           []corev1.Pod
	PodsErr        error
	Webhooks       []admissionv1.MutatingWebhookConfiguration
	WebhooksErr    error
	// EnvSources are keyed "Secret/<ns>/<name>" and "ConfigMap/<ns>/<name>"; EnvSourcesErr by kind.
	EnvSources    map[string]*EnvSource
	EnvSourcesErr map[string]error

	ProviderARN string
	Provider    *Provider // nil when it does not exist (ProviderErr nil) or could not be read
	ProviderErr error

	Roles    map[string]*Role          // by the ARN named
	Policies map[string]*ManagedPolicy // by ARN: attached ones and boundaries, of every account read
	// Account is the account's roles and customer managed policies as one batch read returned them, when
	// Options.ReadAccount asked for it (nil otherwise, or when the read was refused: AccountErr).
	Account    *iamread.Account
	AccountErr error

	// AssumedRoles are the roles the targets' stages assume, by ARN (see facts_target.go).
	AssumedRoles map[string]*AssumedRole

	// EKS Pod Identity. The cluster's associations in scope are listed once (an EKS cluster only:
	// AssociationsListed); each target's is then described (Target.Association). The agent is read only
	// when a target has an association (nil otherwise).
	AssociationsListed bool
	Associations       []eksread.Summary
	AssociationsErr    error
	Agent              *eksread.Agent

	Targets []*Target

	idx index
	// kube is the Deployments and pods gather listed, kept encoded (Deployments and Pods stay nil then);
	// made from Deployments and Pods on first use when the facts were made otherwise.
	kube      *kubeStore
	storeOnce sync.Once
	// renderings are the catalog's policies by selection (see neededPolicy); the checks share them.
	renderings sync.Map

	// The clients the probes call through.
	core corev1client.CoreV1Interface
	aws  *sdcaws.Clients
}

func (f *Facts) parallelism() int {
	if f.Options.Parallelism > 0 {
		return f.Options.Parallelism
	}
	return DefaultParallelism
}

// scope is the namespace the lists read: "" for all namespaces.
func (o *Options) scope() string {
	if o.AllNamespaces {
		return metav1.NamespaceAll
	}
	return o.Namespace
}

// gather reads everything in four rounds, each in parallel: the cluster, the identity and the Kubernetes
// lists; then, knowing the targets, the provider and each distinct IAM role (or the account's roles and
// policies in one batch); then each distinct attached policy and permissions boundary; then, when a
// Deployment takes environment variables from them, the Secrets' and ConfigMaps' key names. When stages
// assume other roles, those roles and their policies are read last (gatherAssumedRoles).
func (d *Doctor) gather(ctx context.Context) (*Facts, error) {
	f := &Facts{Options: d.Options, Catalog: d.Catalog, core: d.Core, aws: d.AWS,
		Roles: map[string]*Role{}, Policies: map[string]*ManagedPolicy{}, AssumedRoles: map[string]*AssumedRole{},
		EnvSources: map[string]*EnvSource{}, EnvSourcesErr: map[string]error{}}
	if d.Resolver != nil {
		kc := d.Resolver.Kubeconfig
		f.KubeContext = kc.CurrentContext
		if c := kc.Contexts[kc.CurrentContext]; c != nil {
			if cl := kc.Clusters[c.Cluster]; cl != nil {
				f.KubeServer = cl.Server
			}
		}
	}
	ns := d.Options.scope()
	var wg sync.WaitGroup
	goDo := func(fn func()) {
		wg.Add(1)
		go func() { defer wg.Done(); fn() }()
	}
	goDo(func() { f.KubeVersion, f.KubeErr = serverVersion(ctx, d.Core) })
	goDo(func() {
		f.Cluster, f.ClusterErr = d.Resolver.Resolve(ctx)
		// The associations hang off the cluster's name: listed as soon as it is known, while the
		// Kubernetes lists are still running.
		if f.Cluster != nil && f.Cluster.RequireEKS() == nil {
			f.AssociationsListed = true
			f.Associations, f.AssociationsErr = eksread.List(ctx, d.eks(f.Cluster.Region), f.Cluster.Name, associationScope(d.Options))
		}
	})
	goDo(func() {
		id, err := d.AWS.Identity(ctx)
		if err != nil {
			f.IdentityErr = err
			return
		}
		f.Identity = &id
	})
	batch := &accountRead{done: make(chan struct{})}
	goDo(func() {
		// The batch read of the account does not need the other lists, nor the rest of this one: started
		// as soon as the ServiceAccounts seen so far name enough roles, it runs while the lists page in.
		roles := roleCounter{}
		f.ServiceAccounts, f.ServiceAccountsErr = d.listServiceAccounts(ctx, ns, func(sa *corev1.ServiceAccount) {
			if d.Options.ReadAccount || d.Options.everyAnnotated() && roles.add(sa) >= batchRoles {
				batch.start(ctx, d.AWS.IAM)
			}
		})
		if f.ServiceAccountsErr == nil && d.Options.ReadAccount {
			batch.start(ctx, d.AWS.IAM)
		}
	})
	f.kube = newKubeStore()
	goDo(func() { f.DeploymentsErr = d.listDeployments(ctx, ns, f.kube) })
	goDo(func() { f.PodsErr = d.listPods(ctx, ns, f.kube) })
	goDo(func() { f.Webhooks, f.WebhooksErr = d.listWebhooks(ctx) })
	wg.Wait()

	f.Region = d.AWS.Region
	if f.Cluster != nil && f.Cluster.Region != "" {
		f.Region = f.Cluster.Region
	}
	if f.Region != d.AWS.Region {
		f.aws = d.AWS.ForRegion(f.Region)
	}
	if f.Cluster != nil && f.Identity != nil {
		f.ProviderARN = vocab.ProviderARN(f.Identity.Partition, f.Identity.Account, f.Cluster.Issuer)
	}
	f.Targets = buildTargets(f)

	// The operator's rights are asked while the rest is read.
	operator := make(chan struct{})
	go func() { defer close(operator); d.gatherOperator(ctx, f) }()
	defer func() { <-operator }()
	d.gatherPodIdentity(ctx, f, batch)
	d.gatherIAM(ctx, f, batch)
	d.gatherEnvSources(ctx, f)
	for _, t := range f.Targets {
		t.resolveSelection(f)
		t.resolveAssumeRole(f)
	}
	d.gatherAssumedRoles(ctx, f)
	d.gatherPatternScope(ctx, f, ns)
	return f, nil
}

// gatherPatternScope reads the cluster's ServiceAccounts when a target's role admits ServiceAccounts by a
// subject pattern: iam.trust-scope names those the pattern admits, in every namespace.
func (d *Doctor) gatherPatternScope(ctx context.Context, f *Facts, ns string) {
	if f.Cluster == nil {
		return
	}
	patterned := false
	for _, t := range f.Targets {
		if r := f.Roles[t.RoleARN]; r != nil && r.Trust != nil && sharedOnPurpose(r.Tags) && len(iampolicy.SubjectPatterns(r.Trust, f.ProviderARN, f.Cluster.Issuer)) > 0 {
			patterned = true
			break
		}
	}
	if !patterned {
		return
	}
	f.AllServiceAccounts = map[string]string{}
	list := f.ServiceAccounts
	if ns != metav1.NamespaceAll {
		list, f.AllServiceAccountsErr = d.listServiceAccounts(ctx, metav1.NamespaceAll, func(*corev1.ServiceAccount) {})
	}
	for _, sa := range list {
		f.AllServiceAccounts[sa.Namespace+"/"+sa.Name] = sa.Annotations[vocab.RoleARNAnnotation]
	}
}

// serverVersion asks the API server's /version: the cheapest request that proves the context works.
func serverVersion(ctx context.Context, core corev1client.CoreV1Interface) (*version.Info, error) {
	var info version.Info
	body, err := core.RESTClient().Get().AbsPath("/version").Do(ctx).Raw()
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(body, &info); err != nil {
		return nil, fmt.Errorf("the API server's /version answer does not parse: %w", err)
	}
	return &info, nil
}

// listAll pages through a list call.
func listAll[T any](ctx context.Context, list func(context.Context, metav1.ListOptions) ([]T, string, error)) ([]T, error) {
	var out []T
	opts := metav1.ListOptions{Limit: listPageSize}
	for {
		items, next, err := list(ctx, opts)
		if err != nil {
			return nil, err
		}
		out = append(out, items...)
		if next == "" {
			return out, nil
		}
		opts.Continue = next
	}
}

// gatherEnvSources lists Secrets and ConfigMaps, once each and only when a target's Deployment takes
// environment variables from one (envFrom), to learn their key names: an AWS_ACCESS_KEY_ID there beats
// IRSA as surely as one written in the Deployment.
func (d *Doctor) gatherEnvSources(ctx context.Context, f *Facts) {
	need := map[string]bool{}
	for _, t := range f.Targets {
		if d := f.keptDeployment(t); d != nil {
			need["Secret"] = need["Secret"] || d.envFromSecret
			need["ConfigMap"] = need["ConfigMap"] || d.envFromConfigMap
		}
	}
	ns := f.Options.scope()
	var wg sync.WaitGroup
	var mu sync.Mutex
	record := func(kind string, items []EnvSource, err error) {
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			f.EnvSourcesErr[kind] = err
			return
		}
		for i := range items {
			s := &items[i]
			f.EnvSources[envSourceKey(s.Kind, s.Namespace, s.Name)] = s
		}
	}
	if need["Secret"] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var keys []EnvSource
			_, err := listAll(ctx, func(ctx context.Context, o metav1.ListOptions) ([]struct{}, string, error) {
				l, err := d.Core.Secrets(ns).List(ctx, o)
				if err != nil {
					return nil, "", err
				}
				for _, s := range l.Items {
					// Key names only: the values are dropped here and never kept.
					keys = append(keys, EnvSource{Kind: "Secret", Namespace: s.Namespace, Name: s.Name, Keys: sortedKeys(s.Data, s.StringData)})
				}
				return nil, l.Continue, nil
			})
			record("Secret", keys, err)
		}()
	}
	if need["ConfigMap"] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var keys []EnvSource
			_, err := listAll(ctx, func(ctx context.Context, o metav1.ListOptions) ([]struct{}, string, error) {
				l, err := d.Core.ConfigMaps(ns).List(ctx, o)
				if err != nil {
					return nil, "", err
				}
				for _, c := range l.Items {
					keys = append(keys, EnvSource{Kind: "ConfigMap", Namespace: c.Namespace, Name: c.Name, Keys: sortedKeys(c.Data, c.BinaryData)})
				}
				return nil, l.Continue, nil
			})
			record("ConfigMap", keys, err)
		}()
	}
	wg.Wait()
}

func envSourceKey(kind, ns, name string) string { return kind + "/" + ns + "/" + name }

func sortedKeys[A, B any](a map[string]A, b map[string]B) []string {
	var out []string
	for k := range a {
		out = append(out, k)
	}
	for k := range b {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
