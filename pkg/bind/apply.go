package bind

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	applyappsv1 "k8s.io/client-go/applyconfigurations/apps/v1"
	applycorev1 "k8s.io/client-go/applyconfigurations/core/v1"

	sdcaws "github.com/kubectl-sdc/kubectl-sdc/pkg/aws"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/cluster"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/grant"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iamread"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/plan"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// operation is one write the planner decided on, as data; apply carries it out. The planner builds them,
// Apply runs them: planning stays pure and the tests of the planner read the operations as values.
type operation interface {
	apply(ctx context.Context, a *applier) error
}

// checkOps holds a plan to the plan-to-apply contract: every change that writes carries an operation.
func checkOps(p *plan.Plan) error {
	return p.CheckOps(func(op any) bool { _, ok := op.(operation); return ok })
}

// applier is what operations write through.
type applier struct {
	aws *sdcaws.Clients
	eks eksAPI // the cluster's region's, for Pod Identity associations
	b   *Binder
	// target writes in the account of the role the stages assume (--target-profile); nil without one.
	target *applier
}

// Apply applies the plan and, when something failed, returns an error that says what was done and that
// running bind again finishes the job.
func (b *Binder) Apply(ctx context.Context, res *Result) (plan.Result, error) {
	var target *sdcaws.Clients
	if t := res.Observed.Target; t != nil && t.Managed {
		target = b.TargetAWS
	}
	verb := res.Command
	if verb == "" {
		verb = "bind"
	}
	return b.apply(ctx, res.Observed.Cluster, target, res.Plan, verb)
}

// writers are the clients a plan of cluster c is applied through, the Binder's: IAM through those of the
// region the reads used (the configured one, else the cluster's), EKS through the cluster's region's.
func (b *Binder) writers(c *cluster.Cluster) (*sdcaws.Clients, eksAPI) {
	clients := b.AWS
	if clients.Region == "" && c != nil {
		clients = b.AWS.ForRegion(c.Region)
	}
	if c == nil || c.Region == "" {
		return clients, nil
	}
	return clients, b.AWS.ForRegion(c.Region).EKS
}

// apply carries out the operations of a plan of cluster c through the Binder's writers, and those of the
// target's account through target (nil: none); verb names the command in the account of a partial failure.
func (b *Binder) apply(ctx context.Context, c *cluster.Cluster, target *sdcaws.Clients, p *plan.Plan, verb string) (plan.Result, error) {
	clients, eks := b.writers(c)
	a := &applier{aws: clients, eks: eks, b: b}
	if target != nil {
		a.target = &applier{aws: target, b: b}
	}
	for _, c := range p.Changes {
		if op, ok := c.Op.(operation); ok {
			c.Apply = func(ctx context.Context) error { return op.apply(ctx, a) }
		}
	}
	applied, err := p.Apply(ctx)
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
	fmt.Fprintf(&msg, "%s stopped part way: %d change(s) failed", verb, len(bad))
	for _, s := range bad {
		msg.WriteString("\n  failed:  " + s)
	}
	for _, s := range skipped {
		msg.WriteString("\n  not attempted (depends on a failed change): " + s)
	}
	for _, s := range done {
		msg.WriteString("\n  done:    " + s)
	}
	fmt.Fprintf(&msg, "\n%s is idempotent: fix the cause and run the same command again to finish", verb)
	return applied, errors.New(msg.String())
}

// iamTags turns a tag map into IAM's form, sorted by key.
func iamTags(m map[string]string) []iamtypes.Tag {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	tags := make([]iamtypes.Tag, 0, len(keys))
	for _, k := range keys {
		tags = append(tags, iamtypes.Tag{Key: aws.String(k), Value: aws.String(m[k])})
	}
	return tags
}

// createProvider creates the IAM OIDC provider.
type createProvider struct {
	URL                    string
	ClientIDs, Thumbprints []string
	Tags                   map[string]string
}

