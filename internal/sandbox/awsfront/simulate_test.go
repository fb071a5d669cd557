package awsfront

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"

	"github.com/kubectl-sdc/kubectl-sdc/test/oracle"
)

// simCase is one call a user makes, with what the policy simulator is asked about it.
type simCase struct {
	name             string
	call             func(ctx context.Context, u iamUser) error
	action, resource string
	context          map[string]string
}

// TestSimulatorAgreesWithEnforcement: for a user holding bind-policy.json, an explicit deny and a group
// policy, SimulatePrincipalPolicy's decision on each call is what enforcement did with the call itself, and
// what the independent oracle (iam-simulate) decides for the user's identity policies.
func TestSimulatorAgreesWithEnforcement(t *testing.T) {
	integration(t)
	t.Parallel()
	ctx := context.Background()
	admin := newClients(adminConfig(shared.url))
	bind, err := os.ReadFile("../../../docs/permissions/bind-policy.json")
	if err != nil {
		t.Fatal(err)
	}
	acct := "arn:aws:iam::" + shared.creds.AccountID + ":"
	denyDoc := policyDoc(deny("iam:*", acct+"role/sdc-locked-*"))
	u := newIAMUser(t, admin, "", string(bind), denyDoc)
	group := uniqueName("grp")
	groupDoc := policyDoc(allow("iam:ListRoles", "*"))
	if _, err := admin.iam.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String(group)}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.iam.PutGroupPolicy(ctx, &iam.PutGroupPolicyInput{GroupName: aws.String(group), PolicyName: aws.String("list"), PolicyDocument: aws.String(groupDoc)}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.iam.AddUserToGroup(ctx, &iam.AddUserToGroupInput{GroupName: aws.String(group), UserName: aws.String(u.name)}); err != nil {
		t.Fatal(err)
	}
	trust := trusting(shared.creds.AccountID)
	podsTrust := policyDoc(map[string]any{"Effect": "Allow", "Principal": map[string]any{"Service": "pods.eks.amazonaws.com"}, "Action": []string{"sts:AssumeRole", "sts:TagSession"}})
	sdcRole := createRole(t, admin.iam, "sdc-"+uniqueName("r"), podsTrust)
	otherRole := createRole(t, admin.iam, uniqueName("other"), podsTrust)
	locked := createRole(t, admin.iam, "sdc-locked-"+uniqueName("l"), trust)
	sdcPolicy := createPolicy(t, admin.iam, "sdc-"+uniqueName("p"), policyDoc(allow("s3:GetObject", "*")))
	otherPolicy := createPolicy(t, admin.iam, uniqueName("otherp"), policyDoc(allow("s3:GetObject", "*")))

	var cases []simCase
	for _, role := range []string{sdcRole, otherRole, locked} {
		name := roleNameOf(role)
		cases = append(cases,
			simCase{"GetRole " + name, func(ctx context.Context, u iamUser) error {
				_, err := u.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)})
				return err
			}, "iam:GetRole", role, nil},
			simCase{"TagRole " + name, func(ctx context.Context, u iamUser) error {
				_, err := u.iam.TagRole(ctx, &iam.TagRoleInput{RoleName: aws.String(name), Tags: []iamtypes.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
				return err
			}, "iam:TagRole", role, map[string]string{"aws:RequestTag/k": "v", "aws:TagKeys": "k"}},
			simCase{"UpdateAssumeRolePolicy " + name, func(ctx context.Context, u iamUser) error {
				_, err := u.iam.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String(name), PolicyDocument: aws.String(podsTrust)})
				return err
			}, "iam:UpdateAssumeRolePolicy", role, nil},
			simCase{"DeleteRolePolicy " + name, func(ctx context.Context, u iamUser) error {
				_, err := u.iam.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String("none")})
				return err
			}, "iam:DeleteRolePolicy", role, nil},
			simCase{"PutRolePermissionsBoundary " + name, func(ctx context.Context, u iamUser) error {
				_, err := u.iam.PutRolePermissionsBoundary(ctx, &iam.PutRolePermissionsBoundaryInput{RoleName: aws.String(name), PermissionsBoundary: aws.String(sdcPolicy)})
				return err
			}, "iam:PutRolePermissionsBoundary", role, map[string]string{"iam:PermissionsBoundary": sdcPolicy}},
		)
		for _, pol := range []string{sdcPolicy, otherPolicy} {
			cases = append(cases, simCase{"AttachRolePolicy " + name + " " + pol, func(ctx context.Context, u iamUser) error {
				_, err := u.iam.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String(name), PolicyArn: aws.String(pol)})
				return err
			}, "iam:AttachRolePolicy", role, map[string]string{"iam:PolicyARN": pol}})
		}
		if role != locked {
			cases = append(cases, simCase{"CreatePodIdentityAssociation passing " + name, func(ctx context.Context, u iamUser) error {
				_, err := u.eks.CreatePodIdentityAssociation(ctx, &eks.CreatePodIdentityAssociationInput{ClusterName: aws.String("sandbox"),
					Namespace: aws.String(uniqueName("ns")), ServiceAccount: aws.String("sdc"), RoleArn: aws.String(role)})
				return err
			}, "iam:PassRole", role, map[string]string{"iam:PassedToService": "pods.eks.amazonaws.com"}})
		}
	}
	for _, pol := range []string{sdcPolicy, otherPolicy} {
		cases = append(cases,
			simCase{"GetPolicy " + pol, func(ctx context.Context, u iamUser) error {
				_, err := u.iam.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(pol)})
				return err
			}, "iam:GetPolicy", pol, nil},
			simCase{"ListPolicyVersions " + pol, func(ctx context.Context, u iamUser) error {
				_, err := u.iam.ListPolicyVersions(ctx, &iam.ListPolicyVersionsInput{PolicyArn: aws.String(pol)})
				return err
			}, "iam:ListPolicyVersions", pol, nil},
			simCase{"DeletePolicy " + pol, func(ctx context.Context, u iamUser) error {
				_, err := u.iam.DeletePolicyVersion(ctx, &iam.DeletePolicyVersionInput{PolicyArn: aws.String(pol), VersionId: aws.String("v9")})
				return err
			}, "iam:DeletePolicyVersion", pol, nil},
		)
	}
	for _, name := range []string{"sdc-" + uniqueName("c"), uniqueName("c")} {
		cases = append(cases,
			simCase{"CreateRole " + name, func(ctx context.Context, u iamUser) error {
				_, err := u.iam.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(trust)})
				return err
			}, "iam:CreateRole", acct + "role/" + name, nil},
			simCase{"CreatePolicy " + name, func(ctx context.Context, u iamUser) error {
				_, err := u.iam.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String(name), PolicyDocument: aws.String(policyDoc(allow("s3:GetObject", "*")))})
				return err
			}, "iam:CreatePolicy", acct + "policy/" + name, nil},
		)
	}
	cases = append(cases,
		simCase{"ListRoles", func(ctx context.Context, u iamUser) error {
			_, err := u.iam.ListRoles(ctx, &iam.ListRolesInput{})
			return err
		}, "iam:ListRoles", "*", nil},
		simCase{"ListPolicies", func(ctx context.Context, u iamUser) error {
			_, err := u.iam.ListPolicies(ctx, &iam.ListPoliciesInput{})
			return err
		}, "iam:ListPolicies", "*", nil},
		simCase{"ListOpenIDConnectProviders", func(ctx context.Context, u iamUser) error {
			_, err := u.iam.ListOpenIDConnectProviders(ctx, &iam.ListOpenIDConnectProvidersInput{})
			return err
		}, "iam:ListOpenIDConnectProviders", "*", nil},
	)
	if len(cases) < 30 {
		t.Fatalf("only %d cases", len(cases))
	}

	o := oracle.Start(t)
	var sims []oracle.Simulation
	var decisions []string
	for _, tc := range cases {
		err := tc.call(ctx, u)
		enforced := "allowed"
		var ae smithy.APIError
		if errors.As(err, &ae) && strings.HasPrefix(ae.ErrorCode(), "AccessDenied") {
			enforced = "denied"
		}
		in := &iam.SimulatePrincipalPolicyInput{PolicySourceArn: aws.String(u.arn), ActionNames: []string{tc.action}}
		if tc.resource != "*" {
			in.ResourceArns = []string{tc.resource}
		}
		octx := map[string]any{}
		for k, v := range tc.context {
			in.ContextEntries = append(in.ContextEntries, iamtypes.ContextEntry{ContextKeyName: aws.String(k), ContextKeyValues: []string{v}, ContextKeyType: iamtypes.ContextKeyTypeEnumString})
			octx[k] = v
			if k == "aws:TagKeys" {
				octx[k] = []string{v}
			}
		}
		out, err := admin.iam.SimulatePrincipalPolicy(ctx, in)
		if err != nil {
			t.Fatalf("%s: SimulatePrincipalPolicy: %v", tc.name, err)
		}
		if len(out.EvaluationResults) != 1 {
			t.Fatalf("%s: %d results; want 1", tc.name, len(out.EvaluationResults))
		}
		got := string(out.EvaluationResults[0].EvalDecision)
		simulated := "denied"
		if got == "allowed" {
			simulated = "allowed"
		}
		if simulated != enforced {
			t.Errorf("%s: the simulator says %s, enforcement %s (%v)", tc.name, got, enforced, err)
		}
		decisions = append(decisions, got)
		sims = append(sims, oracle.Simulation{Principal: u.arn, Action: tc.action, Resource: tc.resource, ResourceAccount: shared.creds.AccountID,
			Context: octx, Identity: []json.RawMessage{bind, json.RawMessage(denyDoc), json.RawMessage(groupDoc)}})
	}
	answers, err := o.Simulate(sims)
	if err != nil {
		t.Fatal(err)
	}
	want := map[oracle.Decision]string{oracle.Allowed: "allowed", oracle.ImplicitlyDenied: "implicitDeny", oracle.ExplicitlyDenied: "explicitDeny"}
	allowed, denied := 0, 0
	for i, a := range answers {
		if want[a] != decisions[i] {
			t.Errorf("%s: the simulator says %s, the oracle %s", cases[i].name, decisions[i], a)
		}
		if decisions[i] == "allowed" {
			allowed++
		} else {
			denied++
		}
	}
	if allowed == 0 || denied == 0 {
		t.Errorf("%d allowed and %d denied cases: the table must have both", allowed, denied)
	}
}
