package catalog

import (
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// tagVersion starts every encoded value, so a later format can be told apart.
const tagVersion = "v1"

// rawValueRE is what a parameter value may contain to be written as is: the ASCII characters IAM allows in
// tag values, except space, which separates fields. Anything else is base64url-encoded under "NAME:b64".
var rawValueRE = regexp.MustCompile(`^[A-Za-z0-9_.:/=+@-]+$`)

var tagStageRE = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// EncodeTag writes a selection as a role tag value: "v1 STAGE+STAGE NAME=VALUE ...", parameters sorted,
// e.g. "v1 s3 bucket=sdc-ingest-bucket". The same selection always gives the same value, so bind can tell
// an unchanged tag from a changed one. It fails when the value would exceed IAM's 256 characters.
func EncodeTag(sel Selection) (string, error) {
	if len(sel.Stages) == 0 {
		return "", errors.New("no stages to record")
	}
	for _, s := range sel.Stages {
		if !tagStageRE.MatchString(s) {
			return "", fmt.Errorf("stage name %q cannot be recorded in a tag", s)
		}
	}
	fields := []string{tagVersion, strings.Join(sel.Stages, "+")}
	keys := make([]string, 0, len(sel.Params))
	for k := range sel.Params {
		if !paramRE.MatchString(k) {
			return "", fmt.Errorf("parameter name %q cannot be recorded in a tag", k)
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := sel.Params[k]
		if rawValueRE.MatchString(v) {
			fields = append(fields, k+"="+v)
		} else {
			fields = append(fields, k+":b64="+base64.RawURLEncoding.EncodeToString([]byte(v)))
		}
	}
	out := strings.Join(fields, " ")
	if len(out) > vocab.MaxTagValue {
		return "", fmt.Errorf("the stages and parameters take %d characters as the %s role tag, and IAM allows %d: select fewer stages or shorter values, or use --policy-file",
			len(out), vocab.TagStages, vocab.MaxTagValue)
	}
	return out, nil
}

// DecodeTag reads a value written by EncodeTag.
func DecodeTag(v string) (Selection, error) {
	fields := strings.Split(v, " ")
	if len(fields) < 2 || fields[0] != tagVersion {
		return Selection{}, fmt.Errorf("role tag %s = %q is not in the %s format kubectl-sdc writes: rerun 'kubectl sdc bind' to rewrite it", vocab.TagStages, v, tagVersion)
	}
	sel := Selection{Stages: strings.Split(fields[1], "+")}
	for _, s := range sel.Stages {
		if !tagStageRE.MatchString(s) {
			return Selection{}, fmt.Errorf("role tag %s = %q: %q is not a stage name", vocab.TagStages, v, s)
		}
	}
	for _, f := range fields[2:] {
		k, val, ok := strings.Cut(f, "=")
		if !ok {
			return Selection{}, fmt.Errorf("role tag %s = %q: %q is not NAME=VALUE", vocab.TagStages, v, f)
		}
		if name, enc := strings.CutSuffix(k, ":b64"); enc {
			b, err := base64.RawURLEncoding.DecodeString(val)
			if err != nil {
				return Selection{}, fmt.Errorf("role tag %s = %q: %s: %v", vocab.TagStages, v, f, err)
			}
			k, val = name, string(b)
		}
		if !paramRE.MatchString(k) {
			return Selection{}, fmt.Errorf("role tag %s = %q: %q is not a parameter name", vocab.TagStages, v, k)
		}
		if sel.Params == nil {
			sel.Params = map[string]string{}
		}
		if _, dup := sel.Params[k]; dup {
			return Selection{}, fmt.Errorf("role tag %s = %q: parameter %s appears twice", vocab.TagStages, v, k)
		}
		sel.Params[k] = val
	}
	return sel, nil
}
