package bind

import (
	"context"
	"errors"
	"fmt"
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
	"github.com/kubectl-sdc/kubectl-sdc/pkg/plan"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// operation is one write the planner decided on, as data; apply carries it out. The planner builds them,
// Apply runs them: planning stays pure and the tests of the planner read the operations as values.
type operation interface {
	apply(ctx context.Context, a *applier) error
}

// applier is what operations write through.
type applier struct {
	aws *sdcaws.Clients
	b   *Binder
}

// Apply applies the plan and, when something failed, returns an error that says what was done and that
// running bind again finishes the job.
func (b *Binder) Apply(ctx context.Context, res *Result) (plan.Result, error) {
	a := &applier{aws: res.Observed.aws, b: b}
	if a.aws == nil {
		a.aws = b.AWS
	}
	for _, c := range res.Plan.Changes {
		if op, ok := c.Op.(operation); ok {
			c.Apply = func(ctx context.Context) error { return op.apply(ctx, a) }
		}
	}
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

// createPolicy creates the customer managed policy.
type createPolicy struct {
	Name, Document, Description string
	Tags                        map[string]string
}

func (op createPolicy) apply(ctx context.Context, a *applier) error {
	_, err := a.aws.IAM.CreatePolicy(ctx, &iam.CreatePolicyInput{
		PolicyName: aws.String(op.Name), PolicyDocument: aws.String(op.Document),
		Description: aws.String(op.Description), Tags: iamTags(op.Tags),
	})
	if sdcaws.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// newPolicyVersion makes Document the policy's new default version, first deleting the oldest
// non-default version when IAM's limit of five is reached.
type newPolicyVersion struct{ ARN, Document string }

func (op newPolicyVersion) apply(ctx context.Context, a *applier) error {
	versions, err := a.aws.IAM.ListPolicyVersions(ctx, &iam.ListPolicyVersionsInput{PolicyArn: aws.String(op.ARN)})
	if err != nil {
		return err
	}
	if del := VersionToDelete(versions.Versions); del != "" {
		if _, err := a.aws.IAM.DeletePolicyVersion(ctx, &iam.DeletePolicyVersionInput{PolicyArn: aws.String(op.ARN), VersionId: aws.String(del)}); err != nil {
			return fmt.Errorf("making room for a new version (IAM keeps %d): deleting %s: %w", vocab.MaxPolicyVersions, del, err)
		}
	}
	_, err = a.aws.IAM.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{
		PolicyArn: aws.String(op.ARN), PolicyDocument: aws.String(op.Document), SetAsDefault: true,
	})
	return err
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

// createRole creates the role with its trust policy and tags.
type createRole struct {
	Name, Trust, Description string
	Tags                     map[string]string
}

func (op createRole) apply(ctx context.Context, a *applier) error {
	// A just-made provider may be refused as an "Invalid principal" for a while.
	return sdcaws.RetryEventual(ctx, func(ctx context.Context) error {
		_, err := a.aws.IAM.CreateRole(ctx, &iam.CreateRoleInput{
			RoleName: aws.String(op.Name), AssumeRolePolicyDocument: aws.String(op.Trust),
			Description: aws.String(op.Description), Tags: iamTags(op.Tags),
		})
		if sdcaws.IsAlreadyExists(err) {
			return nil
		}
		return err
	}, sdcaws.IsEventuallyConsistent)
}

// updateRole writes a new trust policy (when Trust is set) and tags (when Tags is set).
type updateRole struct {
	Name, Trust string
	Tags        map[string]string
}

func (op updateRole) apply(ctx context.Context, a *applier) error {
	if op.Trust != "" {
		err := sdcaws.RetryEventual(ctx, func(ctx context.Context) error {
			_, err := a.aws.IAM.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{
				RoleName: aws.String(op.Name), PolicyDocument: aws.String(op.Trust),
			})
			return err
		}, sdcaws.IsEventuallyConsistent)
		if err != nil {
			return err
		}
	}
	if len(op.Tags) > 0 {
		_, err := a.aws.IAM.TagRole(ctx, &iam.TagRoleInput{RoleName: aws.String(op.Name), Tags: iamTags(op.Tags)})
		return err
	}
	return nil
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
