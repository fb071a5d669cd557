package awsfront

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// iamUser is an IAM user made for a test, with clients signed with its own key.
type iamUser struct {
	name, arn string
	clients
}

// newIAMUser makes a user holding the inline policies docs (and the permissions boundary, when given),
// with a fresh access key, through the admin.
func newIAMUser(t *testing.T, admin clients, boundary string, docs ...string) iamUser {
	t.Helper()
	ctx := context.Background()
	name := uniqueName("u")
	in := &iam.CreateUserInput{UserName: aws.String(name)}
	if boundary != "" {
		in.PermissionsBoundary = aws.String(boundary)
	}
	if _, err := admin.iam.CreateUser(ctx, in); err != nil {
		t.Fatal(err)
	}
	for i, d := range docs {
		if _, err := admin.iam.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String(name), PolicyName: aws.String("p" + string(rune('0'+i))), PolicyDocument: aws.String(d)}); err != nil {
			t.Fatalf("PutUserPolicy: %v", err)
		}
	}
	key, err := admin.iam.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	cfg := awsConfig(shared.url, credentials.NewStaticCredentialsProvider(aws.ToString(key.AccessKey.AccessKeyId), aws.ToString(key.AccessKey.SecretAccessKey), ""))
	return iamUser{name: name, arn: "arn:aws:iam::" + shared.creds.AccountID + ":user/" + name, clients: newClients(cfg)}
}

// createPolicy makes a managed policy through the admin and returns its ARN.
func createPolicy(t *testing.T, c *iam.Client, name, doc string) string {
	t.Helper()
	out, err := c.CreatePolicy(context.Background(), &iam.CreatePolicyInput{PolicyName: aws.String(name), PolicyDocument: aws.String(doc)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.Policy.Arn)
}

// refusedAs checks that err is IAM's AccessDenied (403) for the user, action and resource, for the reason why.
func refusedAs(t *testing.T, err error, u iamUser, action, resource, why string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s on %s succeeded; want AccessDenied", action, resource)
		return
	}
	code, msg, status := apiError(t, err)
	want := "User: " + u.arn + " is not authorized to perform: " + action + " on resource: " + resource + " " + why
	if code != "AccessDenied" || status != 403 || msg != want {
		t.Errorf("%s on %s: %s (%d) %q; want AccessDenied (403) %q", action, resource, code, status, msg, want)
	}
}

func noIdentityPolicy(action string) string {
	return "because no identity-based policy allows the " + action + " action"
}

