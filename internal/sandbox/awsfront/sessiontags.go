package awsfront

import (
	"bytes"
	"compress/flate"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// STS session tags as STS takes them on AssumeRole (IAM User Guide, "Pass session tags in AWS STS"): up to
// 50 tags, keys of 1-128 and values of 0-256 characters from STS's pattern, no key in the reserved aws:
// prefix, keys unique without regard to case; TransitiveTagKeys name keys of the request's own tags; a
// session inherits its caller's transitive tags and may not pass a tag with one of their keys. A request
// that passes Tags or TransitiveTagKeys also needs sts:TagSession, from the role's trust and (as for
// sts:AssumeRole) the caller's own permissions; its tags are condition context (aws:RequestTag/<key>,
// aws:TagKeys, sts:TransitiveTagKeys) for both actions.

const (
	maxSessionTags   = 50
	maxTagKeyLen     = 128
	maxTagValueLen   = 256
	packedLimitBytes = 2048 // the sandbox's model of STS's packed binary limit (not documented by AWS)
)

var sessionTagRE = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)

// sessionTags are the tags one AssumeRole request passes, in request order, and the caller's inherited
// transitive tags.
type sessionTags struct {
	Keys       []string          // request order, as spelled
	Values     map[string]string // by key as spelled
	Transitive []string          // TransitiveTagKeys of the request
	Inherited  map[string]string // the caller session's transitive tags
	InheritedT []string          // their keys
}

// tagged reports whether the request passes tags of its own (what makes STS ask for sts:TagSession).
func (s sessionTags) tagged() bool { return len(s.Keys) > 0 || len(s.Transitive) > 0 }

// readSessionTags reads and validates Tags.member.N and TransitiveTagKeys.member.N of an AssumeRole
// request made by caller, in STS's words.
func readSessionTags(c *call, caller *principal, sessionPolicy string) (sessionTags, awsError, bool) {
	s := sessionTags{Values: map[string]string{}, Inherited: map[string]string{}}
	for i := 1; ; i++ {
		n := strconv.Itoa(i)
		key, hasKey := c.Params["Tags.member."+n+".Key"]
		value := c.Params.Get("Tags.member." + n + ".Value")
		if !hasKey {
			if _, hasValue := c.Params["Tags.member."+n+".Value"]; hasValue {
				return s, validationError(fmt.Sprintf("1 validation error detected: Value null at 'tags.%d.member.key' failed to satisfy constraint: Member must not be null", i)), false
			}
			break
		}
		k := key[0]
		switch {
		case k == "" || len(k) > maxTagKeyLen:
			return s, validationError(fmt.Sprintf("1 validation error detected: Value '%s' at 'tags.%d.member.key' failed to satisfy constraint: Member must have length between 1 and %d", k, i, maxTagKeyLen)), false
		case !sessionTagRE.MatchString(k):
			return s, validationError(fmt.Sprintf("1 validation error detected: Value '%s' at 'tags.%d.member.key' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+", k, i)), false
		case len(value) > maxTagValueLen:
			return s, validationError(fmt.Sprintf("1 validation error detected: Value '%s' at 'tags.%d.member.value' failed to satisfy constraint: Member must have length less than or equal to %d", value, i, maxTagValueLen)), false
		case !sessionTagRE.MatchString(value):
			return s, validationError(fmt.Sprintf("1 validation error detected: Value '%s' at 'tags.%d.member.value' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*", value, i)), false
		case strings.HasPrefix(strings.ToLower(k), "aws:"):
			return s, invalidTagParameter(fmt.Sprintf("The tag key %s is not valid: keys starting with aws: are reserved for AWS use.", k)), false
		}
		for _, have := range s.Keys {
			if strings.EqualFold(have, k) {
				return s, invalidTagParameter("Duplicate tag keys found. Please note that Tag keys are case insensitive."), false
			}
		}
		s.Keys = append(s.Keys, k)
		s.Values[k] = value
	}
	if len(s.Keys) > maxSessionTags {
		return s, validationError(fmt.Sprintf("1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to %d", maxSessionTags)), false
	}
	for i := 1; ; i++ {
		k, ok := c.Params["TransitiveTagKeys.member."+strconv.Itoa(i)]
		if !ok {
			break
		}
		s.Transitive = append(s.Transitive, k[0])
	}
	if len(s.Transitive) > maxSessionTags {
		return s, validationError(fmt.Sprintf("1 validation error detected: Value at 'transitiveTagKeys' failed to satisfy constraint: Member must have length less than or equal to %d", maxSessionTags)), false
	}
	for _, k := range s.Transitive {
		if !slices.ContainsFunc(s.Keys, func(have string) bool { return strings.EqualFold(have, k) }) {
			return s, invalidTagParameter(fmt.Sprintf("The transitive tag key %s is not the key of a session tag of this request: a transitive tag key must name one of the request's Tags.", k)), false
		}
	}
	if caller != nil {
		for _, k := range caller.TransitiveKeys {
			s.Inherited[k] = caller.Tags[k]
			s.InheritedT = append(s.InheritedT, k)
			for _, have := range s.Keys {
				if strings.EqualFold(have, k) {
					return s, invalidTagParameter(fmt.Sprintf("The session tag %s has the key of a transitive tag the calling session inherited; a session tag cannot override a transitive tag.", have)), false
				}
			}
		}
	}
	if pct := packedPercent(s, sessionPolicy); pct > 100 {
		return s, awsError{Status: http.StatusBadRequest, Code: "PackedPolicyTooLarge", Sender: true,
			Message: fmt.Sprintf("Packed size of session policy and session tags exceeds limit (%d%%).", pct)}, false
	}
	return s, awsError{}, true
}

