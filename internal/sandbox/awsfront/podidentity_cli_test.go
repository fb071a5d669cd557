package awsfront

import (
	"strings"
	"testing"
)

// The aws CLI as a client of the front's EKS add-on, Pod Identity and EKS Auth calls.
func TestAWSCLIPodIdentity(t *testing.T) {
	integration(t)
	t.Parallel()
	is, cl := podCluster(t)
	_, url := newFront(t, Config{EKS: cl})
	cli := newAWSCLI(t, url)
	role := uniqueName("cli-pi")
	ns := uniqueName("ns")
	var roleARN, id string

	fails := func(t *testing.T, want string, args ...string) {
		t.Helper()
		out, errOut, code := cli.run(t, args...)
		if code == 0 || !strings.Contains(errOut, want) {
			t.Fatalf("aws %s: exit %d, stdout %q, stderr %q; want a failure printing %q", strings.Join(args, " "), code, out, errOut, want)
		}
	}
	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"describe-addon of the default add-on", func(t *testing.T) {
			out := cli.ok(t, "eks", "describe-addon", "--cluster-name", "sandbox", "--addon-name", "eks-pod-identity-agent")
			if field(out, "addon", "status") != "ACTIVE" || !strings.Contains(field(out, "addon", "addonVersion"), "-eksbuild.") {
				t.Fatalf("describe-addon = %v", out)
			}
		}},
		{"delete-addon breaks the cluster", func(t *testing.T) {
			if out := cli.ok(t, "eks", "delete-addon", "--cluster-name", "sandbox", "--addon-name", "eks-pod-identity-agent"); field(out, "addon", "status") != "DELETING" {
				t.Fatalf("delete-addon = %v", out)
			}
			fails(t, "An error occurred (ResourceNotFoundException) when calling the DescribeAddon operation: No addon: eks-pod-identity-agent found in cluster: sandbox",
				"eks", "describe-addon", "--cluster-name", "sandbox", "--addon-name", "eks-pod-identity-agent")
		}},
		{"create-addon and wait addon-active", func(t *testing.T) {
			if out := cli.ok(t, "eks", "create-addon", "--cluster-name", "sandbox", "--addon-name", "eks-pod-identity-agent"); field(out, "addon", "status") != "CREATING" {
				t.Fatalf("create-addon = %v", out)
			}
			cli.ok(t, "eks", "wait", "addon-active", "--cluster-name", "sandbox", "--addon-name", "eks-pod-identity-agent")
			if out := cli.ok(t, "eks", "list-addons", "--cluster-name", "sandbox"); !strings.Contains(strings.Join(stringsOf(out["addons"]), ","), "eks-pod-identity-agent") {
				t.Fatalf("list-addons = %v", out)
			}
		}},
		{"iam create-role with the Pod Identity trust", func(t *testing.T) {
			roleARN = field(cli.ok(t, "iam", "create-role", "--role-name", role, "--assume-role-policy-document", podIdentityTrust(bothActions, nil)), "Role", "Arn")
		}},
		{"create-pod-identity-association", func(t *testing.T) {
			out := cli.ok(t, "eks", "create-pod-identity-association", "--cluster-name", "sandbox", "--namespace", ns, "--service-account", "sdc", "--role-arn", roleARN, "--tags", "team=data")
			id = field(out, "association", "associationId")
			if !associationID.MatchString(id) || field(out, "association", "roleArn") != roleARN || field(out, "association", "tags", "team") != "data" {
				t.Fatalf("create-pod-identity-association = %v", out)
			}
			fails(t, "An error occurred (ResourceInUseException) when calling the CreatePodIdentityAssociation operation: Association already exists: "+id,
				"eks", "create-pod-identity-association", "--cluster-name", "sandbox", "--namespace", ns, "--service-account", "sdc", "--role-arn", roleARN)
			fails(t, "An error occurred (InvalidParameterException) when calling the CreatePodIdentityAssociation operation: Role provided in the request does not exist",
				"eks", "create-pod-identity-association", "--cluster-name", "sandbox", "--namespace", ns, "--service-account", "x", "--role-arn", roleARN+"-missing")
		}},
		{"describe and list", func(t *testing.T) {
			if out := cli.ok(t, "eks", "describe-pod-identity-association", "--cluster-name", "sandbox", "--association-id", id); field(out, "association", "namespace") != ns {
				t.Fatalf("describe-pod-identity-association = %v", out)
			}
			out := cli.ok(t, "eks", "list-pod-identity-associations", "--cluster-name", "sandbox", "--namespace", ns)
			list, _ := out["associations"].([]any)
			if len(list) != 1 || field(list[0], "associationId") != id || field(list[0], "roleArn") != "" {
				t.Fatalf("list-pod-identity-associations = %v", out)
			}
		}},
		{"eks-auth assume-role-for-pod-identity", func(t *testing.T) {
			out := cli.ok(t, "eks-auth", "assume-role-for-pod-identity", "--cluster-name", "sandbox", "--token", is.token(t, is.podClaims(ns, "sdc", "sdc-0", "pods.eks.amazonaws.com")))
			if field(out, "subject", "serviceAccount") != "sdc" || field(out, "podIdentityAssociation", "associationId") != id || field(out, "credentials", "accessKeyId") == "" ||
				!strings.Contains(field(out, "assumedRoleUser", "arn"), ":assumed-role/"+role+"/eks-sandbox-sdc-0-") {
				t.Fatalf("assume-role-for-pod-identity = %v", out)
			}
			fails(t, "An error occurred (InvalidTokenException) when calling the AssumeRoleForPodIdentity operation",
				"eks-auth", "assume-role-for-pod-identity", "--cluster-name", "sandbox", "--token", is.token(t, is.podClaims(ns, "sdc", "sdc-0", "sts.amazonaws.com")))
		}},
		{"update-pod-identity-association", func(t *testing.T) {
			out := cli.ok(t, "eks", "update-pod-identity-association", "--cluster-name", "sandbox", "--association-id", id, "--disable-session-tags")
			if v, _ := out["association"].(map[string]any)["disableSessionTags"].(bool); !v {
				t.Fatalf("update-pod-identity-association = %v", out)
			}
		}},
		{"delete-pod-identity-association", func(t *testing.T) {
			cli.ok(t, "eks", "delete-pod-identity-association", "--cluster-name", "sandbox", "--association-id", id)
			fails(t, "An error occurred (ResourceNotFoundException) when calling the DescribePodIdentityAssociation operation",
				"eks", "describe-pod-identity-association", "--cluster-name", "sandbox", "--association-id", id)
		}},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.run) {
			t.FailNow()
		}
	}
}

func stringsOf(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, x := range l {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}