func (op createProvider) apply(ctx context.Context, a *applier) error {
	_, err := a.aws.IAM.CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{
		Url: aws.String(op.URL), ClientIDList: op.ClientIDs, ThumbprintList: op.Thumbprints, Tags: iamTags(op.Tags),
	})
	if sdcaws.IsAlreadyExists(err) {
		return nil // made meanwhile, or by an earlier attempt whose answer was lost
	}
	return err
}

// addClientID adds an audience to an existing provider.
type addClientID struct{ ProviderARN, ClientID string }

func (op addClientID) apply(ctx context.Context, a *applier) error {
	_, err := a.aws.IAM.AddClientIDToOpenIDConnectProvider(ctx, &iam.AddClientIDToOpenIDConnectProviderInput{
		OpenIDConnectProviderArn: aws.String(op.ProviderARN), ClientID: aws.String(op.ClientID),
	})
	return err
}

// createRole is how to create the role when it does not exist yet: with its guardrails (path, permissions
// boundary, maximum session duration, tags) in the same call.
type createRole struct {
	Name, Trust, Description string
	Tags                     map[string]string
	Path, Boundary           string // "" for "/" and no boundary
	MaxSessionDuration       int32  // 0 for IAM's default
}

// TrustEdit is one change bind (or unbind) makes to a role's trust and checks afterwards, as pure functions
// of the document: the read-merge-write-verify loop of writeTrust runs any of them.
type TrustEdit interface {
	// Apply returns the trust with the edit made (p is not modified); changed is false when it already holds.
	Apply(p *iampolicy.Policy) (out *iampolicy.Policy, changed bool)
	// Holds reports whether p is as the edit wants it.
	Holds(p *iampolicy.Policy) bool
	// Subjects are who p admits by name, for messages about a concurrent writer (nil when not applicable).
	Subjects(p *iampolicy.Policy) []string
	// String names the edit in messages, e.g. "admit system:serviceaccount:ns1:sdc".
	String() string
}

// AdmitWebIdentity admits Subject's tokens with Audience through the OIDC provider Provider (the compact
// way, iampolicy.AdmitSubject).
type AdmitWebIdentity struct{ Provider, Host, Subject, Audience string }

// Apply adds the subject.
func (e AdmitWebIdentity) Apply(p *iampolicy.Policy) (*iampolicy.Policy, bool) {
	return iampolicy.AdmitSubject(p, e.Provider, e.Host, e.Subject, e.Audience)
}

// Holds reports whether STS would let the subject's token assume the role.
func (e AdmitWebIdentity) Holds(p *iampolicy.Policy) bool {
	return iampolicy.Evaluate(iampolicy.WebIdentityRequest(e.Provider, e.Host, e.Subject, e.Audience), p).Allowed()
}

// Subjects are the ServiceAccounts the trust lists for the provider.
func (e AdmitWebIdentity) Subjects(p *iampolicy.Policy) []string {
	return iampolicy.WebIdentitySubjects(p, e.Provider, e.Host)
}

func (e AdmitWebIdentity) String() string { return "admit " + e.Subject }

// RevokeWebIdentity removes Subject from the trust's statements of bind's shape for the OIDC provider
// Provider, whatever their audience (iampolicy.RevokeWebIdentitySubject). Statements of another shape stay:
// a wildcard that still admits the subject is the plan's to report, not an edit's to make.
type RevokeWebIdentity struct{ Provider, Host, Subject string }

// Apply removes the subject.
func (e RevokeWebIdentity) Apply(p *iampolicy.Policy) (*iampolicy.Policy, bool) {
	return iampolicy.RevokeWebIdentitySubject(p, e.Provider, e.Host, e.Subject)
}

// Holds reports whether no statement of bind's shape lists the subject any more (a trust that is gone
// holds too).
func (e RevokeWebIdentity) Holds(p *iampolicy.Policy) bool {
	_, listed := e.Apply(p)
	return !listed
}

