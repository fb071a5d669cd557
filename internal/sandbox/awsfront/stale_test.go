package awsfront

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
)

// Within the consistency window after an update of a trust or of a policy's default version, some
// readers (connections) still see the previous document and the others the new one, each consistently;
// after the window, and without one, everybody sees the new one.
func TestStaleReadsAfterUpdates(t *testing.T) {
	integration(t)
	t.Parallel()
	ctx := context.Background()
	f, u := newFront(t, Config{MotoURL: shared.moto.URL, Seed: 7})
	admin := newClients(adminConfig(u))
	role := uniqueName("stale")
	// Made in moto directly: the creation window is another matter (consistency.go).
	createRole(t, f.iam, role, trusting("arn:aws:iam::"+shared.creds.AccountID+":role/old"))
	pol, err := f.iam.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String(uniqueName("stale")), PolicyDocument: aws.String(policyDoc(allow("s3:GetObject", "*")))})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(pol.Policy.Arn)

	// Readers of their own: each client has its own connections.
	readers := make([]*iam.Client, 12)
	for i := range readers {
		cfg := adminConfig(u)
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{}}
		readers[i] = iam.NewFromConfig(cfg)
	}
	read := func(c *iam.Client) (trust, version string) {
		t.Helper()
		r, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(role)})
		if err != nil {
			t.Fatal(err)
		}
		p, err := c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(arn)})
		if err != nil {
			t.Fatal(err)
		}
		doc, _ := url.QueryUnescape(aws.ToString(r.Role.AssumeRolePolicyDocument))
		return doc, aws.ToString(p.Policy.DefaultVersionId)
	}

	f.SetFaults(Faults{ConsistencyDelayMS: 60_000})
	if _, err := admin.iam.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String(role),
		PolicyDocument: aws.String(trusting("arn:aws:iam::" + shared.creds.AccountID + ":role/new"))}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.iam.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: aws.String(arn), SetAsDefault: true,
		PolicyDocument: aws.String(policyDoc(allow("s3:PutObject", "*")))}); err != nil {
		t.Fatal(err)
	}
	// behind[0] and ahead[0] count the readers of the trust, [1] those of the policy.
	var behind, ahead [2]int
	for _, c := range readers {
		trust, version := read(c)
		switch {
		case strings.Contains(trust, "role/old"):
			behind[0]++
		case strings.Contains(trust, "role/new"):
			ahead[0]++
		default:
			t.Fatalf("a reader saw trust %s", trust)
		}
		switch version {
		case "v1":
			behind[1]++
		case "v2":
			ahead[1]++
		default:
			t.Fatalf("a reader saw default version %s", version)
		}
		// The same reader sees the same state again.
		if again, v := read(c); again != trust || v != version {
			t.Errorf("a reader saw %s/%s, then %s/%s", trust, version, again, v)
		}
	}
	for i, doc := range []string{"trust", "policy"} {
		if behind[i] == 0 || ahead[i] == 0 {
			t.Errorf("within the window %d readers saw the previous %s and %d the new one; want some of each", behind[i], doc, ahead[i])
		}
	}
	f.SetFaults(Faults{})
	for _, c := range readers {
		if trust, version := read(c); !strings.Contains(trust, "role/new") || version != "v2" {
			t.Errorf("without a window a reader saw %s and version %s", trust, version)
		}
	}
	t.Logf("within the window: trust %d readers behind, %d caught up; policy %d behind, %d caught up", behind[0], ahead[0], behind[1], ahead[1])
}

// What the window is for: a second writer that reads the trust from a replica still behind, edits it and
// writes it drops the first writer's statement, though the first writer's own read-back had shown it. Only
// writers that agree on an order (kubectl-sdc's Lease, pkg/bind) avoid it.
func TestStaleReadLosesAnUnserialisedEdit(t *testing.T) {
	integration(t)
	t.Parallel()
	ctx := context.Background()
	f, u := newFront(t, Config{MotoURL: shared.moto.URL, Seed: 11})
	role := uniqueName("lost")
	base := "arn:aws:iam::" + shared.creds.AccountID + ":role/"
	createRole(t, f.iam, role, trusting(base+"base"))
	f.SetFaults(Faults{ConsistencyDelayMS: 60_000})
	// Writer A and a set of candidate second writers, each on connections of its own.
	client := func() *iam.Client {
		cfg := adminConfig(u)
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{}}
		return iam.NewFromConfig(cfg)
	}
	trustSeen := func(c *iam.Client) string {
		r, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(role)})
		if err != nil {
			t.Fatal(err)
		}
		doc, _ := url.QueryUnescape(aws.ToString(r.Role.AssumeRolePolicyDocument))
		return doc
	}
	a := client()
	if _, err := a.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String(role), PolicyDocument: aws.String(trusting(base+"base", base+"writer-a"))}); err != nil {
		t.Fatal(err)
	}
	// B is the first candidate whose replica is still behind.
	var b *iam.Client
	for range 32 {
		if c := client(); !strings.Contains(trustSeen(c), "writer-a") {
			b = c
			break
		}
	}
	if b == nil {
		t.Fatal("no reader of 32 was behind within the window")
	}
	// B edits what it read (base alone), adding its own principal, and writes it.
	read, err := iampolicy.Parse([]byte(trustSeen(b)))
	if err != nil {
		t.Fatal(err)
	}
	read.Statements[0].Principal.Values["AWS"] = append(read.Statements[0].Principal.Values["AWS"], base+"writer-b")
	if _, err := b.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String(role), PolicyDocument: aws.String(string(read.Compact()))}); err != nil {
		t.Fatal(err)
	}
	f.SetFaults(Faults{})
	if got := trustSeen(client()); strings.Contains(got, "writer-a") || !strings.Contains(got, "writer-b") {
		t.Errorf("the trust after both writes: %s; want writer-a's statement lost to writer-b's stale edit", got)
	}
}
