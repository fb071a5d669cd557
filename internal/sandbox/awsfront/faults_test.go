package awsfront

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// oneCallPerService makes one read of each service; it returns the error of each, keyed by by_action key.
func oneCallPerService(ctx context.Context, c clients) map[string]error {
	_, iamErr := c.iam.ListRoles(ctx, &iam.ListRolesInput{})
	_, stsErr := c.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	_, eksErr := c.eks.ListClusters(ctx, &eks.ListClustersInput{})
	_, s3Err := c.s3.ListBuckets(ctx, &s3.ListBucketsInput{})
	return map[string]error{"iam:ListRoles": iamErr, "sts:GetCallerIdentity": stsErr, "eks:ListClusters": eksErr, "s3:ListBuckets": s3Err}
}

func TestFaultShapes(t *testing.T) {
	integration(t)
	t.Parallel()
	cases := []struct {
		name   string
		faults Faults
		want   map[string][2]any // key -> {code, HTTP status}
	}{
		{"throttle", Faults{ThrottleRate: 1}, map[string][2]any{
			"iam:ListRoles": {"Throttling", 400}, "sts:GetCallerIdentity": {"Throttling", 400},
			"eks:ListClusters": {"ThrottlingException", 429}, "s3:ListBuckets": {"SlowDown", 503},
		}},
		{"error", Faults{ErrorRate: 1}, map[string][2]any{
			"iam:ListRoles": {"InternalFailure", 500}, "sts:GetCallerIdentity": {"InternalFailure", 500},
			"eks:ListClusters": {"ServerException", 500}, "s3:ListBuckets": {"InternalError", 500},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, url := newFront(t, Config{Faults: tc.faults, EKS: shared.eks})
			// Three attempts each: the SDK must retry these errors as it would real ones.
			cfg := adminConfig(url)
			cfg.RetryMaxAttempts = 3
			// No waiting between attempts: what matters is that the SDK classifies the errors as retryable.
			cfg.Retryer = func() aws.Retryer {
				return retry.NewStandard(func(o *retry.StandardOptions) {
					o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
				})
			}
			errs := oneCallPerService(context.Background(), newClients(cfg))
			calls := f.Calls()
			for key, want := range tc.want {
				code, _, status := apiError(t, errs[key])
				if code != want[0] || status != want[1] {
					t.Errorf("%s: got %s HTTP %d; want %s HTTP %d", key, code, status, want[0], want[1])
				}
				if n := calls.ByAction[key]; n != 3 {
					t.Errorf("%s reached the front %d times; want 3 (the SDK retries throttling and 5xx)", key, n)
				}
			}
		})
	}
}

func TestFaultRatesAreSeeded(t *testing.T) {
	integration(t)
	t.Parallel()
	outcomes := func() []bool {
		_, url := newFront(t, Config{Seed: 42, Faults: Faults{ThrottleRate: 0.5}})
		c := newClients(adminConfig(url))
		var got []bool
		for i := 0; i < 20; i++ {
			_, err := c.iam.ListRoles(context.Background(), &iam.ListRolesInput{})
			got = append(got, err != nil)
		}
		return got
	}
	a, b := outcomes(), outcomes()
	if !slices.Equal(a, b) {
		t.Fatalf("the same seed gave different outcomes:\n%v\n%v", a, b)
	}
	n := 0
	for _, failed := range a {
		if failed {
			n++
		}
	}
	if n == 0 || n == len(a) {
		t.Fatalf("throttle_rate 0.5 throttled %d of %d calls; want some but not all", n, len(a))
	}
}

func TestLatency(t *testing.T) {
	integration(t)
	t.Parallel()
	_, url := newFront(t, Config{Faults: Faults{LatencyMS: 300}})
	c := newClients(adminConfig(url))
	start := time.Now()
	if _, err := c.sts.GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{}); err != nil {
		t.Fatal(err)
	}
	// A lower bound only: the front must have waited; how fast the rest is does not matter here.
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Fatalf("call took %s with latency_ms 300; want at least 300ms", d)
	}
}

func TestFailAfterWrites(t *testing.T) {
	integration(t)
	t.Parallel()
	ctx := context.Background()
	f, url := newFront(t, Config{Faults: Faults{FailAfterWrites: 2}})
	c := newClients(adminConfig(url))
	trust := `{"Version":"2012-10-17","Statement":[]}`
	create := func() (string, error) {
		name := uniqueName("faw")
		_, err := c.iam.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(trust)})
		return name, err
	}
	first, err := create()
	if err != nil {
		t.Fatalf("write 1 of 2 allowed: %v", err)
	}
	if _, err := create(); err != nil {
		t.Fatalf("write 2 of 2 allowed: %v", err)
	}
	for i := 0; i < 2; i++ {
		name, err := create()
		if code, _, status := apiError(t, err); code != "InternalFailure" || status != 500 {
			t.Fatalf("write after the limit: %s HTTP %d; want InternalFailure 500", code, status)
		}
		// The failed write must not have happened.
		if _, err := shared.front.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)}); err == nil {
			t.Fatalf("role %s exists although its create failed", name)
		}
	}
	if _, err := c.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(first)}); err != nil {
		t.Fatalf("reads must still pass after the write limit: %v", err)
	}
	_, err = c.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(strings.ToLower(uniqueName("faw"))), CreateBucketConfiguration: usWest2})
	if code, _, status := apiError(t, err); code != "InternalError" || status != 500 {
		t.Fatalf("an S3 write after the limit: %s HTTP %d; want InternalError 500", code, status)
	}
	f.SetFaults(Faults{})
	if _, err := create(); err != nil {
		t.Fatalf("writes must pass again after the faults are reset: %v", err)
	}
}

