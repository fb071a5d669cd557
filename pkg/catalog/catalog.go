// Package catalog reads plugins.yaml, the catalog of StreamSets Data Collector stage libraries and the IAM
// statements each stage needs, and renders the IAM policy for a selection of stages and parameters.
package catalog

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"

	kubectlsdc "github.com/kubectl-sdc/kubectl-sdc"
)

// Catalog is a parsed, validated plugins.yaml. It marshals (JSON, and YAML through sigs.k8s.io/yaml) in
// the file's own schema.
type Catalog struct {
	file File
}

// File is the schema of plugins.yaml.
type File struct {
	// PodIdentity is what EKS Pod Identity needs of the AWS SDK inside SDC.
	PodIdentity *PodIdentitySDK `json:"podIdentity,omitempty"`
	// AssumeRole is how SDC's "Assume Another Role" calls STS (assumerole.go).
	AssumeRole *AssumeRoleCall `json:"assumeRole,omitempty"`
	// CallsChecked is the range of SDC releases whose source the stages' calls were read from.
	CallsChecked *CallsChecked `json:"callsChecked,omitempty"`
	Libraries    []Library     `json:"libraries"`
	Stages       []Stage       `json:"stages"`
}

// PodIdentitySDK holds the first AWS SDK for Java versions whose default credential chain reads EKS Pod
// Identity credentials (the container provider with AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE).
type PodIdentitySDK struct {
	MinJavaSDKv1 string `json:"minJavaSDKv1"`
	MinJavaSDKv2 string `json:"minJavaSDKv2"`
}

// BundledSDK is the AWS SDK for Java a library bundles in one SDC release line.
type BundledSDK struct {
	// SDC is a release line, MAJOR.MINOR (3.19 stands for every 3.19.x).
	SDC string `json:"sdc"`
	// JavaSDKv1 is the version of com.amazonaws:aws-java-sdk; fewer components stand for the whole line
	// (1.11 is some 1.11.x).
	JavaSDKv1 string `json:"javaSDKv1"`
}

// MarshalJSON writes the catalog in the plugins.yaml schema.
func (c *Catalog) MarshalJSON() ([]byte, error) { return json.Marshal(c.file) }

// Library is an SDC stage library that talks to AWS.
type Library struct {
	Name      string `json:"name"`
	Directory string `json:"directory"`
	// MinSDCVersion is the first SDC version whose library can use web identity credentials; "" if unknown.
	MinSDCVersion string `json:"minSDCVersion,omitempty"`
	// AssumeRoleMinSDCVersion is the first SDC version whose stages of this library have "Assume Another
	// Role" (sts:AssumeRole on top of the pod's credentials); "" when the library has none, or it is unknown.
	AssumeRoleMinSDCVersion string `json:"assumeRoleMinSDCVersion,omitempty"`
	// MinPodIdentitySDCVersion is the first SDC version whose library can use EKS Pod Identity
	// credentials; "" while no SDC release is documented to (see PodIdentityRule).
	MinPodIdentitySDCVersion string `json:"minPodIdentitySDCVersion,omitempty"`
	// AWSJavaSDK is the AWS SDK for Java the library bundles, by SDC release line, oldest first.
	AWSJavaSDK  []BundledSDK `json:"awsJavaSDK,omitempty"`
	Description string       `json:"description,omitempty"`
}

// Stage is what --stage selects: an SDC stage and the IAM statements it needs.
type Stage struct {
	Name        string      `json:"name"`
	Library     string      `json:"library"`
	Description string      `json:"description"`
	Parameters  []Parameter `json:"parameters,omitempty"`
	Statements  []Statement `json:"statements"`
	// Calls are the AWS requests the stage's code makes, which the statements must allow.
	Calls []Call `json:"calls,omitempty"`
}

// Parameter is a value the stage's statements need, given with --set NAME=VALUE.
type Parameter struct {
	Name     string   `json:"name"`
	Kind     Kind     `json:"kind"`
	Values   []string `json:"values,omitempty"`
	Required bool     `json:"required,omitempty"`
	Default  *string  `json:"default,omitempty"`
	// DefaultFrom names another parameter of the stage whose value this one takes when it is not set
	// (an archive bucket is the read bucket unless it is another).
	DefaultFrom string `json:"defaultFrom,omitempty"`
	// Since is the first SDC release that has the setting; a value other than the default needs it.
	Since       string `json:"since,omitempty"`
	Description string `json:"description,omitempty"`
}

