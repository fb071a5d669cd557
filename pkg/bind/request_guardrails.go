package bind

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// Guardrails are what an organization commonly requires of every role (through service control policies,
// or the IAM policy of the people who run bind): a permissions boundary, a path and tags, and the role's
// session length and description. A fresh bind costs no extra AWS call for them: CreateRole carries the
// boundary, path, tags, description and session length, CreatePolicy the path and tags, and
// CreateOpenIDConnectProvider the tags.
type Guardrails struct {
	// PermissionsBoundary is a managed policy ARN set as the role's permissions boundary: at CreateRole, or
	// with PutRolePermissionsBoundary on a role bind made. "" leaves a role's boundary as it is.
	PermissionsBoundary string
	// RolePath is the path of the role and of the policy bind makes ("/a/b/"); "" means the path of the
	// role the ServiceAccount's annotation names, else "/". A role found at another path stays there.
	RolePath string
	// Tags go on every IAM resource bind creates, and on those it made before (other tags stay).
	Tags map[string]string
	// MaxSessionDuration (seconds) and Description of the role; 0 and "" mean IAM's default (3600) and
	// bind's own description for a new role, and leave an existing one's as they are.
	MaxSessionDuration int32
	Description        string
	// Sources name where each setting came from, for errors: a flag, or the environment variable behind its
	// default. Empty entries mean the flag.
	Sources GuardrailSources
}

// GuardrailSources name the flag or environment variable each guardrail came from.
type GuardrailSources struct {
	PermissionsBoundary, RolePath, Tags string
}

func source(s, flag string) string {
	if s == "" {
		return flag
	}
	return s
}

// validate checks the guardrails with IAM's rules, naming the flag (or variable) of each.
func (g *Guardrails) validate() error {
	if g.PermissionsBoundary != "" {
		if err := vocab.ValidatePolicyARN(source(g.Sources.PermissionsBoundary, "--permissions-boundary"), g.PermissionsBoundary); err != nil {
			return err
		}
	}
	if g.RolePath != "" {
		if err := vocab.ValidatePath(source(g.Sources.RolePath, "--role-path"), g.RolePath); err != nil {
			return err
		}
	}
	flag := source(g.Sources.Tags, "--tag")
	for _, k := range slices.Sorted(maps.Keys(g.Tags)) {
		if err := vocab.ValidateTag(flag, k, g.Tags[k]); err != nil {
			return err
		}
	}
	if len(g.Tags) > vocab.MaxRoleTags-vocab.OwnRoleTags {
		return &FlagError{Flag: flag, Rule: fmt.Sprintf("%d tags: IAM allows %d on a role and kubectl-sdc writes up to %d of its own, so at most %d may be added",
			len(g.Tags), vocab.MaxRoleTags, vocab.OwnRoleTags, vocab.MaxRoleTags-vocab.OwnRoleTags)}
	}
	if g.MaxSessionDuration != 0 && (g.MaxSessionDuration < vocab.MinMaxSessionDuration || g.MaxSessionDuration > vocab.MaxMaxSessionDuration) {
		return &FlagError{Flag: "--max-session-duration", Value: fmt.Sprint(g.MaxSessionDuration), Rule: fmt.Sprintf(
			"IAM allows a role's maximum session duration from 1h to 12h (%d to %d seconds)", vocab.MinMaxSessionDuration, vocab.MaxMaxSessionDuration)}
	}
	if g.Description != "" {
		if err := vocab.ValidateRoleDescription("--description", g.Description); err != nil {
			return err
		}
	}
	return nil
}

// managedByBind reports whether kubectl-sdc made the IAM resource with these tags: bind applies the
// guardrails to those, and only changes a boundary there.
func managedByBind(tags map[string]string) bool {
	return tags[vocab.ManagedByKey] == vocab.ManagedByValue
}

// guardrailFacts describe the guardrails for the plan's header; nil when there are none.
func (g Guardrails) facts() []string {
	var out []string
	if g.PermissionsBoundary != "" {
		out = append(out, "permissions boundary "+g.PermissionsBoundary)
	}
	if g.RolePath != "" {
		out = append(out, "path "+g.RolePath)
	}
	if len(g.Tags) > 0 {
		var kv []string
		for _, k := range slices.Sorted(maps.Keys(g.Tags)) {
			kv = append(kv, k+"="+g.Tags[k])
		}
		out = append(out, "tags "+strings.Join(kv, ", "))
	}
	if g.MaxSessionDuration != 0 {
		out = append(out, fmt.Sprintf("maximum session %ds", g.MaxSessionDuration))
	}
	return out
}

// GuardrailFacts is one line for the plan's header saying which guardrails apply; "" for none.
func (res *Result) GuardrailFacts() string {
	return strings.Join(res.Request.Guardrails.facts(), "; ")
}
