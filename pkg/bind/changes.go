package bind

import (
	"context"
	"encoding/json"
	"fmt"
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
	applymetav1 "k8s.io/client-go/applyconfigurations/meta/v1"
	"sigs.k8s.io/yaml"

	sdcaws "github.com/kubectl-sdc/kubectl-sdc/pkg/aws"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/catalog"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/plan"
)

// Change kinds, as the plan and `-o json` name them.
const (
	KindProvider   = "IAM OIDC provider"
	KindPolicy     = "IAM policy"
	KindRole       = "IAM role"
	KindAttachment = "IAM role policy attachment"
	KindNamespace  = "Namespace"
	KindSA         = "ServiceAccount"
	KindDeployment = "Deployment"
	KindRestart    = "Deployment restart"
)

// maxPolicyVersions is IAM's limit on the versions a managed policy keeps.
const maxPolicyVersions = 5

func (b *Binder) changes(ctx context.Context, res *Result, desiredPolicy *iampolicy.Policy) (*plan.Plan, error) {
	p := &plan.Plan{}
	add := func(c *plan.Change) { p.Changes = append(p.Changes, c) }

	prov, err := b.providerChange(ctx, res)
	if err != nil {
		return nil, err
	}
	add(prov)
	if desiredPolicy != nil {
		c, err := b.policyChange(res, desiredPolicy)
		if err != nil {
			return nil, err
		}
		add(c)
	}
	role, err := b.roleChange(res)
	if err != nil {
		return nil, err
	}
	add(role)
	for _, c := range b.attachmentChanges(res) {
		add(c)
	}
	add(b.namespaceChange(res))
	sa := b.serviceAccountChange(res)
	add(sa)
	if res.Request.Deployment != "" {
		d, err := b.deploymentChange(res)
		if err != nil {
			return nil, err
		}
		add(d)
		if r := b.restartChange(res, sa, d); r != nil {
			add(r)
		}
	}
	return p, nil
}

func indentJSON(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b) + "\n"
}

func managedTags(res *Result, extra map[string]string) []iamtypes.Tag {
	m := map[string]string{ManagedByKey: ManagedByValue, TagCluster: res.Cluster.Name}
	for k, v := range extra {
		m[k] = v
	}
	return iamTags(m)
}

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

// providerChange: the IAM OIDC provider for the cluster's issuer, with the audience as a client ID.
func (b *Binder) providerChange(ctx context.Context, res *Result) (*plan.Change, error) {
	n, r, o := res.Names, res.Request, res.Observed
	c := &plan.Change{ID: "provider", Kind: KindProvider, Name: n.ProviderARN, Format: "json"}
	type doc struct {
		URL            string   `json:"Url"`
		ClientIDList   []string `json:"ClientIDList"`
		ThumbprintList []string `json:"ThumbprintList,omitempty"`
	}
	if o.Provider == nil {
		tp, err := Thumbprint(ctx, res.Cluster.Issuer)
		if err != nil {
			return nil, err
		}
		c.Action = plan.Create
		c.After = indentJSON(doc{URL: res.Cluster.Issuer, ClientIDList: []string{r.Audience}, ThumbprintList: []string{tp}})
		c.Apply = func(ctx context.Context) error {
			_, err := b.AWS.IAM.CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{
				Url:            aws.String(res.Cluster.Issuer),
				ClientIDList:   []string{r.Audience},
				ThumbprintList: []string{tp},
				Tags:           managedTags(res, nil),
			})
			if sdcaws.IsAlreadyExists(err) {
				return nil // made meanwhile, or by an earlier attempt whose answer was lost
			}
			return err
		}
		return c, nil
	}
	before := doc{URL: res.Cluster.Issuer, ClientIDList: o.Provider.ClientIDs, ThumbprintList: o.Provider.Thumbprints}
	if slices.Contains(o.Provider.ClientIDs, r.Audience) {
		c.Action = plan.Unchanged
		return c, nil
	}
	after := before
	after.ClientIDList = append(slices.Clone(before.ClientIDList), r.Audience)
	c.Action = plan.Update
	c.Before, c.After = indentJSON(before), indentJSON(after)
	c.Notes = []string{"adds client ID " + r.Audience}
	c.Apply = func(ctx context.Context) error {
		_, err := b.AWS.IAM.AddClientIDToOpenIDConnectProvider(ctx, &iam.AddClientIDToOpenIDConnectProviderInput{
			OpenIDConnectProviderArn: aws.String(n.ProviderARN), ClientID: aws.String(r.Audience),
		})
		return err
	}
	return c, nil
}

