package bind

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

func (op createNamespace) apply(ctx context.Context, a *applier) error {
	_, err := a.b.Core.Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: op.Name}}, metav1.CreateOptions{FieldManager: vocab.FieldManager})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

func (op applyServiceAccount) apply(ctx context.Context, a *applier) error {
	_, err := a.b.Core.ServiceAccounts(*op.Config.Namespace).Apply(ctx, op.Config, metav1.ApplyOptions{FieldManager: vocab.FieldManager, Force: true})
	return err
}

func (op applyDeployment) apply(ctx context.Context, a *applier) error {
	_, err := a.b.Apps.Deployments(*op.Config.Namespace).Apply(ctx, op.Config, metav1.ApplyOptions{FieldManager: vocab.FieldManager, Force: true})
	return err
}

func (op restartDeployment) apply(ctx context.Context, a *applier) error {
	patch := fmt.Sprintf(`{"spec":{"template":{"metadata":{"annotations":{%q:%q}}}}}`, vocab.RestartedAtAnnotation, a.b.now().Format(time.RFC3339))
	_, err := a.b.Apps.Deployments(op.Namespace).Patch(ctx, op.Name, types.StrategicMergePatchType, []byte(patch),
		metav1.PatchOptions{FieldManager: vocab.FieldManager})
	return err
}
