package e2e

import (
	"encoding/json"
	"testing"

	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox/sandboxtest"
)

// With many roles doctor -A reads the account's roles and policies in one batch
// (iam:GetAccountAuthorizationDetails, roles and policies as two chains of pages; a page each in the
// sandbox's account) instead of per role, and judges them the same. Not parallel: it reads the sandbox's
// call counts.
func TestDoctorAllNamespacesReadsManyRolesInOneBatch(t *testing.T) {
	bucket := newBucket(t)
	var namespaces []string
	for i := 0; i < 12; i++ {
		ns := newNamespace(t)
		mustBind(t, "-n", ns, "--bucket", bucket, "--yes")
		namespaces = append(namespaces, ns)
	}
	broken := namespaces[3]
	if r := run(t, nil, "aws", "iam", "detach-role-policy", "--role-name", roleName(broken, "sdc"), "--policy-arn", policyARN(t, broken, "sdc")); r.Code != 0 {
		t.Fatal(r)
	}
	sb := sandboxtest.Get(t)
	sb.Front.ResetCalls()
	r := kubectl(t, "sdc", "doctor", "-A", "-o", "json")
	if r.Code != 1 {
		t.Fatalf("doctor -A with a broken target: want exit 1, got %s", r)
	}
	c := calls(t)
	t.Logf("doctor -A over %d+ roles: %d AWS calls %v", len(namespaces), c.Total, c.ByAction)
	if c.ByAction["iam:GetAccountAuthorizationDetails"] != 2 || c.ByAction["iam:GetRole"] != 0 {
		t.Errorf("want one batch read (a page of roles, a page of policies) and no per-role reads, got %v", c.ByAction)
	}
	var rep struct {
		Targets []struct {
			Namespace, ServiceAccount string
			Checks                    []struct{ ID, Status, Detail string }
		}
	}
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
		t.Fatalf("-o json: %v", err)
	}
	status := map[string]map[string]string{}
	for _, tg := range rep.Targets {
		m := map[string]string{}
		for _, ch := range tg.Checks {
			m[ch.ID] = ch.Status
		}
		status[tg.Namespace+"/"+tg.ServiceAccount] = m
	}
	for _, ns := range namespaces {
		m, ok := status[ns+"/sdc"]
		if !ok {
			t.Errorf("no target %s/sdc in the report", ns)
			continue
		}
		wantPermissions := "pass"
		if ns == broken {
			wantPermissions = "fail"
		}
		for id, want := range map[string]string{"iam.role": "pass", "iam.trust": "pass", "iam.trust-scope": "pass", "iam.permissions": wantPermissions} {
			if m[id] != want {
				t.Errorf("%s: %s = %s, want %s", ns, id, m[id], want)
			}
		}
	}
}
