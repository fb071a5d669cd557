package awsfront

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"time"
)

// PodIdentityAgentAddon is the EKS add-on that runs the Pod Identity agent on the nodes.
const PodIdentityAgentAddon = "eks-pod-identity-agent"

// addonVersions are the add-ons the sandbox can install and their versions, newest first, in EKS's
// vX.Y.Z-eksbuild.N form. Only the Pod Identity agent matters to the plugin; others are refused as EKS
// refuses an add-on it does not offer.
var addonVersions = map[string][]string{
	PodIdentityAgentAddon: {"v1.3.10-eksbuild.2", "v1.3.8-eksbuild.2", "v1.3.4-eksbuild.1"},
}

// addon is one installed add-on.
type addon struct {
	Name, Version, Status, ARN, ServiceAccountRoleARN, ConfigurationValues string
	Cluster                                                                string
	Tags                                                                   map[string]string
	Created, Modified                                                      time.Time
}

func newAddon(info eksClusterInfo, name string, now time.Time) *addon {
	var b [16]byte
	_, _ = rand.Read(b[:])
	s := hex.EncodeToString(b[:])
	// The ARN ends in a UUID-shaped id, like 9ec6cfbd-8c9f-7ff4-fd26-640dda75bcea.
	id := s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:32]
	return &addon{
		Name: name, Version: addonVersions[name][0], Status: "ACTIVE", Cluster: info.Key.Name,
		ARN:     "arn:aws:eks:" + info.Key.Region + ":" + info.Account + ":addon/" + info.Key.Name + "/" + name + "/" + id,
		Tags:    map[string]string{},
		Created: now, Modified: now,
	}
}

// doc is the add-on in the shape of EKS's Addon structure, with the given status.
func (a *addon) doc(status string) map[string]any {
	d := map[string]any{
		"addonName":    a.Name,
		"clusterName":  a.Cluster,
		"status":       status,
		"addonVersion": a.Version,
		"health":       map[string]any{"issues": []any{}},
		"addonArn":     a.ARN,
		"createdAt":    epoch(a.Created),
		"modifiedAt":   epoch(a.Modified),
		"tags":         a.Tags,
	}
	if a.ServiceAccountRoleARN != "" {
		d["serviceAccountRoleArn"] = a.ServiceAccountRoleARN
	}
	if a.ConfigurationValues != "" {
		d["configurationValues"] = a.ConfigurationValues
	}
	return d
}

func noAddon(name, cluster string) awsError {
	return eksError(http.StatusNotFound, "ResourceNotFoundException", "No addon: "+name+" found in cluster: "+cluster)
}

// serveAddon answers DescribeAddon, CreateAddon, DeleteAddon and ListAddons. The sandbox has no nodes to
// roll an add-on out to, so a created add-on is ACTIVE at once and a deleted one is gone at once; the
// create and delete answers still say CREATING and DELETING, as EKS's do.
func (f *Front) serveAddon(w http.ResponseWriter, r *http.Request, c *call) {
	segs := splitPath(r.URL.EscapedPath())
	info, ok := f.clusterOrError(w, r, c, segs[1])
	if !ok {
		return
	}
	switch c.Action {
	case "ListAddons":
		f.listAddons(w, r, c, info)
	case "CreateAddon":
		f.createAddon(w, r, c, info)
	case "DescribeAddon", "DeleteAddon":
		name := segs[3]
		f.eksx.mu.Lock()
		cs := f.clusterStateLocked(info)
		a, ok := cs.addons[name]
		if ok && c.Action == "DeleteAddon" {
			delete(cs.addons, name)
		}
		f.eksx.mu.Unlock()
		if !ok {
			noAddon(name, info.Key.Name).write(w, r, c.Service)
			return
		}
		status := a.Status
		if c.Action == "DeleteAddon" {
			status = "DELETING"
		}
		writeEKSJSON(w, map[string]any{"addon": a.doc(status)})
	}
}