// Subjects are the ServiceAccounts the trust lists for the provider.
func (e RevokeWebIdentity) Subjects(p *iampolicy.Policy) []string {
	return iampolicy.WebIdentitySubjects(p, e.Provider, e.Host)
}

func (e RevokeWebIdentity) String() string { return "remove " + e.Subject }

// writeTrust makes the role's trust as Edit wants it, and checks afterwards that it still is. IAM has no
// conditional write for a trust policy, so another bind (or any writer) may replace the document between
// our read and our write, or right after: the trust is read fresh before each write, edited and written,
// then read again after a short settle; a trust that lost the edit to a concurrent write is edited and
// written again, with jittered backoff, until it holds or the bound is spent. Success is reported only
// when the check holds.
type writeTrust struct {
	Role   string
	Edit   TrustEdit
	Create *createRole // the role did not exist when planned
	Update bool        // the trust lacked the edit when planned
	Tags   map[string]string
	// Boundary and Settings change an existing role's guardrails (see roleGuardrails); empty: unchanged.
	Boundary string
	Settings *roleSettings
	// Untag are tag keys to remove: records of this binding that no longer hold (bind: a target that
	// changed; unbind: this binding's stages key on a role shared on purpose).
	Untag []string
}

func (op writeTrust) apply(ctx context.Context, a *applier) error {
	if op.Create != nil {
		created, err := a.createRole(ctx, op.Create)
		if err != nil {
			return err
		}
		if created {
			return nil // a trust that did not exist before cannot have lost a concurrent write
		}
		// Someone made it meanwhile (another bind into the same role): edit theirs.
	} else if !op.Update {
		return a.roleExtras(ctx, op)
	}
	var wrote, seen *iampolicy.Policy
	attempts, gone := 0, false
	err := sdcaws.ConcurrentWrites.Retry(ctx, func(ctx context.Context) error {
		attempts++
		start := time.Now()
		current, err := a.readTrust(ctx, op.Role)
		if err != nil {
			return err
		}
		if current == nil {
			if op.Create == nil && op.Edit.Holds(nil) {
				gone = true // deleted meanwhile: nothing is left to remove from
				return nil
			}
			return errNotVisible // just made by another writer, or IAM still replicating it
		}
		seen = current
		if op.Edit.Holds(current) {
			return nil // as wanted: by our write (verified), or already
		}
		edited, _ := op.Edit.Apply(current)
		_, err = a.aws.IAM.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{
			RoleName: aws.String(op.Role), PolicyDocument: aws.String(string(edited.Compact())),
		}, noSDKRetries)
		if err != nil {
			return err
		}
		wrote = edited
		// Verify after a settle: a writer that read the trust before our write lands its own within about
		// one read-edit-write cycle like ours (its read, its edit, its write, on a machine as loaded as
		// ours); waiting a few of our cycles lets its write land before we look.
		return settle(ctx, time.Since(start))
	}, func(err error) bool {
		return err == errLost || err == errNotVisible || sdcaws.IsThrottled(err) || sdcaws.IsEventuallyConsistent(err)
	})
	if err != nil {
		return lostTrust(op, wrote, seen, attempts, err)
	}
	if gone {
		return nil
	}
	return a.roleExtras(ctx, op)
}

// errLost is a verification that found our change gone; errNotVisible a document IAM does not show yet.
var (
	errLost       = errors.New("lost to a concurrent write")
	errNotVisible = errors.New("not visible yet")
)

// settle waits a few times d (our read-edit-write cycle) with jitter, at least 100 ms and at most 2 s, then
// returns errLost so that the retry loop reads again: the read after the settle is the verification.
func settle(ctx context.Context, d time.Duration) error {
	wait := min(max(3*d, 100*time.Millisecond), 2*time.Second)
	wait = wait/2 + rand.N(wait)
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
	}
	return errLost
}

