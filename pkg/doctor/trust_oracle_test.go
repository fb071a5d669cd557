package doctor

import (
	"strings"
	"testing"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
	"github.com/kubectl-sdc/kubectl-sdc/test/oracle"
)

// doctor's iam.trust verdict on tricky trust policies, judged by iam-simulate (test/oracle): the check
// passes exactly when the simulator allows the request STS evaluates for the ServiceAccount's token (the
// same request doctor builds: sub, aud and aws:FederatedProvider of this cluster's provider, on the role).
func TestOracleDoctorTrustVerdicts(t *testing.T) {
	o := oracle.Start(t)
	t.Parallel()
	const (
		sub   = fxHost + ":sub"
		aud   = fxHost + ":aud"
		amr   = fxHost + ":amr"
		other = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/FEDCBA9876543210"
	)
	web := func(condition string) string {
		return `{"Effect":"Allow","Principal":{"Federated":"` + fxProvider + `"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":` + condition + `}`
	}
	allowAll := `{"Effect":"Allow","Principal":{"Federated":"` + fxProvider + `"},"Action":"sts:AssumeRoleWithWebIdentity"}`
	cases := []struct {
		name, statements string
		audience         string // the ServiceAccount's eks.amazonaws.com/audience; "" for none
	}{
		{name: "StringLike * at the end of :sub", statements: web(`{"StringLike":{"` + sub + `":"system:serviceaccount:ns1:*","` + aud + `":"sts.amazonaws.com"}}`)},
		{name: "StringLike * for the namespace", statements: web(`{"StringLike":{"` + sub + `":"system:serviceaccount:*:sdc"}}`)},
		{name: "? for one character", statements: web(`{"StringLike":{"` + sub + `":"system:serviceaccount:ns?:sdc"}}`)},
		{name: "? does not stand for nothing", statements: web(`{"StringLike":{"` + sub + `":"system:serviceaccount:ns1:sdc?"}}`)},
		{name: "StringEquals takes * literally", statements: web(`{"StringEquals":{"` + sub + `":"system:serviceaccount:ns1:*"}}`)},
		{name: "StringLike on :aud", statements: web(`{"StringEquals":{"` + sub + `":"system:serviceaccount:ns1:sdc"},"StringLike":{"` + aud + `":"sts.*"}}`)},
		{name: "StringLike on :aud that misses", statements: web(`{"StringLike":{"` + aud + `":"*.example.com"}}`)},
		{name: "StringLike on :aud with the ServiceAccount's own audience", audience: "sdc-audience",
			statements: web(`{"StringLike":{"` + aud + `":"sdc-*"}}`)},
		{name: "sts.amazonaws.com when the ServiceAccount's audience is another", audience: "sdc-audience",
			statements: web(`{"StringEquals":{"` + aud + `":"sts.amazonaws.com"}}`)},
		{name: "a Deny with StringNotEquals spares the named subject", statements: allowAll + `,{"Effect":"Deny","Principal":"*","Action":"sts:*","Condition":{"StringNotEquals":{"` + sub + `":["system:serviceaccount:ns1:sdc","system:serviceaccount:ns2:sdc"]}}}`},
		{name: "a Deny with StringNotEquals denies the others", statements: allowAll + `,{"Effect":"Deny","Principal":"*","Action":"sts:*","Condition":{"StringNotEquals":{"` + sub + `":"system:serviceaccount:ns1:other"}}}`},
		{name: "a Deny with StringNotLike", statements: allowAll + `,{"Effect":"Deny","Principal":{"Federated":"` + fxProvider + `"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringNotLike":{"` + sub + `":"system:serviceaccount:ns1:*"}}}`},
		{name: "ForAnyValue on :amr, which the token lacks", statements: web(`{"StringEquals":{"` + sub + `":"system:serviceaccount:ns1:sdc"},"ForAnyValue:StringLike":{"` + amr + `":"authenticated"}}`)},
		{name: "ForAllValues on :amr, which the token lacks", statements: web(`{"StringEquals":{"` + sub + `":"system:serviceaccount:ns1:sdc"},"ForAllValues:StringLike":{"` + amr + `":"authenticated"}}`)},
		{name: "a Deny with ForAnyValue on :amr", statements: allowAll + `,{"Effect":"Deny","Principal":"*","Action":"sts:*","Condition":{"ForAnyValue:StringEquals":{"` + amr + `":"unauthenticated"}}}`},
		{name: "StringEqualsIfExists on :amr", statements: web(`{"StringEqualsIfExists":{"` + amr + `":"authenticated"},"StringEquals":{"` + sub + `":"system:serviceaccount:ns1:sdc"}}`)},
		{name: "Null: :sub must be present", statements: web(`{"Null":{"` + sub + `":"false"}}`)},
		{name: "Null: :aud must be absent", statements: web(`{"Null":{"` + aud + `":"true"}}`)},
		{name: "StringEqualsIgnoreCase on :sub", statements: web(`{"StringEqualsIgnoreCase":{"` + sub + `":"SYSTEM:SERVICEACCOUNT:NS1:SDC"}}`)},
		{name: "StringEquals is case-sensitive", statements: web(`{"StringEquals":{"` + sub + `":"system:serviceaccount:NS1:sdc"}}`)},
		{name: "condition keys ignore case", statements: web(`{"StringEquals":{"` + strings.ToUpper(fxHost) + `:SUB":"system:serviceaccount:ns1:sdc"}}`)},
		{name: "one of several subjects", statements: web(`{"StringEquals":{"` + sub + `":["system:serviceaccount:ns2:sdc","system:serviceaccount:ns1:sdc"]}}`)},
		{name: "the subject under the :aud key", statements: web(`{"StringEquals":{"` + aud + `":"system:serviceaccount:ns1:sdc"}}`)},
		{name: "keys of another cluster's issuer", statements: web(`{"StringEquals":{"oidc.eks.eu-west-1.amazonaws.com/id/FEDCBA9876543210:sub":"system:serviceaccount:ns1:sdc"}}`)},
		{name: "another cluster's provider", statements: `{"Effect":"Allow","Principal":{"Federated":"` + other + `"},"Action":"sts:AssumeRoleWithWebIdentity"}`},
		{name: "Principal * with conditions", statements: `{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"` + sub + `":"system:serviceaccount:ns1:sdc"}}}`},
		{name: "a Deny with NotPrincipal of this provider", statements: allowAll + `,{"Effect":"Deny","NotPrincipal":{"Federated":"` + fxProvider + `"},"Action":"sts:*"}`},
		{name: "a Deny with NotPrincipal of another provider", statements: allowAll + `,{"Effect":"Deny","NotPrincipal":{"Federated":"` + other + `"},"Action":"sts:*"}`},
		{name: "sts:AssumeRole* covers web identity", statements: `{"Effect":"Allow","Principal":{"Federated":"` + fxProvider + `"},"Action":"sts:AssumeRole*"}`},
		{name: "sts:AssumeRole alone does not", statements: `{"Effect":"Allow","Principal":{"Federated":"` + fxProvider + `"},"Action":"sts:AssumeRole"}`},
		{name: "NotAction sts:TagSession", statements: `{"Effect":"Allow","Principal":{"Federated":"` + fxProvider + `"},"NotAction":"sts:TagSession"}`},
		{name: "ArnLike on aws:FederatedProvider", statements: web(`{"ArnLike":{"aws:FederatedProvider":"arn:aws:iam::*:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/*"}}`)},
		{name: "a policy variable in :sub", statements: web(`{"StringLike":{"` + sub + `":"system:serviceaccount:ns1:${aws:FederatedProvider, 'sdc'}"}}`)},
		{name: "a Deny of an AWS role leaves web identities", statements: allowAll + `,{"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::123456789012:role/ci"},"Action":"sts:*"}`},
		{name: "StringNotLike in an Allow", statements: web(`{"StringNotLike":{"` + sub + `":"system:serviceaccount:kube-system:*"}}`)},
	}

	statuses := make([]Status, len(cases))
	sims := make([]oracle.Simulation, len(cases))
	for i, c := range cases {
		f := fixture(t)
		if c.audience != "" {
			f.ServiceAccounts[0].Annotations[vocab.AudienceAnnotation] = c.audience
			f.Provider.ClientIDs = append(f.Provider.ClientIDs, c.audience)
		}
		f.Roles[fxRole].Trust = trustDoc(t, `{"Version":"2012-10-17","Statement":[`+c.statements+`]}`)
		rep := run(f)
		statuses[i] = find(t, rep, "iam.trust").Status
		target := f.Targets[0]
		req := trustRequest(f, target, target.Subject(), target.Audience())
		s := oracle.Simulation{Principal: req.Principal.ID, Action: req.Action, Resource: req.Resource, ResourceAccount: fxAccount,
			Context: map[string]any{}, ResourcePolicy: f.Roles[fxRole].Trust.Compact()}
		for k, v := range req.Context {
			s.Context[k] = v[0]
		}
		sims[i] = s
	}
	decisions, err := o.Simulate(sims)
	if err != nil {
		t.Fatal(err)
	}
	count := map[Status]int{}
	for i, c := range cases {
		count[statuses[i]]++
		want := Fail
		if decisions[i] == oracle.Allowed {
			want = Pass
		}
		if statuses[i] != want {
			t.Errorf("%s: iam.trust is %s, iam-simulate says %s\n  trust: %s", c.name, statuses[i], decisions[i], sims[i].ResourcePolicy)
		}
	}
	if count[Pass] < 5 || count[Fail] < 5 {
		t.Errorf("the cases should both pass and fail: %v", count)
	}
	t.Logf("%d trusts: %v", len(cases), count)
}
