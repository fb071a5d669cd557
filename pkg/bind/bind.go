package bind

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
	appsv1client "k8s.io/client-go/kubernetes/typed/apps/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"

	sdcaws "github.com/kubectl-sdc/kubectl-sdc/pkg/aws"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/catalog"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/cluster"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/plan"
)

// Binder talks to the cluster and the AWS account.
type Binder struct {
	AWS      *sdcaws.Clients
	Core     corev1client.CoreV1Interface
	Apps     appsv1client.AppsV1Interface
	Resolver *cluster.Resolver
	// Now is the clock (restart annotations); nil means time.Now.
	Now func() time.Time
}

// Names are the ARNs and names of everything bind manages; all derivable before anything exists.
type Names struct {
	Partition      string `json:"partition"`
	Account        string `json:"account"`
	IssuerHostPath string `json:"-"`
	ProviderARN    string `json:"oidcProviderArn"`
	PolicyName     string `json:"-"`
	PolicyARN      string `json:"policyArn,omitempty"`
	RoleName       string `json:"-"`
	RoleARN        string `json:"roleArn"`
}

// Result is the plan and everything it was computed from.
type Result struct {
	Request   *Request
	Cluster   *cluster.Cluster
	Identity  sdcaws.Identity
	Names     Names
	Observed  *Observed
	Plan      *plan.Plan
	Selection catalog.Selection // normalized, as recorded on the role
	// Notes are things worth telling the user that change nothing, e.g. pods the webhook skipped.
	Notes []string
}

// Plan reads the current state (cluster facts, identity and Kubernetes objects in parallel, then IAM in
// parallel) and computes every change. It writes nothing.
func (b *Binder) Plan(ctx context.Context, r *Request) (*Result, error) {
	if r.Audience == "" {
		r.Audience = DefaultAudience
	}
	res := &Result{Request: r, Observed: &Observed{}}
	if b.AWS.Region == "" {
		// No region configured anywhere: the cluster says which (STS needs one), so ask it first.
		c, err := b.Resolver.Resolve(ctx)
		if err != nil {
			return nil, err
		}
		if c.Region == "" {
			return nil, errors.New("no AWS region: pass --region, or set AWS_REGION or a profile region")
		}
		res.Cluster, b.AWS = c, b.AWS.ForRegion(c.Region)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		res.Identity, err = b.AWS.Identity(gctx)
		if err != nil {
			return fmt.Errorf("AWS credentials: %w", err)
		}
		return nil
	})
	if res.Cluster == nil {
		g.Go(func() (err error) {
			res.Cluster, err = b.Resolver.Resolve(gctx)
			return err
		})
	}
	g.Go(func() error { return b.observeKube(gctx, r, res.Observed) })
	if err := g.Wait(); err != nil {
		return nil, err
	}
	c := res.Cluster
	if c.AccountID != "" && c.AccountID != res.Identity.Account {
		return nil, fmt.Errorf("the AWS credentials are for account %s (%s) but cluster %s is in account %s: use credentials of the cluster's account (--profile)",
			res.Identity.Account, res.Identity.ARN, c.Name, c.AccountID)
	}
	n := &res.Names
	n.Partition, n.Account = res.Identity.Partition, res.Identity.Account
	n.IssuerHostPath = cluster.IssuerHostPath(c.Issuer)
	n.ProviderARN = cluster.ProviderARN(n.Partition, n.Account, c.Issuer)
	n.RoleName = r.RoleName
	if n.RoleName == "" {
		n.RoleName = DefaultName(c.Name, r.Namespace, r.ServiceAccount, MaxRoleName)
	}
	n.RoleARN = fmt.Sprintf("arn:%s:iam::%s:role/%s", n.Partition, n.Account, n.RoleName)
	var desiredPolicy *iampolicy.Policy
	if r.ownPolicy() {
		n.PolicyName = r.PolicyName
		if n.PolicyName == "" {
			n.PolicyName = DefaultName(c.Name, r.Namespace, r.ServiceAccount, MaxPolicyName)
		}
		n.PolicyARN = fmt.Sprintf("arn:%s:iam::%s:policy/%s", n.Partition, n.Account, n.PolicyName)
		var err error
		if desiredPolicy, res.Selection, err = b.desiredPolicy(r, c, n); err != nil {
			return nil, err
		}
	}
	if err := b.observeIAM(ctx, n, r.ownPolicy(), res.Observed); err != nil {
		return nil, err
	}
	if err := b.checkAttachable(ctx, r, res.Observed); err != nil {
		return nil, err
	}
	p, err := b.changes(ctx, res, desiredPolicy)
	if err != nil {
		return nil, err
	}
	res.Plan = p
	return res, nil
}