// policyChange: the customer managed policy with the permissions asked for; a new default version when the
// document changed, after deleting the oldest non-default version when IAM's five are used up.
func (b *Binder) policyChange(res *Result, desired *iampolicy.Policy) (*plan.Change, error) {
	n, o := res.Names, res.Observed
	c := &plan.Change{ID: "policy", Kind: KindPolicy, Name: n.PolicyARN, Format: "json", After: string(desired.Canonical())}
	if o.Policy == nil {
		c.Action = plan.Create
		c.Apply = func(ctx context.Context) error {
			_, err := b.AWS.IAM.CreatePolicy(ctx, &iam.CreatePolicyInput{
				PolicyName:     aws.String(n.PolicyName),
				PolicyDocument: aws.String(string(desired.Compact())),
				Description:    aws.String(fmt.Sprintf("Permissions of ServiceAccount %s/%s on cluster %s, made by kubectl-sdc", res.Request.Namespace, res.Request.ServiceAccount, res.Cluster.Name)),
				Tags:           managedTags(res, nil),
			})
			if sdcaws.IsAlreadyExists(err) {
				return nil
			}
			return err
		}
		return c, nil
	}
	if o.Policy.Tags[ManagedByKey] != ManagedByValue {
		return nil, &FlagError{Flag: "--policy-name", Value: n.PolicyName, Rule: fmt.Sprintf(
			"IAM policy %s exists and was not made by kubectl-sdc (no %s=%s tag), so bind will not change it: choose another name with --policy-name, or attach it as it is with --attach-policy-arn",
			n.PolicyARN, ManagedByKey, ManagedByValue)}
	}
	c.Before = string(o.Policy.Document.Canonical())
	if o.Policy.Document.Equal(desired) {
		c.Action = plan.Unchanged
		return c, nil
	}
	c.Action = plan.Update
	c.Notes = []string{fmt.Sprintf("a new default version (%s stays as the previous one)", o.Policy.DefaultVersion)}
	c.Apply = func(ctx context.Context) error {
		versions, err := b.AWS.IAM.ListPolicyVersions(ctx, &iam.ListPolicyVersionsInput{PolicyArn: aws.String(n.PolicyARN)})
		if err != nil {
			return err
		}
		if len(versions.Versions) >= maxPolicyVersions {
			var oldest *iamtypes.PolicyVersion
			for i := range versions.Versions {
				v := &versions.Versions[i]
				if v.IsDefaultVersion {
					continue
				}
				if oldest == nil || aws.ToTime(v.CreateDate).Before(aws.ToTime(oldest.CreateDate)) {
					oldest = v
				}
			}
			if oldest != nil {
				if _, err := b.AWS.IAM.DeletePolicyVersion(ctx, &iam.DeletePolicyVersionInput{PolicyArn: aws.String(n.PolicyARN), VersionId: oldest.VersionId}); err != nil {
					return fmt.Errorf("making room for a new version (IAM keeps %d): deleting %s: %w", maxPolicyVersions, aws.ToString(oldest.VersionId), err)
				}
			}
		}
		_, err = b.AWS.IAM.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{
			PolicyArn: aws.String(n.PolicyARN), PolicyDocument: aws.String(string(desired.Compact())), SetAsDefault: true,
		})
		return err
	}
	return c, nil
}

