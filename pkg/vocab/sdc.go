package vocab

// Facts of StreamSets Data Collector as its image ships it (the datacollector image's Dockerfile and the
// SDC documentation): what a Deployment running it needs to say, and what doctor checks against.
const (
	// DefaultDeploymentName is the name of the Deployment (and of its container and app label) in the
	// original guide's manifest, and the default of `kubectl sdc manifest --name`.
	DefaultDeploymentName = "sdc"
	// SDCPort is the port of SDC's web UI and REST API (http.port in sdc.properties).
	SDCPort = int32(18630)
	// SDCUID is the user ID of the non-root user sdc the image runs as (its group ID is the same).
	SDCUID = int64(20159)
)

// Mechanism is how a pod gets the AWS identity of its ServiceAccount.
type Mechanism string

// The mechanisms kubectl-sdc knows: IRSA (the default, the original guide's way) and EKS Pod Identity
// (MechanismPodIdentity, in podidentity.go). The manifest follows what the ServiceAccount uses.
const (
	// MechanismIRSA is IAM Roles for Service Accounts: the role-arn annotation, the pod identity webhook
	// and a projected web identity token (which the pod's fsGroup makes readable by a non-root user).
	MechanismIRSA Mechanism = "irsa"
)

// SDC's "Assume Another Role", as its code makes the call (datacollector-oss: aws-support
// AWSUtil.getCredentialsProvider, kinesis-lib AWSKinesisUtil; the stages' AWSConfig): STS AssumeRole on top
// of the default credential chain, with a random UUID as the session name unless one is configured, the
// stage's "Session Timeout" as the duration, and, because "Set Session Tags" is on by default, one session
// tag naming the user who starts the pipeline. A tagged AssumeRole needs sts:TagSession from the caller's
// permissions and the target role's trust (IAM User Guide, "Pass session tags in AWS STS").
const (
	// SDCSessionTagKey is the session tag SDC sets ("Set Session Tags", default on).
	SDCSessionTagKey = "streamsets/principal"
	// SDCSessionSeconds is "Session Timeout"'s default and minimum; a session assumed from a role session
	// (IRSA's or Pod Identity's) is role chaining, which STS caps at one hour, so it must stay 3600.
	SDCSessionSeconds = 3600
	// RoleChainingMaxSeconds is the longest session STS grants a role session that assumes a role.
	RoleChainingMaxSeconds = 3600
)