// lostTrust explains a trust write that did not hold: what the concurrent writer changed.
func lostTrust(op writeTrust, wrote, seen *iampolicy.Policy, attempts int, err error) error {
	if wrote == nil || seen == nil {
		return fmt.Errorf("updating the trust policy of IAM role %s (%s): %w", op.Role, op.Edit, err)
	}
	ours, theirs := op.Edit.Subjects(wrote), op.Edit.Subjects(seen)
	return fmt.Errorf("the trust policy of IAM role %s was rewritten by another writer while kubectl-sdc updated it (to %s), %d time(s): the last rewrite added %s and removed %s; run the same command again",
		op.Role, op.Edit, attempts, listOrNone(setDiff(theirs, ours)), listOrNone(setDiff(ours, theirs)))
}

func setDiff(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

func listOrNone(l []string) string {
	if len(l) == 0 {
		return "no ServiceAccount"
	}
	return strings.Join(l, ", ")
}

// noSDKRetries turns the SDK's own retries off for a write that our loop retries after reading again: a
// write retried as it was would be based on an older read.
func noSDKRetries(o *iam.Options) { o.Retryer = aws.NopRetryer{} }

// createRole creates the role; created is false when it exists already (made by someone else meanwhile).
func (a *applier) createRole(ctx context.Context, c *createRole) (created bool, err error) {
	err = sdcaws.RetryEventual(ctx, func(ctx context.Context) error {
		in := &iam.CreateRoleInput{
			RoleName: aws.String(c.Name), AssumeRolePolicyDocument: aws.String(c.Trust),
			Description: aws.String(c.Description), Tags: iamTags(c.Tags),
		}
		if c.Path != "" {
			in.Path = aws.String(c.Path)
		}
		if c.Boundary != "" {
			in.PermissionsBoundary = aws.String(c.Boundary)
		}
		if c.MaxSessionDuration != 0 {
			in.MaxSessionDuration = aws.Int32(c.MaxSessionDuration)
		}
		_, err := a.aws.IAM.CreateRole(ctx, in)
		return err
	}, sdcaws.IsEventuallyConsistent) // a just-made provider may be refused as an "Invalid principal"
	if sdcaws.IsAlreadyExists(err) {
		return false, nil
	}
	return err == nil, err
}

// readTrust reads the role's trust policy; nil, nil when IAM does not show the role.
func (a *applier) readTrust(ctx context.Context, role string) (*iampolicy.Policy, error) {
	out, err := a.aws.IAM.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(role)})
	if sdcaws.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	doc, err := url.QueryUnescape(aws.ToString(out.Role.AssumeRolePolicyDocument))
	if err != nil {
		return nil, fmt.Errorf("the trust policy of IAM role %s: %w", role, err)
	}
	return iampolicy.Parse([]byte(doc))
}

// tagRole adds tags to the role (other tags stay).
func (a *applier) tagRole(ctx context.Context, role string, tags map[string]string) error {
	if len(tags) == 0 {
		return nil
	}
	_, err := a.aws.IAM.TagRole(ctx, &iam.TagRoleInput{RoleName: aws.String(role), Tags: iamTags(tags)})
	return err
}

// writePolicy makes this binding's statements of the role's shared policy exactly Want (pkg/grant): it
// creates the policy when missing, else reads the default version fresh, merges and makes the result the
// new default version, and checks afterwards that no concurrent writer dropped them, as writeTrust does.
type writePolicy struct {
	ARN, Name, Binding string
	Path               string // where to create it; "" for "/"
	Create             bool   // the policy did not exist when planned
	Want               string // this binding's statements, compact JSON
	Description        string
	Tags               map[string]string
	// Retag are tags an existing policy gets (others stay), once its document is written.
	Retag map[string]string
}

func (op writePolicy) apply(ctx context.Context, a *applier) error {
	if err := op.write(ctx, a); err != nil {
		return err
	}
	return tagPolicy{ARN: op.ARN, Tags: op.Retag}.apply(ctx, a)
}

