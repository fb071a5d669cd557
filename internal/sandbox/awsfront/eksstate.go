package awsfront

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
)

// moto has none of EKS's add-on, Pod Identity or EKS Auth calls. The front keeps their state itself, per
// cluster, keyed by (region, cluster name) so that any number of clusters in any regions can have their own.

// clusterKey names one EKS cluster.
type clusterKey struct{ Region, Name string }

// eksExtras is the front's own EKS state; its zero value is ready to use.
type eksExtras struct {
	mu       sync.Mutex
	clusters map[clusterKey]*clusterState
}

// clusterState is what one cluster holds beyond what moto knows.
type clusterState struct {
	assocs   []*association          // in creation order, which is the order List returns
	byID     map[string]*association // association id -> association
	tokens   map[string]string       // clientRequestToken of a create -> association id
	addons   map[string]*addon       // add-on name -> add-on
	autoMode bool                    // DescribeCluster reports computeConfig.enabled
}

// state returns the cluster's state, made on first use. seed runs once, when it is made. The caller holds
// x.mu.
func (x *eksExtras) state(k clusterKey, seed func(*clusterState)) *clusterState {
	if x.clusters == nil {
		x.clusters = map[clusterKey]*clusterState{}
	}
	cs, ok := x.clusters[k]
	if !ok {
		cs = &clusterState{byID: map[string]*association{}, tokens: map[string]string{}, addons: map[string]*addon{}}
		if seed != nil {
			seed(cs)
		}
		x.clusters[k] = cs
	}
	return cs
}

// eksClusterInfo is what the front knows of a cluster it answers add-on and Pod Identity calls for.
type eksClusterInfo struct {
	Key     clusterKey
	Account string
	Sandbox *EKSCluster // the sandbox's own cluster (real apiserver and keys); nil for a cluster of moto's
}

// ARN is the cluster's ARN.
func (c eksClusterInfo) ARN() string {
	return "arn:aws:eks:" + c.Key.Region + ":" + c.Account + ":cluster/" + c.Key.Name
}

// errNoCluster means neither the sandbox nor moto has the cluster.
var errNoCluster = errors.New("no such cluster")

// findCluster resolves the cluster a call names: the sandbox's own, or one of moto's (asked directly,
// uncounted). It fails with errNoCluster when neither has it.
func (f *Front) findCluster(ctx context.Context, account, region, name string) (eksClusterInfo, error) {
	if region == "" {
		region = f.cfg.Region
	}
	if account == "" {
		account = f.accountID()
	}
	info := eksClusterInfo{Key: clusterKey{region, name}, Account: account}
	if cl := f.sandboxCluster(account, region, name); cl != nil {
		info.Sandbox = cl
		return info, nil
	}
	_, err := f.motoEKS(region).DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(name)})
	var nf *ekstypes.ResourceNotFoundException
	switch {
	case errors.As(err, &nf):
		return info, errNoCluster
	case err != nil:
		return info, err
	}
	return info, nil
}

// motoEKS is an EKS client straight to moto in a region, with the admin's keys; its calls are not counted.
func (f *Front) motoEKS(region string) *eks.Client {
	return eks.New(eks.Options{
		BaseEndpoint:     aws.String(f.cfg.MotoURL),
		Region:           region,
		Credentials:      f.adminCredentials(),
		HTTPClient:       f.motoHTTPClient(),
		RetryMaxAttempts: 1,
	})
}

// clusterOrError resolves the cluster for an EKS call and writes EKS's error when it cannot.
func (f *Front) clusterOrError(w http.ResponseWriter, r *http.Request, c *call, name string) (eksClusterInfo, bool) {
	info, err := f.findCluster(r.Context(), f.callerAccount(c), signingRegion(r), name)
	switch {
	case errors.Is(err, errNoCluster):
		eksError(http.StatusNotFound, "ResourceNotFoundException", "No cluster found for name: "+name+".").write(w, r, c.Service)
		return info, false
	case err != nil:
		e := serverError(c.Service)
		e.Message = fmt.Sprintf("sandbox could not ask moto about cluster %s: %v", name, err)
		e.write(w, r, c.Service)
		return info, false
	}
	return info, true
}

