package catalog

import (
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// AssumeRoleCall is how SDC's "Assume Another Role" calls STS, as its code makes the call, with where that
// is read (plugins.yaml `assumeRole:`): what bind grants for it and doctor --probe plays.
type AssumeRoleCall struct {
	// SessionTagKey is the one session tag SDC sets when "Set Session Tags" is on; its value is the user
	// who starts the pipeline.
	SessionTagKey string `json:"sessionTagKey"`
	// SessionTagsDefault is "Set Session Tags"'s default.
	SessionTagsDefault bool `json:"sessionTagsDefault"`
	// Session Timeout (the session's DurationSeconds): its default, minimum and maximum.
	SessionSecondsDefault int `json:"sessionSecondsDefault"`
	SessionSecondsMin     int `json:"sessionSecondsMin"`
	SessionSecondsMax     int `json:"sessionSecondsMax"`
	// SessionName is the session name SDC uses when the stage names none.
	SessionName string `json:"sessionName"`
	// Sources are the classes and methods the facts come from.
	Sources []string `json:"sources"`
}

// AssumeRole is the catalog's account of SDC's Assume Another Role call; the zero value when the catalog
// has none.
func (c *Catalog) AssumeRole() AssumeRoleCall {
	if c.file.AssumeRole == nil {
		return AssumeRoleCall{}
	}
	return *c.file.AssumeRole
}

func (a *AssumeRoleCall) validate(bad func(string, ...any)) {
	if a == nil {
		return
	}
	switch {
	case a.SessionTagKey == "":
		bad("assumeRole: sessionTagKey is empty")
	case len(a.SessionTagKey) > 128:
		bad("assumeRole: sessionTagKey %q: STS takes tag keys of at most 128 characters", a.SessionTagKey)
	}
	if a.SessionSecondsMin < 900 || a.SessionSecondsMax > 43200 || a.SessionSecondsMin > a.SessionSecondsDefault || a.SessionSecondsDefault > a.SessionSecondsMax {
		bad("assumeRole: session seconds min %d <= default %d <= max %d must lie within STS's 900 to 43200",
			a.SessionSecondsMin, a.SessionSecondsDefault, a.SessionSecondsMax)
	}
	if a.SessionSecondsMin > vocab.RoleChainingMaxSeconds {
		bad("assumeRole: sessionSecondsMin %d: a session assumed from a role session (IRSA's, Pod Identity's) lasts at most %d s",
			a.SessionSecondsMin, vocab.RoleChainingMaxSeconds)
	}
	if len(a.Sources) == 0 {
		bad("assumeRole: sources: say which classes and methods of SDC the facts come from")
	}
}
