package doctor

import (
	"context"
	"strings"
	"testing"
)

// The operator check says which documented policy's rights the caller holds, or what is missing.
func TestOperatorCheck(t *testing.T) {
	const me = "arn:aws:iam::123456789012:user/ops"
	createRole := "iam:CreateRole on arn:aws:iam::123456789012:role/sdc-x: no policy of " + me + " allows it"
	deleteRole := "iam:DeleteRole on arn:aws:iam::123456789012:role/sdc-x: no policy of " + me + " allows it"
	attach := "iam:AttachRolePolicy on arn:aws:iam::123456789012:role/sdc-x (policy p): no policy of " + me + " allows it"
	for _, tc := range []struct {
		name   string
		rights *OperatorRights
		status Status
		says   []string
	}{
		{"not asked", nil, Skip, []string{"not asked"}},
		{"simulator refused", &OperatorRights{Principal: me, Unchecked: "AccessDenied"}, Skip, []string{"could not be checked", "AccessDenied", "iam:SimulatePrincipalPolicy"}},
		{"bind-policy.json", &OperatorRights{Principal: me}, Pass, []string{"bind-policy.json's rights", "admin-equivalent", "bind-policy-boundary.json instead"}},
		{"bind-policy-boundary.json", &OperatorRights{Principal: me, Boundary: "arn:aws:iam::123456789012:policy/SDCWorkloadBoundary", Bind: []string{createRole}},
			Pass, []string{"--permissions-boundary arn:aws:iam::123456789012:policy/SDCWorkloadBoundary only", "bind-policy-boundary.json's rights"}},
		{"no unbind", &OperatorRights{Principal: me, Unbind: []string{deleteRole}}, Warn, []string{"but not unbind", "iam:DeleteRole", "unbind-policy.json"}},
		{"nothing", &OperatorRights{Principal: me, Bind: []string{createRole, attach}, BindWithBoundary: []string{attach}, Unbind: []string{deleteRole}},
			Warn, []string{"neither bind nor unbind", "iam:AttachRolePolicy", "iam:DeleteRole"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := fixture(t)
			f.Operator = tc.rights
			r := awsOperator.Run(context.Background(), f, nil)
			if r.Status != tc.status {
				t.Errorf("status %s, want %s: %+v", r.Status, tc.status, r)
			}
			all := r.Title + " | " + r.Detail + " | " + r.Fix
			for _, s := range tc.says {
				if !strings.Contains(all, s) {
					t.Errorf("does not say %q: %s", s, all)
				}
			}
		})
	}
}
