package vocab

import (
	"strings"
	"testing"
)

func TestParseSessionDuration(t *testing.T) {
	for in, want := range map[string]int32{"1h": 3600, "3600": 3600, "90m": 5400, "12h": 43200, "43200": 43200, "2h30m": 9000} {
		if got, err := ParseSessionDuration("--max-session-duration", in); err != nil || got != want {
			t.Errorf("%s: %d, %v; want %d", in, got, err, want)
		}
	}
	for in, words := range map[string]string{"59m": "from 1h to 12h", "3599": "from 1h to 12h", "12h1s": "from 1h to 12h", "43201": "from 1h to 12h",
		"1.5": "want a duration", "1h0.5s": "want a duration", "a while": "want a duration", "": "want a duration"} {
		_, err := ParseSessionDuration("--max-session-duration", in)
		if err == nil || !strings.HasPrefix(err.Error(), "--max-session-duration") || !strings.Contains(err.Error(), words) {
			t.Errorf("%q: %v; want an error naming the flag and saying %q", in, err, words)
		}
	}
}

func TestParseTags(t *testing.T) {
	m := map[string]string{}
	if err := ParseTags(EnvTags, SplitEnvTags(" cost-center=data, owner=team a ,empty=,"), m); err != nil {
		t.Fatal(err)
	}
	if len(m) != 3 || m["cost-center"] != "data" || m["owner"] != "team a" || m["empty"] != "" {
		t.Errorf("tags = %v", m)
	}
	for _, bad := range [][]string{{"novalue"}, {"=v"}, {"a=1", "A=2"}, {"a=1", "a=2"}} {
		if err := ParseTags("--tag", bad, map[string]string{}); err == nil || !strings.HasPrefix(err.Error(), "--tag") {
			t.Errorf("%v: %v", bad, err)
		}
	}
	if err := ParseTags("--tag", []string{"a=1", "a=1"}, map[string]string{}); err != nil {
		t.Errorf("the same tag twice: %v", err)
	}
}

func TestPathsInARNs(t *testing.T) {
	for _, path := range []string{"/", "/sdc/", "/a/b-c/", "/a~!/%x/"} {
		if err := ValidatePath("--role-path", path); err != nil {
			t.Errorf("%s: %v", path, err)
		}
		role := RoleARNAt("aws", "123456789012", path, "r")
		p, ok := ParseRoleARN(role)
		if !ok || p.Path != path || p.Name != "r" {
			t.Errorf("ParseRoleARN(%s) = %+v, %v", role, p, ok)
		}
		pol := PolicyARNAt("aws", "123456789012", path, "p")
		pp, ok := ParsePolicyARN(pol)
		if !ok || pp.Path != path || pp.Name != "p" || ValidatePolicyARN("--x", pol) != nil {
			t.Errorf("ParsePolicyARN(%s) = %+v, %v", pol, pp, ok)
		}
	}
	if p, ok := ParsePolicyARN("arn:aws:iam::aws:policy/service-role/AmazonEKSClusterPolicy"); !ok || p.Account != "aws" || p.Path != "/service-role/" {
		t.Errorf("an AWS managed policy: %+v, %v", p, ok)
	}
	for _, bad := range []string{"sdc", "/sdc", "sdc/", "/a b/", "/é/", "/" + strings.Repeat("x", 511) + "/"} {
		if err := ValidatePath("--role-path", bad); err == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
}
