package gitops

// CloudFormation: one template per account (AWS::IAM::OIDCProvider, AWS::IAM::ManagedPolicy, AWS::IAM::Role,
// AWS::EKS::PodIdentityAssociation), the Kubernetes objects beside them.

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
)

// templateMeta is the template's Metadata key naming the account and binding it is for.
const templateMeta = "KubectlSdc"

// CloudFormation is d as one template per account, followed by the Kubernetes objects.
func CloudFormation(d *Desired) []Document {
	out := []Document{{Comment: Owners("CloudFormation templates (one per account)", d)}}
	for i, a := range d.Accounts {
		resources := map[string]any{}
		var comments []string
		add := func(id, typ string, props map[string]any, exists bool, deps []string, what string) {
			r := map[string]any{"Type": typ, "Properties": props}
			if exists {
				// A resource imported into a stack must say what happens to it when it leaves the stack.
				r["DeletionPolicy"], r["UpdateReplacePolicy"] = "Retain", "Retain"
				comments = append(comments, fmt.Sprintf("%s (%s) EXISTS: import it into the stack (a change set of type IMPORT) before the first update.", id, what))
			}
			if len(deps) > 0 {
				r["DependsOn"] = deps
			}
			resources[id] = r
		}
		if p := a.Provider; p != nil {
			props := map[string]any{"Url": p.URL, "ClientIdList": nonNil(p.ClientIDs)}
			if len(p.Thumbprints) > 0 {
				props["ThumbprintList"] = p.Thumbprints
			}
			if len(p.Tags) > 0 {
				props["Tags"] = cfnTags(p.Tags)
			}
			add("OIDCProvider", "AWS::IAM::OIDCProvider", props, p.Exists, nil, p.ARN)
		}
		policyIDs := map[string]string{}
		for j, p := range a.Policies {
			id := logicalID("Policy", j)
			policyIDs[p.ARN] = id
			props := map[string]any{"ManagedPolicyName": p.Name, "Path": pathOr(p.Path), "PolicyDocument": json.RawMessage(p.Document.Compact())}
			if p.Description != "" {
				props["Description"] = p.Description
			}
			if len(p.Tags) > 0 {
				comments = append(comments, fmt.Sprintf("%s: AWS::IAM::ManagedPolicy has no Tags property, and doctor and list read kubectl-sdc's tags: once deployed,", id),
					fmt.Sprintf("  aws iam tag-policy --policy-arn %s --tags %s", p.ARN, cliTags(p.Tags)))
			}
			add(id, "AWS::IAM::ManagedPolicy", props, p.Exists, nil, p.ARN)
		}
		roleIDs := map[string]string{}
		for j, r := range a.Roles {
			id := logicalID("Role", j)
			roleIDs[r.ARN] = id
			props := map[string]any{"RoleName": r.Name, "Path": pathOr(r.Path), "AssumeRolePolicyDocument": json.RawMessage(r.Trust.Compact()),
				"ManagedPolicyArns": nonNil(sorted(r.Policies))}
			if r.Description != "" {
				props["Description"] = r.Description
			}
			if r.MaxSessionDuration != 0 {
				props["MaxSessionDuration"] = r.MaxSessionDuration
			}
			if r.Boundary != "" {
				props["PermissionsBoundary"] = r.Boundary
			}
			if len(r.Tags) > 0 {
				props["Tags"] = cfnTags(r.Tags)
			}
			var deps []string
			for _, arn := range sorted(r.Policies) {
				if dep, ok := policyIDs[arn]; ok {
					deps = append(deps, dep)
				}
			}
			add(id, "AWS::IAM::Role", props, r.Exists, deps, r.ARN)
		}
		for j, as := range a.Associations {
			props := map[string]any{"ClusterName": as.Cluster, "Namespace": as.Namespace, "ServiceAccount": as.ServiceAccount, "RoleArn": as.RoleARN}
			if len(as.Tags) > 0 {
				props["Tags"] = cfnTags(as.Tags)
			}
			var deps []string
			if dep, ok := roleIDs[as.RoleARN]; ok {
				deps = []string{dep}
			}
			add(logicalID("PodIdentityAssociation", j), "AWS::EKS::PodIdentityAssociation", props, as.Exists, deps, as.Cluster+"/"+as.Namespace+"/"+as.ServiceAccount)
		}
		tpl := map[string]any{
			"AWSTemplateFormatVersion": "2010-09-09",
			"Description":              fmt.Sprintf("kubectl-sdc binding of ServiceAccount %s/%s on cluster %s: account %s", d.Namespace, d.ServiceAccount, d.Cluster, a.ID),
			"Metadata":                 map[string]any{templateMeta: map[string]string{"Account": a.ID, "Cluster": d.Cluster, "Namespace": d.Namespace, "ServiceAccount": d.ServiceAccount}},
			"Resources":                resources,
		}
		head := []string{fmt.Sprintf("CloudFormation template for account %s (the binding's)", a.ID)}
		if i > 0 {
			head = []string{fmt.Sprintf("CloudFormation template for account %s (the role the stages assume): deploy it with that account's credentials,", a.ID),
				"after the template above (its trust names that account's role)"}
		}
		head = append(head, "aws cloudformation deploy --template-file FILE --stack-name NAME --capabilities CAPABILITY_NAMED_IAM")
		out = append(out, Document{Comment: append(head, comments...), Object: tpl})
	}
	return append(out, kubeDocuments(d)...)
}

