package awsfront

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
)

// PodIdentityService is the service principal a Pod Identity role trusts, and the audience of the tokens
// EKS Auth accepts.
const PodIdentityService = "pods.eks.amazonaws.com"

// maxAssociations is EKS's quota of Pod Identity associations per cluster.
const maxAssociations = 5000

// association is one EKS Pod Identity association. Its fields change only under f.eksx.mu.
type association struct {
	ID, ARN, Cluster, Namespace, ServiceAccount string
	RoleARN                                     string
	DisableSessionTags                          bool
	// TargetRoleARN is the role EKS Auth assumes with RoleARN's session (any account), "" for none;
	// ExternalID is what it passes as sts:ExternalId then, when session tags are disabled; Policy is the
	// session policy of the credentials the pods get.
	TargetRoleARN, ExternalID, Policy string
	Tags                              map[string]string
	Created, Modified                 time.Time
	// visibleAt is when the last change leaves the consistency window that was set when it was made.
	visibleAt time.Time
	// previous is the version before the last change, which EKS Auth and the webhook still see while that
	// change is inside the consistency window (nil: the association did not exist before).
	previous *association
}

// doc is the association in the shape of EKS's PodIdentityAssociation structure.
func (a *association) doc() map[string]any {
	d := map[string]any{
		"clusterName":        a.Cluster,
		"namespace":          a.Namespace,
		"serviceAccount":     a.ServiceAccount,
		"roleArn":            a.RoleARN,
		"associationArn":     a.ARN,
		"associationId":      a.ID,
		"tags":               a.Tags,
		"createdAt":          epoch(a.Created),
		"modifiedAt":         epoch(a.Modified),
		"disableSessionTags": a.DisableSessionTags,
	}
	if a.TargetRoleARN != "" {
		d["targetRoleArn"], d["externalId"] = a.TargetRoleARN, a.ExternalID
	}
	if a.Policy != "" {
		d["policy"] = a.Policy
	}
	return d
}

// summary is the association as ListPodIdentityAssociations returns it: without the role, the times and
// the tags.
func (a *association) summary() map[string]any {
	return map[string]any{
		"clusterName":    a.Cluster,
		"namespace":      a.Namespace,
		"serviceAccount": a.ServiceAccount,
		"associationArn": a.ARN,
		"associationId":  a.ID,
	}
}

// visibleAfter is when a change made now leaves the consistency window.
func (f *Front) visibleAfter(now time.Time) time.Time {
	return now.Add(time.Duration(f.Faults().ConsistencyDelayMS) * time.Millisecond)
}

// inWindow tells whether a version of an association is still inside its consistency window; turning the
// window off (consistency_delay_ms 0) makes every change visible at once.
func (f *Front) inWindow(v *association) bool {
	return f.Faults().ConsistencyDelayMS > 0 && time.Now().Before(v.visibleAt)
}

// newAssociationID makes an id in EKS's form: "a-" and 17 lower-case letters and digits.
func newAssociationID() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	var b [17]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return "a-" + string(b[:])
}

func noAssociation(id string) awsError {
	return eksError(http.StatusNotFound, "ResourceNotFoundException", "No Pod Identity Association found with id: "+id)
}

// servePodIdentity answers the five Pod Identity association calls.
func (f *Front) servePodIdentity(w http.ResponseWriter, r *http.Request, c *call) {
	segs := splitPath(r.URL.EscapedPath())
	info, ok := f.clusterOrError(w, r, c, segs[1])
	if !ok {
		return
	}
	switch c.Action {
	case "CreatePodIdentityAssociation":
		f.createAssociation(w, r, c, info)
	case "ListPodIdentityAssociations":
		f.listAssociations(w, r, c, info)
	case "DescribePodIdentityAssociation", "DeletePodIdentityAssociation":
		id := segs[3]
		f.eksx.mu.Lock()
		cs := f.clusterStateLocked(info)
		a, ok := cs.byID[id]
		if ok && c.Action == "DeletePodIdentityAssociation" {
			delete(cs.byID, id)
			for i, x := range cs.assocs {
				if x == a {
					cs.assocs = append(cs.assocs[:i:i], cs.assocs[i+1:]...)
					break
				}
			}
		}
		var d map[string]any
		if ok {
			d = a.doc()
		}
		f.eksx.mu.Unlock()
		if !ok {
			noAssociation(id).write(w, r, c.Service)
			return
		}
		writeEKSJSON(w, map[string]any{"association": d})
	case "UpdatePodIdentityAssociation":
		f.updateAssociation(w, r, c, info, segs[3])
	}
}

