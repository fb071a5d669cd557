package doctor

import (
	"fmt"
	"testing"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/catalog"
)

func TestS3Probes(t *testing.T) {
	t.Parallel()
	cat, err := catalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		sel    catalog.Selection
		probes string
		others string
	}{
		{catalog.Selection{Stages: []string{"s3"}, Params: map[string]string{"bucket": "b", "prefix": "in/"}}, "[{s3 b in/ true}]", "[]"},
		{catalog.Selection{Stages: []string{"s3-origin"}, Params: map[string]string{"bucket": "b"}}, "[{s3-origin b  false}]", "[]"},
		{catalog.Selection{Stages: []string{"s3-origin", "s3-destination", "sqs-consumer"}, Params: map[string]string{"bucket": "b", "queue": "q"}},
			"[{s3-origin b  true}]", "[sqs-consumer]"},
		{catalog.Selection{Stages: []string{"kinesis-producer"}, Params: map[string]string{"stream": "s"}}, "[]", "[kinesis-producer]"},
	}
	for _, c := range cases {
		probes, others := s3Probes(cat, c.sel)
		if got := fmt.Sprintf("%v", probes); got != c.probes && !(got == "[]" && c.probes == "[]") {
			t.Errorf("%v: probes %s, want %s", c.sel, got, c.probes)
		}
		if got := fmt.Sprintf("%v", others); got != c.others {
			t.Errorf("%v: not probed %s, want %s", c.sel, got, c.others)
		}
	}
}
