package doctor

import (
	"bytes"
	"context"
	"fmt"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/pager"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// The Kubernetes lists of a run. Each is paged (listPageSize objects a page), the next page asked for
// while one is kept, and each object is reduced to what the checks read as its page arrives: the page
// itself is garbage once the next one is in, so a run holds the cluster's objects in their reduced form
// only. With ten thousand ServiceAccounts, Deployments and pods, the whole objects were most of what
// doctor -A held. ServiceAccounts come as metadata; Deployments and pods are reduced in their protobuf
// encoding (kubewire.go) to the objects reduceDeployment and reducePod make of them, which say what the
// checks read.

// listPages calls keep on every object of the list list pages through, one page fetched ahead of the one
// being kept.
func listPages(ctx context.Context, list func(context.Context, metav1.ListOptions) (runtime.Object, error), keep func(runtime.Object) error) error {
	p := pager.New(pager.ListPageFunc(list))
	p.PageSize = listPageSize
	p.PageBufferSize = 1
	return p.EachListItem(ctx, metav1.ListOptions{}, keep)
}

// listServiceAccounts lists the ServiceAccounts of ns as metadata only (names, annotations and managed
// fields are all the checks read) when a metadata client is there, and calls seen with each one as it
// arrives.
func (d *Doctor) listServiceAccounts(ctx context.Context, ns string, seen func(*corev1.ServiceAccount)) ([]corev1.ServiceAccount, error) {
	var out []corev1.ServiceAccount
	keep := func(m *metav1.ObjectMeta) {
		out = append(out, corev1.ServiceAccount{ObjectMeta: reduceServiceAccountMeta(m)})
		seen(&out[len(out)-1])
	}
	var err error
	if d.Metadata != nil {
		gvr := corev1.SchemeGroupVersion.WithResource("serviceaccounts")
		err = listPages(ctx, func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return d.Metadata.Resource(gvr).Namespace(ns).List(ctx, o)
		}, func(obj runtime.Object) error {
			m, ok := obj.(*metav1.PartialObjectMetadata)
			if !ok {
				return fmt.Errorf("listing ServiceAccounts: got a %T, not object metadata", obj)
			}
			keep(&m.ObjectMeta)
			return nil
		})
	} else {
		err = listPages(ctx, func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return d.Core.ServiceAccounts(ns).List(ctx, o)
		}, func(obj runtime.Object) error {
			keep(&obj.(*corev1.ServiceAccount).ObjectMeta)
			return nil
		})
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// listDeployments lists the Deployments of ns into the store, each without what no check reads.
func (d *Doctor) listDeployments(ctx context.Context, ns string, s *kubeStore) error {
	return listReduced(ctx, d.Apps.RESTClient(), ns, "deployments", reduceDeploymentEncoding, s.addDeploymentEncoding)
}

// listPods lists the pods of ns into the store, each reduced to what the checks read (reducePod).
func (d *Doctor) listPods(ctx context.Context, ns string, s *kubeStore) error {
	return listReduced(ctx, d.Core.RESTClient(), ns, "pods", reducePodEncoding, s.addPodEncoding)
}

// listReduced lists a resource of ns and hands add each item reduced in its encoding (kubewire.go).
func listReduced(ctx context.Context, c rest.Interface, ns, resource string, reduce func([]byte) ([]byte, error), add func([]byte) error) error {
	return listRaw(ctx, c, ns, resource, func(item []byte) error {
		r, err := reduce(item)
		if err != nil {
			return fmt.Errorf("listing %s: %w", resource, err)
		}
		return add(r)
	})
}

// listWebhooks lists the cluster's mutating webhook configurations.
func (d *Doctor) listWebhooks(ctx context.Context) ([]admissionv1.MutatingWebhookConfiguration, error) {
	var out []admissionv1.MutatingWebhookConfiguration
	err := listPages(ctx, func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
		return d.Admission.MutatingWebhookConfigurations().List(ctx, o)
	}, func(obj runtime.Object) error {
		out = append(out, *obj.(*admissionv1.MutatingWebhookConfiguration))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// roleAnnotationField is how a managed fields entry names the role annotation.
var roleAnnotationField = []byte(`"f:` + vocab.RoleARNAnnotation + `"`)

// reduceServiceAccountMeta is what the checks read of a ServiceAccount: its name, namespace and
// annotations (but kubectl apply's copy of the object), and when the role annotation was set (the managed
// fields entries that own it, without the rest of what they own).
func reduceServiceAccountMeta(m *metav1.ObjectMeta) metav1.ObjectMeta {
	out := reduceMeta(&metav1.ObjectMeta{Name: m.Name, Namespace: m.Namespace, Annotations: m.Annotations})
	for _, e := range m.ManagedFields {
		if e.Time != nil && e.FieldsV1 != nil && bytes.Contains(e.FieldsV1.Raw, roleAnnotationField) {
			out.ManagedFields = append(out.ManagedFields, metav1.ManagedFieldsEntry{Manager: e.Manager, Operation: e.Operation,
				Time: e.Time, FieldsV1: &metav1.FieldsV1{Raw: roleAnnotationField}})
		}
	}
	return out
}

// lastApplied is the annotation kubectl apply keeps a whole copy of the object in.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// reduceDeployment is d without what no check reads: its status, managed fields and the copy of itself
// kubectl apply keeps in an annotation.
func reduceDeployment(d *appsv1.Deployment) appsv1.Deployment {
	return appsv1.Deployment{ObjectMeta: reduceMeta(&d.ObjectMeta), Spec: d.Spec}
}

// reducePod is p as far as the checks read it: its name, identity, labels, annotations and times; the
// ServiceAccount it runs under; its containers' names, images and environment; the projected token
// volumes; and its phase. Its status beyond the phase (container statuses, conditions), its other volumes
// and the rest of its spec are left behind.
func reducePod(p *corev1.Pod) corev1.Pod {
	out := corev1.Pod{ObjectMeta: reduceMeta(&p.ObjectMeta), Status: corev1.PodStatus{Phase: p.Status.Phase}}
	out.Spec.ServiceAccountName = p.Spec.ServiceAccountName
	out.Spec.DeprecatedServiceAccount = p.Spec.DeprecatedServiceAccount
	out.Spec.InitContainers = reduceContainers(p.Spec.InitContainers)
	out.Spec.Containers = reduceContainers(p.Spec.Containers)
	for _, v := range p.Spec.Volumes {
		if v.Projected == nil {
			continue
		}
		var tokens []corev1.VolumeProjection
		for _, s := range v.Projected.Sources {
			if s.ServiceAccountToken != nil {
				tokens = append(tokens, corev1.VolumeProjection{ServiceAccountToken: s.ServiceAccountToken})
			}
		}
		if len(tokens) > 0 {
			out.Spec.Volumes = append(out.Spec.Volumes, corev1.Volume{Name: v.Name,
				VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: tokens}}})
		}
	}
	return out
}

func reduceContainers(cs []corev1.Container) []corev1.Container {
	if len(cs) == 0 {
		return nil
	}
	out := make([]corev1.Container, len(cs))
	for i, c := range cs {
		out[i] = corev1.Container{Name: c.Name, Image: c.Image, Env: c.Env, EnvFrom: c.EnvFrom}
	}
	return out
}

// reduceMeta is m without its managed fields, owner references and kubectl apply's copy of the object.
func reduceMeta(m *metav1.ObjectMeta) metav1.ObjectMeta {
	out := *m
	out.ManagedFields, out.OwnerReferences = nil, nil
	if _, ok := out.Annotations[lastApplied]; ok {
		a := make(map[string]string, len(out.Annotations)-1)
		for k, v := range out.Annotations {
			if k != lastApplied {
				a[k] = v
			}
		}
		out.Annotations = a
	}
	return out
}

// roleCounter counts the distinct roles ServiceAccounts' annotations name, as they arrive.
type roleCounter map[string]bool

func (c roleCounter) add(sa *corev1.ServiceAccount) int {
	if a := sa.Annotations[vocab.RoleARNAnnotation]; a != "" {
		c[a] = true
	}
	return len(c)
}
