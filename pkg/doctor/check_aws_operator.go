package doctor

import (
	"context"
	"fmt"
	"strings"
)

// The operator's rights: whether the caller may run bind and unbind in this cluster, and which of the
// documented policies that is (bind-policy.json, admin-equivalent when delegated, or
// bind-policy-boundary.json, which caps every role bind makes with the organization's boundary).

// gatherOperator asks Doctor.Operator, for the first target's binding (else the namespace's "sdc").
func (d *Doctor) gatherOperator(ctx context.Context, f *Facts) {
	switch {
	case d.Operator == nil:
		f.OperatorNotAsked = "asked by doctor in one context, not over a fleet or by list"
		return
	case d.Options.AllNamespaces:
		// -A looks at bindings, not at who may make them: its AWS calls stay those of its reads.
		f.OperatorNotAsked = "doctor -A does not ask; doctor -n NAMESPACE does"
		return
	case f.Cluster == nil || f.Identity == nil:
		f.OperatorNotAsked = "no cluster or no AWS identity to ask about"
		return
	}
	ns, sa := d.Options.Namespace, d.Options.ServiceAccount
	if len(f.Targets) > 0 {
		ns, sa = f.Targets[0].Namespace, f.Targets[0].ServiceAccount
	}
	if ns == "" {
		ns = "default"
	}
	if sa == "" {
		sa = "sdc"
	}
	boundary := d.Options.ExpectedBoundary
	if boundary == "" {
		boundary = "arn:" + f.Identity.Partition + ":iam::" + f.Identity.Account + ":policy/" + DocumentedBoundaryName
	}
	f.Operator = d.Operator(ctx, f.Cluster, *f.Identity, ns, sa, boundary)
}

// DocumentedBoundaryName is the permissions boundary docs/permissions/bind-policy-boundary.json requires.
const DocumentedBoundaryName = "SDCWorkloadBoundary"

// awsOperator: whether you may bind and unbind here, and with which of the documented policies' rights.
var awsOperator = Check{
	ID: "aws.operator", Layer: LayerAWS, Scope: ClusterScope,
	Run: func(_ context.Context, f *Facts, _ *Target) Result {
		o := f.Operator
		if o == nil {
			return skip("your own rights to bind and unbind were not asked", f.OperatorNotAsked)
		}
		if o.Unchecked != "" {
			return skip("your own rights to bind and unbind could not be checked", o.Unchecked+
				"; docs/permissions/*.json grant iam:SimulatePrincipalPolicy on your own user or role for this check")
		}
		var bind string
		switch {
		case len(o.Bind) == 0:
			bind = "bind (bind-policy.json's rights: roles without a permissions boundary)"
		case len(o.BindWithBoundary) == 0:
			bind = "bind with --permissions-boundary " + o.Boundary + " only (bind-policy-boundary.json's rights)"
		}
		unbind := len(o.Unbind) == 0
		var notes []string
		if bind != "" && len(o.PodIdentity) > 0 {
			notes = append(notes, "not with --mechanism pod-identity, which needs: "+strings.Join(o.PodIdentity, "; "))
		}
		switch {
		case bind != "" && unbind:
			if len(o.Bind) == 0 {
				notes = append(notes, "whoever holds bind-policy.json may make a role trusting themselves with any sdc-* policy: admin-equivalent; "+
					"delegate bind-policy-boundary.json instead (docs/permissions/README.md)")
			}
			return pass(fmt.Sprintf("%s may %s and unbind here", o.Principal, bind), strings.Join(notes, "; "))
		case bind != "":
			return warn(fmt.Sprintf("%s may %s, but not unbind here", o.Principal, bind),
				"unbind needs: "+strings.Join(o.Unbind, "; "),
				"attach docs/permissions/unbind-policy.json to "+o.Principal)
		}
		missing := o.BindWithBoundary
		if len(missing) == 0 || len(o.Bind) < len(missing) {
			missing = o.Bind
		}
		title := fmt.Sprintf("%s may not bind here", o.Principal)
		if !unbind {
			title = fmt.Sprintf("%s may neither bind nor unbind here", o.Principal)
			missing = append(append([]string(nil), missing...), o.Unbind...)
		}
		return warn(title, "missing: "+strings.Join(missing, "; "),
			"attach docs/permissions/bind-policy-boundary.json (or bind-policy.json, admin-equivalent) and unbind-policy.json to "+o.Principal)
	},
}