// TestUserWithBindPolicy: a user holding exactly docs/permissions/bind-policy.json makes bind's IAM and EKS
// writes on sdc-* names and is refused everything else in AWS's words.
func TestUserWithBindPolicy(t *testing.T) {
	integration(t)
	t.Parallel()
	ctx := context.Background()
	doc, err := os.ReadFile("../../../docs/permissions/bind-policy.json")
	if err != nil {
		t.Fatal(err)
	}
	admin := newClients(adminConfig(shared.url))
	u := newIAMUser(t, admin, "", string(doc))
	acct := "arn:aws:iam::" + shared.creds.AccountID + ":"
	sdc, other := "sdc-"+uniqueName("b"), uniqueName("other")
	tags := []iamtypes.Tag{{Key: aws.String("app.kubernetes.io/managed-by"), Value: aws.String("kubectl-sdc")}}
	trust := trusting(shared.creds.AccountID)
	pol := policyDoc(allow("s3:GetObject", "*"))

	if _, err := u.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
		t.Errorf("GetCallerIdentity needs no permission: %v", err)
	}
	for _, tc := range []struct {
		name             string
		call             func() error
		action, resource string // "" when allowed
		why              string
	}{
		{"CreatePolicy sdc-*", func() error {
			_, err := u.iam.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String(sdc), PolicyDocument: aws.String(pol), Tags: tags})
			return err
		}, "", "", ""},
		{"CreateRole sdc-* with tags", func() error {
			_, err := u.iam.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(sdc), AssumeRolePolicyDocument: aws.String(trust), Tags: tags})
			return err
		}, "", "", ""},
		{"CreateRole sdc-* at a path", func() error {
			_, err := u.iam.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(sdc + "-p"), Path: aws.String("/sdc/"), AssumeRolePolicyDocument: aws.String(trust)})
			return err
		}, "", "", ""},
		{"AttachRolePolicy sdc-* to sdc-*", func() error {
			_, err := u.iam.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String(sdc), PolicyArn: aws.String(acct + "policy/" + sdc)})
			return err
		}, "", "", ""},
		{"UpdateAssumeRolePolicy sdc-*", func() error {
			_, err := u.iam.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String(sdc), PolicyDocument: aws.String(trust)})
			return err
		}, "", "", ""},
		{"CreateOpenIDConnectProvider of an EKS issuer", func() error {
			_, err := u.iam.CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{Url: aws.String("https://oidc.eks.us-west-2.amazonaws.com/id/" + strings.ToUpper(sdc)), ClientIDList: []string{"sts.amazonaws.com"}, ThumbprintList: []string{strings.Repeat("a", 40)}})
			return err
		}, "", "", ""},
		{"CreateRole elsewhere", func() error {
			_, err := u.iam.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(other), AssumeRolePolicyDocument: aws.String(trust)})
			return err
		}, "iam:CreateRole", acct + "role/" + other, noIdentityPolicy("iam:CreateRole")},
		{"CreatePolicy elsewhere", func() error {
			_, err := u.iam.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String(other), PolicyDocument: aws.String(pol)})
			return err
		}, "iam:CreatePolicy", acct + "policy/" + other, noIdentityPolicy("iam:CreatePolicy")},
		{"AttachRolePolicy of AdministratorAccess", func() error {
			_, err := u.iam.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String(sdc), PolicyArn: aws.String("arn:aws:iam::aws:policy/AdministratorAccess")})
			return err
		}, "iam:AttachRolePolicy", acct + "role/" + sdc, noIdentityPolicy("iam:AttachRolePolicy")},
		{"DeleteRole", func() error {
			_, err := u.iam.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String(sdc)})
			return err
		}, "iam:DeleteRole", acct + "role/" + sdc, noIdentityPolicy("iam:DeleteRole")},
		{"CreateOpenIDConnectProvider of another issuer", func() error {
			_, err := u.iam.CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{Url: aws.String("https://issuer.example.com/" + sdc), ClientIDList: []string{"sts.amazonaws.com"}, ThumbprintList: []string{strings.Repeat("a", 40)}})
			return err
		}, "iam:CreateOpenIDConnectProvider", acct + "oidc-provider/issuer.example.com/" + sdc, noIdentityPolicy("iam:CreateOpenIDConnectProvider")},
		{"CreateUser", func() error {
			_, err := u.iam.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(other)})
			return err
		}, "iam:CreateUser", acct + "user/" + other, noIdentityPolicy("iam:CreateUser")},
	} {
		// In order: later cases act on what earlier ones made.
		err := tc.call()
		if tc.action == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		refusedAs(t, err, u, tc.action, tc.resource, tc.why)
	}
	// The refused calls changed nothing.
	if _, err := admin.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(other)}); err == nil {
		t.Errorf("role %s exists after its CreateRole was refused", other)
	}

	// EKS Pod Identity: the association passes the role to pods.eks.amazonaws.com.
	podsTrust := policyDoc(map[string]any{"Effect": "Allow", "Principal": map[string]any{"Service": "pods.eks.amazonaws.com"}, "Action": []string{"sts:AssumeRole", "sts:TagSession"}})
	otherRole := createRole(t, admin.iam, other, podsTrust)
	sdcRole := createRole(t, admin.iam, sdc+"-pods", podsTrust)
	for _, tc := range []struct {
		role, refusedAction, refusedOn string
	}{
		{sdcRole, "", ""},
		{otherRole, "iam:PassRole", otherRole},
	} {
		_, err := u.eks.CreatePodIdentityAssociation(ctx, &eks.CreatePodIdentityAssociationInput{ClusterName: aws.String("sandbox"),
			Namespace: aws.String("ns-" + uniqueName("n")), ServiceAccount: aws.String("sdc"), RoleArn: aws.String(tc.role)})
		if tc.refusedAction == "" {
			if err != nil {
				t.Errorf("CreatePodIdentityAssociation with %s: %v", tc.role, err)
			}
			continue
		}
		code, msg, status := apiError(t, err)
		want := "User: " + u.arn + " is not authorized to perform: iam:PassRole on resource: " + tc.refusedOn + " " + noIdentityPolicy("iam:PassRole")
		if code != "AccessDeniedException" || status != 403 || msg != want {
			t.Errorf("CreatePodIdentityAssociation with %s: %s (%d) %q; want AccessDeniedException (403) %q", tc.role, code, status, msg, want)
		}
	}
	// S3 is not in the document.
	_, err = u.s3.ListBuckets(ctx, &s3.ListBucketsInput{})
	if code, _, status := apiError(t, err); code != "AccessDenied" || status != 403 {
		t.Errorf("ListBuckets: %s (%d); want AccessDenied (403)", code, status)
	}
}

