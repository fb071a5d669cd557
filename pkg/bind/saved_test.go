package bind

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/plan"
)

func savedChanges(t *testing.T, r *Request, o *Observed) []plan.SavedChange {
	t.Helper()
	res, err := Plan(r, o)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := SavedChanges(res.Plan)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// A plan made again from the same request and facts is the same saved plan, whenever it is made; another
// request is not, and the difference names the changes.
func TestSavedChangesRepeatAndDiffer(t *testing.T) {
	t.Parallel()
	r := request(t)
	o := fresh(r)
	first := savedChanges(t, r, o)
	later := *o
	later.Now = o.Now.Add(3 * time.Hour)
	if d := plan.Differences(first, savedChanges(t, r, &later)); len(d) != 0 {
		t.Errorf("the same facts planned later differ: %q", d)
	}
	for _, c := range first {
		if c.Action != plan.Unchanged && len(c.Op) == 0 {
			t.Errorf("%s %s %s saved without its operation", c.Action, c.Kind, c.Name)
		}
	}
	other := request(t)
	other.Selection.Params = map[string]string{"bucket": "elsewhere"}
	d := plan.Differences(first, savedChanges(t, other, fresh(other)))
	if len(d) == 0 || !strings.Contains(d[0], "IAM policy") || !strings.Contains(d[0], "document, operation differs") {
		t.Errorf("another bucket: differences %q, want the policy's document and operation", d)
	}
}

// An operation's interface fields keep their dynamic type's name, and when a trust was read (trustGuard)
// is not part of the operation.
func TestOpDataNamesTypesAndLeavesOutTimes(t *testing.T) {
	t.Parallel()
	op := detachPolicy{Role: "r", PolicyARN: "arn:aws:iam::123456789012:policy/p",
		Guard: &trustGuard{Role: "r", Edit: AdmitWebIdentity{Provider: "p", Host: "h", Subject: "s", Audience: "a"}, Read: time.Now()}}
	b, err := json.Marshal(opData(reflectOf(inTarget{Op: op})))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"Op":{"type":"detachPolicy","value":{"Guard":{"Edit":{"type":"AdmitWebIdentity","value":{"Audience":"a","Host":"h","Provider":"p","Subject":"s"}},"Role":"r"},"PolicyARN":"arn:aws:iam::123456789012:policy/p","Role":"r"}}}`
	if string(b) != want {
		t.Errorf("opData =\n%s\nwant\n%s", b, want)
	}
}

// Facts move when what the plan depends on changes, not when Kubernetes' bookkeeping does.
func TestFactsMoveWithTheResourcesOnly(t *testing.T) {
	t.Parallel()
	r := request(t)
	o := bound(t, r)
	was, err := o.Facts(r)
	if err != nil {
		t.Fatal(err)
	}
	books := *o
	sa := o.ServiceAccount.DeepCopy()
	sa.ResourceVersion, sa.ManagedFields = "99", append(sa.ManagedFields, metav1.ManagedFieldsEntry{Manager: "kubectl"})
	books.ServiceAccount = sa
	now, err := books.Facts(r)
	if err != nil {
		t.Fatal(err)
	}
	if m := plan.Moved(was, now); len(m) != 0 {
		t.Errorf("bookkeeping moved facts: %q", m)
	}
	// A Deployment an autoscaler scaled has not moved; one whose pod template changed has.
	dr := request(t)
	dr.Deployment = "sdc"
	deployed := fresh(dr)
	deployed.Deployment = &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "sdc", Namespace: "ns1"},
		Spec: appsv1.DeploymentSpec{Replicas: new(int32(1))}}
	dwas, err := deployed.Facts(dr)
	if err != nil {
		t.Fatal(err)
	}
	scaled := *deployed
	scaled.Deployment = deployed.Deployment.DeepCopy()
	scaled.Deployment.Spec.Replicas = new(int32(5))
	dnow, _ := scaled.Facts(dr)
	if m := plan.Moved(dwas, dnow); len(m) != 0 {
		t.Errorf("scaling moved facts: %q", m)
	}
	scaled.Deployment.Spec.Template.Spec.ServiceAccountName = "other"
	dnow, _ = scaled.Facts(dr)
	if m := plan.Moved(dwas, dnow); !slices.Equal(m, []string{"Deployment ns1/sdc: spec changed"}) {
		t.Errorf("a changed pod template: moved %q", m)
	}
	hand := books
	sa = sa.DeepCopy()
	sa.Annotations["team"] = "data"
	hand.ServiceAccount = sa
	role := *o.Role
	role.Tags = map[string]string{"owner": "someone"}
	hand.Role = &role
	now, err = hand.Facts(r)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"IAM role " + o.Names.RoleName + ": Tags changed", "ServiceAccount ns1/sdc: annotations changed"}
	if got := plan.Moved(was, now); !slices.Equal(got, want) {
		t.Errorf("Moved = %q, want %q", got, want)
	}
}

func reflectOf(v any) reflect.Value { return reflect.ValueOf(v) }
