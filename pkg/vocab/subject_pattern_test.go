package vocab

import (
	"strings"
	"testing"
)

func TestValidateSubjectPattern(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ pattern, err string }{
		{"system:serviceaccount:sdc-*:sdc", ""},
		{"system:serviceaccount:ns1:sdc-?", ""},
		{"system:serviceaccount:*:sdc", ""},
		{"system:serviceaccount:ns1:sdc", "has no wildcard"},
		{"system:serviceaccount:*:*", "admits every ServiceAccount"},
		{"system:serviceaccount:**:*", "admits every ServiceAccount"},
		{"sdc-*:sdc", "must be system:serviceaccount:"},
		{"system:serviceaccount:sdc-*", "exactly two parts"},
		{"system:serviceaccount:a:b:c*", "exactly two parts"},
		{"system:serviceaccount:Sdc-*:sdc", "namespace part"},
		{"system:serviceaccount:sdc-*:${aws.username}", "name part"},
		{"system:serviceaccount:sdc.x-*:sdc", "namespace part"},
	} {
		err := ValidateSubjectPattern("--subject-pattern", c.pattern)
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%s: %v", c.pattern, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s: %v, want %q", c.pattern, err, c.err)
		}
	}
}
