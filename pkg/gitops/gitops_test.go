package gitops

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
)

func TestK8sNamesAreValidAndDistinct(t *testing.T) {
	t.Parallel()
	dns := regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	seen := map[string]string{}
	for _, name := range []string{
		"sdc-data", "sdc-prod.eu-west-1+ns1+sdc", "sdc-prod.eu-west-1+ns1+sdc2", "SDC-Data", "sdc_data",
		"oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE",
		strings.Repeat("a", 64), strings.Repeat("a", 63) + "b",
	} {
		got := k8sName("role", name)
		if len(got) > 63 || !dns.MatchString(got) {
			t.Errorf("k8sName(%q) = %q: not a DNS-1123 label", name, got)
		}
		if other, dup := seen[got]; dup {
			t.Errorf("k8sName gives %q to both %q and %q", got, other, name)
		}
		seen[got] = name
	}
	if got := k8sName("role", "sdc-data"); got != "role-sdc-data" {
		t.Errorf("a name that is already valid: %q, want it kept", got)
	}
}

func TestDiffSeesEachDifference(t *testing.T) {
	t.Parallel()
	doc := func(s string) *iampolicy.Policy {
		p, err := iampolicy.Parse([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	base := func() *Desired {
		return &Desired{Accounts: []Account{{ID: "1",
			Policies: []Policy{{ARN: "p", Name: "p", Path: "/", Document: doc(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"*"}]}`), Tags: map[string]string{"a": "b"}}},
			Roles:    []Role{{ARN: "r", Name: "r", Path: "/", Trust: doc(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":"sts:AssumeRole"}]}`), Policies: []string{"p"}}},
		}}}
	}
	if d := Diff(base(), base()); len(d) != 0 {
		t.Fatalf("Diff of equal states: %q", d)
	}
	same := base()
	same.Accounts[0].Policies[0].Document = doc(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:PutObject","s3:GetObject","s3:GetObject"],"Resource":["*"]}]}`)
	same.Accounts[0].Roles[0].MaxSessionDuration = 3600
	if d := Diff(base(), same); len(d) != 0 {
		t.Errorf("the same documents written otherwise, IAM's default session: %q", d)
	}
	for name, spoil := range map[string]func(d *Desired){
		"document": func(d *Desired) {
			d.Accounts[0].Policies[0].Document = doc(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`)
		},
		"tags":     func(d *Desired) { d.Accounts[0].Policies[0].Tags = nil },
		"policies": func(d *Desired) { d.Accounts[0].Roles[0].Policies = nil },
		"trust": func(d *Desired) {
			d.Accounts[0].Roles[0].Trust = doc(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"*"}]}`)
		},
		"account": func(d *Desired) { d.Accounts[0].ID = "2" },
	} {
		d := base()
		spoil(d)
		if got := Diff(base(), d); len(got) == 0 {
			t.Errorf("Diff misses a changed %s", name)
		}
	}
	noTags := base()
	noTags.Accounts[0].Policies[0].Tags = nil
	if d := DiffTemplate(base(), noTags); len(d) != 0 {
		t.Errorf("DiffTemplate compares policy tags, which a template cannot hold: %q", d)
	}
}

func TestWriteAndReadAStream(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	docs := []Document{{Comment: []string{"only a comment"}}, {Comment: []string{"a", "b"}, Object: map[string]any{"kind": "X"}}, {Object: map[string]any{"kind": "Z"}}}
	if err := Write(&b, docs); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.String(), "# only a comment\n---\n# a\n# b\nkind: X\n---\nkind: Z\n") {
		t.Errorf("stream:\n%s", b.String())
	}
	objs, err := Read(&b)
	if err != nil || len(objs) != 2 || objs[0]["kind"] != "X" || objs[1]["kind"] != "Z" {
		t.Errorf("Read = %v, %v", objs, err)
	}
}
