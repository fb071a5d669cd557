package bind

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
)

// IAM has no conditional write: two writers that read a shared trust or policy at the same time each write
// their own edit, and the later one drops the other's statement. Writers that go through the same cluster
// agree through it: each edit of a shared document (its read, edit, write and verification) holds a
// coordination.k8s.io/v1 Lease named from the document, in Binder.LockNamespace, released on every path.
// The Lease also records what its last holder wrote, so the next holder first reads until IAM shows that
// (IAM's reads lag its writes) before it edits. Writers through another cluster or another tool are not
// serialised: the read-back after a settle still catches most of them.

const (
	// DefaultLockNamespace is where the Leases live unless --lock-namespace says otherwise.
	DefaultLockNamespace = "kube-system"
	// lockLease is how long a holder may keep the Lease before another writer may take it over (a holder
	// that died); lockWait how long a writer waits for it.
	lockLease = 60 * time.Second
	lockWait  = 3 * time.Minute
	// lastWrittenAnnotation holds the document the last holder wrote (compact JSON).
	lastWrittenAnnotation = "kubectl-sdc/last-written"
	lockPollMin           = 50 * time.Millisecond
	lockPollMax           = 400 * time.Millisecond
)

// docLock is one held Lease.
type docLock struct {
	leases coordinationv1client.LeaseInterface
	lease  *coordinationv1.Lease
	// LastWritten is what the previous holder wrote ("" when nothing is recorded).
	LastWritten string
}

// TrustDocKey and PolicyDocKey name the documents the Leases serialise (and say so in their messages).
func TrustDocKey(role string) string { return "the trust policy of IAM role " + role }
func PolicyDocKey(arn string) string { return "IAM policy " + arn }

// LeaseName is the Lease of a document key: a DNS label from its digest.
func LeaseName(key string) string {
	sum := sha256.Sum256([]byte(key))
	return "kubectl-sdc-doc-" + hex.EncodeToString(sum[:])[:40]
}

// holderID names this process in the Lease, for the message of a writer that waits.
var holderID = func() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("kubectl-sdc@%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}()

// lockDoc takes the Lease of the document key (an ARN, or a role's trust), waiting for a holder at most
// lockWait; nil without a Leases client (then nothing is serialised).
func (a *applier) lockDoc(ctx context.Context, key string) (*docLock, error) {
	if a.b == nil || a.b.Leases == nil {
		return nil, nil
	}
	ns := a.b.LockNamespace
	if ns == "" {
		ns = DefaultLockNamespace
	}
	l := &docLock{leases: a.b.Leases.Leases(ns)}
	name := LeaseName(key)
	deadline := time.Now().Add(lockWait)
	wait := lockPollMin
	for {
		now := metav1.NewMicroTime(time.Now())
		seconds := int32(lockLease / time.Second)
		cur, err := l.leases.Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			fresh := &coordinationv1.Lease{
				ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app.kubernetes.io/managed-by": "kubectl-sdc"},
					Annotations: map[string]string{"kubectl-sdc/document": key}},
				Spec: coordinationv1.LeaseSpec{HolderIdentity: &holderID, LeaseDurationSeconds: &seconds, AcquireTime: &now, RenewTime: &now},
			}
			created, err := l.leases.Create(ctx, fresh, metav1.CreateOptions{FieldManager: "kubectl-sdc"})
			if err == nil {
				l.lease = created
				return l, nil
			}
			if !apierrors.IsAlreadyExists(err) {
				return a.withoutLock(ns, name, key, err)
			}
		case err != nil:
			return a.withoutLock(ns, name, key, err)
		case free(cur):
			taken := cur.DeepCopy()
			taken.Spec.HolderIdentity, taken.Spec.LeaseDurationSeconds = &holderID, &seconds
			taken.Spec.AcquireTime, taken.Spec.RenewTime = &now, &now
			updated, err := l.leases.Update(ctx, taken, metav1.UpdateOptions{FieldManager: "kubectl-sdc"})
			if err == nil {
				l.lease, l.LastWritten = updated, updated.Annotations[lastWrittenAnnotation]
				return l, nil
			}
			if !apierrors.IsConflict(err) {
				return a.withoutLock(ns, name, key, err)
			}
		case time.Now().After(deadline):
			since := ""
			if cur.Spec.AcquireTime != nil {
				since = ", held since " + cur.Spec.AcquireTime.UTC().Format(time.RFC3339)
			}
			return nil, fmt.Errorf("%s is being changed by %s (Lease %s/%s%s): waited %s; run the command again when that one is done, or delete the Lease if its holder is gone",
				key, deref(cur.Spec.HolderIdentity), ns, name, since, lockWait)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		wait = min(wait*2, lockPollMax)
	}
}

