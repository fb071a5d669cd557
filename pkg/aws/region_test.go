package aws

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// The region a profile is read in: the SDK's order (--region, then the environment, then the profile), or,
// for a fleet's per-context profiles, the profile's own region before the environment's.
func TestLoadRegionPrecedence(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "config")
	if err := os.WriteFile(cfgFile, []byte("[profile eu]\nregion = eu-west-1\n\n[profile none]\n\n[default]\nregion = ap-south-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CONFIG_FILE", cfgFile)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "no-credentials"))
	t.Setenv("AWS_PROFILE", "")
	cases := []struct {
		name               string
		envRegion          string
		o                  Options
		wantRegion, wantBy string
	}{
		{"--region wins", "us-west-2", Options{Profile: "eu", Region: "us-east-2", ProfileRegionFirst: true}, "us-east-2", ""},
		{"the SDK's order: environment before profile", "us-west-2", Options{Profile: "eu"}, "us-west-2", "the environment (AWS_REGION)"},
		{"profile first", "us-west-2", Options{Profile: "eu", ProfileRegionFirst: true}, "eu-west-1", "profile eu"},
		{"profile first, no environment", "", Options{Profile: "eu", ProfileRegionFirst: true}, "eu-west-1", "profile eu"},
		{"a profile without a region falls back on the environment", "us-west-2", Options{Profile: "none", ProfileRegionFirst: true}, "us-west-2", "the environment (AWS_REGION)"},
		{"no profile named: the usual chain", "us-west-2", Options{ProfileRegionFirst: true}, "us-west-2", "the environment (AWS_REGION)"},
		{"no profile, no environment: the default profile", "", Options{}, "ap-south-1", "profile default"},
		{"nothing anywhere", "", Options{Profile: "none", ProfileRegionFirst: true}, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("AWS_REGION", c.envRegion)
			t.Setenv("AWS_DEFAULT_REGION", "")
			got, err := Load(context.Background(), c.o)
			if err != nil {
				t.Fatal(err)
			}
			if got.Region != c.wantRegion || got.RegionFrom != c.wantBy {
				t.Errorf("region %q from %q, want %q from %q", got.Region, got.RegionFrom, c.wantRegion, c.wantBy)
			}
			if got.EKS.Options().Region != c.wantRegion {
				t.Errorf("EKS client in %q, want %q", got.EKS.Options().Region, c.wantRegion)
			}
		})
	}
}
