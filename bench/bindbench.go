package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox"
	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox/awsfront"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// What every bind run asks for: the original guide's setup.
const (
	benchSA         = "sdc"
	benchDeployment = "sdc"
	benchBucket     = "sdc-ingest-bucket"
	benchImage      = "streamsets/datacollector:5.11.0"
)

// resolution is how bind finds the cluster's issuer. In the sandbox the kube context names no EKS cluster,
// so without --eks-cluster bind lists the account's clusters (eks:ListClusters) and describes them to find
// the one behind the kube server: one more sequential round trip than naming it.
type resolution struct {
	Name string
	Tag  string // in namespace names
	Args []string
}

var resolutions = []resolution{
	{Name: "found via ListClusters", Tag: "ctx"},
	{Name: "--eks-cluster", Tag: "eks", Args: []string{"--eks-cluster", sandbox.ClusterName}},
}

// guardrails is bind with --eks-cluster inside an organization's guardrails: a permissions boundary, a role
// path and tags. CreateRole, CreatePolicy and CreateOpenIDConnectProvider carry them, so it must cost
// exactly the calls of bind without them (a correctness target of the bench).
var guardrails = resolution{Name: "--eks-cluster, guardrails", Tag: "grd", Args: []string{"--eks-cluster", sandbox.ClusterName,
	"--permissions-boundary", "arn:aws:iam::" + awsfront.DefaultAccountID + ":policy/" + benchBoundary, "--role-path", "/sdc/",
	"--tag", "cost-center=data-platform", "--tag", "owner=bench"}}

// benchBoundary is the permissions boundary the guardrails variant sets (made once, allowing everything).
const benchBoundary = "sdc-bench-boundary"

// bindVariants are what bind is measured with: each resolution, and the guardrails.
func bindVariants() []resolution { return append(append([]resolution{}, resolutions...), guardrails) }

// variantsFor are the variants bind is measured with for a mechanism: the guardrails for IRSA only, as they
// change the same calls whatever the mechanism.
func variantsFor(mech string) []resolution {
	if mech == mechIRSA {
		return bindVariants()
	}
	return resolutions
}

