package e2e

import (
	"context"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox/sandboxtest"
)

// A binding made with the older catalog is brought up to date by a rerun of bind: the plan shows one
// policy update, IAM then holds one new default version with DeleteTable and without UpdateTable, and a
// further rerun changes nothing.
func TestBindRerunUpdatesAnOlderCatalogsPolicy(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	// plugins.yaml as it was before its calls were read from SDC's source: the Kinesis Consumer granted
	// dynamodb:UpdateTable (never called) and no DeleteTable (called on every start without stored offsets).
	root, err := sandboxtest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	older := filepath.Join(root, "pkg", "catalog", "testdata", "plugins-before-calls.yaml")
	args := []string{"-n", ns, "--stage", "kinesis-consumer", "--set", "stream=clicks", "--set", "application=" + ns + "-leases", "--yes"}
	mustBind(t, append([]string{"--catalog", older}, args...)...)

	r := mustBind(t, args...)
	if n := strings.Count(r.Stdout, "~ update"); n != 1 || !strings.Contains(r.Stdout, "~ update    IAM policy") {
		t.Errorf("the rerun's plan has %d updates, want exactly the IAM policy's:\n%s", n, r.Stdout)
	}
	arn := policyARN(t, ns, "sdc")
	versions, err := awsAdmin(t).IAM.ListPolicyVersions(context.Background(), &iam.ListPolicyVersionsInput{PolicyArn: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	if len(versions.Versions) != 2 {
		t.Errorf("%d policy versions after the rerun, want 2 (the older one and one new)", len(versions.Versions))
	}
	var def string
	for _, v := range versions.Versions {
		if v.IsDefaultVersion {
			def = aws.ToString(v.VersionId)
		}
	}
	got, err := awsAdmin(t).IAM.GetPolicyVersion(context.Background(), &iam.GetPolicyVersionInput{PolicyArn: aws.String(arn), VersionId: aws.String(def)})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := url.QueryUnescape(aws.ToString(got.PolicyVersion.Document))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(doc, "dynamodb:DeleteTable") || strings.Contains(doc, "dynamodb:UpdateTable") {
		t.Errorf("default version %s is not today's catalog's: %s", def, doc)
	}
	if r := mustBind(t, args...); !strings.Contains(r.Stdout, "No changes") {
		t.Errorf("a second rerun plans changes:\n%s", r.Stdout)
	}
}
