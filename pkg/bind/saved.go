package bind

// Saved plans (pkg/plan.Saved) of bind, unbind and migrate: the facts a plan was made from, its operations as
// data, and the check that a plan made again is the saved one. Applying a saved plan is: observe again,
// Plan again (pure), CheckSaved, and Apply the new plan, which CheckSaved has shown to be the saved one
// operation for operation.

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"time"

	sdcaws "github.com/kubectl-sdc/kubectl-sdc/pkg/aws"
	appsv1 "k8s.io/api/apps/v1"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/cluster"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/plan"
)

// Facts are the resources the plan was made from (see plan.Fact).
func (o *Observed) Facts(r *Request) ([]plan.Fact, error) {
	var fs factList
	if !r.podIdentityMode() {
		fs.add("provider", KindProvider, o.Names.ProviderARN, o.Provider)
	}
	if r.ownPolicy() {
		fs.add("policy", KindPolicy, o.Names.PolicyARN, o.Policy)
	}
	fs.add("role", KindRole, o.Names.RoleName, o.Role)
	if t := o.Target; t != nil {
		fs.add("target-role", KindRole, t.ARN, t.Role)
		if t.Managed {
			fs.add("target-policy", KindPolicy, t.PolicyARN, t.Policy)
		}
	}
	fs.add("namespace", KindNamespace, r.Namespace, o.Namespace)
	fs.add("serviceaccount", KindSA, r.Namespace+"/"+r.ServiceAccount, o.ServiceAccount)
	if r.Deployment != "" {
		fs.add("deployment", KindDeployment, r.Namespace+"/"+r.Deployment, o.Deployment)
	}
	if r.podIdentityMode() {
		fs.add("association", KindAssociation, associationName(o.Cluster, r), o.Association)
		fs.add("agent", "EKS Pod Identity agent", o.Cluster.Name, agentFact{o.Agent.AddonStatus, o.Agent.AddonVersion, o.Agent.AutoMode})
	}
	return fs.facts, fs.err
}

// agentFact is what a plan depends on of the Pod Identity agent.
type agentFact struct {
	AddonStatus, AddonVersion string
	AutoMode                  *bool
}

func associationName(c *cluster.Cluster, r *Request) string {
	return c.Name + "/" + r.Namespace + "/" + r.ServiceAccount
}

// Where is the cluster and account a plan is for.
func where(c *cluster.Cluster, id sdcaws.Identity) plan.Where {
	if c == nil { // a migration with nothing to migrate
		return plan.Where{Account: id.Account, Caller: id.ARN}
	}
	return plan.Where{Cluster: c.Name, Region: c.Region, Issuer: c.Issuer, Account: id.Account,
		Context: c.Context, Caller: id.ARN}
}

// Saved is the saved plan of res (without the plugin, the request and the flags, which the command adds).
func (res *Result) Saved() (*plan.Saved, error) {
	facts, err := res.Observed.Facts(res.Request)
	if err != nil {
		return nil, err
	}
	changes, err := SavedChanges(res.Plan)
	if err != nil {
		return nil, err
	}
	return &plan.Saved{Command: "bind", Where: where(res.Cluster, res.Identity), Facts: facts, Changes: changes}, nil
}

// CheckSaved refuses, with a *plan.StaleError, a saved plan whose facts moved or whose changes the plan made
// now (res) does not repeat exactly; again is the command that makes a new plan.
func (res *Result) CheckSaved(s *plan.Saved, file, again string) error {
	facts, err := res.Observed.Facts(res.Request)
	if err != nil {
		return err
	}
	return checkSaved(s, file, again, where(res.Cluster, res.Identity), facts, res.Plan)
}

// checkSaved is CheckSaved of any command: the same cluster and account, no fact moved, the same changes.
func checkSaved(s *plan.Saved, file, again string, w plan.Where, facts []plan.Fact, p *plan.Plan) error {
	if s.Where.Cluster != w.Cluster || s.Where.Account != w.Account || s.Where.Region != w.Region || s.Where.Issuer != w.Issuer {
		return fmt.Errorf("the saved plan %s is for cluster %s (%s, issuer %s) in account %s, and this kube context and these credentials reach cluster %s (%s, issuer %s) in account %s: nothing was written; apply it with the kube context (--context) and credentials (--profile) of its cluster",
			file, s.Where.Cluster, s.Where.Region, s.Where.Issuer, s.Where.Account, w.Cluster, w.Region, w.Issuer, w.Account)
	}
	changes, err := SavedChanges(p)
	if err != nil {
		return err
	}
	moved := plan.Moved(s.Facts, facts)
	var different []string
	if len(moved) == 0 {
		different = plan.Differences(s.Changes, changes)
	}
	if len(moved) > 0 || len(different) > 0 {
		return &plan.StaleError{File: file, Moved: moved, Different: different, Again: again}
	}
	return nil
}