// free reports whether nobody holds the Lease: no holder, or one whose time ran out.
func free(l *coordinationv1.Lease) bool {
	if l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity == "" || l.Spec.RenewTime == nil || l.Spec.LeaseDurationSeconds == nil {
		return true
	}
	return time.Since(l.Spec.RenewTime.Time) > time.Duration(*l.Spec.LeaseDurationSeconds)*time.Second
}

func deref(s *string) string {
	if s == nil {
		return "someone"
	}
	return *s
}

// withoutLock goes on without the Lease when the caller may not use Leases there (a warning, once per
// command: the edit is then only as safe as its read-back), and fails on any other error.
func (a *applier) withoutLock(ns, name, key string, err error) (*docLock, error) {
	if !apierrors.IsForbidden(err) {
		return nil, fmt.Errorf("the Lease %s/%s that serialises the edits of %s: %w", ns, name, key, err)
	}
	a.b.warnOnce.Do(func() {
		if a.b.Warn != nil {
			a.b.Warn(fmt.Sprintf("running without the lock: kubectl-sdc serialises the edits of shared IAM documents with Leases in namespace %s, and may not use Leases there (%v); another kubectl-sdc editing the same document at the same moment could drop this edit or be dropped by it: grant get, create and update on leases (coordination.k8s.io) there (docs/permissions/bind-rbac.yaml does), or pass --lock-namespace NAMESPACE",
				ns, err))
		}
	})
	return nil, nil
}

// release frees the Lease, recording written (the document this holder wrote, nil when none). It runs on
// every path, with a context of its own, so that a cancelled command does not keep others waiting.
func (l *docLock) release(written *iampolicy.Policy) {
	if l == nil || l.lease == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(context.Background()), 10*time.Second)
	defer cancel()
	cur := l.lease
	for range 5 {
		freed := cur.DeepCopy()
		empty := ""
		freed.Spec.HolderIdentity = &empty
		if written != nil {
			if freed.Annotations == nil {
				freed.Annotations = map[string]string{}
			}
			freed.Annotations[lastWrittenAnnotation] = string(written.Compact())
		}
		_, err := l.leases.Update(ctx, freed, metav1.UpdateOptions{FieldManager: "kubectl-sdc"})
		if !apierrors.IsConflict(err) {
			return
		}
		if cur, err = l.leases.Get(ctx, l.lease.Name, metav1.GetOptions{}); err != nil || deref(cur.Spec.HolderIdentity) != holderID {
			return // someone took it over (we held it past its time): theirs now
		}
	}
}

// awaitLastWritten reads the document until IAM shows what the previous holder wrote (doc gives a read's
// document), at most a few seconds: IAM's reads lag its updates, and an edit of an older document would drop
// the previous holder's. A document that never shows it was changed by someone else since; the edit goes
// on. It returns its last read for the edit to start from (read is false when it read nothing), so that
// waiting costs no read when IAM is already there.
func awaitLastWritten[T any](ctx context.Context, l *docLock, read func(context.Context) (T, error), doc func(T) *iampolicy.Policy) (last T, ok bool) {
	if l == nil || l.LastWritten == "" {
		return last, false
	}
	want, err := iampolicy.Parse([]byte(l.LastWritten))
	if err != nil {
		return last, false
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		cur, err := read(ctx)
		if err != nil {
			return last, false
		}
		if d := doc(cur); d == nil || d.Equal(want) || !time.Now().Before(deadline) {
			return cur, true
		}
		t := time.NewTimer(200 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return last, false
		case <-t.C:
		}
	}
}