// roleChange: the role whose trust lets exactly this ServiceAccount assume it through the provider. On an
// existing role the statement is added and every other statement stays.
func (b *Binder) roleChange(res *Result) (*plan.Change, error) {
	n, r, o := res.Names, res.Request, res.Observed
	stmt := iampolicy.WebIdentityStatement(n.ProviderARN, n.IssuerHostPath, r.Namespace, r.ServiceAccount, r.Audience)
	var existing *iampolicy.Policy
	if o.Role != nil {
		existing = o.Role.Trust
	}
	trust, trustChanged := iampolicy.MergeStatement(existing, stmt)
	if err := trust.Validate(iampolicy.Trust); err != nil {
		return nil, &FlagError{Flag: "--role-name", Value: n.RoleName, Rule: "adding this ServiceAccount's statement to the role's trust policy would break IAM's rules: " + err.Error()}
	}
	var stagesTag string
	if len(res.Selection.Stages) > 0 {
		var err error
		if stagesTag, err = catalog.EncodeTag(res.Selection); err != nil {
			return nil, err
		}
	}
	c := &plan.Change{ID: "role", Kind: KindRole, Name: n.RoleARN, Format: "json", After: string(trust.Canonical())}
	retryable := sdcaws.IsEventuallyConsistent // a just-made provider may be refused as an "Invalid principal"
	if o.Role == nil {
		c.Action = plan.Create
		tags := map[string]string{TagNamespace: r.Namespace, TagServiceAccount: r.ServiceAccount}
		if stagesTag != "" {
			tags[TagStages] = stagesTag
		}
		c.Notes = []string{"trusts " + n.ProviderARN + " for " + iampolicy.ServiceAccountSubject(r.Namespace, r.ServiceAccount)}
		if stagesTag != "" {
			c.Notes = append(c.Notes, "tag "+TagStages+"="+stagesTag)
		}
		c.Apply = func(ctx context.Context) error {
			return sdcaws.RetryEventual(ctx, func(ctx context.Context) error {
				_, err := b.AWS.IAM.CreateRole(ctx, &iam.CreateRoleInput{
					RoleName:                 aws.String(n.RoleName),
					AssumeRolePolicyDocument: aws.String(string(trust.Compact())),
					Description:              aws.String(fmt.Sprintf(roleDescriptionTemplate, r.Namespace, r.ServiceAccount, res.Cluster.Name)),
					Tags:                     managedTags(res, tags),
				})
				if sdcaws.IsAlreadyExists(err) {
					return nil
				}
				return err
			}, retryable)
		}
		return c, nil
	}
	c.Before = string(o.Role.Trust.Canonical())
	retag := stagesTag != "" && o.Role.Tags[TagStages] != stagesTag
	if !trustChanged && !retag {
		c.Action = plan.Unchanged
		return c, nil
	}
	c.Action = plan.Update
	if trustChanged {
		c.Notes = append(c.Notes, "adds a trust statement for "+iampolicy.ServiceAccountSubject(r.Namespace, r.ServiceAccount)+"; the other statements stay")
	}
	if retag {
		c.Notes = append(c.Notes, fmt.Sprintf("tag %s: %q -> %q", TagStages, o.Role.Tags[TagStages], stagesTag))
	}
	c.Apply = func(ctx context.Context) error {
		if trustChanged {
			err := sdcaws.RetryEventual(ctx, func(ctx context.Context) error {
				_, err := b.AWS.IAM.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{
					RoleName: aws.String(n.RoleName), PolicyDocument: aws.String(string(trust.Compact())),
				})
				return err
			}, retryable)
			if err != nil {
				return err
			}
		}
		if retag {
			_, err := b.AWS.IAM.TagRole(ctx, &iam.TagRoleInput{RoleName: aws.String(n.RoleName), Tags: iamTags(map[string]string{TagStages: stagesTag})})
			return err
		}
		return nil
	}
	return c, nil
}

// attachmentChanges: the bind's own policy and every --attach-policy-arn attached to the role. Policies
// attached by others stay attached.
func (b *Binder) attachmentChanges(res *Result) []*plan.Change {
	n, r, o := res.Names, res.Request, res.Observed
	arns := slices.Clone(r.AttachPolicyARNs)
	if n.PolicyARN != "" {
		arns = append([]string{n.PolicyARN}, arns...)
	}
	var out []*plan.Change
	for _, a := range arns {
		c := &plan.Change{ID: "attach:" + a, Kind: KindAttachment, Name: n.RoleName + " <- " + a, Deps: []string{"role"}}
		if a == n.PolicyARN {
			c.Deps = append(c.Deps, "policy")
		}
		if o.Role != nil && slices.Contains(o.Role.Attached, a) {
			c.Action = plan.Unchanged
		} else {
			c.Action = plan.Create
			c.Apply = func(ctx context.Context) error {
				// Right after CreateRole/CreatePolicy, IAM may not know them yet everywhere.
				return sdcaws.RetryEventual(ctx, func(ctx context.Context) error {
					_, err := b.AWS.IAM.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String(n.RoleName), PolicyArn: aws.String(a)})
					return err
				}, func(err error) bool { return sdcaws.ErrorCode(err) == "NoSuchEntity" })
			}
		}
		out = append(out, c)
	}
	return out
}

