package doctor

// Checks returns every check in run order: cluster-wide first, then per target, each after the checks it
// needs. The IDs are a stable contract (scripts depend on them): add, never rename.
func Checks() []Check {
	return []Check{
		kubeContext,
		clusterIssuer,
		awsIdentity,
		awsOperator,
		iamOIDCProvider,
		iamOIDCAudience,
		kubeWebhook,
		eksPodIdentityAgent,

		kubeServiceAccount,
		kubeRoleAnnotation,
		eksPodIdentityAssociation,
		iamRole,
		iamTrust,
		iamTrustScope,
		iamPermissions,
		iamPermissionsBoundary,
		iamAssumeRoleTarget,
		kubeDeployment,
		kubeFSGroup,
		kubePodEnv,
		kubeStaticCredentials,
		sdcVersion,

		probeAssumeRole,
		probeAssumeRoleTarget,
		probeAccess,
	}
}
