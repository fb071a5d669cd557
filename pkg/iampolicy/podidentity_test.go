package iampolicy

import (
	"strings"
	"testing"
)

func TestAdmitPodIdentity(t *testing.T) {
	t.Parallel()
	session := PodIdentitySession{ClusterARN: "arn:aws:eks:us-west-2:123456789012:cluster/prod", ClusterName: "prod",
		Namespace: "ns1", ServiceAccount: "sdc"}
	const (
		web      = `{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/A"},"Action":"sts:AssumeRoleWithWebIdentity"}`
		standard = `{"Sid":"AllowEksAuthToAssumeRoleForPodIdentity","Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"]}`
	)
	doc := func(statements ...string) *Policy {
		p, err := Parse([]byte(`{"Version":"2012-10-17","Statement":[` + strings.Join(statements, ",") + `]}`))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		name        string
		trust       *Policy
		changed     bool
		statements  int
		admitsAfter bool
	}{
		{"no trust yet", nil, true, 1, true},
		{"the IRSA statement alone", doc(web), true, 2, true},
		{"already the guide's statement", doc(web, standard), false, 2, true},
		{"AssumeRole without TagSession", doc(`{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":"sts:AssumeRole"}`), true, 2, true},
		{"conditions on this namespace and ServiceAccount", doc(`{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"],
			"Condition":{"StringEquals":{"aws:RequestTag/kubernetes-namespace":"ns1","aws:RequestTag/kubernetes-service-account":"sdc","aws:SourceArn":"arn:aws:eks:us-west-2:123456789012:cluster/prod"}}}`), false, 1, true},
		{"conditions on another namespace", doc(`{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"],
			"Condition":{"StringEquals":{"aws:RequestTag/kubernetes-namespace":"ns2"}}}`), true, 2, true},
		{"a Deny of TagSession stays and still refuses", doc(standard, `{"Effect":"Deny","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":"sts:TagSession"}`), false, 2, false},
		{"the Sid is taken by another statement", doc(`{"Sid":"AllowEksAuthToAssumeRoleForPodIdentity","Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}`), true, 2, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var before string
			if c.trust != nil {
				before = string(c.trust.Canonical())
			}
			got, changed := AdmitPodIdentity(c.trust, session)
			if changed != c.changed || len(got.Statements) != c.statements {
				t.Errorf("changed %v with %d statements, want %v with %d: %s", changed, len(got.Statements), c.changed, c.statements, got.Canonical())
			}
			if d, action := AdmitsPodIdentity(got, session, "arn:aws:iam::123456789012:role/r"); d.Allowed() != c.admitsAfter {
				t.Errorf("after: %s %s, want allowed=%v", action, d, c.admitsAfter)
			}
			if err := got.Validate(Trust); err != nil {
				t.Errorf("the merged trust is not valid: %v", err)
			}
			if c.trust != nil && string(c.trust.Canonical()) != before {
				t.Error("the input was modified")
			}
			sids := map[string]bool{}
			for _, s := range got.Statements {
				if s.Sid != "" && sids[s.Sid] {
					t.Errorf("Sid %s twice", s.Sid)
				}
				sids[s.Sid] = true
			}
		})
	}
}

func TestPodIdentityRequests(t *testing.T) {
	t.Parallel()
	s := PodIdentitySession{ClusterARN: "arn:aws:eks:eu-west-1:111122223333:cluster/c", ClusterName: "c", Namespace: "n", ServiceAccount: "a", PodName: "p"}
	reqs := PodIdentityRequests(s, "arn:aws:iam::111122223333:role/r")
	if len(reqs) != 2 || reqs[0].Action != "sts:AssumeRole" || reqs[1].Action != "sts:TagSession" {
		t.Fatalf("requests %+v", reqs)
	}
	ctx := reqs[0].Context
	if ctx["aws:SourceAccount"][0] != "111122223333" || ctx["aws:RequestTag/kubernetes-pod-name"][0] != "p" || ctx["aws:RequestTag/kubernetes-pod-uid"] != nil ||
		strings.Join(ctx["aws:TagKeys"], ",") != "eks-cluster-arn,eks-cluster-name,kubernetes-namespace,kubernetes-service-account,kubernetes-pod-name" {
		t.Errorf("context %v", ctx)
	}
	s.DisableSessionTags = true
	if reqs := PodIdentityRequests(s, ""); len(reqs) != 1 || reqs[0].Context["aws:TagKeys"] != nil {
		t.Errorf("without session tags: %+v", reqs)
	}
}

// Only the guide's statement goes (whatever its Sid); one with conditions, another service's and the IRSA
// statement stay, and the input is not modified.
func TestRevokePodIdentity(t *testing.T) {
	t.Parallel()
	const (
		web        = `{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/A"},"Action":"sts:AssumeRoleWithWebIdentity"}`
		standard   = `{"Sid":"AllowEksAuthToAssumeRoleForPodIdentity","Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"]}`
		renamed    = `{"Sid":"Other","Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":["sts:TagSession","sts:AssumeRole"]}`
		conditions = `{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"],"Condition":{"StringEquals":{"aws:RequestTag/kubernetes-namespace":"ns1"}}}`
		ec2        = `{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}`
	)
	doc := func(statements ...string) *Policy {
		p, err := Parse([]byte(`{"Version":"2012-10-17","Statement":[` + strings.Join(statements, ",") + `]}`))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		name    string
		trust   *Policy
		changed bool
		left    *Policy
	}{
		{"the guide's statement beside IRSA's", doc(web, standard), true, doc(web)},
		{"under another Sid, actions in another order", doc(renamed, ec2), true, doc(ec2)},
		{"alone: nothing is left", doc(standard), true, &Policy{Version: Version2012}},
		{"with conditions: not bind's, it stays", doc(web, conditions), false, doc(web, conditions)},
		{"none", doc(web, ec2), false, doc(web, ec2)},
		{"no trust", nil, false, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var before string
			if c.trust != nil {
				before = string(c.trust.Canonical())
			}
			got, changed := RevokePodIdentity(c.trust)
			if changed != c.changed || HasPodIdentityStatement(c.trust) != c.changed {
				t.Errorf("changed %v, want %v", changed, c.changed)
			}
			if string(got.Canonical()) != string(c.left.Canonical()) {
				t.Errorf("left %s, want %s", got.Canonical(), c.left.Canonical())
			}
			if c.trust != nil && string(c.trust.Canonical()) != before {
				t.Error("the input was modified")
			}
		})
	}
}