// makeBoundary creates the guardrails' permissions boundary unless it exists.
func (h *harness) makeBoundary(ctx context.Context) error {
	_, err := h.iam.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String(benchBoundary),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`)})
	if err != nil && !strings.Contains(err.Error(), "EntityAlreadyExists") {
		return fmt.Errorf("creating the guardrails' permissions boundary: %w", err)
	}
	return nil
}

// bindOutput is the part of `bind -o json` the bench checks.
type bindOutput struct {
	PolicyARN string `json:"policyArn"`
	RoleARN   string `json:"roleArn"`
	Changes   []struct {
		Kind   string `json:"kind"`
		Action string `json:"action"`
	} `json:"changes"`
}

// The mechanisms bind is measured with: IRSA (the guide's, with the guide's script as its baseline) and EKS
// Pod Identity (measured against IRSA's bind at the same latency).
const (
	mechIRSA        = "irsa"
	mechPodIdentity = "pod-identity"
)

var mechanisms = []string{mechIRSA, mechPodIdentity}

func bindArgs(ns string, r resolution, mech string) []string {
	args := []string{"sdc", "bind", "-n", ns, "--service-account", benchSA, "--bucket", benchBucket,
		"--deployment", benchDeployment, "--create-deployment", "--image", benchImage, "--yes", "-o", "json"}
	if mech == mechPodIdentity {
		args = append(args, "--mechanism", mechPodIdentity)
	}
	return append(args, r.Args...)
}

// bindSamples are the measured runs of bind, unbind and the guide, by scenario and latency.
type bindSamples struct {
	bind  map[bindKey][]sample
	guide map[int][]sample
	// unbind are the runs of unbind on what the fresh bind of the same key made ("unbind"), then again
	// ("unbind no-op").
	unbind map[bindKey][]sample
	// doctorNS is a namespace bind set up, for measuring doctor on one target.
	doctorNS string
}

type bindKey struct {
	scenario   string // "fresh" or "no-op"; "unbind" or "unbind no-op"
	resolution string
	latency    int
	mechanism  string
}

// unbindArgs undo what bindArgs(ns, r) made: with r's way of finding the cluster, and no guardrail (they
// are bind's flags; unbind finds the role and its policy where they are).
func unbindArgs(ns string, r resolution) []string {
	args := []string{"sdc", "unbind", "-n", ns, "--service-account", benchSA, "--yes", "-o", "json"}
	if i := slices.Index(r.Args, "--eks-cluster"); i >= 0 {
		args = append(args, r.Args[i:i+2]...)
	}
	return args
}

// checkUnbind checks that an unbind run succeeded and found the world as the scenario says: after a bind,
// the role and the policy go; run again, nothing changes.
func checkUnbind(s sample, noop bool) (bindOutput, error) {
	var bo bindOutput
	if s.cmd.Code != 0 {
		return bo, fmt.Errorf("unbind failed:\n%s", s.cmd)
	}
	if err := json.Unmarshal([]byte(s.cmd.Stdout), &bo); err != nil {
		return bo, fmt.Errorf("unbind -o json printed no JSON object (%v):\n%s", err, s.cmd)
	}
	deletes := 0
	for _, c := range bo.Changes {
		switch {
		case noop && c.Action != "unchanged":
			return bo, fmt.Errorf("a second unbind planned %s %s:\n%s", c.Action, c.Kind, s.cmd)
		case c.Action == "delete":
			deletes++
		}
	}
	if !noop && deletes < 3 {
		return bo, fmt.Errorf("unbind after bind deleted %d things, want the role, its attachment and the policy:\n%s", deletes, s.cmd)
	}
	return bo, nil
}

// changed counts the changes of a result object that write (not unchanged).
func (bo bindOutput) changed() int {
	n := 0
	for _, c := range bo.Changes {
		if c.Action != "unchanged" {
			n++
		}
	}
	return n
}

// benchBind measures bind fresh and no-op (both resolutions, and with guardrails), unbind after each fresh
// bind and again, and the guide's script, interleaved run by run
// so that all three see the same machine, and checks after every guide run that it reached bind's end state.
func benchBind(ctx context.Context, h *harness, cfg config) (*bindSamples, error) {
	out := &bindSamples{bind: map[bindKey][]sample{}, guide: map[int][]sample{}, unbind: map[bindKey][]sample{},
		// The warm-up's first namespace, which no unbind touches: doctor on one target is measured there.
		doctorNS: "bench-warmup-" + mechIRSA + "-" + resolutions[0].Tag}
	guide := filepath.Join(h.tb.baselineDir, "guide.sh")
	if err := h.makeBoundary(ctx); err != nil {
		return nil, err
	}
	// One unmeasured round of everything first: moto loads a service's backend on its first call (a few
	// hundred ms for EKS), kubectl fills its discovery cache, the aws CLI its caches.
	for _, mech := range mechanisms {
		for _, res := range variantsFor(mech) {
			for range 2 {
				w, err := h.measure(ctx, "kubectl-sdc/", "kubectl", bindArgs("bench-warmup-"+mech+"-"+res.Tag, res, mech)...)
				if err != nil {
					return nil, err
				}
				if w.cmd.Code != 0 {
					return nil, fmt.Errorf("bind --mechanism %s failed in the warm-up round:\n%s", mech, w.cmd)
				}
			}
		}
	}
	if err := h.deleteProviders(ctx); err != nil {
		return nil, err
	}
	role := fmt.Sprintf("sdc-%s-bench-warmup-guide-%s", sandbox.ClusterName, benchSA)
	w, err := h.measure(ctx, "kubectl/", "bash", guide, sandbox.ClusterName, "bench-warmup-guide", benchSA, benchBucket, benchDeployment, benchImage, role, role)
	if err != nil {
		return nil, err
	}
	if w.cmd.Code != 0 {
		return nil, fmt.Errorf("the guide's script (the baseline of bind) failed in the warm-up round:\n%s", w.cmd)
	}

	for _, lat := range cfg.BindLatencies {
		for run := range cfg.Runs {
			var bindState endState
			for i, res := range bindVariants() {
				ns := fmt.Sprintf("bench-bind-%s-l%d-r%d", res.Tag, lat, run)
				if err := h.deleteProviders(ctx); err != nil {
					return nil, err
				}
				h.setLatency(lat)
				fresh, err := h.measure(ctx, "kubectl-sdc/", "kubectl", bindArgs(ns, res, mechIRSA)...)
				if err != nil {
					return nil, err
				}
				bo, err := checkBind(fresh, "create")
				if err != nil {
					return nil, err
				}
				noop, err := h.measure(ctx, "kubectl-sdc/", "kubectl", bindArgs(ns, res, mechIRSA)...)
				h.setLatency(0)
				if err != nil {
					return nil, err
				}
				if _, err := checkBind(noop, "unchanged"); err != nil {
					return nil, err
				}
				out.add(bindKey{"fresh", res.Name, lat, mechIRSA}, fresh)
				out.add(bindKey{"no-op", res.Name, lat, mechIRSA}, noop)
				progress(cfg.Log, "bind %s (%s) at %d ms, run %d/%d: fresh %s, no-op %s", res.Name, ns, lat, run+1, cfg.Runs,
					fmtDuration(ms(fresh.cmd.Wall)), fmtDuration(ms(noop.cmd.Wall)))
				if i == 0 {
					if bindState, err = h.readEndState(ctx, ns, bo.RoleARN, bo.PolicyARN); err != nil {
						return nil, fmt.Errorf("reading what bind made in %s: %w", ns, err)
					}
				}
				// unbind undoes it at the same latency, then finds nothing to do.
				h.setLatency(lat)
				un, err := h.measure(ctx, "kubectl-sdc/", "kubectl", unbindArgs(ns, res)...)
				if err != nil {
					h.setLatency(0)
					return nil, err
				}
				unNoop, err := h.measure(ctx, "kubectl-sdc/", "kubectl", unbindArgs(ns, res)...)
				h.setLatency(0)
				if err != nil {
					return nil, err
				}
				uo, err := checkUnbind(un, false)
				if err != nil {
					return nil, err
				}
				un.changes = uo.changed()
				if _, err := checkUnbind(unNoop, true); err != nil {
					return nil, err
				}
				ku := bindKey{"unbind", res.Name, lat, mechIRSA}
				out.unbind[ku] = append(out.unbind[ku], un)
				kn := bindKey{"unbind no-op", res.Name, lat, mechIRSA}
				out.unbind[kn] = append(out.unbind[kn], unNoop)
				progress(cfg.Log, "unbind %s (%s) at %d ms, run %d/%d: %s, again %s", res.Name, ns, lat, run+1, cfg.Runs,
					fmtDuration(ms(un.cmd.Wall)), fmtDuration(ms(unNoop.cmd.Wall)))
			}

			// EKS Pod Identity: no provider to delete, each run in a namespace (and so a role) of its own.
			for _, res := range resolutions {
				ns := fmt.Sprintf("bench-pi-%s-l%d-r%d", res.Tag, lat, run)
				h.setLatency(lat)
				fresh, err := h.measure(ctx, "kubectl-sdc/", "kubectl", bindArgs(ns, res, mechPodIdentity)...)
				if err == nil {
					_, err = checkBind(fresh, "create")
				}
				var noop sample
				if err == nil {
					noop, err = h.measure(ctx, "kubectl-sdc/", "kubectl", bindArgs(ns, res, mechPodIdentity)...)
				}
				h.setLatency(0)
				if err == nil {
					_, err = checkBind(noop, "unchanged")
				}
				if err != nil {
					return nil, fmt.Errorf("bind --mechanism pod-identity: %w", err)
				}
				out.add(bindKey{"fresh", res.Name, lat, mechPodIdentity}, fresh)
				out.add(bindKey{"no-op", res.Name, lat, mechPodIdentity}, noop)
				progress(cfg.Log, "bind --mechanism pod-identity %s (%s) at %d ms, run %d/%d: fresh %s, no-op %s", res.Name, ns, lat, run+1, cfg.Runs,
					fmtDuration(ms(fresh.cmd.Wall)), fmtDuration(ms(noop.cmd.Wall)))
			}

			ns := fmt.Sprintf("bench-guide-l%d-r%d", lat, run)
			role := fmt.Sprintf("sdc-%s-%s-%s", sandbox.ClusterName, ns, benchSA)
			if err := h.deleteProviders(ctx); err != nil {
				return nil, err
			}
			h.setLatency(lat)
			g, err := h.measure(ctx, "kubectl/", "bash", guide, sandbox.ClusterName, ns, benchSA, benchBucket, benchDeployment, benchImage, role, role)
			h.setLatency(0)
			if err != nil {
				return nil, err
			}
			if g.cmd.Code != 0 {
				return nil, fmt.Errorf("the guide's script (the baseline of bind) failed:\n%s", g.cmd)
			}
			progress(cfg.Log, "guide.sh (%s) at %d ms, run %d/%d: %s", ns, lat, run+1, cfg.Runs, fmtDuration(ms(g.cmd.Wall)))
			out.guide[lat] = append(out.guide[lat], g)
			acct := h.sb.AccountID
			guideState, err := h.readEndState(ctx, ns, "arn:aws:iam::"+acct+":role/"+role, "arn:aws:iam::"+acct+":policy/"+role)
			if err != nil {
				return nil, fmt.Errorf("reading what the guide's script made in %s: %w", ns, err)
			}
			if d := bindState.diff(guideState); d != "" {
				return nil, fmt.Errorf("the guide's script (bench/baseline/guide.sh) no longer reaches bind's end state, so it is no baseline; bring it in line:\n%s", d)
			}
		}
	}
	return out, nil
}

func (b *bindSamples) add(k bindKey, s sample) { b.bind[k] = append(b.bind[k], s) }

// checkBind checks that a bind run succeeded and found the world as the scenario says: on a fresh run every
// change is a create (else something was left over and the run was not fresh), on a no-op run nothing changes.
func checkBind(s sample, want string) (bindOutput, error) {
	var bo bindOutput
	if s.cmd.Code != 0 {
		return bo, fmt.Errorf("bind failed:\n%s", s.cmd)
	}
	if err := json.Unmarshal([]byte(s.cmd.Stdout), &bo); err != nil {
		return bo, fmt.Errorf("bind -o json printed no JSON object (%v):\n%s", err, s.cmd)
	}
	if len(bo.Changes) == 0 {
		return bo, fmt.Errorf("bind -o json listed no changes:\n%s", s.cmd)
	}
	for _, c := range bo.Changes {
		if c.Action != want {
			return bo, fmt.Errorf("bind planned %s %s where the benchmark expects only %s:\n%s", c.Action, c.Kind, want, s.cmd)
		}
	}
	return bo, nil
}

// deleteProviders removes the account's IAM OIDC providers, so that the next bind or guide run starts from
// nothing (bind's first run in a cluster creates the provider; later runs find it).
func (h *harness) deleteProviders(ctx context.Context) error {
	h.setLatency(0)
	out, err := h.iam.ListOpenIDConnectProviders(ctx, &iam.ListOpenIDConnectProvidersInput{})
	if err != nil {
		return fmt.Errorf("listing the sandbox's OIDC providers: %w", err)
	}
	for _, p := range out.OpenIDConnectProviderList {
		if _, err := h.iam.DeleteOpenIDConnectProvider(ctx, &iam.DeleteOpenIDConnectProviderInput{OpenIDConnectProviderArn: p.Arn}); err != nil {
			return fmt.Errorf("deleting OIDC provider %s: %w", aws.ToString(p.Arn), err)
		}
	}
	return nil
}

// endState is what a ServiceAccount's IRSA setup is made of, with its own names replaced by placeholders so
// that two setups in two namespaces compare equal when they work the same way.
type endState struct {
	ProviderClientIDs   []string          `json:"provider_client_ids"`
	ProviderThumbprints []string          `json:"provider_thumbprints"`
	Policy              json.RawMessage   `json:"policy"`
	Trust               json.RawMessage   `json:"trust"`
	Attached            []string          `json:"attached"`
	Annotations         map[string]string `json:"annotations"`
	DeploymentSA        string            `json:"deployment_service_account"`
	FSGroup             *int64            `json:"fs_group"`
	Selector            map[string]string `json:"selector"`
	Labels              map[string]string `json:"labels"`
	Containers          []string          `json:"containers"` // name=image
	names               []string          // what was replaced, longest first
}

func (h *harness) readEndState(ctx context.Context, ns, roleARN, policyARN string) (endState, error) {
	var s endState
	provs, err := h.iam.ListOpenIDConnectProviders(ctx, &iam.ListOpenIDConnectProvidersInput{})
	if err != nil {
		return s, err
	}
	if len(provs.OpenIDConnectProviderList) != 1 {
		return s, fmt.Errorf("the account has %d OIDC providers, expected the one of the sandbox", len(provs.OpenIDConnectProviderList))
	}
	prov, err := h.iam.GetOpenIDConnectProvider(ctx, &iam.GetOpenIDConnectProviderInput{OpenIDConnectProviderArn: provs.OpenIDConnectProviderList[0].Arn})
	if err != nil {
		return s, err
	}
	s.ProviderClientIDs, s.ProviderThumbprints = sorted(prov.ClientIDList), sorted(prov.ThumbprintList)

	pol, err := h.iam.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(policyARN)})
	if err != nil {
		return s, err
	}
	ver, err := h.iam.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: aws.String(policyARN), VersionId: pol.Policy.DefaultVersionId})
	if err != nil {
		return s, err
	}
	if s.Policy, err = canonicalGrant(aws.ToString(ver.PolicyVersion.Document)); err != nil {
		return s, fmt.Errorf("policy %s: %w", policyARN, err)
	}
	roleName := roleARN[strings.LastIndex(roleARN, "/")+1:]
	role, err := h.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(roleName)})
	if err != nil {
		return s, err
	}
	if s.Trust, err = canonical(aws.ToString(role.Role.AssumeRolePolicyDocument)); err != nil {
		return s, fmt.Errorf("trust of role %s: %w", roleName, err)
	}
	att, err := h.iam.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String(roleName)})
	if err != nil {
		return s, err
	}
	for _, p := range att.AttachedPolicies {
		s.Attached = append(s.Attached, aws.ToString(p.PolicyArn))
	}
	sort.Strings(s.Attached)

	sa, err := h.kube.CoreV1().ServiceAccounts(ns).Get(ctx, benchSA, metav1.GetOptions{})
	if err != nil {
		return s, err
	}
	s.Annotations = map[string]string{}
	for k, v := range sa.Annotations {
		if strings.HasPrefix(k, "eks.amazonaws.com/") {
			s.Annotations[k] = v
		}
	}
	d, err := h.kube.AppsV1().Deployments(ns).Get(ctx, benchDeployment, metav1.GetOptions{})
	if err != nil {
		return s, err
	}
	spec := d.Spec.Template.Spec
	s.DeploymentSA = spec.ServiceAccountName
	if spec.SecurityContext != nil {
		s.FSGroup = spec.SecurityContext.FSGroup
	}
	if d.Spec.Selector != nil {
		s.Selector = d.Spec.Selector.MatchLabels
	}
	s.Labels = d.Spec.Template.Labels
	for _, c := range spec.Containers {
		s.Containers = append(s.Containers, c.Name+"="+c.Image)
	}
	s.names = []string{roleARN, policyARN, ns}
	return s, nil
}

// canonical is doc in canonical form without its Sids: they name statements (bind's name the bindings a
// shared policy serves) and do not change what a policy allows.
func canonical(doc string) (json.RawMessage, error) {
	p, err := iampolicy.Parse([]byte(doc))
	if err != nil {
		return nil, err
	}
	for i := range p.Statements {
		p.Statements[i].Sid = ""
	}
	return json.RawMessage(p.Canonical()), nil
}

// canonicalGrant is canonical for a permissions policy, with each Sid as the guide writes it: bind's Sids
// also name the bindings a statement serves (S3BucketForB1a2b3c4d), which the guide's policy has no use for.
func canonicalGrant(doc string) (json.RawMessage, error) {
	p, err := iampolicy.Parse([]byte(doc))
	if err != nil {
		return nil, err
	}
	for i := range p.Statements {
		if base, _, ok := vocab.ParseBindingSid(p.Statements[i].Sid); ok {
			p.Statements[i].Sid = base
		}
	}
	return json.RawMessage(p.Canonical()), nil
}

func sorted(in []string) []string {
	out := append([]string(nil), in...)
	sort.Strings(out)
	return out
}

// normalized is the state as JSON with its own role, policy and namespace names replaced.
func (s endState) normalized() string {
	b, _ := json.MarshalIndent(s, "", "  ")
	out := string(b)
	for i, n := range s.names {
		out = strings.ReplaceAll(out, n, []string{"<ROLE_ARN>", "<POLICY_ARN>", "<NAMESPACE>"}[i])
	}
	return out
}

// diff is "" when both states work the same way, else both, normalized.
func (s endState) diff(o endState) string {
	a, b := s.normalized(), o.normalized()
	if a == b {
		return ""
	}
	return "bind made:\n" + a + "\nthe guide made:\n" + b
}
