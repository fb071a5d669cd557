package vocab

import "testing"

func TestIssuerProviderSubjectAndNames(t *testing.T) {
	t.Parallel()
	const issuer = "https://oidc.eks.us-west-2.amazonaws.com/id/" + "PRODID"
	if got := IssuerHostPath(issuer + "/"); got != "oidc.eks.us-west-2.amazonaws.com/id/"+"PRODID" {
		t.Errorf("IssuerHostPath = %q", got)
	}
	if got := ProviderARN("aws-cn", "111122223333", "https://oidc.eks.cn-north-1.amazonaws.com.cn/id/AB"); got != "arn:aws-cn:iam::111122223333:oidc-provider/oidc.eks.cn-north-1.amazonaws.com.cn/id/AB" {
		t.Errorf("ProviderARN = %q", got)
	}
	if got := Subject("ns1", "sdc"); got != "system:serviceaccount:ns1:sdc" {
		t.Errorf("Subject = %q", got)
	}
	regions := map[string]string{
		issuer: "us-west-2",
		"https://oidc.eks.cn-north-1.amazonaws.com.cn/id/AB": "cn-north-1",
		"https://127.0.0.1:6443":                             "",
		"https://oidc.example.com/id/AB":                     "",
	}
	for in, want := range regions {
		if got, _, _ := ParseEKSIssuer(in); got != want {
			t.Errorf("ParseEKSIssuer(%q) = %q, want %q", in, got, want)
		}
	}
	names := map[string]string{"prod": "prod", "kind-kind": "kind-kind", "my cluster/1": "my-cluster-1", "a_b.c@d=e+f,g": "a_b.c@d=e+f,g", "gke_p_z_c": "gke_p_z_c", "ü": "-"}
	for in, want := range names {
		if got := SanitizeName(in); got != want {
			t.Errorf("SanitizeName(%q) = %q, want %q", in, got, want)
		}
	}
}
