package awsfront

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
)

// moto answers iam:SimulatePrincipalPolicy with a 500. The front answers it as IAM does, from the same
// permissions and decide the front enforces with: the source's identity policies (a user's own and its
// groups', a role's, a group's), the PolicyInputList added to them, its permissions boundary (or the
// PermissionsBoundaryPolicyInputList instead), and only the condition keys the caller gives in
// ContextEntries, as the simulator does. Resource-based policies (ResourcePolicy, ResourceOwner,
// ResourceHandlingOption) and organizations' SCPs are not simulated: every SCP is taken to allow.

// simulation is one SimulatePrincipalPolicy request.
type simulation struct {
	Source             string
	Actions, Resources []string
	Context            map[string][]string
	Inputs, Boundaries []string // PolicyInputList, PermissionsBoundaryPolicyInputList
	MaxItems, Start    int
}

// simResult is one EvaluationResults member: the aggregate over the resources (the most restrictive
// decision, every matched statement and missing key), with one ResourceSpecificResults member per resource
// ARN given. IAM's simulator answers one result per action since it aggregates (API_EvaluationResult).
type simResult struct {
	EvalActionName              string
	EvalResourceName            string
	EvalDecision                string
	MatchedStatements           []simStatement  `xml:"MatchedStatements>member"`
	MissingContext              []string        `xml:"MissingContextValues>member"`
	BoundaryDetail              *boundaryDetail `xml:"PermissionsBoundaryDecisionDetail,omitempty"`
	OrganizationsDecisionDetail struct{ AllowedByOrganizations bool }
	ResourceSpecific            []resourceResult `xml:"ResourceSpecificResults>member,omitempty"`
}

// resourceResult is one ResourceSpecificResults member.
type resourceResult struct {
	EvalResourceName     string
	EvalResourceDecision string
	MatchedStatements    []simStatement  `xml:"MatchedStatements>member"`
	MissingContext       []string        `xml:"MissingContextValues>member"`
	BoundaryDetail       *boundaryDetail `xml:"PermissionsBoundaryDecisionDetail,omitempty"`
}

type boundaryDetail struct{ AllowedByPermissionsBoundary bool }

// restrictiveness orders decisions: the aggregate of several is the most restrictive.
var restrictiveness = map[string]int{"allowed": 0, "implicitDeny": 1, "explicitDeny": 2}

// simStatement is one MatchedStatements member.
type simStatement struct {
	SourcePolicyID   string `xml:"SourcePolicyId"`
	SourcePolicyType string
}

// simulatePrincipalPolicy answers iam:SimulatePrincipalPolicy; the caller was authorized before.
func (f *Front) simulatePrincipalPolicy(w http.ResponseWriter, r *http.Request, c *call) {
	sim, e, ok := readSimulation(c.Params)
	if !ok {
		e.write(w, r, "iam")
		return
	}
	results, e, ok := f.simulate(r.Context(), sim)
	if !ok {
		e.write(w, r, "iam")
		return
	}
	end := min(sim.Start+sim.MaxItems, len(results))
	type result struct {
		EvaluationResults []simResult `xml:"EvaluationResults>member"`
		IsTruncated       bool
		Marker            string `xml:",omitempty"`
	}
	out := struct {
		XMLName  xml.Name `xml:"SimulatePrincipalPolicyResponse"`
		XMLNS    string   `xml:"xmlns,attr"`
		Result   result   `xml:"SimulatePrincipalPolicyResult"`
		Metadata struct {
			RequestID string `xml:"RequestId"`
		} `xml:"ResponseMetadata"`
	}{XMLNS: "https://iam.amazonaws.com/doc/2010-05-08/"}
	out.Result.EvaluationResults = results[sim.Start:end]
	if end < len(results) {
		out.Result.IsTruncated, out.Result.Marker = true, strconv.Itoa(end)
	}
	out.Metadata.RequestID = requestID()
	body, _ := xml.Marshal(out)
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("x-amzn-RequestId", out.Metadata.RequestID)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(append([]byte(xml.Header), body...))
}

func invalidInput(msg string) awsError {
	return awsError{Status: http.StatusBadRequest, Code: "InvalidInput", Message: msg, Sender: true}
}

