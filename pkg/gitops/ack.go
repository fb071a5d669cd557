package gitops

// AWS Controllers for Kubernetes: iam.services.k8s.aws (Role, Policy, OpenIDConnectProvider, iam-controller
// v1.9) and eks.services.k8s.aws (PodIdentityAssociation) resources, in the binding's namespace.

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
)

// ACK's API groups and annotations.
const (
	ACKIAMVersion = "iam.services.k8s.aws/v1alpha1"
	ACKEKSVersion = "eks.services.k8s.aws/v1alpha1"
	// ACKOwnerAccount puts a resource in another account than the controller's (ACK's cross-account
	// resource management, which maps the account to a role in the ack-role-account-map ConfigMap).
	ACKOwnerAccount = "services.k8s.aws/owner-account-id"
	// ACKAdoptionPolicy and ACKAdoptionFields make a controller adopt a resource that exists (resource
	// adoption, a feature gate of the ACK runtime) instead of failing to create it.
	ACKAdoptionPolicy = "services.k8s.aws/adoption-policy"
	ACKAdoptionFields = "services.k8s.aws/adoption-fields"
)

// Document is one YAML document of a stream: comment lines above it, and the object.
type Document struct {
	Comment []string
	Object  any
}

// Owners says which parts a controller owns once the output is applied and which stay with kubectl-sdc:
// the comment that opens both formats. format is "ACK resources" or "CloudFormation templates".
func Owners(format string, d *Desired) []string {
	return []string{
		fmt.Sprintf("kubectl-sdc bind of ServiceAccount %s/%s on cluster %s, as %s and the Kubernetes objects beside them.", d.Namespace, d.ServiceAccount, d.Cluster, format),
		"Only what the plan creates or changes is here (a resource left unchanged is not); nothing was written.",
		"A controller owns, once applied: the IAM OIDC provider, policies, roles (trust, attached policies, tags) and",
		"EKS Pod Identity associations below, and the Kubernetes objects if they go to the same Git repository.",
		"kubectl-sdc keeps: restarting the pods that predate the binding, and the serialising of its own edits of shared",
		"documents (its Leases); do not run kubectl sdc bind or unbind on resources a controller owns, or the two undo",
		"each other. kubectl sdc doctor checks the binding whichever applied it.",
	}
}

// ACK is d as ACK resources (the binding's account's without an owner-account annotation, another
// account's with one) followed by the Kubernetes objects.
func ACK(d *Desired) []Document {
	out := []Document{{Comment: Owners("AWS Controllers for Kubernetes resources (iam.services.k8s.aws, eks.services.k8s.aws)", d)}}
	for i, a := range d.Accounts {
		meta := func(kind, name string, exists bool, adopt map[string]string) map[string]any {
			ann := map[string]string{}
			if i > 0 {
				ann[ACKOwnerAccount] = a.ID
			}
			if exists {
				ann[ACKAdoptionPolicy] = "adopt-or-create"
				if len(adopt) > 0 {
					b, _ := json.Marshal(adopt)
					ann[ACKAdoptionFields] = string(b)
				}
			}
			m := map[string]any{"name": k8sName(kind, name), "namespace": d.Namespace}
			if len(ann) > 0 {
				m["annotations"] = ann
			}
			return m
		}
		if p := a.Provider; p != nil {
			spec := map[string]any{"url": p.URL, "clientIDs": nonNil(p.ClientIDs), "thumbprints": nonNil(p.Thumbprints)}
			if len(p.Tags) > 0 {
				spec["tags"] = ackTags(p.Tags)
			}
			out = append(out, Document{Comment: existsComment("IAM OIDC provider", p.ARN, p.Exists, a.ID),
				Object: map[string]any{"apiVersion": ACKIAMVersion, "kind": "OpenIDConnectProvider",
					"metadata": meta("oidc", hostPath(p.URL), p.Exists, map[string]string{"arn": p.ARN}), "spec": spec}})
		}
		for _, p := range a.Policies {
			spec := map[string]any{"name": p.Name, "policyDocument": string(p.Document.Compact())}
			if p.Path != "" && p.Path != "/" {
				spec["path"] = p.Path
			}
			if p.Description != "" {
				spec["description"] = p.Description
			}
			if len(p.Tags) > 0 {
				spec["tags"] = ackTags(p.Tags)
			}
			out = append(out, Document{Comment: existsComment("IAM policy", p.ARN, p.Exists, a.ID),
				Object: map[string]any{"apiVersion": ACKIAMVersion, "kind": "Policy",
					"metadata": meta("policy", p.Name, p.Exists, map[string]string{"arn": p.ARN}), "spec": spec}})
		}
		for _, r := range a.Roles {
			spec := map[string]any{"name": r.Name, "assumeRolePolicyDocument": string(r.Trust.Compact()), "policies": nonNil(sorted(r.Policies))}
			if r.Path != "" && r.Path != "/" {
				spec["path"] = r.Path
			}
			if r.Description != "" {
				spec["description"] = r.Description
			}
			if r.MaxSessionDuration != 0 {
				spec["maxSessionDuration"] = r.MaxSessionDuration
			}
			if r.Boundary != "" {
				spec["permissionsBoundary"] = r.Boundary
			}
			if len(r.Tags) > 0 {
				spec["tags"] = ackTags(r.Tags)
			}
			out = append(out, Document{Comment: existsComment("IAM role", r.ARN, r.Exists, a.ID),
				Object: map[string]any{"apiVersion": ACKIAMVersion, "kind": "Role",
					"metadata": meta("role", r.Name, r.Exists, nil), "spec": spec}})
		}
		for _, as := range a.Associations {
			spec := map[string]any{"clusterName": as.Cluster, "namespace": as.Namespace, "serviceAccount": as.ServiceAccount, "roleARN": as.RoleARN}
			if len(as.Tags) > 0 {
				spec["tags"] = as.Tags
			}
			name := as.Cluster + "/" + as.Namespace + "/" + as.ServiceAccount
			out = append(out, Document{Comment: existsComment("EKS Pod Identity association", name, as.Exists, a.ID),
				Object: map[string]any{"apiVersion": ACKEKSVersion, "kind": "PodIdentityAssociation",
					"metadata": meta("pia", as.Namespace+"-"+as.ServiceAccount, as.Exists, nil), "spec": spec}})
		}
	}
	return append(out, kubeDocuments(d)...)
}

