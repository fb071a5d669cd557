package vocab

import (
	"fmt"
	"strings"
)

// MechanismPodIdentity is EKS Pod Identity: an association (cluster, namespace, ServiceAccount -> role) made
// through the EKS API, a role trusting the service principal PodIdentityService, and the
// eks-pod-identity-agent on the nodes handing pods the role's credentials. No OIDC provider and no
// annotation are involved.
const MechanismPodIdentity Mechanism = "pod-identity"

// Mechanisms lists the mechanisms kubectl-sdc knows, the default first.
var Mechanisms = []Mechanism{MechanismIRSA, MechanismPodIdentity}

// ParseMechanism reads a --mechanism value.
func ParseMechanism(flag, v string) (Mechanism, error) {
	for _, m := range Mechanisms {
		if string(m) == v {
			return m, nil
		}
	}
	names := make([]string, len(Mechanisms))
	for i, m := range Mechanisms {
		names[i] = string(m)
	}
	return "", &FlagError{flag, v, "unknown mechanism: want " + strings.Join(names, " or ") +
		" (irsa: the role-arn annotation and an IAM OIDC provider, the original guide's way; pod-identity: an EKS Pod Identity association)"}
}

// MechanismBoth is how list names a ServiceAccount served by both mechanisms at once (an annotation and an
// association, as migrate leaves it before --remove-irsa): IRSA's environment comes first in the SDKs'
// credential chain, hence the order. It is a label, not a --mechanism value.
const MechanismBoth Mechanism = MechanismIRSA + "+" + MechanismPodIdentity

// MechanismOf names what serves a ServiceAccount: irsa, pod-identity or irsa+pod-identity ("" for neither).
func MechanismOf(irsa, podIdentity bool) Mechanism {
	switch {
	case irsa && podIdentity:
		return MechanismBoth
	case podIdentity:
		return MechanismPodIdentity
	case irsa:
		return MechanismIRSA
	}
	return ""
}

// Title is how the mechanism is named in prose.
func (m Mechanism) Title() string {
	switch m {
	case MechanismPodIdentity:
		return "EKS Pod Identity"
	case MechanismIRSA, "":
		return "IRSA"
	case MechanismBoth:
		return "IRSA and EKS Pod Identity"
	}
	return string(m)
}

// EKS Pod Identity's words (the EKS user guide: pod-id-role, pod-id-how-it-works, pod-id-abac).
const (
	// PodIdentityService is the service principal a Pod Identity role trusts, and the audience of the pod
	// tokens EKS Auth accepts.
	PodIdentityService = "pods.eks.amazonaws.com"
	// PodIdentityAgentAddon is the EKS add-on that runs the Pod Identity agent on the nodes.
	PodIdentityAgentAddon = "eks-pod-identity-agent"
	// PodIdentityTrustSid is the Sid of the trust statement the EKS user guide gives for Pod Identity.
	PodIdentityTrustSid = "AllowEksAuthToAssumeRoleForPodIdentity"

	// ActionAssumeRole and ActionTagSession are what the Pod Identity trust must allow the service
	// principal (EKS Auth assumes the role with session tags); ActionAssumeRole is also what SDC's
	// "Assume Another Role" performs with the pod's credentials.
	ActionAssumeRole = "sts:AssumeRole"
	ActionTagSession = "sts:TagSession"

	// EnvContainerCredentialsURI and EnvContainerTokenFile are what the pod identity webhook injects for a
	// ServiceAccount with an association; the SDKs' container credential provider reads them.
	EnvContainerCredentialsURI = "AWS_CONTAINER_CREDENTIALS_FULL_URI"
	EnvContainerTokenFile      = "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"
	// PodIdentityCredentialsURI is the agent's address on every node.
	PodIdentityCredentialsURI = "http://169.254.170.23/v1/credentials"
	// PodIdentityTokenFile is where the projected token is mounted.
	PodIdentityTokenFile = "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token"
	// PodIdentityTokenVolume is the projected volume holding it.
	PodIdentityTokenVolume = "eks-pod-identity-token"

	// EnvRoleARN and EnvWebIdentityTokenFile are what the webhook injects for IRSA; the SDKs' web identity
	// provider comes before the container provider, so these win over Pod Identity.
	EnvRoleARN              = "AWS_ROLE_ARN"
	EnvWebIdentityTokenFile = "AWS_WEB_IDENTITY_TOKEN_FILE"
)

// The session tags EKS Pod Identity puts on every session, in the order EKS documents them; a trust
// condition on aws:RequestTag/<key> sees them.
const (
	SessionTagClusterARN     = "eks-cluster-arn"
	SessionTagClusterName    = "eks-cluster-name"
	SessionTagNamespace      = "kubernetes-namespace"
	SessionTagServiceAccount = "kubernetes-service-account"
	SessionTagPodName        = "kubernetes-pod-name"
	SessionTagPodUID         = "kubernetes-pod-uid"
)

// SessionTagKeys are the session tags' keys, in EKS's order.
var SessionTagKeys = []string{SessionTagClusterARN, SessionTagClusterName, SessionTagNamespace, SessionTagServiceAccount, SessionTagPodName, SessionTagPodUID}

// The minimum AWS SDK for Java versions that read EKS Pod Identity credentials (the EKS user guide,
// pod-id-minimum-sdk). plugins.yaml holds them as data too; these name them in messages.
const (
	MinJavaSDKv1PodIdentity = "1.12.746"
	MinJavaSDKv2PodIdentity = "2.21.30"
)

// InstallAgentCommand is the command that installs the Pod Identity agent add-on on a cluster.
func InstallAgentCommand(cluster, region string) string {
	cmd := fmt.Sprintf("aws eks create-addon --cluster-name %s --addon-name %s", cluster, PodIdentityAgentAddon)
	if region != "" {
		cmd += " --region " + region
	}
	return cmd
}

// AssociationName is how messages and plans name a Pod Identity association: cluster/namespace/sa.
func AssociationName(cluster, namespace, serviceAccount string) string {
	return cluster + "/" + namespace + "/" + serviceAccount
}

// MaxSessionPolicy is STS's limit on the plain text of an inline session policy, which an EKS Pod Identity
// association's policy becomes.
const MaxSessionPolicy = 2048
