package doctor

import (
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// index finds the ServiceAccounts of the lists by name once, so that a target's lookups do not scan the
// whole cluster's lists: with 10,000 ServiceAccounts, Deployments and pods, a scan per target is 10^8 steps,
// which once made doctor -A and list -A take half a minute. Deployments and pods are kept by namespace
// (kubeStore).
type index struct {
	once            sync.Once
	serviceAccounts map[string]*corev1.ServiceAccount
}

// lookup is f's index, built on first use (checks run in parallel).
func (f *Facts) lookup() *index {
	f.idx.once.Do(func() {
		x := &f.idx
		x.serviceAccounts = make(map[string]*corev1.ServiceAccount, len(f.ServiceAccounts))
		for i := range f.ServiceAccounts {
			sa := &f.ServiceAccounts[i]
			x.serviceAccounts[sa.Namespace+"/"+sa.Name] = sa
		}
	})
	return &f.idx
}

// DeploymentsIn are the namespace's Deployments, in list order.
func (f *Facts) DeploymentsIn(ns string) []*appsv1.Deployment { return f.store().view(ns).deployments }

// PodsIn are the namespace's pods, in list order.
func (f *Facts) PodsIn(ns string) []*corev1.Pod { return f.store().view(ns).pods }

// ServiceAccount is the ServiceAccount ns/name of the lists, nil when there is none.
func (f *Facts) ServiceAccount(ns, name string) *corev1.ServiceAccount {
	return f.lookup().serviceAccounts[ns+"/"+name]
}

// keptDeployment is the target's Deployment as kept, nil when it has none.
func (f *Facts) keptDeployment(t *Target) *storedDeployment {
	if t.Deployment == "" {
		return nil
	}
	ds := f.store().deploymentsOf(t.Namespace)
	for i := range ds {
		if ds[i].name == t.Deployment {
			return &ds[i]
		}
	}
	return nil
}