func (op writePolicy) write(ctx context.Context, a *applier) error {
	want, err := iampolicy.Parse([]byte(op.Want))
	if err != nil {
		return err
	}
	create := func(ctx context.Context) error {
		merged, _ := grant.Merge(nil, op.Binding, want)
		in := &iam.CreatePolicyInput{
			PolicyName: aws.String(op.Name), PolicyDocument: aws.String(string(merged.Compact())),
			Description: aws.String(op.Description), Tags: iamTags(op.Tags),
		}
		if op.Path != "" {
			in.Path = aws.String(op.Path)
		}
		_, err := a.aws.IAM.CreatePolicy(ctx, in, noSDKRetries)
		if sdcaws.IsAlreadyExists(err) {
			return errNotVisible // made meanwhile by another bind: merge into it
		}
		return err // created: no earlier version existed, so none was lost
	}
	// exists: the policy was made (by another bind) though IAM may not show it yet. A create refused for
	// throttling made nothing, so the loop tries it again rather than wait for a policy nobody made.
	exists := false
	if op.Create {
		switch err := create(ctx); {
		case err == nil:
			return nil
		case err == errNotVisible:
			exists = true
		case !sdcaws.IsThrottled(err):
			return err
		}
	}
	missing := func(ctx context.Context, wrote bool) error {
		if wrote || exists {
			return errNotVisible // made by us or another bind, and IAM does not show it yet
		}
		err := create(ctx)
		exists = err == errNotVisible
		return err
	}
	err = a.editPolicy(ctx, op.ARN, missing, func(current *iampolicy.Policy) (*iampolicy.Policy, bool) {
		return grant.Merge(current, op.Binding, want)
	})
	if err != nil {
		return fmt.Errorf("updating IAM policy %s (other bindings of the role may be writing it at the same time; run the same bind again): %w", op.ARN, err)
	}
	return nil
}

// editPolicy makes the policy's default version what edit makes of it, as writeTrust does for a trust:
// it reads the default version fresh, edits it and writes the result as the new default version (making
// room when IAM's five versions are used up), then reads again after a settle, until the edit holds
// (edit reports no change) or the bound is spent. missing says what to do when IAM does not show the policy
// (wrote: a version was written by this loop).
func (a *applier) editPolicy(ctx context.Context, arn string, missing func(ctx context.Context, wrote bool) error,
	edit func(*iampolicy.Policy) (*iampolicy.Policy, bool)) error {
	wrote := false
	return sdcaws.ConcurrentWrites.Retry(ctx, func(ctx context.Context) error {
		start := time.Now()
		current, err := iamread.ReadPolicy(ctx, a.aws.IAM, arn)
		if err != nil {
			return err
		}
		if current == nil {
			return missing(ctx, wrote)
		}
		edited, changed := edit(current.Document)
		if !changed {
			return nil // as wanted: written (verified), or already so
		}
		if err := edited.Validate(iampolicy.Identity); err != nil {
			return fmt.Errorf("IAM policy %s once edited: %w", arn, err)
		}
		if _, err := a.newVersion(ctx, arn, string(edited.Compact())); err != nil {
			return err
		}
		wrote = true
		return settle(ctx, time.Since(start))
	}, func(err error) bool {
		return err == errLost || err == errNotVisible || sdcaws.IsThrottled(err) || sdcaws.IsEventuallyConsistent(err) ||
			sdcaws.ErrorCode(err) == "LimitExceeded" || sdcaws.ErrorCode(err) == "DeleteConflict"
	})
}