func logicalID(base string, i int) string {
	if i == 0 {
		return base
	}
	return fmt.Sprintf("%s%d", base, i+1)
}

func cfnTags(t map[string]string) []map[string]string {
	out := []map[string]string{}
	for _, k := range slices.Sorted(maps.Keys(t)) {
		out = append(out, map[string]string{"Key": k, "Value": t[k]})
	}
	return out
}

func cliTags(t map[string]string) string {
	var s []string
	for _, k := range slices.Sorted(maps.Keys(t)) {
		s = append(s, fmt.Sprintf("Key=%s,Value=%s", k, t[k]))
	}
	return strings.Join(s, " ")
}

// ReadCloudFormation reads templates made by CloudFormation back into a Desired (policy tags, which a
// template cannot hold, stay empty).
func ReadCloudFormation(templates []map[string]any, partition string) (*Desired, error) {
	d := &Desired{}
	for _, tpl := range templates {
		meta, _ := tpl["Metadata"].(map[string]any)
		ours, _ := meta[templateMeta].(map[string]any)
		a := Account{ID: str(ours["Account"])}
		if a.ID == "" {
			return nil, fmt.Errorf("a template without Metadata.%s.Account", templateMeta)
		}
		d.Cluster, d.Namespace, d.ServiceAccount = str(ours["Cluster"]), str(ours["Namespace"]), str(ours["ServiceAccount"])
		resources, _ := tpl["Resources"].(map[string]any)
		for _, id := range slices.Sorted(maps.Keys(resources)) {
			r, _ := resources[id].(map[string]any)
			props, _ := r["Properties"].(map[string]any)
			exists := r["DeletionPolicy"] == "Retain"
			switch typ := str(r["Type"]); typ {
			case "AWS::IAM::OIDCProvider":
				url := str(props["Url"])
				a.Provider = &Provider{ARN: fmt.Sprintf("arn:%s:iam::%s:oidc-provider/%s", partition, a.ID, hostPath(url)), URL: url,
					ClientIDs: strs(props["ClientIdList"]), Thumbprints: strs(props["ThumbprintList"]), Tags: readCFNTags(props["Tags"]), Exists: exists}
			case "AWS::IAM::ManagedPolicy":
				doc, err := docOf(props["PolicyDocument"])
				if err != nil {
					return nil, fmt.Errorf("%s: %w", id, err)
				}
				path := pathOr(str(props["Path"]))
				a.Policies = append(a.Policies, Policy{ARN: fmt.Sprintf("arn:%s:iam::%s:policy%s%s", partition, a.ID, path, str(props["ManagedPolicyName"])),
					Name: str(props["ManagedPolicyName"]), Path: path, Description: str(props["Description"]), Document: doc, Exists: exists})
			case "AWS::IAM::Role":
				trust, err := docOf(props["AssumeRolePolicyDocument"])
				if err != nil {
					return nil, fmt.Errorf("%s: %w", id, err)
				}
				path := pathOr(str(props["Path"]))
				role := Role{ARN: fmt.Sprintf("arn:%s:iam::%s:role%s%s", partition, a.ID, path, str(props["RoleName"])), Name: str(props["RoleName"]), Path: path,
					Description: str(props["Description"]), Boundary: str(props["PermissionsBoundary"]), Trust: trust,
					Policies: strs(props["ManagedPolicyArns"]), Tags: readCFNTags(props["Tags"]), Exists: exists}
				if n, ok := props["MaxSessionDuration"].(float64); ok {
					role.MaxSessionDuration = int32(n)
				}
				a.Roles = append(a.Roles, role)
			case "AWS::EKS::PodIdentityAssociation":
				a.Associations = append(a.Associations, Association{Cluster: str(props["ClusterName"]), Namespace: str(props["Namespace"]),
					ServiceAccount: str(props["ServiceAccount"]), RoleARN: str(props["RoleArn"]), Tags: readCFNTags(props["Tags"]), Exists: exists})
			default:
				return nil, fmt.Errorf("%s: type %s is not one kubectl-sdc emits", id, typ)
			}
		}
		d.Accounts = append(d.Accounts, a)
	}
	return d, nil
}

func docOf(v any) (*iampolicy.Policy, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return iampolicy.Parse(b)
}

func readCFNTags(v any) map[string]string {
	out := map[string]string{}
	l, _ := v.([]any)
	for _, x := range l {
		m, _ := x.(map[string]any)
		out[str(m["Key"])] = str(m["Value"])
	}
	return out
}

// Write writes documents as one YAML stream, each with its comment lines; a document without an object is
// a comment alone.
func Write(w io.Writer, docs []Document) error {
	for i, d := range docs {
		if i > 0 {
			if _, err := io.WriteString(w, "---\n"); err != nil {
				return err
			}
		}
		for _, c := range d.Comment {
			if _, err := io.WriteString(w, "# "+c+"\n"); err != nil {
				return err
			}
		}
		if d.Object == nil {
			continue
		}
		b, err := yaml.Marshal(d.Object)
		if err != nil {
			return err
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

// Read reads a YAML stream back into objects (comment-only documents are skipped).
func Read(r io.Reader) ([]map[string]any, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	var out []map[string]any
	for _, part := range strings.Split("\n"+string(data), "\n---\n") {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(part), &m); err != nil {
			return nil, err
		}
		if m != nil {
			out = append(out, m)
		}
	}
	return out, nil
}
