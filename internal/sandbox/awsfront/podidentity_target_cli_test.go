package awsfront

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAWSCLIPodIdentityTargetRole: with the real aws CLI, an association with a target role in the other
// account (EKS's own role chain): EKS's checks of targetRoleArn, disableSessionTags and policy; EKS Auth's
// two hops, each decided as STS decides it (the target's trust with the session tags, or with the
// association's external ID once they are disabled; the first role's permission); the target's
// credentials reach the other account's bucket, narrowed by the association's session policy.
func TestAWSCLIPodIdentityTargetRole(t *testing.T) {
	integration(t)
	t.Parallel()
	ctx := context.Background()
	is, cl := podCluster(t)
	f, url := newFront(t, Config{EKS: cl})
	admin, err := f.CreateAdmin(ctx, targetAccount, uniqueName("target-admin"))
	if err != nil {
		t.Fatal(err)
	}
	cli := newAWSCLI(t, url)
	other := cli.as(admin.AccessKeyID, admin.SecretAccessKey, "")
	ns, first, target := uniqueName("ns"), uniqueName("pi-first"), uniqueName("pi-target")
	bucket := strings.ToLower(uniqueName("pi-data"))
	firstARN := "arn:aws:iam::" + shared.creds.AccountID + ":role/" + first
	targetARN := "arn:aws:iam::" + targetAccount + ":role/" + target
	externalID := "us-west-2/" + shared.creds.AccountID + "/sandbox/" + ns + "/sdc"
	file := func(name, body string) string {
		p := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return "file://" + p
	}
	taggedTrust := policyDoc(map[string]any{"Effect": "Allow", "Principal": map[string]any{"AWS": firstARN},
		"Action": []string{"sts:AssumeRole", "sts:TagSession"},
		"Condition": map[string]any{"StringEquals": map[string]any{
			"aws:RequestTag/kubernetes-namespace": ns, "aws:RequestTag/kubernetes-service-account": "sdc",
			"aws:RequestTag/eks-cluster-arn": "arn:aws:eks:us-west-2:" + shared.creds.AccountID + ":cluster/sandbox"}}})
	externalIDTrust := policyDoc(map[string]any{"Effect": "Allow", "Principal": map[string]any{"AWS": firstARN},
		"Action": "sts:AssumeRole", "Condition": map[string]any{"StringEquals": map[string]any{"sts:ExternalId": externalID}}})
	reads := policyDoc(allow("s3:GetObject", "arn:aws:s3:::"+bucket+"/*"))
	var id string
	fails := func(t *testing.T, c *awsCLI, want string, args ...string) {
		t.Helper()
		out, errOut, code := c.run(t, args...)
		if code == 0 || !strings.Contains(errOut, want) {
			t.Fatalf("aws %s: exit %d, stdout %q, stderr %q; want a failure printing %q", strings.Join(args, " "), code, out, errOut, want)
		}
	}
	// pod asks EKS Auth for the pod's credentials and returns the CLI that holds them.
	pod := func(t *testing.T) *awsCLI {
		t.Helper()
		out := cli.ok(t, "eks-auth", "assume-role-for-pod-identity", "--cluster-name", "sandbox", "--token", is.token(t, is.podClaims(ns, "sdc", "sdc-0", PodIdentityService)))
		if arn := field(out, "assumedRoleUser", "arn"); !strings.HasPrefix(arn, "arn:aws:sts::"+targetAccount+":assumed-role/"+target+"/eks-sandbox-sdc-0-") {
			t.Fatalf("assume-role-for-pod-identity answered the session %q, not one of target role %s: %v", arn, targetARN, out)
		}
		return cli.as(field(out, "credentials", "accessKeyId"), field(out, "credentials", "secretAccessKey"), field(out, "credentials", "sessionToken"))
	}
	denied := "An error occurred (AccessDeniedException) when calling the AssumeRoleForPodIdentity operation: Unauthorized Exception! EKS does not have permissions to assume the target role"
	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"the two roles and the other account's bucket", func(t *testing.T) {
			cli.ok(t, "iam", "create-role", "--role-name", first, "--assume-role-policy-document", podIdentityTrust(bothActions, nil))
			cli.ok(t, "iam", "put-role-policy", "--role-name", first, "--policy-name", "chain", "--policy-document",
				policyDoc(allow("sts:AssumeRole", targetARN), allow("sts:TagSession", targetARN)))
			other.ok(t, "iam", "create-role", "--role-name", target, "--assume-role-policy-document", taggedTrust)
			other.ok(t, "iam", "put-role-policy", "--role-name", target, "--policy-name", "data", "--policy-document",
				policyDoc(allow("s3:*", "arn:aws:s3:::"+bucket, "arn:aws:s3:::"+bucket+"/*")))
			other.ok(t, "s3api", "create-bucket", "--bucket", bucket, "--create-bucket-configuration", "LocationConstraint=us-west-2")
		}},
		{"EKS refuses a bad target, and a policy without disabled session tags", func(t *testing.T) {
			create := []string{"eks", "create-pod-identity-association", "--cluster-name", "sandbox", "--namespace", ns, "--service-account", "sdc", "--role-arn", firstARN}
			fails(t, cli, "(InvalidParameterException) when calling the CreatePodIdentityAssociation operation: Target role ARN \"arn:aws:s3:::"+bucket+"\" is not a valid IAM role ARN",
				append(create, "--target-role-arn", "arn:aws:s3:::"+bucket)...)
			fails(t, cli, "A policy can only be given to an association whose session tags are disabled",
				append(create, "--target-role-arn", targetARN, "--policy", reads)...)
			fails(t, cli, "The policy is not a valid IAM policy document",
				append(create, "--target-role-arn", targetARN, "--disable-session-tags", "--policy", `{"Statement":[{"Effect":"Allow"}]}`)...)
			fails(t, cli, "The policy is 2049 characters long; a session policy may be at most 2048",
				append(create, "--target-role-arn", targetARN, "--disable-session-tags", "--policy", file("long.json", reads[:len(reads)-1]+strings.Repeat(" ", 2049-len(reads))+"}"))...)
		}},
		{"create-pod-identity-association --target-role-arn returns the external ID", func(t *testing.T) {
			out := cli.ok(t, "eks", "create-pod-identity-association", "--cluster-name", "sandbox", "--namespace", ns, "--service-account", "sdc",
				"--role-arn", firstARN, "--target-role-arn", targetARN)
			id = field(out, "association", "associationId")
			if field(out, "association", "targetRoleArn") != targetARN || field(out, "association", "externalId") != externalID {
				t.Fatalf("create-pod-identity-association = %v; want targetRoleArn %s and externalId %s", out, targetARN, externalID)
			}
			if d := cli.ok(t, "eks", "describe-pod-identity-association", "--cluster-name", "sandbox", "--association-id", id); field(d, "association", "externalId") != externalID {
				t.Fatalf("describe-pod-identity-association = %v", d)
			}
		}},
		{"the pod's credentials are the target's, with the session tags, and reach its bucket", func(t *testing.T) {
			p := pod(t)
			p.ok(t, "s3api", "put-object", "--bucket", bucket, "--key", "k", "--body", strings.TrimPrefix(file("o", "data"), "file://"))
			p.ok(t, "s3api", "get-object", "--bucket", bucket, "--key", "k", filepath.Join(t.TempDir(), "got"))
		}},
		{"without the first role's permission on the target, the second hop is refused", func(t *testing.T) {
			cli.ok(t, "iam", "put-role-policy", "--role-name", first, "--policy-name", "chain", "--policy-document", policyDoc(allow("sts:AssumeRole", targetARN)))
			fails(t, cli, denied, "eks-auth", "assume-role-for-pod-identity", "--cluster-name", "sandbox", "--token", is.token(t, is.podClaims(ns, "sdc", "sdc-0", PodIdentityService)))
			cli.ok(t, "iam", "put-role-policy", "--role-name", first, "--policy-name", "chain", "--policy-document",
				policyDoc(allow("sts:AssumeRole", targetARN), allow("sts:TagSession", targetARN)))
		}},
		{"session tags disabled and a session policy: the tag conditions no longer hold", func(t *testing.T) {
			out := cli.ok(t, "eks", "update-pod-identity-association", "--cluster-name", "sandbox", "--association-id", id, "--disable-session-tags", "--policy", reads)
			if field(out, "association", "policy") != reads || field(out, "association", "externalId") != externalID {
				t.Fatalf("update-pod-identity-association = %v", out)
			}
			fails(t, cli, denied, "eks-auth", "assume-role-for-pod-identity", "--cluster-name", "sandbox", "--token", is.token(t, is.podClaims(ns, "sdc", "sdc-0", PodIdentityService)))
			fails(t, cli, "A policy can only be given to an association whose session tags are disabled",
				"eks", "update-pod-identity-association", "--cluster-name", "sandbox", "--association-id", id, "--no-disable-session-tags")
		}},
		{"a trust on sts:ExternalId admits it, and the session policy narrows the target's permissions", func(t *testing.T) {
			other.ok(t, "iam", "update-assume-role-policy", "--role-name", target, "--policy-document", externalIDTrust)
			p := pod(t)
			p.ok(t, "s3api", "get-object", "--bucket", bucket, "--key", "k", filepath.Join(t.TempDir(), "got"))
			fails(t, p, "An error occurred (AccessDenied) when calling the PutObject operation: User: arn:aws:sts::"+targetAccount+":assumed-role/"+target+"/",
				"s3api", "put-object", "--bucket", bucket, "--key", "k2", "--body", strings.TrimPrefix(file("o", "data"), "file://"))
			other.ok(t, "iam", "update-assume-role-policy", "--role-name", target, "--policy-document",
				strings.Replace(externalIDTrust, externalID, externalID+"-other", 1))
			fails(t, cli, denied, "eks-auth", "assume-role-for-pod-identity", "--cluster-name", "sandbox", "--token", is.token(t, is.podClaims(ns, "sdc", "sdc-0", PodIdentityService)))
		}},
		{"an empty target removes it: the pods get the first role again", func(t *testing.T) {
			out := cli.ok(t, "eks", "update-pod-identity-association", "--cluster-name", "sandbox", "--association-id", id, "--target-role-arn", "")
			if _, has := out["association"].(map[string]any)["targetRoleArn"]; has || field(out, "association", "externalId") != "" {
				t.Fatalf("update-pod-identity-association --target-role-arn '' = %v", out)
			}
			got := cli.ok(t, "eks-auth", "assume-role-for-pod-identity", "--cluster-name", "sandbox", "--token", is.token(t, is.podClaims(ns, "sdc", "sdc-0", PodIdentityService)))
			if arn := field(got, "assumedRoleUser", "arn"); !strings.Contains(arn, ":assumed-role/"+first+"/") {
				t.Fatalf("without a target, the session is %q", arn)
			}
		}},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.run) {
			t.FailNow()
		}
	}
}