func toYAML(v any) string {
	b, err := yaml.Marshal(v)
	if err != nil {
		return fmt.Sprintf("# %v\n", err)
	}
	return string(b)
}

func (b *Binder) namespaceChange(res *Result) *plan.Change {
	ns := res.Request.Namespace
	c := &plan.Change{ID: "namespace", Kind: KindNamespace, Name: ns, Format: "yaml"}
	if res.Observed.Namespace != nil {
		c.Action = plan.Unchanged
		return c
	}
	c.Action = plan.Create
	c.After = toYAML(map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}})
	c.Apply = func(ctx context.Context) error {
		_, err := b.Core.Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{FieldManager: FieldManager})
		if apierrors.IsAlreadyExists(err) {
			return nil
		}
		return err
	}
	return c
}

// ownsField reports whether manager's Apply entry in managedFields owns the field path fragment, e.g.
// `"f:eks.amazonaws.com/sts-regional-endpoints"`.
func ownsField(fields []metav1.ManagedFieldsEntry, manager, fragment string) bool {
	for _, f := range fields {
		if f.Manager == manager && f.Operation == metav1.ManagedFieldsOperationApply && f.FieldsV1 != nil &&
			strings.Contains(string(f.FieldsV1.Raw), fragment) {
			return true
		}
	}
	return false
}

// serviceAccountChange: the role annotation (and the regional STS one) by server-side apply; annotations
// and labels of other managers stay.
func (b *Binder) serviceAccountChange(res *Result) *plan.Change {
	r, n, sa := res.Request, res.Names, res.Observed.ServiceAccount
	want := map[string]string{RoleARNAnnotation: n.RoleARN}
	if r.RegionalSTS {
		want[RegionalSTSAnnotation] = "true"
	}
	c := &plan.Change{ID: "serviceaccount", Kind: KindSA, Name: r.Namespace + "/" + r.ServiceAccount, Format: "yaml",
		Deps: []string{"namespace", "role"}}
	view := func(annots map[string]string) string {
		return toYAML(map[string]any{"apiVersion": "v1", "kind": "ServiceAccount",
			"metadata": map[string]any{"name": r.ServiceAccount, "namespace": r.Namespace, "annotations": annots}})
	}
	c.After = view(want)
	apply := func(ctx context.Context) error {
		ac := applycorev1.ServiceAccount(r.ServiceAccount, r.Namespace).WithAnnotations(want)
		_, err := b.Core.ServiceAccounts(r.Namespace).Apply(ctx, ac, metav1.ApplyOptions{FieldManager: FieldManager, Force: true})
		return err
	}
	if sa == nil {
		c.Action = plan.Create
		c.Apply = apply
		return c
	}
	current := map[string]string{}
	for k := range want {
		if v, ok := sa.Annotations[k]; ok {
			current[k] = v
		}
	}
	// Turning regional endpoints off removes the annotation only if bind set it; another tool's stays.
	removeRegional := !r.RegionalSTS && sa.Annotations[RegionalSTSAnnotation] != "" &&
		ownsField(sa.ManagedFields, FieldManager, `"f:`+RegionalSTSAnnotation+`"`)
	if removeRegional {
		current[RegionalSTSAnnotation] = sa.Annotations[RegionalSTSAnnotation]
	}
	c.Before = view(current)
	if !removeRegional && mapsEqual(current, want) {
		c.Action = plan.Unchanged
		return c
	}
	c.Action = plan.Update
	c.Notes = []string{"server-side apply as " + FieldManager + ": other annotations and labels stay"}
	c.Apply = apply
	return c
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if bv, ok := b[k]; !ok || bv != v {
			return false
		}
	}
	return true
}