// readSimulation reads the request's awsQuery parameters.
func readSimulation(params url.Values) (simulation, awsError, bool) {
	sim := simulation{Source: params.Get("PolicySourceArn"), Actions: memberList(params, "ActionNames"),
		Resources: memberList(params, "ResourceArns"), Inputs: memberList(params, "PolicyInputList"),
		Boundaries: memberList(params, "PermissionsBoundaryPolicyInputList"), Context: map[string][]string{}, MaxItems: 100}
	switch {
	case sim.Source == "":
		return sim, invalidInput("1 validation error detected: Value null at 'policySourceArn' failed to satisfy constraint: Member must not be null"), false
	case len(sim.Actions) == 0:
		return sim, invalidInput("1 validation error detected: Value null at 'actionNames' failed to satisfy constraint: Member must not be null"), false
	}
	if len(sim.Resources) == 0 {
		sim.Resources = []string{"*"}
	}
	for i := 1; ; i++ {
		p := "ContextEntries.member." + strconv.Itoa(i) + "."
		name := params.Get(p + "ContextKeyName")
		if name == "" {
			break
		}
		sim.Context[name] = append(sim.Context[name], memberList(params, p+"ContextKeyValues")...)
	}
	if v := params.Get("MaxItems"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return sim, invalidInput(fmt.Sprintf("MaxItems %q is not a number from 1 to 1000", v)), false
		}
		sim.MaxItems = n
	}
	if m := params.Get("Marker"); m != "" {
		n, err := strconv.Atoi(m)
		if err != nil || n < 0 {
			return sim, invalidInput(fmt.Sprintf("Marker %q is not one this API returned", m)), false
		}
		sim.Start = n
	}
	return sim, awsError{}, true
}

// simulate evaluates every action on every resource as enforcement would, one result per action.
func (f *Front) simulate(ctx context.Context, sim simulation) ([]simResult, awsError, bool) {
	perms, e, ok := f.sourcePermissions(ctx, sim.Source)
	if !ok {
		return nil, e, false
	}
	for i, doc := range sim.Inputs {
		p, err := iampolicy.Parse([]byte(doc))
		if err != nil {
			return nil, awsError{Status: http.StatusBadRequest, Code: "MalformedPolicyDocument", Message: fmt.Sprintf("PolicyInputList.%d is not a valid policy document: %v", i+1, err), Sender: true}, false
		}
		perms.identity = append(perms.identity, p)
		perms.sources = append(perms.sources, policySource{"PolicyInputList." + strconv.Itoa(i+1), "none"})
	}
	if len(sim.Boundaries) > 0 {
		p, err := iampolicy.Parse([]byte(sim.Boundaries[0]))
		if err != nil {
			return nil, awsError{Status: http.StatusBadRequest, Code: "MalformedPolicyDocument", Message: fmt.Sprintf("PermissionsBoundaryPolicyInputList.1 is not a valid policy document: %v", err), Sender: true}, false
		}
		perms.boundary, perms.boundaryARN = p, "PermissionsBoundaryPolicyInputList.1"
	}
	if sim.Start > len(sim.Actions) {
		return nil, invalidInput(fmt.Sprintf("Marker %d is past the end of the results", sim.Start)), false
	}
	var out []simResult
	for _, action := range sim.Actions {
		agg := simResult{EvalActionName: action, EvalResourceName: "*", EvalDecision: "allowed"}
		agg.OrganizationsDecisionDetail.AllowedByOrganizations = true
		if len(sim.Resources) == 1 {
			agg.EvalResourceName = sim.Resources[0]
		}
		seen, missing := map[simStatement]bool{}, map[string]bool{}
		for _, res := range sim.Resources {
			one := perms.simulate(iampolicy.Request{Action: action, Resource: res, Context: sim.Context})
			if restrictiveness[one.EvalResourceDecision] > restrictiveness[agg.EvalDecision] {
				agg.EvalDecision = one.EvalResourceDecision
			}
			for _, st := range one.MatchedStatements {
				if !seen[st] {
					seen[st] = true
					agg.MatchedStatements = append(agg.MatchedStatements, st)
				}
			}
			for _, k := range one.MissingContext {
				if !missing[k] {
					missing[k] = true
					agg.MissingContext = append(agg.MissingContext, k)
				}
			}
			if one.BoundaryDetail != nil {
				if agg.BoundaryDetail == nil {
					agg.BoundaryDetail = &boundaryDetail{true}
				}
				agg.BoundaryDetail.AllowedByPermissionsBoundary = agg.BoundaryDetail.AllowedByPermissionsBoundary && one.BoundaryDetail.AllowedByPermissionsBoundary
			}
			if res != "*" {
				agg.ResourceSpecific = append(agg.ResourceSpecific, one)
			}
		}
		sort.Strings(agg.MissingContext)
		out = append(out, agg)
	}
	return out, awsError{}, true
}