// Statement is an IAM statement template.
type Statement struct {
	Sid       string   `json:"sid"`
	Actions   []string `json:"actions"`
	Resources []string `json:"resources"`
	// When is "" (always) or terms joined by ", ", all of which must hold: "param" (set) or
	// "param=v1|v2" (set to one of the values).
	When string `json:"when,omitempty"`
	// Reasons say why an action is granted that no call of the stage makes, by action.
	Reasons map[string]string `json:"reasons,omitempty"`
}

// Kind says how a parameter's value is validated.
type Kind string

// The parameter kinds.
const (
	KindBucket         Kind = "bucket"
	KindPrefix         Kind = "prefix"
	KindQueue          Kind = "queue"
	KindStream         Kind = "stream"
	KindApplication    Kind = "application"
	KindDeliveryStream Kind = "delivery-stream"
	KindSecret         Kind = "secret"
	KindKMSKey         Kind = "kms-key"
	KindChoice         Kind = "choice"
)

// Template variables every statement may use; the rest are the stage's parameters.
const (
	VarPartition = "partition"
	VarRegion    = "region"
	VarAccount   = "account"
)

// Default returns the catalog embedded in the binary.
func Default() (*Catalog, error) {
	return Parse(kubectlsdc.PluginsYAML, "plugins.yaml (built in)")
}

// Load reads a catalog file (--catalog FILE).
func Load(path string) (*Catalog, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--catalog %q: %w", path, err)
	}
	return Parse(data, path)
}

// LoadOrDefault is Load when path is set, else Default: what a --catalog flag means.
func LoadOrDefault(path string) (*Catalog, error) {
	if path == "" {
		return Default()
	}
	return Load(path)
}

// Parse reads a catalog strictly (unknown and duplicate fields are errors) and validates it; name says
// where it came from in errors.
func Parse(data []byte, name string) (*Catalog, error) {
	var f File
	if err := yaml.UnmarshalStrict(data, &f); err != nil {
		// The YAML library reports through its JSON conversion; those layers mean nothing to a reader.
		msg := err.Error()
		for _, layer := range []string{"error unmarshaling JSON: ", "while decoding JSON: ", "json: ", "error converting YAML to JSON: "} {
			msg = strings.TrimPrefix(msg, layer)
		}
		return nil, fmt.Errorf("catalog %s: %s", name, msg)
	}
	if err := f.validate(); err != nil {
		return nil, fmt.Errorf("catalog %s: %w", name, err)
	}
	return &Catalog{file: f}, nil
}

// Stage returns the stage called name.
func (c *Catalog) Stage(name string) (*Stage, bool) {
	for i := range c.file.Stages {
		if c.file.Stages[i].Name == name {
			return &c.file.Stages[i], true
		}
	}
	return nil, false
}

// Stages returns the stages in catalog order.
func (c *Catalog) Stages() []Stage {
	return slices.Clone(c.file.Stages)
}

// Libraries returns the libraries in catalog order.
func (c *Catalog) Libraries() []Library {
	return slices.Clone(c.file.Libraries)
}

// Library returns the library called name.
func (c *Catalog) Library(name string) (*Library, bool) {
	for i := range c.file.Libraries {
		if c.file.Libraries[i].Name == name {
			return &c.file.Libraries[i], true
		}
	}
	return nil, false
}

// StageNames returns the stage names in catalog order.
func (c *Catalog) StageNames() []string {
	names := make([]string, len(c.file.Stages))
	for i, s := range c.file.Stages {
		names[i] = s.Name
	}
	return names
}

// Parameter returns the stage's parameter called name.
func (s *Stage) Parameter(name string) (*Parameter, bool) {
	for i := range s.Parameters {
		if s.Parameters[i].Name == name {
			return &s.Parameters[i], true
		}
	}
	return nil, false
}

var (
	nameRE   = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	paramRE  = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)
	sidRE    = regexp.MustCompile(`^[A-Za-z0-9]+$`)
	actionRE = regexp.MustCompile(`^[a-z0-9-]+:[A-Za-z0-9*?]+$`)
	varRE    = regexp.MustCompile(`\$\{([^}]*)\}`)
)

