package catalog

import (
	"strings"
	"testing"
)

func TestPodIdentityRule(t *testing.T) {
	t.Parallel()
	c, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	if sdk := c.PodIdentitySDK(); sdk.MinJavaSDKv1 != "1.12.746" || sdk.MinJavaSDKv2 != "2.21.30" {
		t.Errorf("PodIdentitySDK = %+v", sdk)
	}
	cases := []struct {
		version string
		stages  []string
		verdict PodIdentityVerdict
		reason  string
	}{
		{"3.19.0", []string{"s3"}, PodIdentityCannot, "SDC 3.19.0's aws-lib bundles AWS SDK for Java 1.11.872, which reads EKS Pod Identity credentials only from 1.12.746"},
		{"3.17.2", []string{"s3"}, PodIdentityCannot, "aws-lib bundles AWS SDK for Java 1.11.813"},
		{"3.22.3-0034", []string{"s3-origin"}, PodIdentityCannot, "1.11.943"},
		{"3.16.0", []string{"s3"}, PodIdentityCannot, "SDC 3.16.0 is older than 3.17, whose aws-lib already bundles only AWS SDK for Java 1.11.813"},
		{"3.20.0", []string{"kinesis-producer"}, PodIdentityCannot, "kinesis-lib bundles AWS SDK for Java 1.11.x"},
		{"3.19.0", nil, PodIdentityCannot, "aws-lib"}, // no stages known: every library counts
		{"5.11.0", []string{"s3"}, PodIdentityUnknown, "which AWS SDK for Java SDC 5.11.0's aws-lib bundles is not documented: it must be at least 1.12.746 (SDK v2: 2.21.30)"},
		{"4.0.0", []string{"secrets-manager"}, PodIdentityUnknown, "aws-secrets-manager-credentialstore-lib"},
		{"3.19.0", []string{"secrets-manager"}, PodIdentityUnknown, "not documented"},
	}
	for _, tc := range cases {
		j, err := c.PodIdentityRule(tc.version, tc.stages)
		if err != nil {
			t.Errorf("%s %v: %v", tc.version, tc.stages, err)
			continue
		}
		if j.Verdict != tc.verdict || !strings.Contains(j.Reason, tc.reason) {
			t.Errorf("%s %v = %s (%s), want %s with %q", tc.version, tc.stages, j.Verdict, j.Reason, tc.verdict, tc.reason)
		}
	}
	if _, err := c.PodIdentityRule("latest", nil); err == nil {
		t.Error("a tag that is no version was judged")
	}
	if _, err := c.PodIdentityRule("3.19.0", []string{"nope"}); err == nil || !strings.Contains(err.Error(), "unknown stage") {
		t.Errorf("unknown stage: %v", err)
	}
}

// A release documented to use Pod Identity, and a line whose SDK is recent enough, are "can"; the data is
// checked when the catalog is read.
func TestPodIdentityRuleFromData(t *testing.T) {
	t.Parallel()
	const head = `libraries:
  - name: lib
    directory: d
`
	const stages = `stages:
  - name: s
    library: lib
    description: d
    statements:
      - {sid: A, actions: ["s3:GetObject"], resources: ["*"]}
`
	c, err := Parse([]byte(head+`    minPodIdentitySDCVersion: 6.0.0
    awsJavaSDK:
      - {sdc: "5.0", javaSDKv1: 1.11.900}
      - {sdc: "5.9", javaSDKv1: 1.12.780}
`+stages), "test")
	if err != nil {
		t.Fatal(err)
	}
	for v, want := range map[string]PodIdentityVerdict{"6.1.0": PodIdentityCan, "5.9.2": PodIdentityCan, "5.0.1": PodIdentityCannot, "4.9.0": PodIdentityCannot, "5.5.0": PodIdentityUnknown} {
		if j, err := c.PodIdentityRule(v, nil); err != nil || j.Verdict != want {
			t.Errorf("%s = %s (%s) %v, want %s", v, j.Verdict, j.Reason, err, want)
		}
	}
	for _, bad := range []string{
		"    awsJavaSDK:\n      - {sdc: \"3.19.0\", javaSDKv1: 1.11.1}\n",
		"    awsJavaSDK:\n      - {sdc: \"3.20\", javaSDKv1: 1.11.1}\n      - {sdc: \"3.19\", javaSDKv1: 1.11.1}\n",
		"    awsJavaSDK:\n      - {sdc: \"3.20\", javaSDKv1: x}\n",
		"    minPodIdentitySDCVersion: soon\n",
	} {
		if _, err := Parse([]byte(head+bad+stages), "test"); err == nil {
			t.Errorf("accepted:\n%s", bad)
		}
	}
}
