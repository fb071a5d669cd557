package e2efleet

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox"
	"github.com/kubectl-sdc/kubectl-sdc/test/harness"
)

// listFleetDoc is `kubectl sdc list -o json` over a fleet, decoded strictly: a renamed or extra field fails.
type listFleetDoc struct {
	Contexts []struct {
		Context string             `json:"context"`
		Cluster string             `json:"cluster"`
		Account string             `json:"account"`
		Region  string             `json:"region"`
		Error   string             `json:"error"`
		Items   []harness.ListItem `json:"items"`
	} `json:"contexts"`
	Summary struct {
		Items  int `json:"items"`
		OK     int `json:"ok"`
		Warn   int `json:"warn"`
		Fail   int `json:"fail"`
		Errors int `json:"errors"`
	} `json:"summary"`
}

// listFleet runs `kubectl sdc list -o json ARGS` and decodes the document strictly.
func listFleet(t *testing.T, args ...string) (listFleetDoc, harness.Result) {
	t.Helper()
	r := harness.Run(t, "", nil, "kubectl", append([]string{"sdc", "list", "-o", "json"}, args...)...)
	var doc listFleetDoc
	dec := json.NewDecoder(strings.NewReader(r.Stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("list -o json %s: %v\n%s", strings.Join(args, " "), err, r)
	}
	return doc, r
}

// bindingsIn are a context's bindings of namespace ns, by ServiceAccount; ok is false when the document has
// no such context.
func (d listFleetDoc) bindingsIn(name, ns string) (items map[string]harness.ListItem, err string, ok bool) {
	for _, c := range d.Contexts {
		if c.Context == name {
			items = map[string]harness.ListItem{}
			for _, it := range c.Items {
				if it.Namespace == ns {
					items[it.ServiceAccount] = it
				}
			}
			return items, c.Error, true
		}
	}
	return nil, "", false
}

// listAcrossAFleet: with ServiceAccount sdc of ns bound in every cluster (roles, by context), list
// --all-contexts shows each binding under its own context, each context read as --context would read it;
// in text, each context's table under its heading.
func listAcrossAFleet(t *testing.T, clusters []*sandbox.Cluster, ns string, roles map[string]string) {
	doc, r := listFleet(t, "--all-contexts", "-A")
	if r.Code != 0 || len(doc.Contexts) != len(clusters) || doc.Summary.Errors != 0 || doc.Summary.Items < len(clusters) {
		t.Fatalf("want exit 0 and %d contexts: %+v\n%s", len(clusters), doc.Summary, r)
	}
	for i, c := range clusters {
		got := doc.Contexts[i]
		if got.Context != c.Context || got.Cluster != c.Name || got.Account != c.AccountID || got.Region != c.Region || got.Error != "" {
			t.Errorf("context %d: %s, cluster %q account %q region %q error %q; want %s, %s, %s, %s", i, got.Context, got.Cluster, got.Account, got.Region, got.Error,
				c.Context, c.Name, c.AccountID, c.Region)
		}
		items, _, _ := doc.bindingsIn(c.Context, ns)
		b, ok := items["sdc"]
		if !ok || len(items) != 1 || b.RoleARN != roles[c.Context] || b.Mechanism != "irsa" || b.Status != "ok" ||
			strings.Join(b.Deployments, ",") != "sdc" || b.Pods.WithIdentity != 1 || b.Pods.Total != 1 {
			t.Errorf("%s: bindings of %s %+v, want sdc with role %s, ok, its pod with the role", c.Context, ns, items, roles[c.Context])
		}
		for _, it := range got.Items {
			for _, other := range clusters {
				if other != c && it.RoleARN == roles[other.Context] {
					t.Errorf("%s lists %s's binding %s/%s", c.Context, other.Context, it.Namespace, it.ServiceAccount)
				}
			}
		}
	}
	if doc.Summary.Fail != 0 || doc.Summary.OK < len(clusters) {
		t.Errorf("summary %+v", doc.Summary)
	}

	tr := harness.Run(t, "", nil, "kubectl", "sdc", "list", "--contexts", "sandbox*", "-n", ns)
	if tr.Code != 0 {
		t.Fatalf("text: %s", tr)
	}
	for _, c := range clusters {
		role := roles[c.Context][strings.LastIndex(roles[c.Context], "/")+1:]
		heading := "=== Context " + c.Context + " · cluster " + c.Name + " · account " + c.AccountID + " · " + c.Region + "\n"
		section, _, _ := strings.Cut(tr.Stdout[strings.Index(tr.Stdout, heading)+1:], "\n\n")
		if !strings.Contains(tr.Stdout, heading) || !strings.Contains(section, "SERVICEACCOUNT   MECHANISM   ROLE") ||
			!strings.Contains(section, "sdc              irsa        "+role) || !strings.HasSuffix(strings.TrimSpace(section), "ok") {
			t.Errorf("text lacks %s's heading and table with role %s:\n%s", c.Context, role, tr.Stdout)
		}
	}
	if !strings.Contains(tr.Stdout, "Fleet: 2 contexts; 2 bindings: 2 ok, 0 warn, 0 fail.") {
		t.Errorf("text lacks the fleet's line:\n%s", tr.Stdout)
	}

	// --orphans over the fleet: each context's own clean-up list; none here.
	or := harness.Run(t, "", nil, "kubectl", "sdc", "list", "--all-contexts", "--orphans", "-o", "json")
	if or.Code != 0 || !strings.Contains(or.Stdout, `"errors": 0`) || strings.Contains(or.Stdout, `"ok"`) {
		t.Errorf("--orphans over the fleet: %s", or)
	}
}

// listWithAStoppedAPIServer: the context whose API server is stopped (down) is that context's error with its
// reason, list exits 1 (0 with --ignore-unreachable), and the other contexts are listed as before.
func listWithAStoppedAPIServer(t *testing.T, up, down *sandbox.Cluster, ns string, roles map[string]string) {
	doc, r := listFleet(t, "--all-contexts", "-n", ns, "--request-timeout", "20s")
	if r.Code != 1 {
		t.Errorf("want exit 1: %s", r)
	}
	if _, err, _ := doc.bindingsIn(down.Context, ns); !strings.Contains(err, `the API server of kube context "`+down.Context+`" does not answer`) {
		t.Errorf("%s: error %q", down.Context, err)
	}
	if items, err, _ := doc.bindingsIn(up.Context, ns); err != "" || items["sdc"].RoleARN != roles[up.Context] {
		t.Errorf("%s must still be listed: %+v, error %q", up.Context, items, err)
	}
	if doc.Summary.Errors != 1 || doc.Summary.Items != 1 {
		t.Errorf("summary %+v", doc.Summary)
	}
	tr := harness.Run(t, "", nil, "kubectl", "sdc", "list", "--all-contexts", "-n", ns, "--ignore-unreachable", "--request-timeout", "20s")
	if tr.Code != 0 || !strings.Contains(tr.Stdout, "=== Context "+down.Context) || !strings.Contains(tr.Stdout, "✗ error  API server does not answer") ||
		!strings.Contains(tr.Stdout, "Fleet: 2 contexts, 1 could not be listed; 1 binding: 1 ok, 0 warn, 0 fail.") {
		t.Errorf("text, --ignore-unreachable: %s", tr)
	}
}
