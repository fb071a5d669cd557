package awsfront

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// TestSimulatePrincipalPolicyCLI: the aws CLI parses the simulator's answer (decisions per action and per
// resource, the boundary's detail, missing context keys), pages through it, and a caller without
// iam:SimulatePrincipalPolicy on the source is refused.
func TestSimulatePrincipalPolicyCLI(t *testing.T) {
	integration(t)
	t.Parallel()
	ctx := context.Background()
	admin := newClients(adminConfig(shared.url))
	bucket := "arn:aws:s3:::sim-bucket"
	u := newIAMUser(t, admin, "", policyDoc(
		allow("s3:GetObject", bucket+"/*"),
		deny("s3:GetObject", bucket+"/secret/*"),
		map[string]any{"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*", "Condition": map[string]any{"StringEquals": map[string]any{"aws:RequestTag/team": "data"}}},
	))
	cli := newAWSCLI(t, shared.url)
	boundary := policyDoc(allow("s3:GetObject", "*"))
	out := cli.ok(t, "iam", "simulate-principal-policy", "--policy-source-arn", u.arn,
		"--action-names", "s3:GetObject", "s3:PutObject", "s3:DeleteObject",
		"--resource-arns", bucket+"/a", bucket+"/secret/b",
		"--permissions-boundary-policy-input-list", boundary)
	var got struct {
		EvaluationResults []struct {
			EvalActionName, EvalResourceName, EvalDecision string
			MissingContextValues                           []string
			MatchedStatements                              []struct{ SourcePolicyId, SourcePolicyType string }
			PermissionsBoundaryDecisionDetail              struct{ AllowedByPermissionsBoundary bool }
			ResourceSpecificResults                        []struct{ EvalResourceName, EvalResourceDecision string }
		}
	}
	b, _ := json.Marshal(out)
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.EvaluationResults) != 3 {
		t.Fatalf("%d results; want one per action: %s", len(got.EvaluationResults), b)
	}
	for i, want := range []struct {
		action, decision string
		perResource      []string
		boundary         bool
		missing          []string
	}{
		{"s3:GetObject", "explicitDeny", []string{"allowed", "explicitDeny"}, true, nil},
		{"s3:PutObject", "implicitDeny", []string{"implicitDeny", "implicitDeny"}, false, []string{"aws:RequestTag/team"}},
		{"s3:DeleteObject", "implicitDeny", []string{"implicitDeny", "implicitDeny"}, false, nil},
	} {
		r := got.EvaluationResults[i]
		var per []string
		for _, rs := range r.ResourceSpecificResults {
			per = append(per, rs.EvalResourceDecision)
		}
		if r.EvalActionName != want.action || r.EvalDecision != want.decision || !slices.Equal(per, want.perResource) ||
			r.PermissionsBoundaryDecisionDetail.AllowedByPermissionsBoundary != want.boundary || !slices.Equal(r.MissingContextValues, want.missing) {
			t.Errorf("result %d: %+v; want %+v", i, r, want)
		}
	}
	if m := got.EvaluationResults[0].MatchedStatements; len(m) != 1 || m[0].SourcePolicyId != "p0" || m[0].SourcePolicyType != "user" {
		t.Errorf("matched statements of s3:GetObject: %+v; want the user's inline policy p0", m)
	}

	// Paging: one result a page, as the SDK's paginator follows Marker.
	var actions []string
	pages := iam.NewSimulatePrincipalPolicyPaginator(admin.iam, &iam.SimulatePrincipalPolicyInput{PolicySourceArn: aws.String(u.arn),
		ActionNames: []string{"s3:GetObject", "s3:PutObject", "s3:ListBucket"}, MaxItems: aws.Int32(1)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.EvaluationResults) != 1 {
			t.Fatalf("a page of %d results; want 1", len(page.EvaluationResults))
		}
		actions = append(actions, aws.ToString(page.EvaluationResults[0].EvalActionName))
	}
	if want := []string{"s3:GetObject", "s3:PutObject", "s3:ListBucket"}; !slices.Equal(actions, want) {
		t.Errorf("paged actions %v; want %v", actions, want)
	}

	// The caller needs iam:SimulatePrincipalPolicy on the source.
	_, err := u.iam.SimulatePrincipalPolicy(ctx, &iam.SimulatePrincipalPolicyInput{PolicySourceArn: aws.String(u.arn), ActionNames: []string{"s3:GetObject"}})
	refusedAs(t, err, u, "iam:SimulatePrincipalPolicy", u.arn, noIdentityPolicy("iam:SimulatePrincipalPolicy"))
	// An unknown source is IAM's NoSuchEntity.
	_, err = admin.iam.SimulatePrincipalPolicy(ctx, &iam.SimulatePrincipalPolicyInput{PolicySourceArn: aws.String(u.arn + "-gone"), ActionNames: []string{"s3:GetObject"}})
	if code, _, status := apiError(t, err); code != "NoSuchEntity" || status != 404 {
		t.Errorf("an unknown source: %s (%d); want NoSuchEntity (404)", code, status)
	}
}
