package doctor

import (
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// safeWord is what a shell passes through unquoted.
var safeWord = regexp.MustCompile(`^[A-Za-z0-9_./:=@,+%-]+$`)

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if safeWord.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// command joins words into a command line, quoting each as needed.
func command(words ...string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = shellQuote(w)
	}
	return strings.Join(q, " ")
}

// bindFix is the `kubectl sdc bind` invocation that makes the target healthy: rebuilt from the stages of
// the flags or the role tag (with the shorthand a person types: --bucket/--prefix), the role the stages
// assume (and --target-profile, so that bind fixes that side too), the role's name when it is not bind's
// default, and the Deployment. Without known stages it holds a <STAGE> placeholder.
// It has no --yes: bind shows its plan and asks first.
//
// A ServiceAccount served by EKS Pod Identity alone is bound again with --mechanism pod-identity.
func bindFix(f *Facts, t *Target) string {
	if t.UsesPodIdentity() && !t.UsesIRSA() {
		return bindFixWith(f, t, "--mechanism", string(vocab.MechanismPodIdentity))
	}
	return bindFixWith(f, t)
}

// bindFixWith is bindFix with more flags, before any placeholder.
func bindFixWith(f *Facts, t *Target, extra ...string) string {
	words := []string{"kubectl", "sdc", "bind", "-n", t.Namespace, "--service-account", t.ServiceAccount}
	if t.Deployment != "" {
		words = append(words, "--deployment", t.Deployment)
	}
	words = append(words, permissionWords(t)...)
	toIRSA := slices.Contains(extra, string(vocab.MechanismIRSA))
	if t.Chain && !toIRSA {
		words = append(words, "--target-role-arn", t.AssumeRoleARN)
		if t.Association != nil && t.Association.DisableSessionTags {
			words = append(words, "--disable-session-tags")
		}
		if f.Options.TargetProfile != "" {
			words = append(words, "--target-profile", f.Options.TargetProfile)
		}
	} else if t.AssumeRoleARN != "" {
		// Without Pod Identity, the stages reach a chain's target with SDC's Assume Another Role.
		words = append(words, "--assume-role-arn", t.AssumeRoleARN)
		if f.Options.TargetProfile != "" {
			words = append(words, "--target-profile", f.Options.TargetProfile)
		}
	}
	if name := customRoleName(f, t); name != "" {
		words = append(words, "--role-name", name)
	}
	if f.Options.CatalogFile != "" {
		words = append(words, "--catalog", f.Options.CatalogFile)
	}
	words = append(words, extra...)
	line := command(words...)
	if t.Selection == nil {
		// The placeholder must stay visible as one: never quoted, never mistaken for a value.
		line += " --stage <STAGE> [--set KEY=VALUE ...]"
	}
	return line
}

// permissionWords are the --stage/--bucket/--prefix/--set flags of the target's selection.
func permissionWords(t *Target) []string {
	if t.Selection == nil {
		return nil
	}
	sel := t.Selection
	var words []string
	_, hasBucket := sel.Params["bucket"]
	// `--bucket B` alone means the s3 stage: say it the way the original guide does.
	if !(len(sel.Stages) == 1 && sel.Stages[0] == "s3" && hasBucket) {
		for _, s := range sel.Stages {
			words = append(words, "--stage", s)
		}
	}
	keys := make([]string, 0, len(sel.Params))
	for k := range sel.Params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch k {
		case "bucket":
			words = append(words, "--bucket", sel.Params[k])
		case "prefix":
			words = append(words, "--prefix", sel.Params[k])
		default:
			words = append(words, "--set", k+"="+sel.Params[k])
		}
	}
	return words
}

// customRoleName is the annotated role's name when bind needs to be told it: bind follows the annotation
// by itself, but refuses a role whose kubectl-sdc tags name another binding unless --role-name says the
// role is shared on purpose.
func customRoleName(f *Facts, t *Target) string {
	r := t.role(f)
	if r == nil || !r.Exists || r.Tags[vocab.ManagedByKey] != vocab.ManagedByValue {
		return ""
	}
	if ns, sa := r.Tags[vocab.TagNamespace], r.Tags[vocab.TagServiceAccount]; (ns == "" && sa == "") || (ns == t.Namespace && sa == t.ServiceAccount) {
		return ""
	}
	return r.Name
}

// rolloutFix restarts the target's Deployment, so its pods are created again and the webhook sees them.
func rolloutFix(t *Target) string {
	return command("kubectl", "rollout", "restart", "deployment/"+t.Deployment, "-n", t.Namespace)
}

// replaceFix is the fix for pods that must be created again: when a restart was asked for after every one
// of them was created (bind and migrate ask for one), a rollout is already replacing them and the thing to
// do is to follow it; otherwise restart.
func replaceFix(t *Target, pods []string) string {
	restarted, err := time.Parse(time.RFC3339, t.Deploy.Spec.Template.Annotations[vocab.RestartedAtAnnotation])
	if err != nil {
		return rolloutFix(t)
	}
	for i := range t.Pods {
		p := t.Pods[i]
		if slices.Contains(pods, p.Name) && !p.CreationTimestamp.Time.Before(restarted) {
			return rolloutFix(t)
		}
	}
	return command("kubectl", "rollout", "status", "deployment/"+t.Deployment, "-n", t.Namespace) +
		"   # a rollout asked for at " + restarted.UTC().Format(time.RFC3339) + " is replacing them"
}
