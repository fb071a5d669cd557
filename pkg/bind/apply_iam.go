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

	sdcaws "github.com/kubectl-sdc/kubectl-sdc/pkg/aws"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/grant"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iamread"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

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

func (op createProvider) apply(ctx context.Context, a *applier) error {
	_, err := a.aws.IAM.CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{
		Url: aws.String(op.URL), ClientIDList: op.ClientIDs, ThumbprintList: op.Thumbprints, Tags: iamTags(op.Tags),
	})
	if sdcaws.IsAlreadyExists(err) {
		return nil // made meanwhile, or by an earlier attempt whose answer was lost
	}
	return err
}

func (op addClientID) apply(ctx context.Context, a *applier) error {
	_, err := a.aws.IAM.AddClientIDToOpenIDConnectProvider(ctx, &iam.AddClientIDToOpenIDConnectProviderInput{
		OpenIDConnectProviderArn: aws.String(op.ProviderARN), ClientID: aws.String(op.ClientID),
	})
	return err
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
	lock, err := a.lockDoc(ctx, TrustDocKey(op.Role))
	if err != nil {
		return err
	}
	var wrote, seen *iampolicy.Policy
	defer func() { lock.release(wrote) }()
	readTrust := func(ctx context.Context) (*iampolicy.Policy, error) { return a.readTrust(ctx, op.Role) }
	first, haveFirst := awaitLastWritten(ctx, lock, readTrust, func(p *iampolicy.Policy) *iampolicy.Policy { return p })
	attempts, gone := 0, false
	err = sdcaws.ConcurrentWrites.Retry(ctx, func(ctx context.Context) error {
		attempts++
		start := time.Now()
		current, err := first, error(nil)
		if !haveFirst {
			current, err = readTrust(ctx)
		}
		haveFirst = false
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
	lock, err := a.lockDoc(ctx, PolicyDocKey(arn))
	if err != nil {
		return err
	}
	var written *iampolicy.Policy
	defer func() { lock.release(written) }()
	readPolicy := func(ctx context.Context) (*iamread.Policy, error) { return iamread.ReadPolicy(ctx, a.aws.IAM, arn) }
	first, haveFirst := awaitLastWritten(ctx, lock, readPolicy, func(p *iamread.Policy) *iampolicy.Policy {
		if p == nil {
			return nil
		}
		return p.Document
	})
	wrote := false
	return sdcaws.ConcurrentWrites.Retry(ctx, func(ctx context.Context) error {
		start := time.Now()
		current, err := first, error(nil)
		if !haveFirst {
			current, err = readPolicy(ctx)
		}
		haveFirst = false
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
		wrote, written = true, edited
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

func (op attachPolicy) apply(ctx context.Context, a *applier) error {
	// Right after CreateRole/CreatePolicy, IAM may not know them yet everywhere.
	return sdcaws.RetryEventual(ctx, func(ctx context.Context) error {
		_, err := a.aws.IAM.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String(op.Role), PolicyArn: aws.String(op.PolicyARN)})
		return err
	}, func(err error) bool { return sdcaws.ErrorCode(err) == "NoSuchEntity" })
}