// existsComment says, for a resource that exists, that a controller must adopt or import it.
func existsComment(kind, name string, exists bool, account string) []string {
	if !exists {
		return []string{fmt.Sprintf("%s %s (account %s): kubectl-sdc would create it.", kind, name, account)}
	}
	return []string{
		fmt.Sprintf("%s %s (account %s) EXISTS: this is its whole desired state, with kubectl-sdc's change.", kind, name, account),
		"ACK adopts it with the adoption-policy annotation (the ACK runtime's ResourceAdoption feature gate);",
		"CloudFormation imports it (a change set of type IMPORT; the template retains it on delete).",
	}
}

// kubeDocuments are the Kubernetes objects, for kubectl apply --server-side or a GitOps controller.
func kubeDocuments(d *Desired) []Document {
	var out []Document
	for _, k := range d.Kube {
		c := []string{k.What}
		if k.Fields {
			c = append(c, "Only kubectl-sdc's fields: apply it server-side (kubectl apply --server-side, Argo CD's ServerSideApply=true,",
				"Flux's default) so the object's other fields stay.")
		}
		out = append(out, Document{Comment: c, Object: k.Object})
	}
	if len(d.Restarts) > 0 {
		out = append(out, Document{Comment: []string{
			"Pods that started before the binding have no AWS identity until they restart, and no controller restarts them:",
			"kubectl rollout restart deployment -n " + d.Namespace + " " + strings.Join(restartNames(d.Restarts), " ") + " (kubectl sdc bind does it itself).",
		}})
	}
	return out
}

func restartNames(rs []string) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		_, out[i], _ = strings.Cut(r, "/")
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// ackTags are tags as ACK's IAM resources hold them: a list of key and value, by key.
func ackTags(t map[string]string) []map[string]string {
	out := []map[string]string{}
	for _, k := range slices.Sorted(maps.Keys(t)) {
		out = append(out, map[string]string{"key": k, "value": t[k]})
	}
	return out
}

var notDNS = regexp.MustCompile(`[^a-z0-9-]+`)

// k8sName is a Kubernetes object name (DNS-1123, at most 63 characters) for an AWS name: lower-cased, other
// characters as '-', and when that loses anything, a short hash of the original so names stay distinct.
func k8sName(kind, name string) string {
	s := strings.Trim(notDNS.ReplaceAllString(strings.ToLower(name), "-"), "-")
	s = kind + "-" + s
	if len(s) <= 63 && !strings.ContainsAny(name, "+._/:@=,") && strings.ToLower(name) == name {
		return s
	}
	sum := sha256.Sum256([]byte(name))
	h := hex.EncodeToString(sum[:])[:8]
	if len(s) > 54 {
		s = strings.TrimRight(s[:54], "-")
	}
	return s + "-" + h
}

