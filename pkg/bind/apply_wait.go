package bind

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Progress is a Deployment's rollout as `kubectl rollout status` sees it.
type Progress struct {
	Name                          string
	Desired, Updated, Ready, Old  int32
	ObservedCurrent, Done         bool
	PendingReason, ProgressFailed string
}

func (p Progress) String() string {
	switch {
	case p.Done:
		return fmt.Sprintf("deployment %s rolled out: %d/%d ready", p.Name, p.Ready, p.Desired)
	case p.ProgressFailed != "":
		return fmt.Sprintf("deployment %s: %s", p.Name, p.ProgressFailed)
	case !p.ObservedCurrent:
		return fmt.Sprintf("deployment %s: waiting for the controller to see the change", p.Name)
	}
	s := fmt.Sprintf("deployment %s: %d/%d updated, %d/%d ready", p.Name, p.Updated, p.Desired, p.Ready, p.Desired)
	if p.Old > 0 {
		s += fmt.Sprintf(", %d old pod(s) terminating", p.Old)
	}
	if p.PendingReason != "" {
		s += " (" + p.PendingReason + ")"
	}
	return s
}

// WaitRollout polls the Deployment until its rollout is complete, ctx ends, or the controller reports the
// rollout failed, calling progress on every poll.
func (b *Binder) WaitRollout(ctx context.Context, namespace, name string, progress func(Progress)) error {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		d, err := b.Apps.Deployments(namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil && timingOut(ctx) {
			// The client's rate limiter refuses early when its wait would pass the deadline; its wording
			// ("client rate limiter Wait returned an error") would hide that this is the timeout.
			return context.DeadlineExceeded
		}
		if err != nil {
			return fmt.Errorf("following deployment %s/%s: %w", namespace, name, err)
		}
		p := rolloutProgress(d)
		if !p.Done && p.ObservedCurrent && p.Ready < p.Desired {
			p.PendingReason = b.pendingReason(ctx, d)
		}
		progress(p)
		if p.Done {
			return nil
		}
		if p.ProgressFailed != "" {
			return fmt.Errorf("deployment %s/%s: %s", namespace, name, p.ProgressFailed)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

func rolloutProgress(d *appsv1.Deployment) Progress {
	desired := int32(1)
	if d.Spec.Replicas != nil {
		desired = *d.Spec.Replicas
	}
	st := d.Status
	p := Progress{Name: d.Name, Desired: desired, Updated: st.UpdatedReplicas, Ready: st.AvailableReplicas,
		Old: st.Replicas - st.UpdatedReplicas, ObservedCurrent: st.ObservedGeneration >= d.Generation}
	for _, c := range st.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Reason == "ProgressDeadlineExceeded" {
			p.ProgressFailed = "progress deadline exceeded: " + c.Message
		}
	}
	p.Done = p.ObservedCurrent && p.Updated == desired && st.Replicas == desired && p.Ready == desired
	return p
}

// pendingReason says why a pod of the Deployment is not ready yet, when the scheduler says.
func (b *Binder) pendingReason(ctx context.Context, d *appsv1.Deployment) string {
	if d.Spec.Selector == nil {
		return ""
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return ""
	}
	pods, err := b.Core.Pods(d.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return ""
	}
	for _, p := range pods.Items {
		if p.Status.Phase != corev1.PodPending {
			continue
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Message != "" {
				return "pod " + p.Name + ": " + c.Message
			}
		}
		return "pod " + p.Name + " is Pending"
	}
	return ""
}

// timingOut reports whether ctx has ended or its deadline is closer than one poll.
func timingOut(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	d, ok := ctx.Deadline()
	return ok && time.Until(d) < 2*time.Second
}
