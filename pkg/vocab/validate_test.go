package vocab

import (
	"regexp"
	"strings"
	"testing"
)

func TestDefaultNameFitsIAMLimitsStably(t *testing.T) {
	short := DefaultName("sandbox", "us-west-2", "ns1", "sdc", MaxRoleName)
	if short != "sdc-sandbox.us-west-2+ns1+sdc" {
		t.Errorf("short name = %q", short)
	}
	long := DefaultName("a-very-long-cluster-name-indeed", "us-west-2", "a-long-namespace-name", "a-service-account-with-a-long-name", MaxRoleName)
	if len(long) > MaxRoleName {
		t.Errorf("len(%q) = %d > %d", long, len(long), MaxRoleName)
	}
	if long != DefaultName("a-very-long-cluster-name-indeed", "us-west-2", "a-long-namespace-name", "a-service-account-with-a-long-name", MaxRoleName) {
		t.Error("not stable")
	}
	other := DefaultName("a-very-long-cluster-name-indeed", "us-west-2", "a-long-namespace-name", "a-service-account-with-a-long-namf", MaxRoleName)
	if other == long {
		t.Error("two long names collide")
	}
	if err := ValidateIAMName("--role-name", long, MaxRoleName); err != nil {
		t.Error(err)
	}
	// One-to-one where the old sdc-<cluster>-<namespace>-<sa> was not: a-b/c and a/b-c, and one cluster
	// name in two regions.
	names := map[string]bool{}
	for _, n := range []string{DefaultName("sandbox", "us-west-2", "a-b", "c", MaxRoleName), DefaultName("sandbox", "us-west-2", "a", "b-c", MaxRoleName),
		DefaultName("sandbox", "eu-west-1", "a-b", "c", MaxRoleName), DefaultName("sandbox-us", "west-2", "a-b", "c", MaxRoleName)} {
		if names[n] {
			t.Errorf("%s is the name of two bindings", n)
		}
		names[n] = true
		if err := ValidateIAMName("--role-name", n, MaxRoleName); err != nil {
			t.Error(err)
		}
	}
}

func TestBindingSid(t *testing.T) {
	t.Parallel()
	a, b := BindingID("arn:aws:eks:us-west-2:123456789012:cluster/x", "ns", "sa"), BindingID("arn:aws:eks:eu-west-1:123456789012:cluster/x", "ns", "sa")
	if a == b || len(a) != 8 {
		t.Fatalf("binding IDs %q %q", a, b)
	}
	sid := BindingSid("S3Bucket", []string{b, a, a})
	base, ids, ok := ParseBindingSid(sid)
	if !ok || base != "S3Bucket" || len(ids) != 2 || ids[0] > ids[1] {
		t.Errorf("ParseBindingSid(%q) = %q %v %v", sid, base, ids, ok)
	}
	for _, s := range []string{"S3Bucket", "Bucket", "ForB123", "S3ForBxyz12345"} {
		if _, _, ok := ParseBindingSid(s); ok {
			t.Errorf("%q parsed as a binding Sid", s)
		}
	}
	if !regexp.MustCompile(`^[A-Za-z0-9]+$`).MatchString(sid) {
		t.Errorf("Sid %q has characters IAM refuses", sid)
	}
}

func TestValidators(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want string // substring; "" means valid
	}{
		{"namespace ok", ValidateNamespace("-n", "ns1"), ""},
		{"namespace upper", ValidateNamespace("-n", "NS1"), `-n "NS1": not a valid namespace name`},
		{"namespace dot", ValidateNamespace("-n", "a.b"), "not a valid namespace name"},
		{"sa ok", ValidateObjectName("--service-account", "sdc.v1"), ""},
		{"sa bad", ValidateObjectName("--service-account", "sdc_1"), `--service-account "sdc_1"`},
		{"role ok", ValidateIAMName("--role-name", "sdc+role=1,x.y@z_w-v", MaxRoleName), ""},
		{"role long", ValidateIAMName("--role-name", strings.Repeat("r", 65), MaxRoleName), "at most 64 characters"},
		{"role chars", ValidateIAMName("--role-name", "sdc/role", MaxRoleName), "only letters, digits"},
		{"policy long", ValidateIAMName("--policy-name", strings.Repeat("p", 129), MaxPolicyName), "at most 128"},
		{"arn ok", ValidatePolicyARN("--attach-policy-arn", "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"), ""},
		{"arn path", ValidatePolicyARN("--attach-policy-arn", "arn:aws-cn:iam::123456789012:policy/team/x"), ""},
		{"arn role", ValidatePolicyARN("--attach-policy-arn", "arn:aws:iam::123456789012:role/x"), "not a managed policy ARN"},
		{"arn account", ValidatePolicyARN("--attach-policy-arn", "arn:aws:iam::1234:policy/x"), "not a managed policy ARN"},
		{"image ok", ValidateImage("--image", "streamsets/datacollector:5.11.0"), ""},
		{"image empty", ValidateImage("--image", ""), "is required"},
		{"image space", ValidateImage("--image", "a b"), "not an image reference"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			switch {
			case c.want == "" && c.err != nil:
				t.Errorf("unexpected error: %v", c.err)
			case c.want != "" && (c.err == nil || !strings.Contains(c.err.Error(), c.want)):
				t.Errorf("error = %v, want it to contain %q", c.err, c.want)
			}
		})
	}
}