// associationInput is the body of Create- and UpdatePodIdentityAssociation.
type associationInput struct {
	Namespace          string            `json:"namespace"`
	ServiceAccount     string            `json:"serviceAccount"`
	RoleArn            *string           `json:"roleArn"`
	ClientRequestToken string            `json:"clientRequestToken"`
	Tags               map[string]string `json:"tags"`
	DisableSessionTags *bool             `json:"disableSessionTags"`
	TargetRoleArn      *string           `json:"targetRoleArn"`
	Policy             *string           `json:"policy"`
}

// maxSessionPolicy is STS's limit on the plain text of an inline session policy, which the association's
// policy becomes.
const maxSessionPolicy = 2048

// checkTarget applies EKS's checks to an association's target role: an IAM role ARN, in any account (EKS
// cannot read another account's roles; STS decides per pod, in EKS Auth).
func checkTarget(target string) (awsError, bool) {
	if target != "" && !roleARNPattern.MatchString(target) {
		return invalidParameter("Target role ARN " + strconv.Quote(target) + " is not a valid IAM role ARN; give one like arn:aws:iam::111122223333:role/my-target-role."), false
	}
	return awsError{}, true
}

// checkSessionPolicy applies EKS's checks to an association's policy, given whether session tags end up
// disabled: a session policy needs them disabled, is at most STS's 2,048 characters, and is a valid IAM
// policy.
func checkSessionPolicy(policy string, tagsDisabled bool) (awsError, bool) {
	if policy == "" {
		return awsError{}, true
	}
	if !tagsDisabled {
		return invalidParameter("A policy can only be given to an association whose session tags are disabled: set disableSessionTags to true."), false
	}
	if n := len(policy); n > maxSessionPolicy {
		return invalidParameter(fmt.Sprintf("The policy is %d characters long; a session policy may be at most %d.", n, maxSessionPolicy)), false
	}
	p, err := iampolicy.Parse([]byte(policy))
	if err != nil {
		return invalidParameter("The policy is not a valid IAM policy document: " + err.Error()), false
	}
	if err := p.Validate(iampolicy.Identity); err != nil {
		return invalidParameter("The policy is not a valid IAM policy document: " + err.Error()), false
	}
	return awsError{}, true
}

// externalIDFor is the external ID EKS passes for an association's target role, in the form the EKS user
// guide gives it (pod-id-assign-target-role): region/account/cluster/namespace/service account.
func externalIDFor(info eksClusterInfo, namespace, serviceAccount string) string {
	return strings.Join([]string{info.Key.Region, info.Account, info.Key.Name, namespace, serviceAccount}, "/")
}

var (
	dns1123Label     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	dns1123Subdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	roleARNPattern   = regexp.MustCompile(`^arn:(aws|aws-cn|aws-us-gov):iam::([0-9]{12}):role/(.+)$`)
)

// validateTags applies EKS's tag limits.
func validateTags(tags map[string]string) (awsError, bool) {
	if len(tags) > 50 {
		return invalidParameter(fmt.Sprintf("Tags exceed the maximum of 50 per resource: %d given.", len(tags))), false
	}
	for k, v := range tags {
		switch {
		case k == "" || len(k) > 128:
			return invalidParameter(fmt.Sprintf("Tag key %q must be 1 to 128 characters long.", k)), false
		case len(v) > 256:
			return invalidParameter(fmt.Sprintf("Tag value of key %q must be at most 256 characters long.", k)), false
		case strings.HasPrefix(strings.ToLower(k), "aws:"):
			return invalidParameter(fmt.Sprintf("Tag key %q uses the reserved prefix aws:.", k)), false
		}
	}
	return awsError{}, true
}

