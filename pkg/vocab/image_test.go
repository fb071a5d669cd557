package vocab

import (
	"strings"
	"testing"
)

func TestValidateImage(t *testing.T) {
	t.Parallel()
	good := []string{
		"streamsets/datacollector:5.11.0", "streamsets/datacollector", "datacollector",
		"registry.example.com:5000/team/sdc:5.11.0-aws", "localhost/sdc_custom:latest",
		"123456789012.dkr.ecr.us-west-2.amazonaws.com/sdc:5.11.0",
		"streamsets/datacollector@sha256:" + strings.Repeat("ab", 32),
		"streamsets/datacollector:5.11.0@sha256:" + strings.Repeat("0f", 32),
		"a__b/c-d.e:JDK17_5.12.0",
	}
	bad := []string{
		"", "streamsets/datacollector:", ":5.11.0", "StreamSets/datacollector", "streamsets datacollector",
		"-sdc", "streamsets//datacollector", "streamsets/datacollector:5.11.0:x", "streamsets/datacollector:.5",
		"streamsets/datacollector@sha256:abc", "https://registry.example.com/sdc", "sdc/",
		strings.Repeat("a", 256) + ":1",
	}
	for _, v := range good {
		if err := ValidateImage("--image", v); err != nil {
			t.Errorf("%q: %v", v, err)
		}
	}
	for _, v := range bad {
		if err := ValidateImage("--image", v); err == nil || !strings.HasPrefix(err.Error(), "--image") {
			t.Errorf("%q: accepted (%v)", v, err)
		}
	}
}
