package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/typed/core/v1"
)

// Handler serves AdmissionReview requests for pods at any path.
type Handler struct {
	Config
	// ServiceAccounts reads the pod's ServiceAccount live for every admission, so a pod created right after
	// the annotation is set sees it (the EKS webhook's cache can lag; a live read keeps tests deterministic).
	ServiceAccounts v1.ServiceAccountsGetter
	// PodIdentity, when set, tells which ServiceAccounts have an EKS Pod Identity association; their pods
	// get the Pod Identity environment and token too (both, with IRSA's, when the ServiceAccount has both).
	PodIdentity PodIdentityLookup
	Log         *log.Logger
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(body, &review); err != nil || review.Request == nil {
		http.Error(w, fmt.Sprintf("not an AdmissionReview: %v", err), http.StatusBadRequest)
		return
	}
	resp := h.review(r.Context(), review.Request)
	resp.UID = review.Request.UID
	review.Response = resp
	review.Request = nil
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(review)
}

func (h *Handler) review(ctx context.Context, req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	allow := &admissionv1.AdmissionResponse{Allowed: true}
	if req.Kind.Kind != "Pod" || req.Operation != admissionv1.Create {
		return allow
	}
	var pod corev1.Pod
	if err := json.Unmarshal(req.Object.Raw, &pod); err != nil {
		return h.ignore(err)
	}
	ns := req.Namespace
	saName := pod.Spec.ServiceAccountName
	if saName == "" {
		saName = "default"
	}
	sa, err := h.ServiceAccounts.ServiceAccounts(ns).Get(ctx, saName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return allow
	}
	if err != nil {
		return h.ignore(fmt.Errorf("reading ServiceAccount %s/%s: %w", ns, saName, err))
	}
	mutated, changed := Mutate(h.Config, &pod, sa)
	if h.PodIdentity != nil && h.PodIdentity(ns, saName) {
		var pi bool
		if mutated, pi = MutatePodIdentity(h.Config, mutated); pi {
			changed = true
		}
	}
	if !changed {
		return allow
	}
	// "add" of an existing member replaces it: whole lists keep the patch simple and exact.
	ops := []map[string]any{
		{"op": "add", "path": "/spec/containers", "value": mutated.Spec.Containers},
		{"op": "add", "path": "/spec/volumes", "value": mutated.Spec.Volumes},
	}
	if len(mutated.Spec.InitContainers) > 0 {
		ops = append(ops, map[string]any{"op": "add", "path": "/spec/initContainers", "value": mutated.Spec.InitContainers})
	}
	patch, err := json.Marshal(ops)
	if err != nil {
		return h.ignore(err)
	}
	pt := admissionv1.PatchTypeJSONPatch
	h.logf("pod-identity-webhook: mutated pod %s/%s%s (ServiceAccount %s)", ns, pod.Name, pod.GenerateName, saName)
	return &admissionv1.AdmissionResponse{Allowed: true, Patch: patch, PatchType: &pt}
}

// ignore admits the pod unmutated, as the EKS webhook's failurePolicy Ignore does when it cannot work.
func (h *Handler) ignore(err error) *admissionv1.AdmissionResponse {
	h.logf("pod-identity-webhook: admitting unmutated: %v", err)
	return &admissionv1.AdmissionResponse{Allowed: true, Warnings: []string{"pod-identity-webhook: " + err.Error()}}
}

func (h *Handler) logf(format string, args ...any) {
	if h.Log != nil {
		h.Log.Printf(format, args...)
	}
}