// packedPercent is how full the packed form of the session policy and all the session's tags is, as a
// percentage of the limit: the sandbox packs them with DEFLATE, a stand-in for STS's own binary format.
func packedPercent(s sessionTags, sessionPolicy string) int {
	var plain bytes.Buffer
	plain.WriteString(sessionPolicy)
	for _, k := range s.Keys {
		plain.WriteString(k + "=" + s.Values[k] + ";")
	}
	for _, k := range s.InheritedT {
		plain.WriteString(k + "=" + s.Inherited[k] + ";")
	}
	if plain.Len() == 0 {
		return 0
	}
	var packed bytes.Buffer
	w, _ := flate.NewWriter(&packed, flate.BestCompression)
	_, _ = w.Write(plain.Bytes())
	_ = w.Close()
	return (packed.Len()*100 + packedLimitBytes - 1) / packedLimitBytes
}

// context adds the request's tags to keys: aws:RequestTag/<key>, aws:TagKeys, sts:TransitiveTagKeys.
func (s sessionTags) context(keys map[string][]string) {
	if !s.tagged() {
		return
	}
	for _, k := range s.Keys {
		keys["aws:RequestTag/"+k] = []string{s.Values[k]}
	}
	keys["aws:TagKeys"] = slices.Clone(s.Keys)
	if len(s.Transitive) > 0 {
		keys["sts:TransitiveTagKeys"] = slices.Clone(s.Transitive)
	}
}

// sessionTagsOf are the new session's tags and transitive keys: the inherited transitive tags, then the
// request's own.
func (s sessionTags) sessionTagsOf() (map[string]string, []string) {
	if len(s.Keys) == 0 && len(s.InheritedT) == 0 {
		return nil, nil
	}
	tags := make(map[string]string, len(s.Keys)+len(s.InheritedT))
	var transitive []string
	for _, k := range s.InheritedT {
		tags[k] = s.Inherited[k]
		transitive = append(transitive, k)
	}
	for _, k := range s.Keys {
		tags[k] = s.Values[k]
	}
	for _, k := range s.Transitive {
		i := slices.IndexFunc(s.Keys, func(have string) bool { return strings.EqualFold(have, k) })
		transitive = append(transitive, s.Keys[i])
	}
	return tags, transitive
}

func invalidTagParameter(msg string) awsError {
	return awsError{Status: http.StatusBadRequest, Code: "InvalidParameterValue", Message: msg, Sender: true}
}