func (b *Binder) desiredPolicy(r *Request, c *cluster.Cluster, n *Names) (*iampolicy.Policy, catalog.Selection, error) {
	if r.PolicyDocument != nil {
		return r.PolicyDocument, catalog.Selection{}, nil
	}
	region := c.Region
	if region == "" {
		region = b.AWS.Region
	}
	doc, sel, err := r.Catalog.Render(r.Selection, catalog.Target{Partition: n.Partition, Region: region, Account: n.Account})
	if err != nil {
		return nil, sel, err
	}
	p, err := iampolicy.Parse(doc)
	if err != nil {
		return nil, sel, fmt.Errorf("the catalog rendered an invalid policy: %w", err)
	}
	return p, sel, p.Validate(iampolicy.Identity)
}

// checkAttachable makes sure every --attach-policy-arn exists (one read each, in parallel) before anything
// is written, so a typo fails cleanly instead of after the role was made.
func (b *Binder) checkAttachable(ctx context.Context, r *Request, o *Observed) error {
	g, ctx := errgroup.WithContext(ctx)
	for _, a := range r.AttachPolicyARNs {
		if o.Role != nil && slices.Contains(o.Role.Attached, a) {
			continue
		}
		g.Go(func() error {
			_, err := b.AWS.IAM.GetPolicy(ctx, getPolicyInput(a))
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

// Output is what `-o json|yaml` prints.
type Output struct {
	Cluster         string         `json:"cluster"`
	Issuer          string         `json:"issuer"`
	IssuerSource    string         `json:"issuerSource"`
	OIDCProviderARN string         `json:"oidcProviderArn"`
	PolicyARN       string         `json:"policyArn,omitempty"`
	RoleARN         string         `json:"roleArn"`
	Namespace       string         `json:"namespace"`
	ServiceAccount  string         `json:"serviceAccount"`
	Deployment      string         `json:"deployment,omitempty"`
	DryRun          bool           `json:"dryRun"`
	Changes         []ChangeOutput `json:"changes"`
}

// ChangeOutput is one change in Output. Error is set when applying it failed; Skipped when a change it
// depends on failed.
type ChangeOutput struct {
	Kind    string `json:"kind"`
	Name    string `json:"name"`
	Action  string `json:"action"`
	Error   string `json:"error,omitempty"`
	Skipped bool   `json:"skipped,omitempty"`
}

// Output summarizes the result; applied may be nil (dry run, or nothing applied yet).
func (res *Result) Output(dryRun bool, applied *plan.Result) Output {
	out := Output{
		Cluster: res.Cluster.Name, Issuer: res.Cluster.Issuer, IssuerSource: res.Cluster.Source,
		OIDCProviderARN: res.Names.ProviderARN, PolicyARN: res.Names.PolicyARN, RoleARN: res.Names.RoleARN,
		Namespace: res.Request.Namespace, ServiceAccount: res.Request.ServiceAccount, Deployment: res.Request.Deployment,
		DryRun: dryRun, Changes: []ChangeOutput{},
	}
	for i, c := range res.Plan.Changes {
		co := ChangeOutput{Kind: c.Kind, Name: c.Name, Action: string(c.Action)}
		if applied != nil {
			o := applied.Outcomes[i]
			co.Skipped = o.Skipped
			if o.Err != nil {
				co.Error = o.Err.Error()
			}
		}
		out.Changes = append(out.Changes, co)
	}
	return out
}

// Apply applies the plan and, when something failed, returns an error that says what was done and that
// running bind again finishes the job.
func (b *Binder) Apply(ctx context.Context, res *Result) (plan.Result, error) {
	applied, err := res.Plan.Apply(ctx)
	if err != nil {
		return applied, err
	}
	failed := applied.Failed()
	if len(failed) == 0 {
		return applied, nil
	}
	var done, bad, skipped []string
	for _, o := range applied.Outcomes {
		c := o.Change
		name := c.Kind + " " + c.Name
		switch {
		case o.Err != nil:
			bad = append(bad, fmt.Sprintf("%s: %v", name, o.Err))
		case o.Skipped:
			skipped = append(skipped, name)
		case c.Action != plan.Unchanged:
			done = append(done, name)
		}
	}
	var msg strings.Builder
	fmt.Fprintf(&msg, "bind stopped part way: %d change(s) failed", len(bad))
	for _, s := range bad {
		msg.WriteString("\n  failed:  " + s)
	}
	for _, s := range skipped {
		msg.WriteString("\n  not attempted (depends on a failed change): " + s)
	}
	for _, s := range done {
		msg.WriteString("\n  done:    " + s)
	}
	msg.WriteString("\nbind is idempotent: fix the cause and run the same command again to finish")
	return applied, errors.New(msg.String())
}

func (b *Binder) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}
