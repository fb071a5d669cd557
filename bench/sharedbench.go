package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
)

// sharedReport is what a role shared on purpose costs: the trust's size as ServiceAccounts join it, and a
// bind into the role (a trust update) with the reads its write-then-verify adds.
type sharedReport struct {
	// TrustSize is the trust's size (characters, as IAM counts them) by number of ServiceAccounts.
	TrustSize map[int]int `json:"trust_size_by_service_accounts"`
	// PerServiceAccount is the characters each more ServiceAccount costs, from the sizes at 1 and at the most.
	PerServiceAccount float64 `json:"characters_per_service_account"`
	// Join is a bind of one more ServiceAccount into the role, by latency.
	Join []sharedJoin `json:"join"`
}

type sharedJoin struct {
	LatencyMS int `json:"latency_ms"`
	Calls     int `json:"aws_calls"`
	Reads     int `json:"aws_reads"`
	Writes    int `json:"aws_writes"`
	// GetRole calls: bind's observation reads the role once; the trust write reads it fresh before writing
	// and once more after (the verification).
	GetRole int `json:"get_role"`
	// PolicyReads are GetPolicy + GetPolicyVersion: observation, the fresh read before the new version and
	// the read-back after it.
	PolicyReads int            `json:"policy_reads"`
	ByAction    map[string]int `json:"by_action"`
	TimeMS      float64        `json:"time_ms"`
	// KubeRequests are the bind's Kubernetes requests; Leases those of the trust's and the policy's Leases
	// (get, create or update), which serialise the edits of a shared document.
	KubeRequests int `json:"kube_requests"`
	Leases       int `json:"lease_requests"`
}

// benchShared binds ServiceAccounts one after the other into one role (--role-name), measuring each join at
// the first bind latency and, for the last, at every latency.
func benchShared(ctx context.Context, h *harness, cfg config) (*sharedReport, error) {
	const ns, role = "bench-shared", "sdc-bench-shared"
	most := 10
	if cfg.Smoke {
		most = 3
	}
	rep := &sharedReport{TrustSize: map[int]int{}}
	bind := func(i int) []string {
		return []string{"sdc", "bind", "-n", ns, "--service-account", fmt.Sprintf("sa-%02d", i), "--bucket", benchBucket,
			"--role-name", role, "--yes", "-o", "json"}
	}
	h.setLatency(0)
	for i := range most {
		if i == most-1 {
			break // the last join is measured below, at every latency
		}
		s, err := h.measure(ctx, "kubectl-sdc/", "kubectl", bind(i)...)
		if err != nil {
			return nil, err
		}
		if s.cmd.Code != 0 {
			return nil, fmt.Errorf("bind into a shared role failed:\n%s", s.cmd)
		}
		if rep.TrustSize[i+1], err = h.trustSize(ctx, role); err != nil {
			return nil, err
		}
	}
	for j, lat := range cfg.BindLatencies {
		// Each latency joins another ServiceAccount; the role holds most-1+j before it.
		h.setLatency(lat)
		s, err := h.measure(ctx, "kubectl-sdc/", "kubectl", bind(most-1+j)...)
		h.setLatency(0)
		if err != nil {
			return nil, err
		}
		if s.cmd.Code != 0 {
			return nil, fmt.Errorf("bind into a shared role at %d ms failed:\n%s", lat, s.cmd)
		}
		rep.Join = append(rep.Join, sharedJoin{LatencyMS: lat, Calls: s.aws.Total, Reads: s.aws.Reads, Writes: s.aws.Writes,
			GetRole: s.aws.ByAction["iam:GetRole"], PolicyReads: s.aws.ByAction["iam:GetPolicy"] + s.aws.ByAction["iam:GetPolicyVersion"],
			ByAction: s.aws.ByAction, TimeMS: ms(s.cmd.Wall), KubeRequests: s.kube.Requests, Leases: leaseRequests(s.kube)})
		if rep.TrustSize[most+j], err = h.trustSize(ctx, role); err != nil {
			return nil, err
		}
	}
	last := most - 1 + len(cfg.BindLatencies)
	rep.PerServiceAccount = float64(rep.TrustSize[last]-rep.TrustSize[1]) / float64(last-1)
	return rep, nil
}

// trustSize is the size of role's trust policy as IAM counts it.
func (h *harness) trustSize(ctx context.Context, role string) (int, error) {
	out, err := h.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(role)})
	if err != nil {
		return 0, err
	}
	doc, err := url.QueryUnescape(aws.ToString(out.Role.AssumeRolePolicyDocument))
	if err != nil {
		return 0, err
	}
	p, err := iampolicy.Parse([]byte(doc))
	if err != nil {
		return 0, err
	}
	return p.Size(), nil
}

// printShared writes the shared-role figures under the table.
func printShared(w io.Writer, r *sharedReport) {
	if r == nil {
		return
	}
	fmt.Fprintf(w, "\nshared role (--role-name): trust %d characters for 1 ServiceAccount, %d for %d: %.1f per more ServiceAccount\n",
		r.TrustSize[1], r.TrustSize[len(r.TrustSize)], len(r.TrustSize), r.PerServiceAccount)
	for _, j := range r.Join {
		fmt.Fprintf(w, "  bind one more ServiceAccount into it at %d ms: %d AWS calls (%d/%d), iam:GetRole x%d (observation, fresh read before the write, read-back after it), policy reads x%d, %d Kubernetes requests (%d for the Leases), %s\n",
			j.LatencyMS, j.Calls, j.Reads, j.Writes, j.GetRole, j.PolicyReads, j.KubeRequests, j.Leases, fmtDuration(j.TimeMS))
	}
}

// leaseRequests counts the requests on Leases in a run's Kubernetes requests.
func leaseRequests(k kubeSummary) int {
	n := 0
	for what, c := range k.ByVerb {
		if strings.HasSuffix(what, " leases") {
			n += c
		}
	}
	return n
}