// checkRole applies EKS's checks to an association's role: an IAM role ARN in the cluster's account, a
// role that exists (IAM's consistency window included), and a trust policy that names the Pod Identity
// service principal.
func (f *Front) checkRole(ctx context.Context, info eksClusterInfo, roleARN string) (awsError, bool) {
	m := roleARNPattern.FindStringSubmatch(roleARN)
	if m == nil {
		return invalidParameter("Role ARN " + strconv.Quote(roleARN) + " is not a valid IAM role ARN; give one like arn:aws:iam::" + info.Account + ":role/my-role."), false
	}
	if m[2] != info.Account {
		return invalidParameter("Role provided in the request must be in the same account as the cluster (" + info.Account + "); use targetRoleArn to reach a role in account " + m[2] + "."), false
	}
	role, err := f.visibleRole(ctx, f.iam, roleARN)
	switch {
	case err != nil:
		e := serverError("eks")
		e.Message = fmt.Sprintf("sandbox could not read role %s from IAM: %v", roleNameOf(roleARN), err)
		return e, false
	case role == nil:
		return invalidParameter("Role provided in the request does not exist"), false
	}
	trust, err := iampolicy.Parse([]byte(aws.ToString(role.AssumeRolePolicyDocument)))
	if err != nil || !namesPodIdentityService(trust) {
		return invalidParameter("Trust policy of the role provided is invalid"), false
	}
	return awsError{}, true
}

// namesPodIdentityService tells whether some Allow statement of a trust policy is for the Pod Identity
// service principal and sts:AssumeRole (conditions aside: EKS Auth evaluates those per pod).
func namesPodIdentityService(trust *iampolicy.Policy) bool {
	for _, s := range trust.Statements {
		if s.Effect != iampolicy.Allow || s.Principal == nil {
			continue
		}
		one := iampolicy.NewPolicy(iampolicy.Statement{Effect: iampolicy.Allow, Principal: s.Principal, Action: s.Action, NotAction: s.NotAction, Resource: s.Resource, NotResource: s.NotResource})
		if iampolicy.Evaluate(iampolicy.Request{Principal: &iampolicy.RequestPrincipal{Type: "Service", ID: PodIdentityService}, Action: "sts:AssumeRole"}, one).Allowed() {
			return true
		}
	}
	return false
}

func (f *Front) createAssociation(w http.ResponseWriter, r *http.Request, c *call, info eksClusterInfo) {
	var in associationInput
	if err := readJSONBody(r, &in); err != nil {
		invalidParameter("The request body is not valid JSON: "+err.Error()).write(w, r, c.Service)
		return
	}
	switch {
	case in.Namespace == "":
		invalidParameter("namespace is required.").write(w, r, c.Service)
		return
	case in.ServiceAccount == "":
		invalidParameter("serviceAccount is required.").write(w, r, c.Service)
		return
	case in.RoleArn == nil || *in.RoleArn == "":
		invalidParameter("roleArn is required.").write(w, r, c.Service)
		return
	case len(in.Namespace) > 63 || !dns1123Label.MatchString(in.Namespace):
		invalidParameter("Namespace "+strconv.Quote(in.Namespace)+" is not a valid Kubernetes namespace name (lower-case letters, digits and '-', at most 63).").write(w, r, c.Service)
		return
	case len(in.ServiceAccount) > 253 || !dns1123Subdomain.MatchString(in.ServiceAccount):
		invalidParameter("Service account "+strconv.Quote(in.ServiceAccount)+" is not a valid Kubernetes service account name.").write(w, r, c.Service)
		return
	}
	if e, ok := checkTarget(aws.ToString(in.TargetRoleArn)); !ok {
		e.write(w, r, c.Service)
		return
	}
	if e, ok := checkSessionPolicy(aws.ToString(in.Policy), aws.ToBool(in.DisableSessionTags)); !ok {
		e.write(w, r, c.Service)
		return
	}
	if e, ok := validateTags(in.Tags); !ok {
		e.write(w, r, c.Service)
		return
	}
	if e, ok := f.checkRole(r.Context(), info, *in.RoleArn); !ok {
		e.write(w, r, c.Service)
		return
	}
	now := time.Now()
	f.eksx.mu.Lock()
	cs := f.clusterStateLocked(info)
	if id, ok := cs.tokens[in.ClientRequestToken]; ok && in.ClientRequestToken != "" {
		// A retried create: the same answer, if the request is the same.
		if a, ok := cs.byID[id]; ok && a.Namespace == in.Namespace && a.ServiceAccount == in.ServiceAccount && a.RoleARN == *in.RoleArn &&
			a.TargetRoleARN == aws.ToString(in.TargetRoleArn) && a.Policy == aws.ToString(in.Policy) {
			d := a.doc()
			f.eksx.mu.Unlock()
			writeEKSJSON(w, map[string]any{"association": d})
			return
		}
		f.eksx.mu.Unlock()
		invalidParameter("The clientRequestToken "+strconv.Quote(in.ClientRequestToken)+" was already used for a different request.").write(w, r, c.Service)
		return
	}
	for _, a := range cs.assocs {
		if a.Namespace == in.Namespace && a.ServiceAccount == in.ServiceAccount {
			f.eksx.mu.Unlock()
			eksError(http.StatusConflict, "ResourceInUseException", "Association already exists: "+a.ID).write(w, r, c.Service)
			return
		}
	}
	if len(cs.assocs) >= maxAssociations {
		f.eksx.mu.Unlock()
		eksError(http.StatusBadRequest, "ResourceLimitExceededException", fmt.Sprintf("Cluster %s already has the maximum of %d Pod Identity associations.", info.Key.Name, maxAssociations)).write(w, r, c.Service)
		return
	}
	id := newAssociationID()
	a := &association{
		ID: id, ARN: "arn:aws:eks:" + info.Key.Region + ":" + info.Account + ":podidentityassociation/" + info.Key.Name + "/" + id,
		Cluster: info.Key.Name, Namespace: in.Namespace, ServiceAccount: in.ServiceAccount, RoleARN: *in.RoleArn,
		DisableSessionTags: in.DisableSessionTags != nil && *in.DisableSessionTags,
		TargetRoleARN:      aws.ToString(in.TargetRoleArn), Policy: aws.ToString(in.Policy),
		Tags: map[string]string{}, Created: now, Modified: now, visibleAt: f.visibleAfter(now),
	}
	if a.TargetRoleARN != "" {
		a.ExternalID = externalIDFor(info, a.Namespace, a.ServiceAccount)
	}
	for k, v := range in.Tags {
		a.Tags[k] = v
	}
	cs.assocs = append(cs.assocs, a)
	cs.byID[id] = a
	if in.ClientRequestToken != "" {
		cs.tokens[in.ClientRequestToken] = id
	}
	d := a.doc()
	f.eksx.mu.Unlock()
	writeEKSJSON(w, map[string]any{"association": d})
}