// TestUserPolicyEvaluation: explicit denies, permissions boundaries, group policies and the condition keys
// IAM calls carry (aws:RequestTag, aws:TagKeys, aws:ResourceTag, iam:PermissionsBoundary).
func TestUserPolicyEvaluation(t *testing.T) {
	integration(t)
	t.Parallel()
	ctx := context.Background()
	admin := newClients(adminConfig(shared.url))
	acct := "arn:aws:iam::" + shared.creds.AccountID + ":"
	trust := trusting(shared.creds.AccountID)
	boundary := createPolicy(t, admin.iam, uniqueName("bound"), policyDoc(allow("iam:Get*", "*"), allow("iam:CreateRole", "*")))

	t.Run("explicit deny", func(t *testing.T) {
		u := newIAMUser(t, admin, "", policyDoc(allow("iam:*", "*"), deny("iam:DeleteRole", "*")))
		role := createRole(t, admin.iam, uniqueName("d"), trust)
		_, err := u.iam.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String(roleNameOf(role))})
		refusedAs(t, err, u, "iam:DeleteRole", role, "with an explicit deny in an identity-based policy")
		if _, err := u.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(roleNameOf(role))}); err != nil {
			t.Errorf("GetRole allowed by iam:*: %v", err)
		}
	})
	t.Run("boundary", func(t *testing.T) {
		u := newIAMUser(t, admin, boundary, policyDoc(allow("iam:*", "*")))
		name := uniqueName("b")
		_, err := u.iam.TagUser(ctx, &iam.TagUserInput{UserName: aws.String(u.name), Tags: []iamtypes.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
		refusedAs(t, err, u, "iam:TagUser", u.arn, "because no permissions boundary allows the iam:TagUser action")
		if _, err := u.iam.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(trust)}); err != nil {
			t.Errorf("CreateRole inside the boundary: %v", err)
		}
	})
	t.Run("group policy", func(t *testing.T) {
		u := newIAMUser(t, admin, "")
		role := createRole(t, admin.iam, uniqueName("g"), trust)
		_, err := u.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(roleNameOf(role))})
		refusedAs(t, err, u, "iam:GetRole", role, noIdentityPolicy("iam:GetRole"))
		group := uniqueName("grp")
		if _, err := admin.iam.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String(group)}); err != nil {
			t.Fatal(err)
		}
		managed := createPolicy(t, admin.iam, uniqueName("gp"), policyDoc(allow("iam:GetRole", role)))
		if _, err := admin.iam.AttachGroupPolicy(ctx, &iam.AttachGroupPolicyInput{GroupName: aws.String(group), PolicyArn: aws.String(managed)}); err != nil {
			t.Fatal(err)
		}
		if _, err := admin.iam.AddUserToGroup(ctx, &iam.AddUserToGroupInput{GroupName: aws.String(group), UserName: aws.String(u.name)}); err != nil {
			t.Fatal(err)
		}
		if _, err := u.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(roleNameOf(role))}); err != nil {
			t.Errorf("GetRole allowed by the group's managed policy: %v", err)
		}
	})
	t.Run("conditions", func(t *testing.T) {
		u := newIAMUser(t, admin, "", policyDoc(
			map[string]any{"Effect": "Allow", "Action": []string{"iam:CreateRole", "iam:TagRole"}, "Resource": "*", "Condition": map[string]any{
				"StringEquals":              map[string]any{"aws:RequestTag/team": "data", "iam:PermissionsBoundary": boundary},
				"ForAllValues:StringEquals": map[string]any{"aws:TagKeys": []string{"team"}},
			}},
			map[string]any{"Effect": "Allow", "Action": "iam:UpdateRole", "Resource": "*", "Condition": map[string]any{
				"StringEquals": map[string]any{"aws:ResourceTag/owner": "${aws:username}"},
			}},
		))
		team := func(kv ...string) []iamtypes.Tag {
			var out []iamtypes.Tag
			for i := 0; i+1 < len(kv); i += 2 {
				out = append(out, iamtypes.Tag{Key: aws.String(kv[i]), Value: aws.String(kv[i+1])})
			}
			return out
		}
		for _, tc := range []struct {
			name     string
			tags     []iamtypes.Tag
			boundary string
			allowed  bool
		}{
			{"team=data with the boundary", team("team", "data"), boundary, true},
			{"team=ops", team("team", "ops"), boundary, false},
			{"a second tag key", team("team", "data", "cost", "x"), boundary, false},
			{"no boundary", team("team", "data"), "", false},
			{"no tags", nil, boundary, false},
		} {
			name := uniqueName("c")
			in := &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(trust), Tags: tc.tags}
			if tc.boundary != "" {
				in.PermissionsBoundary = aws.String(tc.boundary)
			}
			_, err := u.iam.CreateRole(ctx, in)
			if tc.allowed {
				if err != nil {
					t.Errorf("%s: %v", tc.name, err)
				}
				continue
			}
			refusedAs(t, err, u, "iam:CreateRole", acct+"role/"+name, noIdentityPolicy("iam:CreateRole"))
		}
		mine, theirs := uniqueName("mine"), uniqueName("theirs")
		for name, owner := range map[string]string{mine: u.name, theirs: "someone"} {
			if _, err := admin.iam.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(trust), Tags: team("owner", owner)}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := u.iam.UpdateRole(ctx, &iam.UpdateRoleInput{RoleName: aws.String(mine), Description: aws.String("mine")}); err != nil {
			t.Errorf("UpdateRole of a role tagged with the user's name: %v", err)
		}
		_, err := u.iam.UpdateRole(ctx, &iam.UpdateRoleInput{RoleName: aws.String(theirs), Description: aws.String("theirs")})
		refusedAs(t, err, u, "iam:UpdateRole", acct+"role/"+theirs, noIdentityPolicy("iam:UpdateRole"))
	})
}
