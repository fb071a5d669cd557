package awsfront

import (
	"net/http"
	"net/url"
	"strings"
)

// call is what the front learns about one request before it decides what to do with it.
type call struct {
	Service     string     // the SigV4 signing name: iam, sts, eks, s3, ...
	Action      string     // the API operation: CreateRole, DescribeCluster, PutObject; "Unknown" if not recognised
	Write       bool       // whether the operation mutates state
	AccessKeyID string     // from the signature; "" for unsigned requests
	Params      url.Values // awsQuery parameters (query string and form body) for IAM and STS
	Body        []byte     // the buffered body of awsQuery and authorized services' requests; nil when streamed
	Decoded     []byte     // Body without its Content-Encoding (gzip), for reading
	S3          s3Request  // set for S3 requests
	Caller      *principal // who the access key belongs to, once authenticate has checked it
}

// Key is the by_action key of the call, like "iam:CreateRole".
func (c *call) Key() string { return c.Service + ":" + c.Action }

// credentialScope returns the access key and service of a SigV4 request; "" for both when unsigned.
func credentialScope(r *http.Request) (accessKey, service string) {
	parts := credentialParts(r)
	if parts == nil {
		return "", ""
	}
	return parts[0], strings.ToLower(parts[3])
}

// signingRegion is the region a SigV4 request was signed for (its credential scope); "" when unsigned.
func signingRegion(r *http.Request) string {
	if parts := credentialParts(r); parts != nil {
		return parts[2]
	}
	return ""
}

// credentialParts splits a SigV4 request's credential (AKID/date/region/service/aws4_request), from the
// Authorization header or the presigned X-Amz-Credential query parameter; nil when there is none.
func credentialParts(r *http.Request) []string {
	cred := ""
	if auth := r.Header.Get("Authorization"); auth != "" {
		if i := strings.Index(auth, "Credential="); i >= 0 {
			cred = auth[i+len("Credential="):]
			if j := strings.IndexAny(cred, ", "); j >= 0 {
				cred = cred[:j]
			}
		}
	} else {
		cred = r.URL.Query().Get("X-Amz-Credential")
	}
	parts := strings.Split(cred, "/")
	if len(parts) != 5 {
		return nil
	}
	return parts
}

// unsignedSTSActions are the STS operations callers make without credentials.
var unsignedSTSActions = map[string]bool{"AssumeRoleWithWebIdentity": true, "AssumeRoleWithSAML": true}

// isFormBody tells whether a request carries an awsQuery form body.
func isFormBody(r *http.Request) bool {
	return strings.HasPrefix(strings.ToLower(r.Header.Get("Content-Type")), "application/x-www-form-urlencoded")
}

// classify names the service and operation of a request. body is the buffered form body, or nil.
func classify(r *http.Request, body []byte) *call {
	c := &call{}
	c.AccessKeyID, c.Service = credentialScope(r)

	if c.Service != "s3" {
		c.Params = queryParams(r, body)
	}
	if c.Service == "" {
		// Unsigned: the only API calls made so are STS's federation calls; everything else unsigned is S3
		// (public objects), as moto assumes too.
		if unsignedSTSActions[c.Params.Get("Action")] {
			c.Service = "sts"
		} else {
			c.Service = "s3"
			c.Params = nil
		}
	}

	switch {
	case c.Service == "s3":
		c.S3 = parseS3Request(r)
		c.Action, c.Write = c.S3.Op, c.S3.Write
		return c
	case c.Service == "eks":
		c.Action = eksAction(r.Method, r.URL.EscapedPath())
	case c.Service == "eks-auth":
		c.Action = eksAuthAction(r.Method, r.URL.EscapedPath())
	case c.Params.Get("Action") != "":
		c.Action = c.Params.Get("Action")
	case isCBOR(r):
		// Smithy RPC v2 names the operation last in its path: /service/<Service>/operation/<Operation>.
		c.Action = r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
	case r.Header.Get("X-Amz-Target") != "":
		// The JSON protocols name the operation as "ServicePrefix.Operation".
		t := r.Header.Get("X-Amz-Target")
		c.Action = t[strings.LastIndex(t, ".")+1:]
	}
	if c.Action == "" {
		c.Action = "Unknown"
	}
	c.Write = isWrite(c.Action)
	return c
}

// queryParams merges the query string and an awsQuery form body.
func queryParams(r *http.Request, body []byte) url.Values {
	v := url.Values{}
	for k, vs := range r.URL.Query() {
		v[k] = append(v[k], vs...)
	}
	if body != nil {
		if form, err := url.ParseQuery(string(body)); err == nil {
			for k, vs := range form {
				v[k] = append(v[k], vs...)
			}
		}
	}
	return v
}

// readPrefixes mark the operations that do not change anything (AssumeRole* only mints credentials).
var readPrefixes = []string{"Get", "List", "Describe", "Head", "Simulate", "AssumeRole", "Decode", "Select", "Lookup", "Search"}

// isWrite tells whether an operation mutates state.
func isWrite(action string) bool {
	if action == "Unknown" {
		return false
	}
	for _, p := range readPrefixes {
		if strings.HasPrefix(action, p) {
			return false
		}
	}
	return true
}