// hostPath is an issuer URL without its scheme, as IAM names the provider.
func hostPath(url string) string { return strings.TrimPrefix(url, "https://") }

// ReadACK reads ACK resources (as YAML or JSON objects) back into a Desired; account is the controller's
// account (for resources without an owner-account annotation). Other objects are ignored.
func ReadACK(objects []map[string]any, account, partition string) (*Desired, error) {
	d := &Desired{}
	accounts := map[string]*Account{}
	var order []string
	get := func(id string) *Account {
		if a, ok := accounts[id]; ok {
			return a
		}
		accounts[id] = &Account{ID: id}
		order = append(order, id)
		return accounts[id]
	}
	for _, o := range objects {
		api, _ := o["apiVersion"].(string)
		kind, _ := o["kind"].(string)
		if api != ACKIAMVersion && api != ACKEKSVersion {
			continue
		}
		meta, _ := o["metadata"].(map[string]any)
		ann, _ := meta["annotations"].(map[string]any)
		acct := account
		if v, ok := ann[ACKOwnerAccount].(string); ok && v != "" {
			acct = v
		}
		_, exists := ann[ACKAdoptionPolicy]
		spec, _ := o["spec"].(map[string]any)
		a := get(acct)
		switch kind {
		case "OpenIDConnectProvider":
			url := str(spec["url"])
			a.Provider = &Provider{ARN: fmt.Sprintf("arn:%s:iam::%s:oidc-provider/%s", partition, acct, hostPath(url)), URL: url,
				ClientIDs: strs(spec["clientIDs"]), Thumbprints: strs(spec["thumbprints"]), Tags: readACKTags(spec["tags"]), Exists: exists}
		case "Policy":
			doc, err := iampolicy.Parse([]byte(str(spec["policyDocument"])))
			if err != nil {
				return nil, fmt.Errorf("ACK Policy %v: %w", meta["name"], err)
			}
			path := pathOr(str(spec["path"]))
			a.Policies = append(a.Policies, Policy{ARN: fmt.Sprintf("arn:%s:iam::%s:policy%s%s", partition, acct, path, str(spec["name"])),
				Name: str(spec["name"]), Path: path, Description: str(spec["description"]), Document: doc, Tags: readACKTags(spec["tags"]), Exists: exists})
		case "Role":
			trust, err := iampolicy.Parse([]byte(str(spec["assumeRolePolicyDocument"])))
			if err != nil {
				return nil, fmt.Errorf("ACK Role %v: %w", meta["name"], err)
			}
			path := pathOr(str(spec["path"]))
			r := Role{ARN: fmt.Sprintf("arn:%s:iam::%s:role%s%s", partition, acct, path, str(spec["name"])), Name: str(spec["name"]), Path: path,
				Description: str(spec["description"]), Boundary: str(spec["permissionsBoundary"]), Trust: trust,
				Policies: strs(spec["policies"]), Tags: readACKTags(spec["tags"]), Exists: exists}
			if n, ok := spec["maxSessionDuration"].(float64); ok {
				r.MaxSessionDuration = int32(n)
			}
			a.Roles = append(a.Roles, r)
		case "PodIdentityAssociation":
			tags := map[string]string{}
			if m, ok := spec["tags"].(map[string]any); ok {
				for k, v := range m {
					tags[k] = str(v)
				}
			}
			a.Associations = append(a.Associations, Association{Cluster: str(spec["clusterName"]), Namespace: str(spec["namespace"]),
				ServiceAccount: str(spec["serviceAccount"]), RoleARN: str(spec["roleARN"]), Tags: tags, Exists: exists})
		default:
			return nil, fmt.Errorf("ACK kind %s %s: not one kubectl-sdc emits", api, kind)
		}
	}
	for _, id := range order {
		d.Accounts = append(d.Accounts, *accounts[id])
	}
	return d, nil
}

func pathOr(p string) string {
	if p == "" {
		return "/"
	}
	return p
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func strs(v any) []string {
	l, _ := v.([]any)
	out := []string{}
	for _, x := range l {
		out = append(out, str(x))
	}
	return out
}

func readACKTags(v any) map[string]string {
	out := map[string]string{}
	l, _ := v.([]any)
	for _, x := range l {
		m, _ := x.(map[string]any)
		out[str(m["key"])] = str(m["value"])
	}
	return out
}
