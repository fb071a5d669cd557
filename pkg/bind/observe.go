package bind

import (
	"context"
	"crypto/sha1"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"time"

	"golang.org/x/sync/errgroup"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/iamread"
)

// Observed is the current state of everything bind manages; nil fields do not exist.
type Observed struct {
	Provider       *iamread.Provider
	Policy         *iamread.Policy
	Role           *iamread.Role
	Namespace      *corev1.Namespace
	ServiceAccount *corev1.ServiceAccount
	Deployment     *appsv1.Deployment
	Pods           []corev1.Pod // the Deployment's pods
}

// observeKube reads the namespace, ServiceAccount and Deployment (and the Deployment's pods) in parallel.
func (b *Binder) observeKube(ctx context.Context, r *Request, o *Observed) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		ns, err := b.Core.Namespaces().Get(ctx, r.Namespace, metav1.GetOptions{})
		o.Namespace, err = found(ns, err)
		if err != nil {
			return fmt.Errorf("reading namespace %s: %w", r.Namespace, err)
		}
		return nil
	})
	g.Go(func() error {
		sa, err := b.Core.ServiceAccounts(r.Namespace).Get(ctx, r.ServiceAccount, metav1.GetOptions{})
		o.ServiceAccount, err = found(sa, err)
		if err != nil {
			return fmt.Errorf("reading ServiceAccount %s/%s: %w", r.Namespace, r.ServiceAccount, err)
		}
		return nil
	})
	if r.Deployment != "" {
		g.Go(func() error {
			d, err := b.Apps.Deployments(r.Namespace).Get(ctx, r.Deployment, metav1.GetOptions{})
			o.Deployment, err = found(d, err)
			if err != nil {
				return fmt.Errorf("reading Deployment %s/%s: %w", r.Namespace, r.Deployment, err)
			}
			if o.Deployment == nil || o.Deployment.Spec.Selector == nil {
				return nil
			}
			sel, err := metav1.LabelSelectorAsSelector(o.Deployment.Spec.Selector)
			if err != nil {
				return err
			}
			pods, err := b.Core.Pods(r.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
			if err != nil {
				return fmt.Errorf("listing the pods of Deployment %s/%s: %w", r.Namespace, r.Deployment, err)
			}
			o.Pods = pods.Items
			return nil
		})
	}
	return g.Wait()
}

// found turns a NotFound into nil, nil.
func found[T any](obj *T, err error) (*T, error) {
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return obj, nil
}

// observeIAM reads the provider, the policy (with its default version) and the role (with its attached
// policies) in parallel: one round trip when they do not exist, two when they do.
func (b *Binder) observeIAM(ctx context.Context, n *Names, own bool, o *Observed) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		o.Provider, err = iamread.ReadProvider(ctx, b.AWS.IAM, n.ProviderARN)
		return err
	})
	if own {
		g.Go(func() (err error) {
			o.Policy, err = iamread.ReadPolicy(ctx, b.AWS.IAM, n.PolicyARN)
			return err
		})
	}
	g.Go(func() error {
		r, err := iamread.ReadRole(ctx, b.AWS.IAM, n.RoleName, iamread.RoleOptions{})
		if err != nil {
			return err
		}
		if r != nil && r.TrustErr != nil {
			return fmt.Errorf("the trust policy of IAM role %s: %w", n.RoleName, r.TrustErr)
		}
		o.Role = r
		return nil
	})
	return g.Wait()
}

// Thumbprint is the SHA-1 of the last (top) certificate of the chain the issuer's host presents: what
// eksctl sends and what IAM checks for CAs it does not know itself. The chain is read without verifying it:
// IAM decides trust, this only reports what is served.
func Thumbprint(ctx context.Context, issuer string) (string, error) {
	u, err := url.Parse(issuer)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return "", fmt.Errorf("issuer %q is not an https URL", issuer)
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "443")
	}
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: 10 * time.Second}, Config: &tls.Config{
		ServerName:         u.Hostname(),
		InsecureSkipVerify: true, //nolint:gosec // reading the presented chain, not trusting it
	}}
	conn, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return "", fmt.Errorf("reading the TLS certificate chain of issuer %s: %w", issuer, err)
	}
	defer conn.Close()
	certs := conn.(*tls.Conn).ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return "", fmt.Errorf("issuer %s presented no certificate", issuer)
	}
	sum := sha1.Sum(certs[len(certs)-1].Raw)
	return hex.EncodeToString(sum[:]), nil
}
