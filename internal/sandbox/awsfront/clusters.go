package awsfront

// The front answers EKS for every sandbox cluster, each in its own region and account, the way EKS scopes
// clusters: a cluster is visible only to callers of its account who sign for its region. Clusters are keyed
// by (account, region, name); names are unique across a sandbox.

// sandboxClusters lists the clusters the front answers for: Config.EKS first, then Config.Clusters.
func (f *Front) sandboxClusters() []*EKSCluster {
	var out []*EKSCluster
	if f.cfg.EKS != nil {
		out = append(out, f.cfg.EKS)
	}
	for i := range f.cfg.Clusters {
		cl := &f.cfg.Clusters[i]
		if f.cfg.EKS != nil && cl.Name == f.cfg.EKS.Name && f.samePlace(cl, f.cfg.EKS) {
			continue
		}
		out = append(out, cl)
	}
	return out
}

// clusterPlace is the account and region of a sandbox cluster.
func (f *Front) clusterPlace(cl *EKSCluster) (account, region string) {
	account, region = cl.AccountID, cl.Region
	if account == "" {
		account = f.accountID()
	}
	if region == "" {
		region = f.cfg.Region
	}
	return account, region
}

func (f *Front) samePlace(a, b *EKSCluster) bool {
	aa, ar := f.clusterPlace(a)
	ba, br := f.clusterPlace(b)
	return aa == ba && ar == br
}

// sandboxCluster is the sandbox cluster name in account and region, or nil.
func (f *Front) sandboxCluster(account, region, name string) *EKSCluster {
	for _, cl := range f.sandboxClusters() {
		if a, r := f.clusterPlace(cl); cl.Name == name && a == account && r == region {
			return cl
		}
	}
	return nil
}

// sandboxClusterNames lists the sandbox clusters of account in region, in configuration order.
func (f *Front) sandboxClusterNames(account, region string) []string {
	var names []string
	for _, cl := range f.sandboxClusters() {
		if a, r := f.clusterPlace(cl); a == account && r == region {
			names = append(names, cl.Name)
		}
	}
	return names
}

// callerAccount is the account of the call's access key; the front's own for unsigned calls.
func (f *Front) callerAccount(c *call) string {
	if c.Caller != nil && c.Caller.Account != "" {
		return c.Caller.Account
	}
	return f.accountID()
}