// eksRoute maps one EKS REST path shape (segments, "*" for a name) and method to its operation.
type eksRoute struct {
	path    []string
	actions map[string]string // method -> operation
}

var eksRoutes = []eksRoute{
	{[]string{"clusters"}, map[string]string{"GET": "ListClusters", "POST": "CreateCluster"}},
	{[]string{"clusters", "*"}, map[string]string{"GET": "DescribeCluster", "DELETE": "DeleteCluster"}},
	{[]string{"clusters", "*", "update-config"}, map[string]string{"POST": "UpdateClusterConfig"}},
	{[]string{"clusters", "*", "updates"}, map[string]string{"GET": "ListUpdates", "POST": "UpdateClusterVersion"}},
	{[]string{"clusters", "*", "updates", "*"}, map[string]string{"GET": "DescribeUpdate"}},
	{[]string{"clusters", "*", "node-groups"}, map[string]string{"GET": "ListNodegroups", "POST": "CreateNodegroup"}},
	{[]string{"clusters", "*", "node-groups", "*"}, map[string]string{"GET": "DescribeNodegroup", "DELETE": "DeleteNodegroup"}},
	{[]string{"clusters", "*", "node-groups", "*", "update-config"}, map[string]string{"POST": "UpdateNodegroupConfig"}},
	{[]string{"clusters", "*", "addons"}, map[string]string{"GET": "ListAddons", "POST": "CreateAddon"}},
	{[]string{"clusters", "*", "addons", "*"}, map[string]string{"GET": "DescribeAddon", "DELETE": "DeleteAddon"}},
	{[]string{"clusters", "*", "addons", "*", "update"}, map[string]string{"POST": "UpdateAddon"}},
	{[]string{"clusters", "*", "fargate-profiles"}, map[string]string{"GET": "ListFargateProfiles", "POST": "CreateFargateProfile"}},
	{[]string{"clusters", "*", "fargate-profiles", "*"}, map[string]string{"GET": "DescribeFargateProfile", "DELETE": "DeleteFargateProfile"}},
	{[]string{"clusters", "*", "pod-identity-associations"}, map[string]string{"GET": "ListPodIdentityAssociations", "POST": "CreatePodIdentityAssociation"}},
	{[]string{"clusters", "*", "pod-identity-associations", "*"}, map[string]string{"GET": "DescribePodIdentityAssociation", "DELETE": "DeletePodIdentityAssociation", "POST": "UpdatePodIdentityAssociation"}},
	{[]string{"clusters", "*", "access-entries"}, map[string]string{"GET": "ListAccessEntries", "POST": "CreateAccessEntry"}},
	{[]string{"clusters", "*", "access-entries", "*"}, map[string]string{"GET": "DescribeAccessEntry", "DELETE": "DeleteAccessEntry", "POST": "UpdateAccessEntry"}},
	{[]string{"clusters", "*", "access-entries", "*", "access-policies"}, map[string]string{"GET": "ListAssociatedAccessPolicies", "POST": "AssociateAccessPolicy"}},
	{[]string{"clusters", "*", "identity-provider-configs"}, map[string]string{"GET": "ListIdentityProviderConfigs"}},
	{[]string{"clusters", "*", "identity-provider-configs", "describe"}, map[string]string{"POST": "DescribeIdentityProviderConfig"}},
	{[]string{"clusters", "*", "identity-provider-configs", "associate"}, map[string]string{"POST": "AssociateIdentityProviderConfig"}},
	{[]string{"clusters", "*", "identity-provider-configs", "disassociate"}, map[string]string{"POST": "DisassociateIdentityProviderConfig"}},
	{[]string{"tags", "*"}, map[string]string{"GET": "ListTagsForResource", "POST": "TagResource", "DELETE": "UntagResource"}},
	{[]string{"addons", "supported-versions"}, map[string]string{"GET": "DescribeAddonVersions"}},
	{[]string{"access-policies"}, map[string]string{"GET": "ListAccessPolicies"}},
}

// eksAction names the EKS REST operation for a method and path.
func eksAction(method, path string) string {
	segs := splitPath(path)
	for _, rt := range eksRoutes {
		if len(rt.path) != len(segs) {
			continue
		}
		ok := true
		for i, p := range rt.path {
			if p != "*" && p != segs[i] {
				ok = false
				break
			}
		}
		if ok {
			if a := rt.actions[method]; a != "" {
				return a
			}
		}
	}
	return "Unknown"
}

// eksAuthAction names the EKS Auth operation; the service has one.
func eksAuthAction(method, path string) string {
	if segs := splitPath(path); method == http.MethodPost && len(segs) == 3 && segs[0] == "clusters" && segs[2] == "assume-role-for-pod-identity" {
		return "AssumeRoleForPodIdentity"
	}
	return "Unknown"
}

// splitPath splits a URL path into its non-empty, unescaped segments.
func splitPath(p string) []string {
	var out []string
	for _, s := range strings.Split(p, "/") {
		if s == "" {
			continue
		}
		if u, err := url.PathUnescape(s); err == nil {
			s = u
		}
		out = append(out, s)
	}
	return out
}
