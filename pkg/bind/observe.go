package bind

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"golang.org/x/sync/errgroup"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sdcaws "github.com/kubectl-sdc/kubectl-sdc/pkg/aws"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/cluster"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/eksread"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iamread"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// Observed is everything bind read: the cluster and the caller, and the current state of everything bind
// manages (nil fields do not exist). Plan is a function of it and the Request alone.
type Observed struct {
	// PatternAdmits are the cluster's ServiceAccounts ("namespace/name") that --subject-pattern admits.
	PatternAdmits []string
	Cluster       *cluster.Cluster
	Identity      sdcaws.Identity
	Names         Names
	// Now is when the observation was made (restart decisions compare pod ages with it).
	Now time.Time

	Provider *iamread.Provider
	// Thumbprint is the issuer's TLS chain thumbprint, read while the IAM reads run; ThumbprintErr says why
	// it could not be read (it matters only when the provider must be created).
	Thumbprint    string
	ThumbprintErr error
	Policy        *iamread.Policy
	Role          *iamread.Role

	// Target is the role the stages assume (--assume-role-arn); nil without one.
	Target *TargetObserved

	Namespace      *corev1.Namespace
	ServiceAccount *corev1.ServiceAccount
	Deployment     *appsv1.Deployment
	Pods           []corev1.Pod // the Deployment's pods

	// Pod Identity (read only for --mechanism pod-identity): the agent, and the ServiceAccount's
	// association (nil when it has none).
	Agent       eksread.Agent
	Association *eksread.Association
	// Workloads are the Deployments whose SDC images must be able to use Pod Identity and whose pods may
	// need a restart: bind's --deployment, or (migrate) every Deployment under the ServiceAccount.
	Workloads []Workload
	// Region is the AWS region the reads used: the cluster's, else the configured one.
	Region string
}

// readers are the clients an observation reads through, the cluster's region's; they stay in the observe
// phase (apply takes its writers from the Binder, and Observed is data).
type readers struct {
	aws *sdcaws.Clients
	eks eksAPI
}

// Workload is a Deployment and its pods.
type Workload struct {
	Deployment *appsv1.Deployment
	Pods       []corev1.Pod
}

// Observe reads the current state: cluster facts, identity and Kubernetes objects in parallel, then IAM
// (and the issuer's TLS chain) in parallel. It writes nothing and changes neither b nor r.
func (b *Binder) Observe(ctx context.Context, r *Request) (*Observed, error) {
	o := &Observed{Now: b.now()}
	reads := []func(context.Context) error{func(ctx context.Context) error { return b.observeKube(ctx, r, o) }}
	if r.target() != "" {
		reads = append(reads, func(ctx context.Context) error { return b.observeTarget(ctx, r, &o.Target) })
	}
	w, err := b.where(ctx, reads...)
	if err != nil {
		return nil, err
	}
	o.Cluster, o.Identity, o.Region = w.cluster, w.identity, w.aws.Region
	rd := readers{aws: w.aws}
	o.Names = NamesFor(r, o.Cluster, o.Identity, o.ServiceAccount)
	if o.Deployment != nil {
		o.Workloads = []Workload{{Deployment: o.Deployment, Pods: o.Pods}}
	}
	if !r.podIdentityMode() {
		if err := b.observeIAM(ctx, rd, r, o); err != nil {
			return nil, err
		}
	} else if err := b.observePodIdentity(ctx, rd, r, o); err != nil {
		return nil, err
	}
	if err := b.observePolicyElsewhere(ctx, rd, r, o); err != nil {
		return nil, err
	}
	if err := b.checkAttachable(ctx, rd, r, o); err != nil {
		return nil, err
	}
	return o, nil
}

// observePodIdentity reads, in parallel, the IAM side (as for IRSA, without the OIDC provider), the
// ServiceAccount's association and the agent. An association that names another role of the account is
// followed when no role was named (--role-name, the annotation): it is what the ServiceAccount uses, as an
// annotation is for IRSA; that costs one more round of IAM reads, only then.
func (b *Binder) observePodIdentity(ctx context.Context, rd readers, r *Request, o *Observed) error {
	if err := o.Cluster.RequireEKS(); err != nil {
		return err
	}
	rd.eks = b.AWS.ForRegion(o.Cluster.Region).EKS
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return b.observeIAM(gctx, rd, r, o) })
	g.Go(func() (err error) {
		o.Association, err = eksread.Find(gctx, rd.eks, o.Cluster.Name, r.Namespace, r.ServiceAccount)
		return err
	})
	g.Go(func() error {
		o.Agent = eksread.ReadAgent(gctx, rd.eks, o.Cluster.Name, o.Cluster.AutoMode)
		return nil
	})
	if err := g.Wait(); err != nil {
		return err
	}
	a := o.Association
	if a == nil || o.Names.RoleSource != RoleByDefault || a.RoleARN == o.Names.RoleARN || (o.Role != nil && o.Role.ARN == a.RoleARN) {
		return nil
	}
	p, ok := vocab.ParseRoleARN(a.RoleARN)
	if !ok || p.Account != o.Identity.Account || p.Partition != o.Identity.Partition {
		return nil
	}
	o.Names = namesWithRole(r, o.Names, p, RoleFromAssociation)
	o.Policy, o.Role = nil, nil
	return b.observeIAM(ctx, rd, r, o)
}