// factList builds facts, keeping the first error.
type factList struct {
	facts []plan.Fact
	err   error
}

// add adds the fact of a resource read as v (a nil pointer: it did not exist).
func (l *factList) add(id, kind, name string, v any) {
	f := plan.Fact{ID: id, Kind: kind, Name: name}
	if rv := reflect.ValueOf(v); v != nil && !(rv.Kind() == reflect.Pointer && rv.IsNil()) {
		state, err := factState(v)
		if err != nil && l.err == nil {
			l.err = fmt.Errorf("recording %s %s: %w", kind, name, err)
		}
		f.State = state
	}
	l.facts = append(l.facts, f)
}

// volatile are the parts of a resource that change without anyone changing it (Kubernetes bookkeeping and
// status, a reading's error) and are left out of its fact.
var volatile = map[string]bool{
	"resourceVersion": true, "managedFields": true, "generation": true, "creationTimestamp": true,
	"status": true, "kind": true, "apiVersion": true, "name": true, "namespace": true,
	"TrustErr": true, "Err": true,
}

// factState is v's parts by name: a Kubernetes object's metadata fields and its other top-level fields
// (spec, secrets...), a read AWS resource's fields; volatile parts left out.
func factState(v any) (map[string]json.RawMessage, error) {
	if d, ok := v.(*appsv1.Deployment); ok && d.Spec.Replicas != nil {
		// An autoscaler changes the replicas at any time, and no plan depends on them.
		d = d.DeepCopy()
		d.Spec.Replicas = nil
		v = d
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return map[string]json.RawMessage{"value": b}, nil
	}
	out := map[string]json.RawMessage{}
	for k, v := range top {
		if k == "metadata" {
			var meta map[string]json.RawMessage
			if err := json.Unmarshal(v, &meta); err != nil {
				return nil, err
			}
			for mk, mv := range meta {
				if !volatile[mk] {
					out[mk] = mv
				}
			}
			continue
		}
		if !volatile[k] {
			out[k] = v
		}
	}
	return out, nil
}

// SavedChanges are p's changes as a saved plan holds them, each operation as data (see opData).
func SavedChanges(p *plan.Plan) ([]plan.SavedChange, error) {
	out := make([]plan.SavedChange, 0, len(p.Changes))
	for _, c := range p.Changes {
		sc := plan.SavedChange{ID: c.ID, Kind: c.Kind, Name: c.Name, Action: c.Action, Deps: c.Deps,
			Before: c.Before, After: c.After, Format: c.Format, Notes: c.Notes}
		if c.Op != nil {
			b, err := json.Marshal(opData(reflect.ValueOf(c.Op)))
			if err != nil {
				return nil, fmt.Errorf("saving the operation of %s %s: %w", c.Kind, c.Name, err)
			}
			sc.Op = b
		}
		out = append(out, sc)
	}
	return out, nil
}

var timeType = reflect.TypeFor[time.Time]()

// opData is an operation as JSON-able data: this package's structs field by field, the dynamic value of an
// interface (an operation, a trust edit) with its type's name, everything else as encoding/json writes it
// (Kubernetes apply configurations, IAM documents). Times are left out: an operation's only time is when
// the plan read a trust (trustGuard.Read), which a plan made again reads anew.
func opData(v reflect.Value) any {
	switch v.Kind() {
	case reflect.Interface:
		if v.IsNil() {
			return nil
		}
		e := v.Elem()
		return map[string]any{"type": typeName(e.Type()), "value": opData(e)}
	case reflect.Pointer:
		if v.IsNil() {
			return nil
		}
		if ours(v.Type().Elem()) {
			return opData(v.Elem())
		}
	case reflect.Slice:
		if ours(v.Type()) || v.Type().Elem().Kind() == reflect.Interface {
			if v.IsNil() {
				return nil
			}
			out := make([]any, v.Len())
			for i := range out {
				out[i] = opData(v.Index(i))
			}
			return out
		}
	case reflect.Struct:
		if !ours(v.Type()) {
			break
		}
		out := map[string]any{}
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if !f.IsExported() || f.Type == timeType {
				continue
			}
			out[f.Name] = opData(v.Field(i))
		}
		if len(out) == 0 {
			return typeName(v.Type())
		}
		return out
	}
	if !v.CanInterface() {
		return nil
	}
	return v.Interface()
}