// deploymentChange: the Deployment runs under the ServiceAccount with the fsGroup; with
// --create-deployment a missing one is created in the original guide's shape.
func (b *Binder) deploymentChange(res *Result) (*plan.Change, error) {
	r, d := res.Request, res.Observed.Deployment
	c := &plan.Change{ID: "deployment", Kind: KindDeployment, Name: r.Namespace + "/" + r.Deployment, Format: "yaml",
		Deps: []string{"serviceaccount"}}
	if d == nil && !r.CreateDeployment {
		return nil, &FlagError{Flag: "--deployment", Value: r.Deployment, Rule: fmt.Sprintf(
			"no such Deployment in namespace %s: create it first, or add --create-deployment --image IMAGE", r.Namespace)}
	}
	managed := map[string]any{"serviceAccountName": r.ServiceAccount}
	if r.FSGroup != LeaveFSGroup {
		managed["securityContext"] = map[string]any{"fsGroup": r.FSGroup}
	}
	view := func(spec map[string]any) string {
		return toYAML(map[string]any{"apiVersion": "apps/v1", "kind": "Deployment",
			"metadata": map[string]any{"name": r.Deployment, "namespace": r.Namespace},
			"spec":     map[string]any{"template": map[string]any{"spec": spec}}})
	}
	if d == nil {
		labels := map[string]string{"app": r.Deployment}
		ac := applyappsv1.Deployment(r.Deployment, r.Namespace).WithSpec(applyappsv1.DeploymentSpec().
			WithSelector(applymetav1.LabelSelector().WithMatchLabels(labels)).
			WithTemplate(applycorev1.PodTemplateSpec().WithLabels(labels).WithSpec(applycorev1.PodSpec().
				WithContainers(applycorev1.Container().WithName(r.Deployment).WithImage(r.Image)))))
		setPodIdentity(ac, r)
		c.Action = plan.Create
		c.After = toYAML(ac)
		c.Apply = func(ctx context.Context) error {
			_, err := b.Apps.Deployments(r.Namespace).Apply(ctx, ac, metav1.ApplyOptions{FieldManager: FieldManager, Force: true})
			return err
		}
		return c, nil
	}
	current := map[string]any{"serviceAccountName": d.Spec.Template.Spec.ServiceAccountName}
	if r.FSGroup != LeaveFSGroup {
		var fs any
		if sc := d.Spec.Template.Spec.SecurityContext; sc != nil && sc.FSGroup != nil {
			fs = *sc.FSGroup
		}
		current["securityContext"] = map[string]any{"fsGroup": fs}
	}
	c.Before, c.After = view(current), view(managed)
	if c.Before == c.After {
		c.Action = plan.Unchanged
		return c, nil
	}
	c.Action = plan.Update
	c.Notes = []string{"server-side apply of these fields only; every other field stays; the pods roll"}
	if r.CreateDeployment {
		c.Notes = append(c.Notes, "exists already: its image and other fields are left as they are")
	}
	c.Apply = func(ctx context.Context) error {
		// Start from every field kubectl-sdc already owns (all of them, when bind created the Deployment):
		// an apply that left them out would remove them, selector and containers included.
		ac, err := applyappsv1.ExtractDeployment(d, FieldManager)
		if err != nil {
			return fmt.Errorf("reading the fields %s manages on Deployment %s/%s: %w", FieldManager, r.Namespace, r.Deployment, err)
		}
		setPodIdentity(ac, r)
		_, err = b.Apps.Deployments(r.Namespace).Apply(ctx, ac, metav1.ApplyOptions{FieldManager: FieldManager, Force: true})
		return err
	}
	return c, nil
}

// setPodIdentity sets the two fields bind manages on a Deployment's pod template, on top of whatever else
// the apply configuration holds.
func setPodIdentity(ac *applyappsv1.DeploymentApplyConfiguration, r *Request) {
	if ac.Spec == nil {
		ac.WithSpec(applyappsv1.DeploymentSpec())
	}
	if ac.Spec.Template == nil {
		ac.Spec.WithTemplate(applycorev1.PodTemplateSpec())
	}
	if ac.Spec.Template.Spec == nil {
		ac.Spec.Template.WithSpec(applycorev1.PodSpec())
	}
	spec := ac.Spec.Template.Spec
	spec.WithServiceAccountName(r.ServiceAccount)
	if r.FSGroup != LeaveFSGroup {
		if spec.SecurityContext == nil {
			spec.WithSecurityContext(applycorev1.PodSecurityContext())
		}
		spec.SecurityContext.WithFSGroup(r.FSGroup)
	}
}