func eksError(status int, code, msg string) awsError {
	return awsError{Status: status, Code: code, Message: msg, Sender: status < 500}
}

func invalidParameter(msg string) awsError {
	return eksError(http.StatusBadRequest, "InvalidParameterException", msg)
}

// readJSONBody decodes a restJson request body into v; an empty body leaves v as it is.
func readJSONBody(r *http.Request, v any) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return err
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return nil
	}
	return json.Unmarshal(b, v)
}

// writeEKSJSON sends a restJson answer as EKS does.
func writeEKSJSON(w http.ResponseWriter, v any) {
	body, _ := json.Marshal(v)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("x-amzn-RequestId", requestID())
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// epoch is a timestamp as restJson services send it: seconds since the epoch, with milliseconds.
func epoch(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

// EKSAutoMode is the body of POST /__sandbox/eks/auto-mode.
type EKSAutoMode struct {
	Region  string `json:"region,omitempty"` // the sandbox region when empty
	Cluster string `json:"cluster"`
	Enabled bool   `json:"enabled"`
}

// SetAutoMode turns EKS Auto Mode on or off for a cluster, as DescribeCluster's computeConfig reports it.
func (f *Front) SetAutoMode(ctx context.Context, m EKSAutoMode) error {
	if m.Cluster == "" {
		return errors.New(`auto-mode needs "cluster", the EKS cluster name, e.g. {"cluster":"sandbox","enabled":true}`)
	}
	info, err := f.findCluster(ctx, "", m.Region, m.Cluster)
	if errors.Is(err, errNoCluster) {
		return fmt.Errorf("no EKS cluster %q in region %s; the sandbox's is %q", m.Cluster, info.Key.Region, f.clusterName())
	}
	if err != nil {
		return err
	}
	f.eksx.mu.Lock()
	defer f.eksx.mu.Unlock()
	f.clusterStateLocked(info).autoMode = m.Enabled
	return nil
}

func (f *Front) clusterName() string {
	if f.cfg.EKS == nil {
		return ""
	}
	return f.cfg.EKS.Name
}

// computeConfig is DescribeCluster's computeConfig for the cluster, or nil when Auto Mode is off (AWS then
// leaves the field out).
func (f *Front) computeConfig(region, name string) map[string]any {
	if region == "" {
		region = f.cfg.Region
	}
	f.eksx.mu.Lock()
	defer f.eksx.mu.Unlock()
	cs, ok := f.eksx.clusters[clusterKey{region, name}]
	if !ok || !cs.autoMode {
		return nil
	}
	return map[string]any{
		"enabled":     true,
		"nodePools":   []string{"general-purpose", "system"},
		"nodeRoleArn": "arn:aws:iam::" + f.accountID() + ":role/sandbox-auto-mode-node",
	}
}

// serveEKSAdmin answers POST /__sandbox/eks/auto-mode.
func (f *Front) serveEKSAdmin(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/__sandbox/eks/auto-mode" || r.Method != http.MethodPost {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": fmt.Sprintf("no sandbox endpoint %s %s; known: POST /__sandbox/eks/auto-mode", r.Method, r.URL.Path)})
		return
	}
	var m EKSAutoMode
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf(`auto-mode body is not JSON of the known fields (region, cluster, enabled), like {"cluster":"sandbox","enabled":true}: %v`, err)})
		return
	}
	if err := f.SetAutoMode(r.Context(), m); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, m)
}

// clusterStateLocked is the cluster's state; a sandbox cluster starts with the add-ons EKS installs by
// default. The caller holds f.eksx.mu.
func (f *Front) clusterStateLocked(info eksClusterInfo) *clusterState {
	return f.eksx.state(info.Key, func(cs *clusterState) {
		if info.Sandbox != nil {
			a := newAddon(info, PodIdentityAgentAddon, f.started)
			a.Status = "ACTIVE"
			cs.addons[a.Name] = a
		}
	})
}