// place is where a command acts: the cluster, the caller, and AWS clients for the cluster's region.
type place struct {
	cluster  *cluster.Cluster
	identity sdcaws.Identity
	aws      *sdcaws.Clients
}

// where finds the cluster and the caller in parallel with reads (the command's own reads that need neither:
// Kubernetes, another account), and checks that the credentials are of the cluster's account. Without a
// configured region it asks the cluster first, since STS needs one.
func (b *Binder) where(ctx context.Context, reads ...func(context.Context) error) (place, error) {
	w := place{aws: b.AWS}
	if b.AWS.Region == "" {
		c, err := b.Resolver.Resolve(ctx)
		if err != nil {
			return w, err
		}
		if c.Region == "" {
			return w, errors.New("no AWS region: pass --region, or set AWS_REGION or a profile region")
		}
		w.cluster, w.aws = c, b.AWS.ForRegion(c.Region)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		w.identity, err = w.aws.Identity(gctx)
		if err != nil {
			return fmt.Errorf("AWS credentials: %w", err)
		}
		return nil
	})
	if w.cluster == nil {
		g.Go(func() (err error) {
			w.cluster, err = b.Resolver.Resolve(gctx)
			return err
		})
	}
	for _, read := range reads {
		g.Go(func() error { return read(gctx) })
	}
	if err := g.Wait(); err != nil {
		return w, err
	}
	c := w.cluster
	if c.AccountID != "" && c.AccountID != w.identity.Account {
		return w, fmt.Errorf("the AWS credentials are for account %s (%s) but cluster %s is in account %s: use credentials of the cluster's account (--profile)",
			w.identity.Account, w.identity.ARN, c.Name, c.AccountID)
	}
	return w, nil
}

// observeKube reads the namespace, ServiceAccount and Deployment (and the Deployment's pods) in parallel.
func (b *Binder) observeKube(ctx context.Context, r *Request, o *Observed) error {
	g, ctx := errgroup.WithContext(ctx)
	if r.SubjectPattern != "" {
		g.Go(func() error {
			list, err := b.Core.ServiceAccounts(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
			if err != nil {
				return fmt.Errorf("listing the cluster's ServiceAccounts (to say which ones --subject-pattern admits): %w", err)
			}
			for _, sa := range list.Items {
				if iampolicy.PatternAdmits(r.SubjectPattern, vocab.Subject(sa.Namespace, sa.Name)) {
					o.PatternAdmits = append(o.PatternAdmits, sa.Namespace+"/"+sa.Name)
				}
			}
			return nil
		})
	}
	g.Go(func() error {
		ns, err := b.Core.Namespaces().Get(ctx, r.Namespace, metav1.GetOptions{})
		o.Namespace, err = found(ns, err)
		if err != nil {
			return fmt.Errorf("reading namespace %s: %w", r.Namespace, err)
		}
		return nil
	})
	g.Go(func() error {
		sa, err := b.Core.ServiceAccounts(r.Namespace).Get(ctx, r.ServiceAccount, metav1.GetOptions{})
		o.ServiceAccount, err = found(sa, err)
		if err != nil {
			return fmt.Errorf("reading ServiceAccount %s/%s: %w", r.Namespace, r.ServiceAccount, err)
		}
		return nil
	})
	if r.Deployment != "" {
		g.Go(func() error {
			d, err := b.Apps.Deployments(r.Namespace).Get(ctx, r.Deployment, metav1.GetOptions{})
			o.Deployment, err = found(d, err)
			if err != nil {
				return fmt.Errorf("reading Deployment %s/%s: %w", r.Namespace, r.Deployment, err)
			}
			if o.Deployment == nil || o.Deployment.Spec.Selector == nil {
				return nil
			}
			sel, err := metav1.LabelSelectorAsSelector(o.Deployment.Spec.Selector)
			if err != nil {
				return err
			}
			pods, err := b.Core.Pods(r.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
			if err != nil {
				return fmt.Errorf("listing the pods of Deployment %s/%s: %w", r.Namespace, r.Deployment, err)
			}
			o.Pods = pods.Items
			return nil
		})
	}
	return g.Wait()
}

// found turns a NotFound into nil, nil.
func found[T any](obj *T, err error) (*T, error) {
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return obj, nil
}

// observeIAM reads the provider, the policy (with its default version) and the role (with its attached
// policies) in parallel: one round trip when they do not exist, two when they do. The issuer's TLS chain
// is read at the same time, so a provider that must be created costs no extra round trip; an error there
// is kept for the planner, which needs the thumbprint only then.
func (b *Binder) observeIAM(ctx context.Context, rd readers, r *Request, o *Observed) error {
	n := o.Names
	type thumbprint struct {
		value string
		err   error
	}
	irsa := !r.podIdentityMode()
	thumbCtx, cancelThumb := context.WithCancel(ctx)
	defer cancelThumb()
	thumb := make(chan thumbprint, 1)
	if irsa {
		go func() {
			v, err := Thumbprint(thumbCtx, o.Cluster.Issuer)
			thumb <- thumbprint{v, err}
		}()
	}
	g, gctx := errgroup.WithContext(ctx)
	if irsa { // Pod Identity needs no provider
		g.Go(func() (err error) {
			o.Provider, err = iamread.ReadProvider(gctx, rd.aws.IAM, n.ProviderARN)
			return err
		})
	}
	if r.ownPolicy() {
		g.Go(func() (err error) {
			o.Policy, err = iamread.ReadPolicy(gctx, rd.aws.IAM, n.PolicyARN)
			return err
		})
	}
	g.Go(func() error {
		role, err := readRole(gctx, rd.aws.IAM, n.RoleName, iamread.RoleOptions{})
		o.Role = role
		return err
	})
	if err := g.Wait(); err != nil {
		return err
	}
	if o.Provider == nil && irsa {
		t := <-thumb
		o.Thumbprint, o.ThumbprintErr = t.value, t.err
	}
	return nil
}

// checkAttachable makes sure every --attach-policy-arn exists (one read each, in parallel) before anything
// is written, so a typo fails cleanly instead of after the role was made.
func (b *Binder) checkAttachable(ctx context.Context, rd readers, r *Request, o *Observed) error {
	g, ctx := errgroup.WithContext(ctx)
	for _, a := range r.AttachPolicyARNs {
		if o.Role != nil && slices.Contains(o.Role.Attached, a) {
			continue
		}
		g.Go(func() error {
			_, err := rd.aws.IAM.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(a)})
			if sdcaws.IsNotFound(err) {
				return &FlagError{Flag: "--attach-policy-arn", Value: a, Rule: "no such policy in the account (check the ARN with `aws iam get-policy --policy-arn ...`)"}
			}
			if err != nil {
				return fmt.Errorf("reading IAM policy %s: %w", a, err)
			}
			return nil
		})
	}
	return g.Wait()
}

