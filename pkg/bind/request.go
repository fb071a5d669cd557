// Package bind computes and applies what `kubectl sdc bind` makes true: the IAM OIDC provider, the policy,
// the role and its trust, the namespace, the annotated ServiceAccount and the Deployment settings, creating
// or changing only what is not already so. It works in three steps: Observe reads everything (all the
// I/O), Plan computes the changes as a pure function of what was observed and what was asked, and Apply
// carries them out.
package bind

import (
	"errors"
	"fmt"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/catalog"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/manifest"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

const (
	roleDescriptionTemplate            = "IRSA role of ServiceAccount %s/%s on cluster %s, made by kubectl-sdc"
	podIdentityRoleDescriptionTemplate = "EKS Pod Identity role of ServiceAccount %s/%s on cluster %s, made by kubectl-sdc"
)

// FlagError is bad input, named by its flag (see vocab.FlagError).
type FlagError = vocab.FlagError

// Request is what the user asked bind for, after flag parsing. Plan never changes it.
type Request struct {
	Namespace      string
	ServiceAccount string
	// Deployment, when set, is made to run under the ServiceAccount with FSGroup.
	Deployment string
	// CreateDeployment creates Deployment in the original guide's shape when it does not exist.
	CreateDeployment bool
	Image            string
	FSGroup          int64 // vocab.LeaveFSGroup leaves the pod security context alone
	Restart          bool  // restart pods that predate the role annotation
	// RoleName and PolicyName override the default names.
	RoleName, PolicyName string
	RegionalSTS          bool
	// TrustPolicyLimit is the role trust policy length quota of the account: 0 means IAM's default,
	// vocab.MaxTrustPolicy; an account whose quota was raised may give up to vocab.MaxTrustPolicyRaised.
	TrustPolicyLimit int
	// Audience is the token audience to trust; "" means the ServiceAccount's eks.amazonaws.com/audience
	// annotation when it has one (the audience its pods' tokens carry), else vocab.DefaultAudience.
	Audience string
	// Permissions: catalog stages and parameters, or a policy document, and/or policies to attach.
	Catalog          *catalog.Catalog
	Selection        catalog.Selection
	PolicyDocument   *iampolicy.Policy
	AttachPolicyARNs []string
	// Guardrails are the organization's rules for the IAM resources bind makes (see guardrails.go).
	Guardrails Guardrails
	// AssumeRoleARN is the role in another account that the SDC stages assume ("Assume Another Role"); the
	// stages' permissions then live there and this binding's role may only assume it (see target.go).
	AssumeRoleARN string
	// TargetProfile names the AWS profile whose credentials bind uses in the target's account (AssumeRoleARN
	// or TargetRoleARN); without it bind changes nothing there and prints what its owners must add.
	TargetProfile string
	// TargetRoleARN (Pod Identity only) is the association's target role: EKS Pod Identity's own chain, in
	// which EKS assumes the binding's role, then this one, and hands the pods its credentials. The stages'
	// permissions then live there and the binding's role may only assume it.
	TargetRoleARN string
	// DisableSessionTags (Pod Identity only) sets the association's disableSessionTags; nil leaves an
	// existing association's setting as it is (a new one has session tags).
	DisableSessionTags *bool
	// SubjectPattern (IRSA only, with RoleName) admits every ServiceAccount whose subject matches it (IAM's
	// StringLike on <issuer>:sub), e.g. system:serviceaccount:sdc-*:sdc: a role meant for many.
	SubjectPattern string
	// SessionPolicy (Pod Identity only) is the association's policy, which narrows the credentials the pods
	// get; EKS requires session tags disabled for it. nil: the association has none.
	SessionPolicy *iampolicy.Policy

	// Via is how the pods get the role: vocab.MechanismIRSA (also "") or vocab.MechanismPodIdentity.
	Via vocab.Mechanism
	// RegionalSTSSet records that --sts-regional-endpoints was given: it is IRSA's alone.
	RegionalSTSSet bool
	// RemoveIRSA (Pod Identity only) removes the ServiceAccount's role annotation, when bind set it, and the
	// ServiceAccount from the role's web identity trust.
	RemoveIRSA bool
	// Force (Pod Identity only) binds even an SDC release known to bundle an AWS SDK that cannot read Pod
	// Identity credentials.
	Force bool
	// PrintedImage is the image of the manifest --print-manifest prints: checked like a Deployment's.
	PrintedImage string
	// KeepPermissions leaves the role's policies alone (migrate: the permissions stay as they are).
	KeepPermissions bool
}

// Validate checks everything that can be checked without calling anything, so bad input fails before any
// read or write. Catalog parameters are checked by rendering against a placeholder account.
func (r *Request) Validate() error {
	if err := r.validateMechanism(); err != nil {
		return err
	}
	if err := vocab.ValidateNamespace("--namespace", r.Namespace); err != nil {
		return err
	}
	if err := vocab.ValidateObjectName("--service-account", r.ServiceAccount); err != nil {
		return err
	}
	if r.Deployment != "" {
		if err := vocab.ValidateObjectName("--deployment", r.Deployment); err != nil {
			return err
		}
	}
	if r.FSGroup < vocab.LeaveFSGroup || r.FSGroup > 2147483647 {
		return &FlagError{Flag: "--fs-group", Rule: "must be a group ID from 0 to 2147483647, or -1 to leave the pod's fsGroup alone"}
	}
	if r.CreateDeployment {
		if r.Deployment == "" {
			return &FlagError{Flag: "--create-deployment", Rule: "needs --deployment NAME (the Deployment to create)"}
		}
		if r.Image == "" {
			return &FlagError{Flag: "--image", Rule: "is required with --create-deployment (an SDC image, e.g. streamsets/datacollector:5.11.0)"}
		}
		// The Deployment to create is the manifest's: its name is also its container's and app label's.
		created := r.podIdentity()
		created.Name, created.Image = r.Deployment, r.Image
		if err := created.Validate(); err != nil {
			return err
		}
	} else if r.Image != "" {
		return &FlagError{Flag: "--image", Value: r.Image, Rule: "is only used with --create-deployment or --print-manifest"}
	}
	if r.RoleName != "" {
		if err := vocab.ValidateIAMName("--role-name", r.RoleName, vocab.MaxRoleName); err != nil {
			return err
		}
	}
	if r.PolicyName != "" {
		if err := vocab.ValidateIAMName("--policy-name", r.PolicyName, vocab.MaxPolicyName); err != nil {
			return err
		}
	}
	if r.TrustPolicyLimit != 0 && (r.TrustPolicyLimit < vocab.MaxTrustPolicy || r.TrustPolicyLimit > vocab.MaxTrustPolicyRaised) {
		return &FlagError{Flag: "--trust-policy-limit", Value: fmt.Sprint(r.TrustPolicyLimit), Rule: fmt.Sprintf(
			"IAM's role trust policy length quota is %d by default and can be raised to at most %d", vocab.MaxTrustPolicy, vocab.MaxTrustPolicyRaised)}
	}
	for _, a := range r.AttachPolicyARNs {
		if err := vocab.ValidatePolicyARN("--attach-policy-arn", a); err != nil {
			return err
		}
	}
	if err := r.Guardrails.validate(); err != nil {
		return err
	}
	if err := r.validateTarget(); err != nil {
		return err
	}
	if err := r.validatePattern(); err != nil {
		return err
	}
	hasStages := len(r.Selection.Stages) > 0
	switch {
	case r.KeepPermissions && (hasStages || r.PolicyDocument != nil || len(r.AttachPolicyARNs) > 0):
		return errors.New("internal: permissions given to a request that keeps them")
	case r.KeepPermissions:
	case hasStages && r.PolicyDocument != nil:
		return &FlagError{Flag: "--policy-file", Rule: "cannot be combined with --stage/--bucket: give the permissions one way"}
	case !hasStages && len(r.Selection.Params) > 0:
		return &FlagError{Flag: "--set", Rule: "parameters need a --stage (see `kubectl sdc stages`)"}
	case !hasStages && r.PolicyDocument == nil && len(r.AttachPolicyARNs) == 0 && r.target() == "":
		return errors.New("no permissions given: use --stage NAME (see `kubectl sdc stages`), --bucket BUCKET, --policy-file FILE, --attach-policy-arn ARN, --assume-role-arn ARN or --target-role-arn ARN")
	case r.PolicyName != "" && !r.ownPolicy():
		return &FlagError{Flag: "--policy-name", Value: r.PolicyName, Rule: "names the policy made from --stage, --policy-file or --assume-role-arn, and there is none"}
	}
	if hasStages {
		if r.Catalog == nil {
			return errors.New("internal: no catalog")
		}
		doc, _, err := r.Catalog.Render(r.Selection, catalog.Target{Partition: "aws", Region: "us-east-1", Account: "000000000000"})
		if err != nil {
			return err
		}
		p, err := iampolicy.Parse(doc)
		if err != nil {
			return err
		}
		if err := p.Validate(iampolicy.Identity); err != nil {
			return &FlagError{Flag: "--stage", Rule: err.Error()}
		}
	}
	if r.PolicyDocument != nil {
		if err := r.PolicyDocument.Validate(iampolicy.Identity); err != nil {
			return &FlagError{Flag: "--policy-file", Rule: err.Error()}
		}
	}
	return nil
}

// trustLimit is the trust policy length bind checks against.
func (r *Request) trustLimit() int {
	if r.TrustPolicyLimit == 0 {
		return vocab.MaxTrustPolicy
	}
	return r.TrustPolicyLimit
}

// Mechanism is how the pods of the binding get its AWS identity: IRSA unless Via says otherwise.
func (r *Request) Mechanism() vocab.Mechanism {
	if r.Via == "" {
		return vocab.MechanismIRSA
	}
	return r.Via
}

// podIdentityMode reports whether bind sets up EKS Pod Identity.
func (r *Request) podIdentityMode() bool { return r.Mechanism() == vocab.MechanismPodIdentity }

// validateMechanism checks the mechanism and the flags that belong to one mechanism only.
func (r *Request) validateMechanism() error {
	if _, err := vocab.ParseMechanism("--mechanism", string(r.Mechanism())); err != nil {
		return err
	}
	if r.podIdentityMode() {
		if r.RegionalSTSSet {
			return &FlagError{Flag: "--sts-regional-endpoints", Rule: "sets an annotation of IRSA's; --mechanism pod-identity uses none (the Pod Identity agent sets the pods' region itself): leave the flag out"}
		}
		return nil
	}
	switch {
	case r.RemoveIRSA:
		return &FlagError{Flag: "--remove-irsa", Rule: "removes IRSA once EKS Pod Identity serves the ServiceAccount: it needs --mechanism pod-identity (or kubectl sdc migrate --remove-irsa)"}
	case r.Force:
		return &FlagError{Flag: "--force", Rule: "binds an SDC image that cannot use EKS Pod Identity anyway: it is for --mechanism pod-identity only"}
	case r.TargetRoleARN != "":
		return &FlagError{Flag: "--target-role-arn", Value: r.TargetRoleARN, Rule: "is the target role of an EKS Pod Identity association: it needs --mechanism pod-identity (with IRSA, --assume-role-arn has SDC assume the role)"}
	case r.DisableSessionTags != nil:
		return &FlagError{Flag: "--disable-session-tags", Rule: "sets an EKS Pod Identity association's setting: it needs --mechanism pod-identity"}
	case r.SessionPolicy != nil:
		return &FlagError{Flag: "--session-policy", Rule: "is an EKS Pod Identity association's policy: it needs --mechanism pod-identity"}
	}
	return nil
}

// validatePattern checks --subject-pattern: IRSA's, on a role shared on purpose, well formed, and admitting
// the ServiceAccount bound now.
func (r *Request) validatePattern() error {
	if r.SubjectPattern == "" {
		return nil
	}
	if r.podIdentityMode() {
		return &FlagError{Flag: "--subject-pattern", Value: r.SubjectPattern, Rule: "is a condition of IRSA's trust; EKS Pod Identity admits ServiceAccounts by association: leave it out, or use --mechanism irsa"}
	}
	if err := vocab.ValidateSubjectPattern("--subject-pattern", r.SubjectPattern); err != nil {
		return err
	}
	if r.RoleName == "" {
		return &FlagError{Flag: "--subject-pattern", Value: r.SubjectPattern, Rule: "makes a role for many ServiceAccounts, which is shared on purpose: name it with --role-name"}
	}
	if own := vocab.Subject(r.Namespace, r.ServiceAccount); !iampolicy.PatternAdmits(r.SubjectPattern, own) {
		return &FlagError{Flag: "--subject-pattern", Value: r.SubjectPattern, Rule: "does not admit the ServiceAccount being bound (" + own + "): bind annotates it, so the pattern must match it"}
	}
	return nil
}

// sessionTagsDisabled is whether the association ends up with session tags disabled: as asked, else as it
// is (observed; nil for none).
func (r *Request) sessionTagsDisabled(observed *bool) bool {
	switch {
	case r.DisableSessionTags != nil:
		return *r.DisableSessionTags
	case observed != nil:
		return *observed
	}
	return false
}

// podIdentity is what the Deployment's pod spec needs for the binding: the ServiceAccount, the fsGroup and
// the mechanism.
func (r *Request) podIdentity() manifest.Options {
	return manifest.Options{ServiceAccount: r.ServiceAccount, FSGroup: r.FSGroup, Mechanism: r.Mechanism(),
		NameFlag: "--deployment", ImageFlag: "--image"}
}

// ownPolicy reports whether bind makes a customer managed policy for the role: from stages or a policy
// file, or to let it assume the target (AssumeRoleARN or TargetRoleARN).
func (r *Request) ownPolicy() bool {
	return r.grants() || r.target() != ""
}

// target is the role in which the stages' permissions live: SDC's Assume Another Role's, or the Pod
// Identity association's target role ("" for neither).
func (r *Request) target() string {
	if r.TargetRoleARN != "" {
		return r.TargetRoleARN
	}
	return r.AssumeRoleARN
}

// targetFlag is the flag that named the target.
func (r *Request) targetFlag() string {
	if r.TargetRoleARN != "" {
		return "--target-role-arn"
	}
	return "--assume-role-arn"
}

// chain reports whether the target is reached through EKS Pod Identity's own chain (EKS assumes it),
// rather than by SDC's Assume Another Role.
func (r *Request) chain() bool { return r.TargetRoleARN != "" }

// grants reports whether the request gives permissions of its own (stages or a policy file), which go to
// the role, or with AssumeRoleARN to the target role.
func (r *Request) grants() bool {
	return len(r.Selection.Stages) > 0 || r.PolicyDocument != nil
}

// validateTarget checks --assume-role-arn, --target-role-arn, --target-profile, --disable-session-tags and
// --session-policy before anything is read.
func (r *Request) validateTarget() error {
	if r.SessionPolicy != nil {
		if r.DisableSessionTags == nil || !*r.DisableSessionTags {
			return &FlagError{Flag: "--session-policy", Rule: "needs --disable-session-tags: EKS accepts an association's session policy only with its session tags disabled"}
		}
		if err := r.SessionPolicy.Validate(iampolicy.Identity); err != nil {
			return &FlagError{Flag: "--session-policy", Rule: "is not a valid IAM policy: " + err.Error()}
		}
		if n := len(r.SessionPolicy.Compact()); n > vocab.MaxSessionPolicy {
			return &FlagError{Flag: "--session-policy", Rule: fmt.Sprintf("is %d characters long (compact), and a session policy may be at most %d", n, vocab.MaxSessionPolicy)}
		}
	}
	if r.AssumeRoleARN != "" && r.TargetRoleARN != "" {
		return &FlagError{Flag: "--target-role-arn", Value: r.TargetRoleARN, Rule: "and --assume-role-arn are two ways to reach a role in another account: EKS's own chain (--target-role-arn: no SDC configuration, an SDC whose AWS SDK reads Pod Identity credentials) or SDC's Assume Another Role (--assume-role-arn); pick one"}
	}
	target := r.target()
	if target == "" {
		if r.TargetProfile != "" {
			return &FlagError{Flag: "--target-profile", Value: r.TargetProfile, Rule: "needs --assume-role-arn or --target-role-arn (the role in that account)"}
		}
		return nil
	}
	if err := vocab.ValidateRoleARN(r.targetFlag(), target); err != nil {
		return err
	}
	if !r.chain() && !vocab.ValidTagValue(target) {
		return &FlagError{Flag: "--assume-role-arn", Value: target, Rule: fmt.Sprintf(
			"bind records the target on the role in tag %s, and IAM tag values hold at most %d characters without commas", vocab.TagAssumeRoleARN, vocab.MaxTagValue)}
	}
	return nil
}
