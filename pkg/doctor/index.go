package doctor

import (
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// index groups the Kubernetes lists by namespace once, so that a target's lookups scan its namespace
// rather than the whole cluster's lists: with 10,000 ServiceAccounts, Deployments and pods, a scan per
// target is 10^8 steps, which once made doctor -A and list -A take half a minute.
type index struct {
	once            sync.Once
	deployments     map[string][]*appsv1.Deployment // by namespace, in list order
	pods            map[string][]*corev1.Pod        // by namespace, in list order
	serviceAccounts map[string]*corev1.ServiceAccount
}

// lookup is f's index, built on first use (checks run in parallel).
func (f *Facts) lookup() *index {
	f.idx.once.Do(func() {
		x := &f.idx
		x.deployments = map[string][]*appsv1.Deployment{}
		x.pods = map[string][]*corev1.Pod{}
		x.serviceAccounts = make(map[string]*corev1.ServiceAccount, len(f.ServiceAccounts))
		for i := range f.Deployments {
			d := &f.Deployments[i]
			x.deployments[d.Namespace] = append(x.deployments[d.Namespace], d)
		}
		for i := range f.Pods {
			p := &f.Pods[i]
			x.pods[p.Namespace] = append(x.pods[p.Namespace], p)
		}
		for i := range f.ServiceAccounts {
			sa := &f.ServiceAccounts[i]
			x.serviceAccounts[sa.Namespace+"/"+sa.Name] = sa
		}
	})
	return &f.idx
}

// DeploymentsIn are the namespace's Deployments, in list order.
func (f *Facts) DeploymentsIn(ns string) []*appsv1.Deployment { return f.lookup().deployments[ns] }

// PodsIn are the namespace's pods, in list order.
func (f *Facts) PodsIn(ns string) []*corev1.Pod { return f.lookup().pods[ns] }

// ServiceAccount is the ServiceAccount ns/name of the lists, nil when there is none.
func (f *Facts) ServiceAccount(ns, name string) *corev1.ServiceAccount {
	return f.lookup().serviceAccounts[ns+"/"+name]
}