// Thumbprint reads the TLS certificate chain the issuer's host presents and returns its thumbprint (see
// vocab.Thumbprint). The chain is read without verifying it: IAM decides trust, this only reports what is
// served.
func Thumbprint(ctx context.Context, issuer string) (string, error) {
	u, err := url.Parse(issuer)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return "", fmt.Errorf("issuer %q is not an https URL", issuer)
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "443")
	}
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: 10 * time.Second}, Config: &tls.Config{
		ServerName:         u.Hostname(),
		InsecureSkipVerify: true, // reading the presented chain, not trusting it
	}}
	conn, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return "", fmt.Errorf("reading the TLS certificate chain of issuer %s: %w", issuer, err)
	}
	defer conn.Close()
	tp, err := vocab.Thumbprint(conn.(*tls.Conn).ConnectionState().PeerCertificates)
	if err != nil {
		return "", fmt.Errorf("issuer %s: %w", issuer, err)
	}
	return tp, nil
}

// readRole reads the role (nil when it does not exist); a trust policy that does not parse is an error, as
// bind and unbind must not edit a document they cannot read.
func readRole(ctx context.Context, api iamread.API, name string, opts iamread.RoleOptions) (*iamread.Role, error) {
	role, err := iamread.ReadRole(ctx, api, name, opts)
	if err != nil {
		return nil, err
	}
	if role != nil && role.TrustErr != nil {
		return nil, fmt.Errorf("the trust policy of IAM role %s: %w", name, role.TrustErr)
	}
	return role, nil
}

// observePolicyElsewhere finds bind's policy attached to the role at another path than the one asked for
// (a binding made before --role-path, say), so that bind keeps using it there instead of making a second
// one: one more read, only then.
func (b *Binder) observePolicyElsewhere(ctx context.Context, rd readers, r *Request, o *Observed) error {
	if !r.ownPolicy() || o.Policy != nil || o.Role == nil {
		return nil
	}
	for _, a := range o.Role.Attached {
		p, ok := vocab.ParsePolicyARN(a)
		if !ok || p.Account != o.Names.Account || p.Name != o.Names.PolicyName || a == o.Names.PolicyARN {
			continue
		}
		pol, err := iamread.ReadPolicy(ctx, rd.aws.IAM, a)
		if err != nil {
			return err
		}
		if pol != nil {
			o.Policy, o.Names.PolicyARN = pol, a
		}
		return nil
	}
	return nil
}