// restartChange: pods that started before the role annotation have no AWS identity (the webhook mutates
// pods only when they are created); restart them the way `kubectl rollout restart` does, unless the
// Deployment change already rolls them. Pods created after the annotation that still lack it were skipped
// by the webhook (or there is none): a restart would not help, so that is only noted.
func (b *Binder) restartChange(res *Result, sa, deploy *plan.Change) *plan.Change {
	r, o := res.Request, res.Observed
	if !r.Restart || o.Deployment == nil || deploy.Action != plan.Unchanged {
		return nil
	}
	annotatedAt := b.now()
	if sa.Action == plan.Unchanged {
		annotatedAt = roleAnnotationTime(o.ServiceAccount)
		// A restart asked for after the annotation is a rollout under way: the old pods go when the new
		// ones are ready. Asking again would only start another rollout.
		if t, err := time.Parse(time.RFC3339, o.Deployment.Spec.Template.Annotations[RestartedAtAnnotation]); err == nil && !t.Before(annotatedAt.Truncate(time.Second)) {
			return nil
		}
	}
	var stale, skipped []string
	for _, p := range o.Pods {
		// Pods under another ServiceAccount belong to an older template that a rollout is already replacing.
		if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed ||
			p.Spec.ServiceAccountName != r.ServiceAccount {
			continue
		}
		if hasRoleEnv(&p, res.Names.RoleARN) {
			continue
		}
		if p.CreationTimestamp.Time.Before(annotatedAt) {
			stale = append(stale, p.Name)
		} else {
			skipped = append(skipped, p.Name)
		}
	}
	if len(skipped) > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("pods %s started after the role annotation but have no AWS_ROLE_ARN: is the pod identity webhook running? (kubectl sdc doctor)", strings.Join(skipped, ", ")))
	}
	if len(stale) == 0 {
		return nil
	}
	c := &plan.Change{ID: "restart", Kind: KindRestart, Name: r.Namespace + "/" + r.Deployment, Action: plan.Update,
		Deps:  []string{"serviceaccount"},
		Notes: []string{fmt.Sprintf("%d pod(s) started before the role annotation (%s): restarting them as `kubectl rollout restart` does", len(stale), strings.Join(stale, ", "))}}
	c.Apply = func(ctx context.Context) error {
		patch := fmt.Sprintf(`{"spec":{"template":{"metadata":{"annotations":{%q:%q}}}}}`, RestartedAtAnnotation, b.now().Format(time.RFC3339))
		_, err := b.Apps.Deployments(r.Namespace).Patch(ctx, r.Deployment, types.StrategicMergePatchType, []byte(patch),
			metav1.PatchOptions{FieldManager: FieldManager})
		return err
	}
	return c
}

// roleAnnotationTime is when the role annotation was last written, from the managed fields.
func roleAnnotationTime(sa *corev1.ServiceAccount) time.Time {
	var t time.Time
	if sa == nil {
		return t
	}
	for _, f := range sa.ManagedFields {
		if f.FieldsV1 != nil && f.Time != nil && strings.Contains(string(f.FieldsV1.Raw), `"f:`+RoleARNAnnotation+`"`) && f.Time.After(t) {
			t = f.Time.Time
		}
	}
	return t
}

func hasRoleEnv(p *corev1.Pod, roleARN string) bool {
	for _, cs := range [][]corev1.Container{p.Spec.InitContainers, p.Spec.Containers} {
		for _, c := range cs {
			for _, e := range c.Env {
				if e.Name == "AWS_ROLE_ARN" && e.Value == roleARN {
					return true
				}
			}
		}
	}
	return false
}

func getPolicyInput(arn string) *iam.GetPolicyInput {
	return &iam.GetPolicyInput{PolicyArn: aws.String(arn)}
}