// newVersion makes document the policy's new default version, first deleting the oldest non-default
// version when IAM's limit of five is reached; it returns the new version's ID.
func (a *applier) newVersion(ctx context.Context, arn, document string) (string, error) {
	versions, err := a.aws.IAM.ListPolicyVersions(ctx, &iam.ListPolicyVersionsInput{PolicyArn: aws.String(arn)})
	if err != nil {
		return "", err
	}
	if del := VersionToDelete(versions.Versions); del != "" {
		_, err := a.aws.IAM.DeletePolicyVersion(ctx, &iam.DeletePolicyVersionInput{PolicyArn: aws.String(arn), VersionId: aws.String(del)})
		if err != nil && !sdcaws.IsNotFound(err) { // deleted meanwhile by another bind: room made either way
			return "", fmt.Errorf("making room for a new version (IAM keeps %d): deleting %s: %w", vocab.MaxPolicyVersions, del, err)
		}
	}
	out, err := a.aws.IAM.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{
		PolicyArn: aws.String(arn), PolicyDocument: aws.String(document), SetAsDefault: true,
	}, noSDKRetries)
	if err != nil {
		return "", err
	}
	return aws.ToString(out.PolicyVersion.VersionId), nil
}

// VersionToDelete is the version to delete before a new one can be made: the oldest non-default version
// when the policy has IAM's maximum of versions, else "".
func VersionToDelete(versions []iamtypes.PolicyVersion) string {
	if len(versions) < vocab.MaxPolicyVersions {
		return ""
	}
	var oldest *iamtypes.PolicyVersion
	for i := range versions {
		v := &versions[i]
		if v.IsDefaultVersion {
			continue
		}
		if oldest == nil || aws.ToTime(v.CreateDate).Before(aws.ToTime(oldest.CreateDate)) {
			oldest = v
		}
	}
	if oldest == nil {
		return ""
	}
	return aws.ToString(oldest.VersionId)
}

// attachPolicy attaches a managed policy to the role.
type attachPolicy struct{ Role, PolicyARN string }

func (op attachPolicy) apply(ctx context.Context, a *applier) error {
	// Right after CreateRole/CreatePolicy, IAM may not know them yet everywhere.
	return sdcaws.RetryEventual(ctx, func(ctx context.Context) error {
		_, err := a.aws.IAM.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String(op.Role), PolicyArn: aws.String(op.PolicyARN)})
		return err
	}, func(err error) bool { return sdcaws.ErrorCode(err) == "NoSuchEntity" })
}

// createNamespace creates the namespace.
type createNamespace struct{ Name string }

func (op createNamespace) apply(ctx context.Context, a *applier) error {
	_, err := a.b.Core.Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: op.Name}}, metav1.CreateOptions{FieldManager: vocab.FieldManager})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// applyServiceAccount server-side applies bind's fields of the ServiceAccount.
type applyServiceAccount struct {
	Config *applycorev1.ServiceAccountApplyConfiguration
}

func (op applyServiceAccount) apply(ctx context.Context, a *applier) error {
	_, err := a.b.Core.ServiceAccounts(*op.Config.Namespace).Apply(ctx, op.Config, metav1.ApplyOptions{FieldManager: vocab.FieldManager, Force: true})
	return err
}

// applyDeployment server-side applies bind's fields of the Deployment.
type applyDeployment struct {
	Config *applyappsv1.DeploymentApplyConfiguration
}

func (op applyDeployment) apply(ctx context.Context, a *applier) error {
	_, err := a.b.Apps.Deployments(*op.Config.Namespace).Apply(ctx, op.Config, metav1.ApplyOptions{FieldManager: vocab.FieldManager, Force: true})
	return err
}

// restartDeployment restarts a Deployment's pods as `kubectl rollout restart` does.
type restartDeployment struct{ Namespace, Name string }

func (op restartDeployment) apply(ctx context.Context, a *applier) error {
	patch := fmt.Sprintf(`{"spec":{"template":{"metadata":{"annotations":{%q:%q}}}}}`, vocab.RestartedAtAnnotation, a.b.now().Format(time.RFC3339))
	_, err := a.b.Apps.Deployments(op.Namespace).Patch(ctx, op.Name, types.StrategicMergePatchType, []byte(patch),
		metav1.PatchOptions{FieldManager: vocab.FieldManager})
	return err
}
