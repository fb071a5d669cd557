package sandbox

// podIdentityAssociated answers the webhook from the AWS front's Pod Identity associations of this
// cluster; before the front is up no pod can have one.
func (c *Cluster) podIdentityAssociated(namespace, serviceAccount string) bool {
	f := c.front.Load()
	return f != nil && f.PodIdentityAssociated(c.Name, namespace, serviceAccount)
}