// simulate is one evaluation result: decide's verdict, with the statements that decided and the condition
// keys the statements that apply to the action and resource test but the request does not carry.
func (ps *permissions) simulate(req iampolicy.Request) resourceResult {
	res := resourceResult{EvalResourceName: req.Resource}
	v := ps.decide(req)
	missing := map[string]bool{}
	denied := false
	for i, p := range ps.identity {
		d := iampolicy.Evaluate(req, p)
		if d.Effect != iampolicy.ImplicitDeny {
			res.MatchedStatements = append(res.MatchedStatements, simStatement{ps.sources[i].ID, ps.sources[i].Type})
			denied = denied || d.Effect == iampolicy.Deny
		}
		for _, k := range missingKeys(req, p) {
			missing[k] = true
		}
	}
	if ps.boundary != nil {
		bd := iampolicy.Evaluate(req, ps.boundary)
		res.BoundaryDetail = &boundaryDetail{bd.Allowed()}
		denied = denied || bd.Effect == iampolicy.Deny
		for _, k := range missingKeys(req, ps.boundary) {
			missing[k] = true
		}
	}
	switch {
	case denied:
		res.EvalResourceDecision = "explicitDeny"
	case v.Allowed:
		res.EvalResourceDecision = "allowed"
	default:
		res.EvalResourceDecision = "implicitDeny"
	}
	for k := range missing {
		res.MissingContext = append(res.MissingContext, k)
	}
	sort.Strings(res.MissingContext)
	return res
}

// missingKeys are the condition keys of p's statements that apply to req's action and resource and that
// req's context lacks.
func missingKeys(req iampolicy.Request, p *iampolicy.Policy) []string {
	var out []string
	for _, s := range p.Statements {
		if len(s.Condition) == 0 {
			continue
		}
		bare := s
		bare.Condition = nil
		if iampolicy.Evaluate(iampolicy.Request{Action: req.Action, Resource: req.Resource, Context: req.Context}, iampolicy.NewPolicy(bare)).Effect == iampolicy.ImplicitDeny {
			continue
		}
		for _, keys := range s.Condition {
			for k := range keys {
				if !hasKey(req.Context, k) {
					out = append(out, k)
				}
			}
		}
	}
	return out
}

func hasKey(ctx map[string][]string, key string) bool {
	for k := range ctx {
		if strings.EqualFold(k, key) {
			return true
		}
	}
	return false
}

// sourcePermissions are the permissions of a PolicySourceArn: a user, a role or a group.
func (f *Front) sourcePermissions(ctx context.Context, arn string) (*permissions, awsError, bool) {
	account := accountOf(arn)
	_, res, _ := strings.Cut(arn, ":"+account+":")
	name := res[strings.LastIndex(res, "/")+1:]
	var nse *iamtypes.NoSuchEntityException
	var (
		perms *permissions
		err   error
	)
	switch {
	case !strings.HasPrefix(arn, "arn:aws:iam::") || account == "" || name == "":
		return nil, invalidInput(fmt.Sprintf("Invalid ARN %s: give the ARN of an IAM user, role or group", arn)), false
	case strings.HasPrefix(res, "user/"):
		if _, err = f.iamIn(account).GetUser(ctx, &iam.GetUserInput{UserName: aws.String(name)}); err == nil {
			perms, err = f.permissionsOf(ctx, &principal{Account: account, ARN: arn, UserName: name})
		}
	case strings.HasPrefix(res, "role/"):
		if _, err = f.iamIn(account).GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)}); err == nil {
			perms, err = f.permissionsOf(ctx, &principal{Account: account, ARN: arn, RoleName: name, RoleARN: arn})
		}
	case strings.HasPrefix(res, "group/"):
		var docs []sourcedDoc
		if docs, err = groupPolicyDocs(ctx, f.iamIn(account), name); err == nil {
			perms = &permissions{}
			perms.identity, perms.sources = parseSourced(docs)
		}
	default:
		return nil, invalidInput(fmt.Sprintf("Invalid ARN %s: the simulator takes the ARN of an IAM user, role or group", arn)), false
	}
	switch {
	case errors.As(err, &nse):
		return nil, noSuchEntity(fmt.Sprintf("Entity %s does not exist.", arn)), false
	case err != nil:
		e := serverError("iam")
		e.Message = fmt.Sprintf("sandbox could not read the policies of %s: %v", arn, err)
		return nil, e, false
	}
	return perms, awsError{}, true
}
