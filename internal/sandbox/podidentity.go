package sandbox

// podIdentityAssociated answers the webhook from the AWS front's Pod Identity associations of the sandbox
// cluster; before the front is up no pod can have one.
func (s *Sandbox) podIdentityAssociated(namespace, serviceAccount string) bool {
	f := s.frontRef.Load()
	return f != nil && f.PodIdentityAssociated(ClusterName, namespace, serviceAccount)
}
