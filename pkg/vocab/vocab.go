// Package vocab holds the words of the domain once: the Kubernetes annotations and IAM tags kubectl-sdc
// reads and writes, IAM's name rules and limits, the default names, and how ARNs, token subjects and
// issuer host paths are built and parsed. It is a leaf: every other package may import it, it imports none
// of them, and it does no I/O.
package vocab

// ServiceAccount annotations of the EKS pod identity webhook (what EKS reads, what bind writes).
const (
	// RoleARNAnnotation names the IAM role whose credentials the pods get.
	RoleARNAnnotation = "eks.amazonaws.com/role-arn"
	// AudienceAnnotation overrides the token audience (default DefaultAudience).
	AudienceAnnotation = "eks.amazonaws.com/audience"
	// RegionalSTSAnnotation = "true" makes pods use their region's STS endpoint.
	RegionalSTSAnnotation = "eks.amazonaws.com/sts-regional-endpoints"
	// TokenExpirationAnnotation is the projected token's lifetime in seconds.
	TokenExpirationAnnotation = "eks.amazonaws.com/token-expiration"
)

// CreatedAnnotation = "true" marks a ServiceAccount that bind created (rather than found): kubectl sdc
// unbind --delete-service-account deletes only those. Nothing in the API tells who created an object.
const CreatedAnnotation = "kubectl-sdc/created"

// RestartedAtAnnotation is the pod template annotation `kubectl rollout restart` sets.
const RestartedAtAnnotation = "kubectl.kubernetes.io/restartedAt"

// FieldManager is the server-side apply field manager of every Kubernetes write.
const FieldManager = "kubectl-sdc"

// Tags on the IAM resources kubectl-sdc makes.
const (
	// ManagedByKey = ManagedByValue marks what kubectl-sdc made (and may change or delete).
	ManagedByKey   = "app.kubernetes.io/managed-by"
	ManagedByValue = "kubectl-sdc"
	// TagCluster is the cluster's name; TagClusterARN its ARN (region and account included), which tells
	// two clusters of one name apart.
	TagCluster    = "kubectl-sdc/cluster"
	TagClusterARN = "kubectl-sdc/cluster-arn"
	// TagNamespace and TagServiceAccount name the binding a role serves.
	TagNamespace      = "kubectl-sdc/namespace"
	TagServiceAccount = "kubectl-sdc/service-account"
	// TagStages records the catalog stages and parameters of the last bind (see catalog.EncodeTag).
	TagStages = "kubectl-sdc/stages"
)

// Defaults.
const (
	// DefaultServiceAccount is the ServiceAccount bind and doctor use without --service-account.
	DefaultServiceAccount = "sdc"
	// DefaultAudience is the token audience IRSA uses unless the ServiceAccount's AudienceAnnotation says
	// otherwise.
	DefaultAudience = "sts.amazonaws.com"
	// DefaultFSGroup is the pod fsGroup of the original guide (nobody's group): it makes the projected
	// token readable by SDC's non-root user on clusters older than Kubernetes 1.19.
	DefaultFSGroup = int64(65534)
	// LeaveFSGroup tells bind to leave a pod's fsGroup as it is.
	LeaveFSGroup = int64(-1)
)

// IAM's limits (IAM and STS quotas). Document sizes are counted without whitespace, as IAM counts them.
const (
	MaxRoleName       = 64
	MaxPolicyName     = 128
	MaxTagKey         = 128
	MaxTagValue       = 256
	MaxRoleTags       = 50
	MaxPolicyVersions = 5
	// MaxTrustPolicy is the default quota for a role trust policy; it can be raised to MaxTrustPolicyRaised.
	MaxTrustPolicy       = 2048
	MaxTrustPolicyRaised = 4096
	MaxManagedPolicy     = 6144
	MaxInlinePolicies    = 10240
	// MaxAttachedPolicies is the default quota of managed policies attached to one role.
	MaxAttachedPolicies = 10
)

// The STS action a pod's web identity token performs.
const ActionAssumeRoleWithWebIdentity = "sts:AssumeRoleWithWebIdentity"