func TestConsistencyDelay(t *testing.T) {
	integration(t)
	t.Parallel()
	ctx := context.Background()
	admin := newClients(adminConfig(shared.url))
	// Made before the window is on: visible to everything.
	is := newIssuer(t)
	oldProvider := createProvider(t, admin.iam, is, []string{"sts.amazonaws.com"}, []string{is.CAThumbprint})

	f, url := newFront(t, Config{Faults: Faults{ConsistencyDelayMS: 600_000}})
	c := newClients(adminConfig(url))
	role := uniqueName("eventual")
	roleARN := createRole(t, c.iam, role, trustPolicy(shared.creds.AccountID, is.Host, "StringEquals", "system:serviceaccount:ns:sa", "sts.amazonaws.com"))
	pol, err := c.iam.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String(role), PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	polARN := aws.ToString(pol.Policy.Arn)
	is2 := newIssuer(t)
	newProvider := createProvider(t, c.iam, is2, []string{"sts.amazonaws.com"}, []string{is2.CAThumbprint})
	visibleRole := uniqueName("visible")
	createRole(t, admin.iam, visibleRole, `{"Version":"2012-10-17","Statement":[]}`) // through the shared front: outside this window

	notFound := func(name string, err error) {
		t.Helper()
		if code, _, status := apiError(t, err); code != "NoSuchEntity" || status != 404 {
			t.Errorf("%s inside the window: %s HTTP %d; want NoSuchEntity 404", name, code, status)
		}
	}
	_, err = c.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(role)})
	notFound("GetRole", err)
	_, err = c.iam.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(polARN)})
	notFound("GetPolicy", err)
	_, err = c.iam.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: aws.String(polARN), VersionId: aws.String("v1")})
	notFound("GetPolicyVersion", err)
	_, err = c.iam.GetOpenIDConnectProvider(ctx, &iam.GetOpenIDConnectProviderInput{OpenIDConnectProviderArn: aws.String(newProvider)})
	notFound("GetOpenIDConnectProvider", err)
	_, err = c.iam.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String(role), PolicyArn: aws.String(polARN)})
	notFound("AttachRolePolicy (new role)", err)
	_, err = c.iam.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String(visibleRole), PolicyArn: aws.String(polARN)})
	notFound("AttachRolePolicy (new policy)", err)
	_, err = c.iam.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String(role), PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[]}`)})
	notFound("UpdateAssumeRolePolicy", err)
	_, err = c.iam.TagRole(ctx, &iam.TagRoleInput{RoleName: aws.String(role), Tags: []iamtypes.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
	notFound("TagRole", err)
	if _, err := c.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(visibleRole)}); err != nil {
		t.Errorf("a role created outside the window must be visible: %v", err)
	}

	roles, err := c.iam.ListRoles(ctx, &iam.ListRolesInput{})
	if err != nil {
		t.Fatal(err)
	}
	var roleNames []string
	for _, r := range roles.Roles {
		roleNames = append(roleNames, aws.ToString(r.RoleName))
	}
	if slices.Contains(roleNames, role) || !slices.Contains(roleNames, visibleRole) {
		t.Errorf("ListRoles inside the window = %v; want %s hidden and %s listed", roleNames, role, visibleRole)
	}
	pols, err := c.iam.ListPolicies(ctx, &iam.ListPoliciesInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pols.Policies {
		if aws.ToString(p.Arn) == polARN {
			t.Errorf("ListPolicies inside the window lists %s", polARN)
		}
	}
	provs, err := c.iam.ListOpenIDConnectProviders(ctx, &iam.ListOpenIDConnectProvidersInput{})
	if err != nil {
		t.Fatal(err)
	}
	var provARNs []string
	for _, p := range provs.OpenIDConnectProviderList {
		provARNs = append(provARNs, aws.ToString(p.Arn))
	}
	if slices.Contains(provARNs, newProvider) || !slices.Contains(provARNs, oldProvider) {
		t.Errorf("ListOpenIDConnectProviders inside the window = %v; want %s hidden and %s listed", provARNs, newProvider, oldProvider)
	}

	// STS does not see them either.
	anon := sts.NewFromConfig(awsConfig(url, aws.AnonymousCredentials{}))
	_, err = anon.AssumeRoleWithWebIdentity(ctx, &sts.AssumeRoleWithWebIdentityInput{
		RoleArn: aws.String(roleARN), RoleSessionName: aws.String("s"), WebIdentityToken: aws.String(is.token(t, is.claims("ns", "sa", "sts.amazonaws.com"))),
	})
	if code, _, _ := apiError(t, err); code != "AccessDenied" {
		t.Errorf("STS with a role inside the window: %s; want AccessDenied", code)
	}
	_, err = anon.AssumeRoleWithWebIdentity(ctx, &sts.AssumeRoleWithWebIdentityInput{
		RoleArn: aws.String(roleARN), RoleSessionName: aws.String("s"), WebIdentityToken: aws.String(is2.token(t, is2.claims("ns", "sa", "sts.amazonaws.com"))),
	})
	if code, msg, _ := apiError(t, err); code != "InvalidIdentityToken" || !strings.Contains(msg, "No OpenIDConnect provider found") {
		t.Errorf("STS with a provider inside the window: %s %q; want InvalidIdentityToken, no provider", code, msg)
	}

	// When the window closes everything is there.
	f.SetFaults(Faults{ConsistencyDelayMS: 1})
	if _, err := c.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(role)}); err != nil {
		t.Errorf("GetRole after the window: %v", err)
	}
	if _, err := c.iam.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String(role), PolicyArn: aws.String(polARN)}); err != nil {
		t.Errorf("AttachRolePolicy after the window: %v", err)
	}
	if _, err := anon.AssumeRoleWithWebIdentity(ctx, &sts.AssumeRoleWithWebIdentityInput{
		RoleArn: aws.String(roleARN), RoleSessionName: aws.String("s"), WebIdentityToken: aws.String(is.token(t, is.claims("ns", "sa", "sts.amazonaws.com"))),
	}); err != nil {
		t.Errorf("STS after the window: %v", err)
	}
}

// TestConsistencyDelayEnds shows a short window closing by itself: poll until the role appears.
func TestConsistencyDelayEnds(t *testing.T) {
	integration(t)
	t.Parallel()
	ctx := context.Background()
	_, url := newFront(t, Config{Faults: Faults{ConsistencyDelayMS: 300}})
	c := newClients(adminConfig(url))
	role := uniqueName("short")
	created := time.Now()
	createRole(t, c.iam, role, `{"Version":"2012-10-17","Statement":[]}`)
	sawHidden := false
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := c.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(role)})
		if err == nil {
			break
		}
		if code, _, _ := apiError(t, err); code != "NoSuchEntity" {
			t.Fatalf("GetRole: %v", err)
		}
		sawHidden = true
		if time.Now().After(deadline) {
			t.Fatalf("role %s still invisible %s after its creation with consistency_delay_ms 300", role, time.Since(created))
		}
		time.Sleep(20 * time.Millisecond) // polling interval, not synchronisation
	}
	if !sawHidden && time.Since(created) < 300*time.Millisecond {
		t.Fatal("the role was visible at once inside a 300 ms window")
	}
}

func TestFaultsEndpoint(t *testing.T) {
	integration(t)
	t.Parallel()
	f, url := newFront(t, Config{})
	post := func(body string) (*http.Response, string) {
		resp, err := http.Post(url+"/__sandbox/faults", "application/json", bytes.NewBufferString(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		return resp, readAll(t, resp)
	}
	resp, body := post(`{"latency_ms":100,"throttle_rate":0.3,"error_rate":0.1,"consistency_delay_ms":2000,"fail_after_writes":3}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST faults: HTTP %d %s", resp.StatusCode, body)
	}
	want := Faults{LatencyMS: 100, ThrottleRate: 0.3, ErrorRate: 0.1, ConsistencyDelayMS: 2000, FailAfterWrites: 3}
	if got := f.Faults(); got != want {
		t.Fatalf("after POST Faults() = %+v; want %+v", got, want)
	}
	get, err := http.Get(url + "/__sandbox/faults")
	if err != nil {
		t.Fatal(err)
	}
	var got Faults
	if err := json.NewDecoder(get.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	get.Body.Close()
	if got != want {
		t.Fatalf("GET faults = %+v; want %+v", got, want)
	}
	// POST replaces the whole setting.
	if resp, body := post(`{"latency_ms":5}`); resp.StatusCode != http.StatusOK {
		t.Fatalf("POST faults: HTTP %d %s", resp.StatusCode, body)
	}
	if got := f.Faults(); got != (Faults{LatencyMS: 5}) {
		t.Fatalf("after a second POST Faults() = %+v; want only latency_ms 5", got)
	}
	for _, bad := range []string{`{"throttle_rate":2}`, `{"latency_ms":-1}`, `{"no_such_knob":1}`, `not json`} {
		resp, body := post(bad)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "error") {
			t.Errorf("POST %s: HTTP %d %s; want 400 with an error", bad, resp.StatusCode, body)
		}
	}
	if got := f.Faults(); got != (Faults{LatencyMS: 5}) {
		t.Fatalf("a refused POST changed the faults to %+v", got)
	}
}