// ours reports whether t is a type of this package (walked field by field by opData).
func ours(t reflect.Type) bool { return t.PkgPath() == reflect.TypeFor[Request]().PkgPath() }

// typeName is t's name without its package, e.g. writeTrust, *createRole.
func typeName(t reflect.Type) string {
	if t.Kind() == reflect.Pointer {
		return "*" + typeName(t.Elem())
	}
	if t.Name() != "" {
		return t.Name()
	}
	return t.String()
}

// Facts are the resources the unbind plan was made from.
func (o *UnbindObserved) Facts(r *UnbindRequest) ([]plan.Fact, error) {
	var fs factList
	fs.add("role", KindRole, o.Names.RoleName, o.Role)
	for _, arn := range slices.Sorted(maps.Keys(o.Policies)) {
		fs.add("policy "+arn, KindPolicy, arn, o.Policies[arn])
	}
	if o.Provider != nil || o.Trusts != nil {
		fs.add("provider", KindProvider, o.Names.ProviderARN, o.Provider)
	}
	for _, name := range slices.Sorted(maps.Keys(o.Trusts)) {
		fs.add("trust "+name, "IAM role trust", name, o.Trusts[name])
	}
	fs.add("serviceaccount", KindSA, r.Namespace+"/"+r.ServiceAccount, o.ServiceAccount)
	for i := range o.Deployments {
		d := &o.Deployments[i]
		fs.add("deployment "+d.Name, KindDeployment, d.Namespace+"/"+d.Name, d)
	}
	if o.AssociationRead {
		fs.add("association", KindAssociation, o.Cluster.Name+"/"+r.Namespace+"/"+r.ServiceAccount, o.Association)
	}
	if o.OtherAssociationsRead {
		fs.add("other associations", KindAssociation+"s naming the role", o.Names.RoleName, o.OtherAssociations)
	}
	return fs.facts, fs.err
}

// Saved is the saved plan of the unbind res (see Result.Saved).
func (res *UnbindResult) Saved() (*plan.Saved, error) {
	facts, err := res.Observed.Facts(res.Request)
	if err != nil {
		return nil, err
	}
	changes, err := SavedChanges(res.Plan)
	if err != nil {
		return nil, err
	}
	return &plan.Saved{Command: "unbind", Where: where(res.Cluster, res.Identity), Facts: facts, Changes: changes}, nil
}

// CheckSaved is Result.CheckSaved of unbind.
func (res *UnbindResult) CheckSaved(s *plan.Saved, file, again string) error {
	facts, err := res.Observed.Facts(res.Request)
	if err != nil {
		return err
	}
	return checkSaved(s, file, again, where(res.Cluster, res.Identity), facts, res.Plan)
}

// facts are the migration's: every ServiceAccount's, each ID prefixed by it.
func (mg *Migration) facts() ([]plan.Fact, error) {
	var out []plan.Fact
	for _, res := range mg.Results {
		fs, err := res.Observed.Facts(res.Request)
		if err != nil {
			return nil, err
		}
		for _, f := range fs {
			f.ID = res.Request.Namespace + "/" + res.Request.ServiceAccount + " " + f.ID
			out = append(out, f)
		}
	}
	return out, nil
}

// Saved is the saved plan of the migration (see Result.Saved).
func (mg *Migration) Saved() (*plan.Saved, error) {
	facts, err := mg.facts()
	if err != nil {
		return nil, err
	}
	changes, err := SavedChanges(mg.Plan)
	if err != nil {
		return nil, err
	}
	return &plan.Saved{Command: "migrate", Where: where(mg.Cluster, mg.Identity), Facts: facts, Changes: changes}, nil
}

// CheckSaved is Result.CheckSaved of migrate.
func (mg *Migration) CheckSaved(s *plan.Saved, file, again string) error {
	facts, err := mg.facts()
	if err != nil {
		return err
	}
	return checkSaved(s, file, again, where(mg.Cluster, mg.Identity), facts, mg.Plan)
}
