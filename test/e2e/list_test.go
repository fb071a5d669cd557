package e2e

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/kubectl-sdc/kubectl-sdc/test/harness"
)

// listJSON runs `kubectl sdc list -o json ARGS` and returns its items of namespace ns, by ServiceAccount.
func listJSON(t *testing.T, ns string, args ...string) map[string]harness.ListItem {
	t.Helper()
	r := kubectl(t, append([]string{"sdc", "list", "-o", "json"}, args...)...)
	if r.Code != 0 {
		t.Fatalf("list %v: %s", args, r)
	}
	var l struct {
		Items []harness.ListItem `json:"items"`
	}
	dec := json.NewDecoder(strings.NewReader(r.Stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		t.Fatalf("list -o json: %v\n%s", err, r)
	}
	out := map[string]harness.ListItem{}
	for _, it := range l.Items {
		if it.Namespace == ns {
			out[it.ServiceAccount] = it
		}
	}
	return out
}

// tableRows runs `kubectl sdc list ARGS` and returns its header and the rows of namespace ns (first column
// NAMESPACE with -A), split into columns.
func tableRows(t *testing.T, ns string, args ...string) (header []string, rows map[string][]string) {
	t.Helper()
	r := kubectl(t, append([]string{"sdc", "list"}, args...)...)
	if r.Code != 0 {
		t.Fatalf("list %v: %s", args, r)
	}
	rows = map[string][]string{}
	for i, line := range strings.Split(strings.TrimRight(r.Stdout, "\n"), "\n") {
		f := strings.Fields(line)
		if i == 0 && len(f) > 0 && f[0] == "NAMESPACE" {
			header = f
			continue
		}
		if len(f) > 1 && f[0] == ns {
			rows[f[1]] = f
		}
	}
	return header, rows
}

// Three ServiceAccounts bound, two sharing a role: list -A shows all three with kubectl get's columns and
// doctor's verdict; after breaking one by hand (its policy detached), its STATUS and PROBLEM say so.
func TestListShowsEveryBindingAndItsVerdict(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	bucket := newBucket(t)
	shared := "sdc-shared-" + ns
	mustBind(t, "-n", ns, "--service-account", "solo", "--bucket", bucket, "--deployment", "solo", "--create-deployment", "--image", sdcImage, "--yes")
	mustBind(t, "-n", ns, "--service-account", "a", "--bucket", bucket, "--role-name", shared, "--yes")
	mustBind(t, "-n", ns, "--service-account", "b", "--bucket", bucket, "--role-name", shared, "--yes")
	waitMutatedPod(t, ns, "solo", roleARN(t, ns, "solo"))

	items := listJSON(t, ns, "-A")
	want := map[string]struct {
		role        string
		deployments []string
		pods        [2]int
	}{
		"solo": {roleARN(t, ns, "solo"), []string{"solo"}, [2]int{1, 1}},
		"a":    {"arn:aws:iam::" + awsAccount(t) + ":role/" + shared, []string{}, [2]int{0, 0}},
		"b":    {"arn:aws:iam::" + awsAccount(t) + ":role/" + shared, []string{}, [2]int{0, 0}},
	}
	if len(items) != 3 {
		t.Fatalf("list -A shows %d bindings of %s, want 3: %+v", len(items), ns, items)
	}
	for sa, w := range want {
		it := items[sa]
		if it.Mechanism != "irsa" || it.RoleARN != w.role || !reflect.DeepEqual(it.Stages, []string{"s3"}) ||
			!reflect.DeepEqual(it.Deployments, w.deployments) || it.Pods.WithIdentity != w.pods[0] || it.Pods.Total != w.pods[1] ||
			it.Status != "ok" || len(it.Problems) != 0 {
			t.Errorf("%s/%s: %+v", ns, sa, it)
		}
	}
	// Only the namespace's, without -A.
	if got := listJSON(t, ns, "-n", ns); len(got) != 3 {
		t.Errorf("list -n %s: %d bindings", ns, len(got))
	}

	header, rows := tableRows(t, ns, "-A")
	if want := []string{"NAMESPACE", "SERVICEACCOUNT", "MECHANISM", "ROLE", "STAGES", "DEPLOYMENTS", "PODS", "STATUS"}; !reflect.DeepEqual(header, want) {
		t.Errorf("header %v, want %v", header, want)
	}
	if got, want := rows["solo"], []string{ns, "solo", "irsa", roleName(ns, "solo"), "s3", "solo", "1/1", "ok"}; !reflect.DeepEqual(got, want) {
		t.Errorf("row %v, want %v", got, want)
	}
	if got, want := rows["a"], []string{ns, "a", "irsa", shared, "s3", "<none>", "0/0", "ok"}; !reflect.DeepEqual(got, want) {
		t.Errorf("row %v, want %v", got, want)
	}
	// Stable order: by namespace, then name.
	r := kubectl(t, "sdc", "list", "-n", ns, "--no-headers")
	var names []string
	for _, line := range strings.Split(strings.TrimSpace(r.Stdout), "\n") {
		names = append(names, strings.Fields(line)[0])
	}
	if !reflect.DeepEqual(names, []string{"a", "b", "solo"}) {
		t.Errorf("list -n %s --no-headers:\n%s", ns, r.Stdout)
	}

	// Break one the way doctor's tests do: its policy detached by hand.
	mustRun(t, "aws", "iam", "detach-role-policy", "--role-name", roleName(ns, "solo"), "--policy-arn", policyARN(t, ns, "solo"))
	items = listJSON(t, ns, "-A")
	if it := items["solo"]; it.Status != "fail" || len(it.Problems) == 0 || it.Problems[0] != "iam.permissions" {
		t.Errorf("after the detach: %+v", it)
	}
	if it := items["a"]; it.Status != "ok" {
		t.Errorf("the other bindings are not affected: %+v", it)
	}
	header, rows = tableRows(t, ns, "-A", "-o", "wide")
	if header[len(header)-1] != "PROBLEM" || header[3] != "ROLE" {
		t.Errorf("wide header %v", header)
	}
	if got := rows["solo"]; got[3] != roleARN(t, ns, "solo") || got[len(got)-2] != "fail" || got[len(got)-1] != "iam.permissions" {
		t.Errorf("wide row %v", got)
	}
}

// --orphans finds the role of a ServiceAccount deleted with kubectl, and the command it prints removes it.
func TestListOrphans(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	bucket := newBucket(t)
	mustBind(t, "-n", ns, "--service-account", "gone", "--bucket", bucket, "--yes")
	mustBind(t, "-n", ns, "--service-account", "kept", "--bucket", bucket, "--yes")
	orphans := func() []map[string]string {
		var mine []map[string]string
		for _, o := range listOrphans(t) {
			if o["namespace"] == ns {
				mine = append(mine, o)
			}
		}
		return mine
	}
	if got := orphans(); len(got) != 0 {
		t.Fatalf("orphans before anything was deleted: %v", got)
	}
	mustRun(t, "kubectl", "delete", "serviceaccount", "gone", "-n", ns)
	got := orphans()
	cmd := "kubectl sdc unbind -n " + ns + " --service-account gone --role-name " + roleName(ns, "gone")
	if len(got) != 1 || got[0]["roleName"] != roleName(ns, "gone") || got[0]["serviceAccount"] != "gone" || got[0]["command"] != cmd {
		t.Fatalf("orphans: %v", got)
	}
	if r := kubectl(t, "sdc", "list", "-n", ns, "--orphans"); !strings.Contains(r.Stdout, cmd) || !strings.Contains(r.Stdout, "COMMAND") {
		t.Errorf("list -n %s --orphans:\n%s", ns, r)
	}
	// The printed command removes it, as a person pasting it would run it.
	if r := run(t, nil, "sh", "-c", cmd+" --yes"); r.Code != 0 {
		t.Fatalf("%s: %s", cmd, r)
	}
	if got := orphans(); len(got) != 0 {
		t.Errorf("after the printed command: %v", got)
	}
	if roleExists(t, roleName(ns, "gone")) || !roleExists(t, roleName(ns, "kept")) {
		t.Error("the wrong role went")
	}
}

// listOrphans runs `kubectl sdc list -A --orphans -o json` and returns its items.
func listOrphans(t *testing.T) []map[string]string {
	t.Helper()
	r := kubectl(t, "sdc", "list", "-A", "--orphans", "-o", "json")
	if r.Code != 0 {
		t.Fatalf("list --orphans: %s", r)
	}
	var l struct {
		Items []map[string]string `json:"items"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &l); err != nil {
		t.Fatal(err)
	}
	return l.Items
}
