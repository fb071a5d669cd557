package vocab

import (
	"regexp"
	"strings"
)

// imageRefRE is a container image reference as registries and the container runtimes accept it (the
// distribution reference grammar): [registry[:port]/]path[:tag][@algorithm:hex], where every path component is
// lower case letters and digits joined by '.', '_', '__' or dashes, a tag is up to 128 word characters,
// dots and dashes not starting with either, and a digest's hex is at least 32 characters.
var imageRefRE = func() *regexp.Regexp {
	const (
		hostPart = `(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])`
		// A first component is a registry only when it looks like one (a dot, a port, or localhost);
		// otherwise it is part of the repository path, as in streamsets/datacollector.
		host      = `(?:localhost(?::[0-9]+)?|` + hostPart + `(?:\.` + hostPart + `)+(?::[0-9]+)?|` + hostPart + `:[0-9]+)`
		component = `[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*`
		path      = component + `(?:/` + component + `)*`
		tag       = `[\w][\w.-]{0,127}`
		digest    = `[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}`
	)
	return regexp.MustCompile(`^(?:` + host + `/)?` + path + `(?::` + tag + `)?(?:@` + digest + `)?$`)
}()

// ValidateImage checks a container image reference against the reference grammar, so that a typo fails
// here rather than as an ImagePullBackOff; whether the image exists is the registry's business.
func ValidateImage(flag, v string) error {
	switch {
	case v == "":
		return &FlagError{flag, v, "is required (an SDC image, e.g. streamsets/datacollector:5.11.0)"}
	case !imageRefRE.MatchString(v):
		return &FlagError{flag, v, "not an image reference: want [registry/]repository[:tag][@digest] in lower case, e.g. streamsets/datacollector:5.11.0"}
	case len(repositoryOf(v)) > 255:
		return &FlagError{flag, v, "not an image reference: the repository name has more than 255 characters"}
	}
	return nil
}

// repositoryOf is a well-formed reference without its tag and digest.
func repositoryOf(ref string) string {
	ref, _, _ = strings.Cut(ref, "@")
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		ref = ref[:i]
	}
	return ref
}

// SDCImageRepository is the last path element of SDC images: streamsets/datacollector, or a mirror's
// registry/path/datacollector.
const SDCImageRepository = "datacollector"

// SplitImage splits an image reference into repository and tag ("" without a tag); a digest is dropped.
func SplitImage(image string) (repo, tag string) {
	ref, _, _ := strings.Cut(image, "@")
	slash := strings.LastIndex(ref, "/")
	if colon := strings.LastIndex(ref, ":"); colon > slash {
		return ref[:colon], ref[colon+1:]
	}
	return ref, ""
}

// IsSDCImage reports whether the image is an SDC image (its repository's last element is datacollector).
func IsSDCImage(image string) bool {
	repo, _ := SplitImage(image)
	return repo[strings.LastIndex(repo, "/")+1:] == SDCImageRepository
}
