package awsfront

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
)

// EKS's calls are authorized as EKS does with IAM, after the Service Authorization Reference ("Actions,
// resources, and condition keys for Amazon EKS"): clusters and the calls on a cluster's add-ons list and
// associations list act on the cluster's ARN; an add-on's and an association's own calls on theirs; tags a
// call sets are aws:RequestTag/<key> and aws:TagKeys. A call that gives EKS a role passes it (EKS user guide,
// "pod-id-association" and "cluster-iam-role"): iam:PassRole on the role with iam:PassedToService set to the
// service that will assume it, pods.eks.amazonaws.com for Pod Identity, eks.amazonaws.com for a cluster.

// eksPasses is the service each role-passing operation passes its roleArn to.
var eksPasses = map[string]string{
	"CreatePodIdentityAssociation": "pods.eks.amazonaws.com",
	"UpdatePodIdentityAssociation": "pods.eks.amazonaws.com",
	"CreateCluster":                "eks.amazonaws.com",
}

// authorizeEKS weighs an EKS call of a user or role session (not the sandbox's admins); it answers EKS's
// AccessDeniedException and returns false, or returns true when the call may go on.
func (f *Front) authorizeEKS(w http.ResponseWriter, r *http.Request, c *call) bool {
	who := f.authorizee(c)
	if who == nil {
		return true
	}
	region := signingRegion(r)
	if region == "" {
		region = f.cfg.Region
	}
	var body map[string]any
	if r.Body != nil && r.Body != http.NoBody {
		// Read the body to know its role and tags; what follows reads it again (r.Body, or c.Body when proxied).
		b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			invalidParameter("the request body could not be read: "+err.Error()).write(w, r, "eks")
			return false
		}
		r.Body, c.Body = io.NopCloser(bytes.NewReader(b)), b
		_ = json.Unmarshal(b, &body)
	}
	str := func(k string) string { s, _ := body[k].(string); return s }
	arn := "arn:aws:eks:" + region + ":" + who.Account + ":"
	segs := splitPath(r.URL.EscapedPath())
	res := "*"
	switch {
	case c.Action == "CreateCluster":
		res = arn + "cluster/" + str("name")
	case len(segs) >= 4 && segs[2] == "addons":
		res = f.addonARN(r, who.Account, region, segs[1], segs[3])
	case len(segs) >= 4 && segs[2] == "pod-identity-associations":
		res = arn + "podidentityassociation/" + segs[1] + "/" + segs[3]
	case len(segs) >= 2 && segs[0] == "clusters":
		res = arn + "cluster/" + segs[1]
	}
	keys := map[string][]string{}
	if tags, ok := body["tags"].(map[string]any); ok && len(tags) > 0 {
		var names []string
		for k, v := range tags {
			s, _ := v.(string)
			keys["aws:RequestTag/"+k] = []string{s}
			names = append(names, k)
		}
		sort.Strings(names)
		keys["aws:TagKeys"] = names
	}
	checks := []authzCheck{{"eks:" + c.Action, res}}
	if to := eksPasses[c.Action]; to != "" && str("roleArn") != "" {
		if !f.authorize(w, r, c, who, checks, keys) {
			return false
		}
		return f.authorize(w, r, c, who, []authzCheck{{"iam:PassRole", str("roleArn")}}, map[string][]string{"iam:PassedToService": {to}})
	}
	return f.authorize(w, r, c, who, checks, keys)
}

// addonARN is an installed add-on's ARN, whose last part is an id EKS chose; for an add-on not installed, the
// ARN with that part left as a wildcard.
func (f *Front) addonARN(r *http.Request, account, region, cluster, name string) string {
	fallback := fmt.Sprintf("arn:aws:eks:%s:%s:addon/%s/%s/*", region, account, cluster, name)
	info, err := f.findCluster(r.Context(), account, region, cluster)
	if err != nil {
		return fallback
	}
	f.eksx.mu.Lock()
	defer f.eksx.mu.Unlock()
	if a, ok := f.clusterStateLocked(info).addons[name]; ok {
		return a.ARN
	}
	return fallback
}