func (f *Front) updateAssociation(w http.ResponseWriter, r *http.Request, c *call, info eksClusterInfo, id string) {
	var in associationInput
	if err := readJSONBody(r, &in); err != nil {
		invalidParameter("The request body is not valid JSON: "+err.Error()).write(w, r, c.Service)
		return
	}
	if e, ok := checkTarget(aws.ToString(in.TargetRoleArn)); !ok {
		e.write(w, r, c.Service)
		return
	}
	if in.RoleArn == nil && in.DisableSessionTags == nil && in.TargetRoleArn == nil && in.Policy == nil {
		invalidParameter("At least one of roleArn, targetRoleArn, disableSessionTags or policy must be given to update an association.").write(w, r, c.Service)
		return
	}
	f.eksx.mu.Lock()
	cur, exists := f.clusterStateLocked(info).byID[id]
	var disabled bool
	var policy string
	if exists {
		disabled, policy = cur.DisableSessionTags, cur.Policy
	}
	f.eksx.mu.Unlock()
	if !exists {
		noAssociation(id).write(w, r, c.Service)
		return
	}
	if in.DisableSessionTags != nil {
		disabled = *in.DisableSessionTags
	}
	if in.Policy != nil {
		policy = *in.Policy
	}
	if e, ok := checkSessionPolicy(policy, disabled); !ok {
		e.write(w, r, c.Service)
		return
	}
	if in.RoleArn != nil {
		if e, ok := f.checkRole(r.Context(), info, *in.RoleArn); !ok {
			e.write(w, r, c.Service)
			return
		}
	}
	f.eksx.mu.Lock()
	a, ok := f.clusterStateLocked(info).byID[id]
	if !ok { // deleted while the role was checked
		f.eksx.mu.Unlock()
		noAssociation(id).write(w, r, c.Service)
		return
	}
	before := *a
	if before.previous != nil && !f.inWindow(&before) {
		before.previous = nil // the version before is in effect: older ones no longer matter
	}
	a.previous = &before
	if in.RoleArn != nil {
		a.RoleARN = *in.RoleArn
	}
	if in.DisableSessionTags != nil {
		a.DisableSessionTags = *in.DisableSessionTags
	}
	if in.TargetRoleArn != nil { // "" removes the target
		a.TargetRoleARN = *in.TargetRoleArn
		a.ExternalID = ""
		if a.TargetRoleARN != "" {
			a.ExternalID = externalIDFor(info, a.Namespace, a.ServiceAccount)
		}
	}
	if in.Policy != nil { // "" removes the policy
		a.Policy = *in.Policy
	}
	if a.Policy != "" && !a.DisableSessionTags { // another update enabled the tags meanwhile
		*a = before
		f.eksx.mu.Unlock()
		e, _ := checkSessionPolicy(a.Policy, false)
		e.write(w, r, c.Service)
		return
	}
	a.Modified = time.Now()
	a.visibleAt = f.visibleAfter(a.Modified)
	d := a.doc()
	f.eksx.mu.Unlock()
	writeEKSJSON(w, map[string]any{"association": d})
}

