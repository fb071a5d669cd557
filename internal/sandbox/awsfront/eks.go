package awsfront

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
)

// serveEKS authorizes the call (eksauthz.go), answers for the sandbox cluster and forwards everything else to moto, whose clusters have
// invented endpoints and issuers.
func (f *Front) serveEKS(w http.ResponseWriter, r *http.Request, c *call) {
	if !f.authorizeEKS(w, r, c) {
		return
	}
	switch c.Action {
	case "CreatePodIdentityAssociation", "DescribePodIdentityAssociation", "ListPodIdentityAssociations", "UpdatePodIdentityAssociation", "DeletePodIdentityAssociation":
		f.servePodIdentity(w, r, c)
		return
	case "DescribeAddon", "CreateAddon", "DeleteAddon", "ListAddons":
		f.serveAddon(w, r, c)
		return
	}
	account, region := f.callerAccount(c), signingRegion(r)
	switch c.Action {
	case "DescribeCluster":
		if segs := splitPath(r.URL.EscapedPath()); len(segs) == 2 {
			if cl := f.sandboxCluster(account, region, segs[1]); cl != nil {
				f.describeSandboxCluster(w, r, cl)
				return
			}
		}
	case "ListClusters":
		if names := f.sandboxClusterNames(account, region); len(names) > 0 && r.URL.Query().Get("nextToken") == "" {
			f.listClusters(w, r, c, names)
			return
		}
	}
	f.proxy(w, r, c)
}

// listClusters merges the sandbox clusters into the first page of moto's list.
func (f *Front) listClusters(w http.ResponseWriter, r *http.Request, c *call, sandboxNames []string) {
	resp, body, err := f.fetch(r, c)
	if err != nil {
		f.motoUnreachable(w, r, c, err)
		return
	}
	if resp.StatusCode != http.StatusOK {
		reply(w, resp, body)
		return
	}
	var page map[string]any
	if err := json.Unmarshal(body, &page); err != nil {
		reply(w, resp, body)
		return
	}
	names, _ := page["clusters"].([]any)
	for i := len(sandboxNames) - 1; i >= 0; i-- {
		if !slices.Contains(names, any(sandboxNames[i])) {
			names = append([]any{sandboxNames[i]}, names...)
		}
	}
	page["clusters"] = names
	body, _ = json.Marshal(page)
	reply(w, resp, body)
}

// describeSandboxCluster answers DescribeCluster for the sandbox cluster with its real endpoint, CA and issuer.
func (f *Front) describeSandboxCluster(w http.ResponseWriter, r *http.Request, cl *EKSCluster) {
	account, region := f.clusterPlace(cl)
	version := cl.Version
	if version == "" {
		version = "1.34"
	}
	doc := map[string]any{"cluster": map[string]any{
		"name":      cl.Name,
		"arn":       "arn:aws:eks:" + region + ":" + account + ":cluster/" + cl.Name,
		"createdAt": float64(f.started.UnixMilli()) / 1000,
		"version":   version,
		"endpoint":  cl.Endpoint,
		"roleArn":   "arn:aws:iam::" + account + ":role/sandbox-cluster",
		"resourcesVpcConfig": map[string]any{
			"subnetIds": []string{}, "securityGroupIds": []string{}, "endpointPublicAccess": true,
			"endpointPrivateAccess": false, "publicAccessCidrs": []string{"0.0.0.0/0"},
		},
		"kubernetesNetworkConfig": map[string]any{"serviceIpv4Cidr": "10.0.0.0/24", "ipFamily": "ipv4"},
		"identity":                map[string]any{"oidc": map[string]any{"issuer": cl.Issuer}},
		"status":                  "ACTIVE",
		"certificateAuthority":    map[string]any{"data": base64.StdEncoding.EncodeToString(cl.CAData)},
		"platformVersion":         "eks.1",
		"tags":                    map[string]string{},
		"accessConfig":            map[string]any{"authenticationMode": "API_AND_CONFIG_MAP"},
	}}
	if cc := f.computeConfig(signingRegion(r), cl.Name); cc != nil {
		doc["cluster"].(map[string]any)["computeConfig"] = cc
	}
	writeEKSJSON(w, doc)
}

func (f *Front) accountID() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.admin.AccountID
}