func (f *Front) listAddons(w http.ResponseWriter, r *http.Request, c *call, info eksClusterInfo) {
	max, start, e, ok := pageParams(r, 100)
	if !ok {
		e.write(w, r, c.Service)
		return
	}
	f.eksx.mu.Lock()
	cs := f.clusterStateLocked(info)
	names := make([]string, 0, len(cs.addons))
	for n := range cs.addons {
		names = append(names, n)
	}
	f.eksx.mu.Unlock()
	sort.Strings(names)
	page, next := pageOf(names, start, max)
	out := map[string]any{"addons": page}
	if next != "" {
		out["nextToken"] = next
	}
	writeEKSJSON(w, out)
}

func (f *Front) createAddon(w http.ResponseWriter, r *http.Request, c *call, info eksClusterInfo) {
	var in struct {
		AddonName             string            `json:"addonName"`
		AddonVersion          string            `json:"addonVersion"`
		ServiceAccountRoleArn string            `json:"serviceAccountRoleArn"`
		ResolveConflicts      string            `json:"resolveConflicts"`
		ClientRequestToken    string            `json:"clientRequestToken"`
		Tags                  map[string]string `json:"tags"`
		ConfigurationValues   string            `json:"configurationValues"`
		PodIdentityAssocs     []any             `json:"podIdentityAssociations"`
	}
	if err := readJSONBody(r, &in); err != nil {
		invalidParameter("The request body is not valid JSON: "+err.Error()).write(w, r, c.Service)
		return
	}
	versions, known := addonVersions[in.AddonName]
	switch {
	case in.AddonName == "":
		invalidParameter("addonName is required.").write(w, r, c.Service)
		return
	case !known:
		invalidParameter("Addon "+in.AddonName+" specified is not supported in "+f.kubeVersion(info)+" kubernetes version").write(w, r, c.Service)
		return
	case in.AddonVersion != "" && !slices.Contains(versions, in.AddonVersion):
		invalidParameter("Addon version specified is not supported, addon "+in.AddonName+" version "+in.AddonVersion).write(w, r, c.Service)
		return
	case in.ResolveConflicts != "" && !slices.Contains([]string{"OVERWRITE", "NONE", "PRESERVE"}, in.ResolveConflicts):
		invalidParameter("resolveConflicts "+strconv.Quote(in.ResolveConflicts)+" is not one of OVERWRITE, NONE, PRESERVE.").write(w, r, c.Service)
		return
	case len(in.PodIdentityAssocs) > 0:
		// The sandbox keeps add-on-owned associations out: nothing the plugin does makes them.
		invalidParameter("podIdentityAssociations on add-ons are not implemented by the sandbox; create the association with CreatePodIdentityAssociation.").write(w, r, c.Service)
		return
	}
	if e, ok := validateTags(in.Tags); !ok {
		e.write(w, r, c.Service)
		return
	}
	a := newAddon(info, in.AddonName, time.Now())
	if in.AddonVersion != "" {
		a.Version = in.AddonVersion
	}
	a.ServiceAccountRoleARN, a.ConfigurationValues = in.ServiceAccountRoleArn, in.ConfigurationValues
	if in.Tags != nil {
		a.Tags = in.Tags
	}
	f.eksx.mu.Lock()
	cs := f.clusterStateLocked(info)
	if _, exists := cs.addons[in.AddonName]; exists {
		f.eksx.mu.Unlock()
		eksError(http.StatusConflict, "ResourceInUseException", "Addon already exists.").write(w, r, c.Service)
		return
	}
	cs.addons[in.AddonName] = a
	f.eksx.mu.Unlock()
	writeEKSJSON(w, map[string]any{"addon": a.doc("CREATING")})
}

func (f *Front) kubeVersion(info eksClusterInfo) string {
	if info.Sandbox != nil && info.Sandbox.Version != "" {
		return info.Sandbox.Version
	}
	return "1.34"
}