func (c *File) validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	libs := map[string]bool{}
	for i, l := range c.Libraries {
		where := fmt.Sprintf("libraries[%d] (%s)", i, l.Name)
		switch {
		case !nameRE.MatchString(l.Name):
			bad("%s: name %q must be lower-case words joined by hyphens", where, l.Name)
		case libs[l.Name]:
			bad("%s: library %q is listed twice", where, l.Name)
		}
		libs[l.Name] = true
		if l.Directory == "" {
			bad("%s: directory is empty (the library's directory under $SDC_DIST/streamsets-libs)", where)
		}
		if l.MinSDCVersion != "" {
			if _, err := parseVersion(l.MinSDCVersion); err != nil {
				bad("%s: minSDCVersion: %v", where, err)
			}
		}
		if l.AssumeRoleMinSDCVersion != "" {
			if _, err := parseVersion(l.AssumeRoleMinSDCVersion); err != nil {
				bad("%s: assumeRoleMinSDCVersion: %v", where, err)
			}
		}
		if l.MinPodIdentitySDCVersion != "" {
			if _, err := parseVersion(l.MinPodIdentitySDCVersion); err != nil {
				bad("%s: minPodIdentitySDCVersion: %v", where, err)
			}
		}
		for j, b := range l.AWSJavaSDK {
			bw := fmt.Sprintf("%s: awsJavaSDK[%d]", where, j)
			v, err := parseVersion(b.SDC)
			switch {
			case err != nil:
				bad("%s: sdc: %v", bw, err)
			case len(v) != 2:
				bad("%s: sdc %q: want a release line, MAJOR.MINOR", bw, b.SDC)
			case j > 0:
				if cmp, err := CompareVersions(l.AWSJavaSDK[j-1].SDC, b.SDC); err == nil && cmp >= 0 {
					bad("%s: sdc %s: release lines must be listed oldest first, each once", bw, b.SDC)
				}
			}
			if _, err := parseVersion(b.JavaSDKv1); err != nil {
				bad("%s: javaSDKv1: %v", bw, err)
			}
		}
	}
	if pi := c.PodIdentity; pi != nil {
		for field, v := range map[string]string{"minJavaSDKv1": pi.MinJavaSDKv1, "minJavaSDKv2": pi.MinJavaSDKv2} {
			if _, err := parseVersion(v); err != nil {
				bad("podIdentity: %s: %v", field, err)
			}
		}
	}
	c.AssumeRole.validate(bad)
	if len(c.Stages) == 0 {
		bad("no stages")
	}

	stages := map[string]bool{}
	sids := map[string]string{}
	kinds := map[string]Parameter{} // a parameter name means the same thing in every stage
	for i, s := range c.Stages {
		where := fmt.Sprintf("stages[%d] (%s)", i, s.Name)
		switch {
		case !nameRE.MatchString(s.Name):
			bad("%s: name %q must be lower-case words joined by hyphens", where, s.Name)
		case stages[s.Name]:
			bad("%s: stage %q is listed twice", where, s.Name)
		}
		stages[s.Name] = true
		if !libs[s.Library] {
			bad("%s: library %q is not in libraries", where, s.Library)
		}
		if strings.TrimSpace(s.Description) == "" {
			bad("%s: description is empty", where)
		}
		params := map[string]*Parameter{}
		for j := range s.Parameters {
			p := &s.Parameters[j]
			pw := fmt.Sprintf("%s: parameters[%d] (%s)", where, j, p.Name)
			switch {
			case !paramRE.MatchString(p.Name):
				bad("%s: name %q must be lower-case words joined by hyphens", pw, p.Name)
			case p.Name == VarPartition || p.Name == VarRegion || p.Name == VarAccount:
				bad("%s: %q is a built-in template variable, not a parameter name", pw, p.Name)
			case params[p.Name] != nil:
				bad("%s: parameter %q is listed twice", pw, p.Name)
			}
			params[p.Name] = p
			if _, ok := kindRules[p.Kind]; !ok {
				bad("%s: kind %q is not one of %s", pw, p.Kind, strings.Join(kindNames(), ", "))
				continue
			}
			if (p.Kind == KindChoice) != (len(p.Values) > 0) {
				bad("%s: values are for kind choice, and kind choice needs values", pw)
			}
			for _, v := range p.Values {
				if !paramRE.MatchString(v) {
					bad("%s: value %q must be lower-case words joined by hyphens", pw, v)
				}
			}
			if p.Required && p.Default != nil {
				bad("%s: a required parameter cannot have a default", pw)
			}
			if p.Default != nil && *p.Default != "" {
				if err := p.check(*p.Default); err != nil {
					bad("%s: default: %v", pw, err)
				}
			}
			if p.DefaultFrom != "" && (p.Required || p.Default != nil) {
				bad("%s: defaultFrom is for optional parameters without a default", pw)
			}
			if p.Since != "" {
				if _, err := parseVersion(p.Since); err != nil {
					bad("%s: since: %v", pw, err)
				}
			}
			if prev, ok := kinds[p.Name]; ok && (prev.Kind != p.Kind || !slices.Equal(prev.Values, p.Values)) {
				bad("%s: kind %s differs from parameter %q of another stage (%s): one name, one meaning, because --set applies to every selected stage",
					pw, p.Kind, p.Name, prev.Kind)
			}
			kinds[p.Name] = *p
		}
		for _, p := range s.Parameters {
			if p.DefaultFrom == "" {
				continue
			}
			if from := params[p.DefaultFrom]; from == nil || from.Kind != p.Kind || from.Name == p.Name {
				bad("%s: parameter %s: defaultFrom %q must name another parameter of the stage of kind %s", where, p.Name, p.DefaultFrom, p.Kind)
			}
		}
		if len(s.Statements) == 0 {
			bad("%s: no statements", where)
		}
		local := map[string]bool{}
		for j, st := range s.Statements {
			sw := fmt.Sprintf("%s: statements[%d] (%s)", where, j, st.Sid)
			if !sidRE.MatchString(st.Sid) {
				bad("%s: sid %q must be letters and digits", sw, st.Sid)
			} else if local[st.Sid] {
				bad("%s: sid %q is used twice in the stage", sw, st.Sid)
			} else if other, ok := sids[SidFor(s.Name, st.Sid)]; ok {
				bad("%s: policy Sid %s is also made by stage %s", sw, SidFor(s.Name, st.Sid), other)
			}
			local[st.Sid] = true
			sids[SidFor(s.Name, st.Sid)] = s.Name
			if len(st.Actions) == 0 {
				bad("%s: no actions", sw)
			}
			for _, a := range st.Actions {
				if !actionRE.MatchString(a) {
					bad("%s: action %q is not service:Action", sw, a)
				}
			}
			for _, p := range validateWhen(st.When, params) {
				bad("%s: %s", sw, p)
			}
			if len(st.Resources) == 0 {
				bad("%s: no resources", sw)
			}
			for _, r := range st.Resources {
				for _, m := range varRE.FindAllStringSubmatch(r, -1) {
					v := m[1]
					if v == VarPartition || v == VarRegion || v == VarAccount {
						continue
					}
					p := params[v]
					if p == nil {
						bad("%s: resource %q: ${%s} is neither a parameter of the stage nor one of partition, region, account", sw, r, v)
						continue
					}
					if !alwaysSet(p, params) && !slices.Contains(whenParams(st.When), v) {
						bad("%s: resource %q uses optional parameter %s, which has no default: add `when: %s`", sw, r, v, v)
					}
					// An alias ARN renders as a key pattern plus a condition that applies to the whole statement.
					if p.Kind == KindKMSKey && (r != "${"+v+"}" || len(st.Resources) != 1) {
						bad("%s: a kms-key parameter must be the statement's only resource, written \"${%s}\"", sw, v)
					}
				}
				if strings.Count(r, "${") != len(varRE.FindAllString(r, -1)) {
					bad("%s: resource %q has an unclosed ${", sw, r)
				}
			}
		}
		validateCalls(&c.Stages[i], params, where, bad)
	}
	if cc := c.CallsChecked; cc != nil {
		for field, v := range map[string]string{"from": cc.From, "through": cc.Through} {
			if _, err := parseVersion(v); err != nil {
				bad("callsChecked: %s: %v", field, err)
			}
		}
	}
	return errors.Join(errs...)
}

// SidFor is the policy Sid of a stage's statement: the stage name in CamelCase followed by the statement's
// sid (s3-origin, Read: S3OriginRead), so a reader of the policy in the console sees which stage needs it.
func SidFor(stage, sid string) string {
	var b strings.Builder
	for _, w := range strings.Split(stage, "-") {
		if w == "" {
			continue
		}
		b.WriteString(strings.ToUpper(w[:1]) + w[1:])
	}
	b.WriteString(sid)
	return b.String()
}
