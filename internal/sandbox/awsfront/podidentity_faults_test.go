package awsfront

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// The front's knobs cover the new calls as they cover moto's: counts, throttling, failures and the
// consistency window.
func TestPodIdentityCallsAndFaults(t *testing.T) {
	integration(t)
	t.Parallel()
	ctx := context.Background()
	is, cl := podCluster(t)
	f, url := newFront(t, Config{EKS: cl})
	c := newClients(adminConfig(url))
	roleARN := createRole(t, c.iam, uniqueName("pi-f"), podIdentityTrust(bothActions, nil))
	ns := uniqueName("ns")
	token := is.token(t, is.podClaims(ns, "sdc", "sdc-0", "pods.eks.amazonaws.com"))
	assume := func() error {
		_, err := eksAuthClient(url).AssumeRoleForPodIdentity(ctx, "sandbox", token)
		return err
	}
	create := func(sa, role string) (string, error) {
		out, err := c.eks.CreatePodIdentityAssociation(ctx, &eks.CreatePodIdentityAssociationInput{
			ClusterName: aws.String("sandbox"), Namespace: aws.String(ns), ServiceAccount: aws.String(sa), RoleArn: aws.String(role),
		})
		if err != nil {
			return "", err
		}
		return aws.ToString(out.Association.AssociationId), nil
	}

	t.Run("counts", func(t *testing.T) {
		f.ResetCalls()
		if _, err := create("sdc", roleARN); err != nil {
			t.Fatal(err)
		}
		if _, err := c.eks.DescribeAddon(ctx, &eks.DescribeAddonInput{ClusterName: aws.String("sandbox"), AddonName: aws.String(PodIdentityAgentAddon)}); err != nil {
			t.Fatal(err)
		}
		if err := assume(); err != nil {
			t.Fatal(err)
		}
		got := f.Calls()
		if got.ByAction["eks:CreatePodIdentityAssociation"] != 1 || got.ByAction["eks:DescribeAddon"] != 1 || got.ByAction["eks-auth:AssumeRoleForPodIdentity"] != 1 ||
			got.Writes != 1 || got.Reads != 2 || got.Total != 3 {
			t.Errorf("calls = %+v; want one write (the create) and two reads, the front's own IAM and STS calls uncounted", got)
		}
	})

	t.Run("throttling and errors", func(t *testing.T) {
		for _, tc := range []struct {
			faults                Faults
			eksCode, eksAuthCode  string
			eksStatus, authStatus int
		}{
			{Faults{ThrottleRate: 1}, "ThrottlingException", "ThrottlingException", 429, 429},
			{Faults{ErrorRate: 1}, "ServerException", "InternalServerException", 500, 500},
		} {
			f.SetFaults(tc.faults)
			_, err := c.eks.ListPodIdentityAssociations(ctx, &eks.ListPodIdentityAssociationsInput{ClusterName: aws.String("sandbox")})
			wantAPIError(t, err, tc.eksCode, tc.eksStatus, "")
			wantEKSAuthError(t, assume(), tc.eksAuthCode, tc.authStatus, "")
		}
		f.SetFaults(Faults{FailAfterWrites: 1})
		if _, err := create("w1", roleARN); err != nil {
			t.Fatalf("first write under fail_after_writes 1: %v", err)
		}
		_, err := create("w2", roleARN)
		wantAPIError(t, err, "ServerException", 500, "")
		if err := assume(); err != nil {
			t.Errorf("AssumeRoleForPodIdentity is a read and must pass fail_after_writes: %v", err)
		}
		f.SetFaults(Faults{})
	})

	t.Run("consistency window", func(t *testing.T) {
		f.SetFaults(Faults{ConsistencyDelayMS: 600_000})
		defer f.SetFaults(Faults{})
		// A role made through the front is not yet visible to EKS: Terraform retries exactly this.
		fresh := createRole(t, c.iam, uniqueName("pi-fresh"), podIdentityTrust(bothActions, nil))
		_, err := create("fresh", fresh)
		wantAPIError(t, err, "InvalidParameterException", 400, "Role provided in the request does not exist")

		// An association made inside the window is not in effect yet: neither EKS Auth nor the webhook sees it.
		older := createRoleInMoto(t, f, uniqueName("pi-old"))
		id, err := create("late", older)
		if err != nil {
			t.Fatal(err)
		}
		lateToken := is.token(t, is.podClaims(ns, "late", "late-0", "pods.eks.amazonaws.com"))
		_, err = eksAuthClient(url).AssumeRoleForPodIdentity(ctx, "sandbox", lateToken)
		wantEKSAuthError(t, err, "ResourceNotFoundException", 404, "No Pod Identity Association found")
		if f.PodIdentityAssociated("sandbox", ns, "late") {
			t.Error("the webhook sees an association inside the consistency window")
		}
		// Describe reads the association at once (the API is read-after-write; only its effect lags).
		if _, err := c.eks.DescribePodIdentityAssociation(ctx, &eks.DescribePodIdentityAssociationInput{ClusterName: aws.String("sandbox"), AssociationId: aws.String(id)}); err != nil {
			t.Errorf("DescribePodIdentityAssociation inside the window: %v", err)
		}

		// The window closes: the association is in effect.
		f.SetFaults(Faults{})
		if !f.PodIdentityAssociated("sandbox", ns, "late") {
			t.Error("the webhook does not see the association after the window")
		}
		out, err := eksAuthClient(url).AssumeRoleForPodIdentity(ctx, "sandbox", lateToken)
		if err != nil {
			t.Fatalf("after the window: %v", err)
		}
		if !strings.Contains(out.AssumedRoleUser.ARN, roleNameOf(older)) {
			t.Errorf("assumed %s; want role %s", out.AssumedRoleUser.ARN, older)
		}

		// An update inside the window leaves the previous role in effect until it closes.
		settledID, err := create("settled", older)
		if err != nil {
			t.Fatal(err)
		}
		settledToken := is.token(t, is.podClaims(ns, "settled", "settled-0", "pods.eks.amazonaws.com"))
		f.SetFaults(Faults{ConsistencyDelayMS: 600_000})
		newer := createRoleInMoto(t, f, uniqueName("pi-new"))
		if _, err := c.eks.UpdatePodIdentityAssociation(ctx, &eks.UpdatePodIdentityAssociationInput{ClusterName: aws.String("sandbox"), AssociationId: aws.String(settledID), RoleArn: aws.String(newer)}); err != nil {
			t.Fatal(err)
		}
		out, err = eksAuthClient(url).AssumeRoleForPodIdentity(ctx, "sandbox", settledToken)
		if err != nil || !strings.Contains(out.AssumedRoleUser.ARN, roleNameOf(older)) {
			t.Errorf("inside the window after an update: %+v, %v; want the previous role %s", out, err, older)
		}
		f.SetFaults(Faults{})
		out, err = eksAuthClient(url).AssumeRoleForPodIdentity(ctx, "sandbox", settledToken)
		if err != nil || !strings.Contains(out.AssumedRoleUser.ARN, roleNameOf(newer)) {
			t.Errorf("after the window: %+v, %v; want the new role %s", out, err, newer)
		}
	})
}

// createRoleInMoto makes a Pod Identity role straight in moto, outside the consistency window.
func createRoleInMoto(t *testing.T, f *Front, name string) string {
	t.Helper()
	out, err := f.iam.CreateRole(context.Background(), &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(podIdentityTrust(bothActions, nil))})
	if err != nil {
		t.Fatalf("creating role %s in moto: %v", name, err)
	}
	return aws.ToString(out.Role.Arn)
}