func (f *Front) listAssociations(w http.ResponseWriter, r *http.Request, c *call, info eksClusterInfo) {
	max, start, e, ok := pageParams(r, 100)
	if !ok {
		e.write(w, r, c.Service)
		return
	}
	ns, sa := r.URL.Query().Get("namespace"), r.URL.Query().Get("serviceAccount")
	f.eksx.mu.Lock()
	var all []map[string]any
	for _, a := range f.clusterStateLocked(info).assocs {
		if (ns == "" || a.Namespace == ns) && (sa == "" || a.ServiceAccount == sa) {
			all = append(all, a.summary())
		}
	}
	f.eksx.mu.Unlock()
	page, next := pageOf(all, start, max)
	if page == nil {
		page = []map[string]any{}
	}
	out := map[string]any{"associations": page}
	if next != "" {
		out["nextToken"] = next
	}
	writeEKSJSON(w, out)
}

// pageParams reads maxResults (1..limit, default limit) and nextToken of an EKS List call.
func pageParams(r *http.Request, limit int) (max, start int, e awsError, ok bool) {
	q := r.URL.Query()
	max = limit
	if s := q.Get("maxResults"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > limit {
			return 0, 0, invalidParameter(fmt.Sprintf("maxResults %s is not between 1 and %d.", s, limit)), false
		}
		max = n
	}
	if tok := q.Get("nextToken"); tok != "" {
		b, err := base64.RawURLEncoding.DecodeString(tok)
		n, err2 := strconv.Atoi(strings.TrimPrefix(string(b), "offset:"))
		if err != nil || err2 != nil || !strings.HasPrefix(string(b), "offset:") || n < 0 {
			return 0, 0, invalidParameter("The nextToken " + strconv.Quote(tok) + " is not valid; pass the nextToken of the previous answer unchanged."), false
		}
		start = n
	}
	return max, start, awsError{}, true
}

// pageOf cuts one page out of items and makes the token of the next, "" after the last page.
func pageOf[T any](items []T, start, max int) ([]T, string) {
	if start > len(items) {
		start = len(items)
	}
	end := min(start+max, len(items))
	next := ""
	if end < len(items) {
		next = base64.RawURLEncoding.EncodeToString([]byte("offset:" + strconv.Itoa(end)))
	}
	return items[start:end], next
}

// effectiveAssociation is the association of namespace/serviceAccount in a cluster as EKS Auth and the
// webhook see it: a change still inside the consistency window is not seen yet.
func (f *Front) effectiveAssociation(k clusterKey, namespace, serviceAccount string) (association, bool) {
	f.eksx.mu.Lock()
	defer f.eksx.mu.Unlock()
	cs, ok := f.eksx.clusters[k]
	if !ok {
		return association{}, false
	}
	for _, a := range cs.assocs {
		if a.Namespace == namespace && a.ServiceAccount == serviceAccount {
			for v := a; v != nil; v = v.previous {
				if !f.inWindow(v) {
					return *v, true
				}
			}
			return association{}, false
		}
	}
	return association{}, false
}

// PodIdentityAssociated tells whether a ServiceAccount of the sandbox cluster has a Pod Identity
// association that is in effect; the sandbox's webhook asks it for every pod.
func (f *Front) PodIdentityAssociated(cluster, namespace, serviceAccount string) bool {
	for _, cl := range f.sandboxClusters() {
		if cl.Name != cluster {
			continue
		}
		_, region := f.clusterPlace(cl)
		if _, ok := f.effectiveAssociation(clusterKey{region, cluster}, namespace, serviceAccount); ok {
			return true
		}
	}
	return false
}
