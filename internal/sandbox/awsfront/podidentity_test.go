package awsfront

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	sdcaws "github.com/kubectl-sdc/kubectl-sdc/pkg/aws"
)

// podIdentityTrust is the trust policy EKS documents for Pod Identity roles, with the given actions and an
// optional condition.
func podIdentityTrust(actions []string, cond map[string]map[string]string) string {
	st := map[string]any{"Effect": "Allow", "Principal": map[string]string{"Service": "pods.eks.amazonaws.com"}, "Action": actions}
	if cond != nil {
		st["Condition"] = cond
	}
	b, _ := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": []any{st}})
	return string(b)
}

var (
	bothActions     = []string{"sts:AssumeRole", "sts:TagSession"}
	associationID   = regexp.MustCompile(`^a-[a-z0-9]{17}$`)
	addonARNPattern = regexp.MustCompile(`^arn:aws:eks:us-west-2:[0-9]{12}:addon/sandbox/eks-pod-identity-agent/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
)

// wantAPIError checks an AWS error's code, HTTP status and that its message contains msg.
func wantAPIError(t *testing.T, err error, code string, status int, msg string) {
	t.Helper()
	gotCode, gotMsg, gotStatus := apiError(t, err)
	if gotCode != code || gotStatus != status || !strings.Contains(gotMsg, msg) {
		t.Errorf("got %s HTTP %d %q; want %s HTTP %d containing %q", gotCode, gotStatus, gotMsg, code, status, msg)
	}
}

func TestPodIdentityAssociationLifecycle(t *testing.T) {
	integration(t)
	t.Parallel()
	ctx := context.Background()
	c := newClients(adminConfig(shared.url))
	acct := shared.creds.AccountID
	roleA := createRole(t, c.iam, uniqueName("pi-a"), podIdentityTrust(bothActions, nil))
	roleB := createRole(t, c.iam, uniqueName("pi-b"), podIdentityTrust(bothActions, nil))
	ns := uniqueName("ns")

	before := time.Now().Add(-time.Second)
	created, err := c.eks.CreatePodIdentityAssociation(ctx, &eks.CreatePodIdentityAssociationInput{
		ClusterName: aws.String("sandbox"), Namespace: aws.String(ns), ServiceAccount: aws.String("sdc"),
		RoleArn: aws.String(roleA), Tags: map[string]string{"team": "data"},
	})
	if err != nil {
		t.Fatalf("CreatePodIdentityAssociation: %v", err)
	}
	a := created.Association
	id := aws.ToString(a.AssociationId)
	if !associationID.MatchString(id) {
		t.Errorf("associationId %q is not in EKS's form a-<17 lower-case letters and digits>", id)
	}
	if want := "arn:aws:eks:us-west-2:" + acct + ":podidentityassociation/sandbox/" + id; aws.ToString(a.AssociationArn) != want {
		t.Errorf("associationArn %q; want %q", aws.ToString(a.AssociationArn), want)
	}
	if aws.ToString(a.ClusterName) != "sandbox" || aws.ToString(a.Namespace) != ns || aws.ToString(a.ServiceAccount) != "sdc" ||
		aws.ToString(a.RoleArn) != roleA || a.Tags["team"] != "data" || aws.ToBool(a.DisableSessionTags) {
		t.Errorf("created association %+v", a)
	}
	if a.CreatedAt == nil || a.CreatedAt.Before(before) || a.ModifiedAt == nil || !a.ModifiedAt.Equal(*a.CreatedAt) {
		t.Errorf("createdAt %v, modifiedAt %v; want both now", a.CreatedAt, a.ModifiedAt)
	}

	desc, err := c.eks.DescribePodIdentityAssociation(ctx, &eks.DescribePodIdentityAssociationInput{ClusterName: aws.String("sandbox"), AssociationId: aws.String(id)})
	if err != nil || aws.ToString(desc.Association.RoleArn) != roleA || desc.Association.Tags["team"] != "data" {
		t.Fatalf("DescribePodIdentityAssociation = %+v, %v", desc, err)
	}

	// One association per namespace and ServiceAccount, whatever the role.
	_, err = c.eks.CreatePodIdentityAssociation(ctx, &eks.CreatePodIdentityAssociationInput{
		ClusterName: aws.String("sandbox"), Namespace: aws.String(ns), ServiceAccount: aws.String("sdc"), RoleArn: aws.String(roleB),
	})
	var inUse *ekstypes.ResourceInUseException
	if !errors.As(err, &inUse) {
		t.Errorf("second association for %s/sdc: %v; want ResourceInUseException", ns, err)
	}
	wantAPIError(t, err, "ResourceInUseException", 409, "Association already exists: "+id)

	// A retried create with the same client token is the same association.
	token := uniqueName("tok")
	var ids []string
	for i := 0; i < 2; i++ {
		out, err := c.eks.CreatePodIdentityAssociation(ctx, &eks.CreatePodIdentityAssociationInput{
			ClusterName: aws.String("sandbox"), Namespace: aws.String(ns), ServiceAccount: aws.String("other"), RoleArn: aws.String(roleB), ClientRequestToken: aws.String(token),
		})
		if err != nil {
			t.Fatalf("create with client token, attempt %d: %v", i+1, err)
		}
		ids = append(ids, aws.ToString(out.Association.AssociationId))
	}
	if ids[0] != ids[1] {
		t.Errorf("a retried create made %v; want one association", ids)
	}
	for i := 0; i < 3; i++ {
		if _, err := c.eks.CreatePodIdentityAssociation(ctx, &eks.CreatePodIdentityAssociationInput{
			ClusterName: aws.String("sandbox"), Namespace: aws.String(ns), ServiceAccount: aws.String("extra-" + string(rune('a'+i))), RoleArn: aws.String(roleB),
		}); err != nil {
			t.Fatal(err)
		}
	}

	// List: paged, filtered, summaries without the role, times or tags.
	var pages, total int
	p := eks.NewListPodIdentityAssociationsPaginator(c.eks, &eks.ListPodIdentityAssociationsInput{ClusterName: aws.String("sandbox"), Namespace: aws.String(ns), MaxResults: aws.Int32(2)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		total += len(page.Associations)
		for _, s := range page.Associations {
			if aws.ToString(s.Namespace) != ns || aws.ToString(s.ClusterName) != "sandbox" || !associationID.MatchString(aws.ToString(s.AssociationId)) {
				t.Errorf("summary %+v", s)
			}
		}
	}
	if total != 5 || pages != 3 {
		t.Errorf("listed %d associations in %d pages of 2; want 5 in 3", total, pages)
	}
	raw := rawEKS(t, shared.url, http.MethodGet, "/clusters/sandbox/pod-identity-associations?namespace="+ns+"&serviceAccount=sdc")
	var list struct {
		Associations []map[string]any `json:"associations"`
	}
	if err := json.Unmarshal([]byte(raw), &list); err != nil || len(list.Associations) != 1 {
		t.Fatalf("list filtered by namespace and ServiceAccount = %s", raw)
	}
	for _, k := range []string{"roleArn", "createdAt", "modifiedAt", "tags"} {
		if _, ok := list.Associations[0][k]; ok {
			t.Errorf("a list summary carries %s: %v", k, list.Associations[0])
		}
	}
	_, err = c.eks.ListPodIdentityAssociations(ctx, &eks.ListPodIdentityAssociationsInput{ClusterName: aws.String("sandbox"), NextToken: aws.String("garbage")})
	wantAPIError(t, err, "InvalidParameterException", 400, "nextToken")

	// Update: the role and disableSessionTags; nothing else may change and something must.
	up, err := c.eks.UpdatePodIdentityAssociation(ctx, &eks.UpdatePodIdentityAssociationInput{ClusterName: aws.String("sandbox"), AssociationId: aws.String(id), RoleArn: aws.String(roleB), DisableSessionTags: aws.Bool(true)})
	if err != nil {
		t.Fatalf("UpdatePodIdentityAssociation: %v", err)
	}
	if aws.ToString(up.Association.RoleArn) != roleB || !aws.ToBool(up.Association.DisableSessionTags) || up.Association.ModifiedAt.Before(*a.CreatedAt) || !up.Association.CreatedAt.Equal(*a.CreatedAt) {
		t.Errorf("updated association %+v", up.Association)
	}
	_, err = c.eks.UpdatePodIdentityAssociation(ctx, &eks.UpdatePodIdentityAssociationInput{ClusterName: aws.String("sandbox"), AssociationId: aws.String(id)})
	wantAPIError(t, err, "InvalidParameterException", 400, "At least one of roleArn")

	// Delete returns the association; then it is gone.
	del, err := c.eks.DeletePodIdentityAssociation(ctx, &eks.DeletePodIdentityAssociationInput{ClusterName: aws.String("sandbox"), AssociationId: aws.String(id)})
	if err != nil || aws.ToString(del.Association.AssociationId) != id || aws.ToString(del.Association.RoleArn) != roleB {
		t.Fatalf("DeletePodIdentityAssociation = %+v, %v", del, err)
	}
	for _, call := range []func() error{
		func() error {
			_, err := c.eks.DescribePodIdentityAssociation(ctx, &eks.DescribePodIdentityAssociationInput{ClusterName: aws.String("sandbox"), AssociationId: aws.String(id)})
			return err
		},
		func() error {
			_, err := c.eks.DeletePodIdentityAssociation(ctx, &eks.DeletePodIdentityAssociationInput{ClusterName: aws.String("sandbox"), AssociationId: aws.String(id)})
			return err
		},
		func() error {
			_, err := c.eks.UpdatePodIdentityAssociation(ctx, &eks.UpdatePodIdentityAssociationInput{ClusterName: aws.String("sandbox"), AssociationId: aws.String(id), RoleArn: aws.String(roleA)})
			return err
		},
	} {
		err := call()
		var nf *ekstypes.ResourceNotFoundException
		if !errors.As(err, &nf) {
			t.Errorf("call on the deleted association: %v; want ResourceNotFoundException", err)
		}
		wantAPIError(t, err, "ResourceNotFoundException", 404, id)
	}
}

func TestPodIdentityAssociationRefusals(t *testing.T) {
	integration(t)
	t.Parallel()
	ctx := context.Background()
	c := newClients(adminConfig(shared.url))
	acct := shared.creds.AccountID
	good := createRole(t, c.iam, uniqueName("pi-good"), podIdentityTrust(bothActions, nil))
	irsaOnly := createRole(t, c.iam, uniqueName("pi-irsa"), trustPolicy(acct, "oidc.example.com/id/X", "StringEquals", "system:serviceaccount:ns:sa", "sts.amazonaws.com"))
	noTag := createRole(t, c.iam, uniqueName("pi-notag"), podIdentityTrust([]string{"sts:AssumeRole"}, nil))
	create := func(cluster, ns, sa, role string, mod func(*eks.CreatePodIdentityAssociationInput)) error {
		in := &eks.CreatePodIdentityAssociationInput{ClusterName: aws.String(cluster), Namespace: aws.String(ns), ServiceAccount: aws.String(sa), RoleArn: aws.String(role)}
		if mod != nil {
			mod(in)
		}
		_, err := c.eks.CreatePodIdentityAssociation(ctx, in)
		return err
	}
	ns := uniqueName("ns")
	cases := []struct {
		name, cluster, ns, sa, role string
		mod                         func(*eks.CreatePodIdentityAssociationInput)
		code                        string
		status                      int
		msg                         string
	}{
		{"unknown cluster", "no-such-cluster", ns, "sa", good, nil, "ResourceNotFoundException", 404, "No cluster found for name: no-such-cluster."},
		{"not a role ARN", "sandbox", ns, "sa", "arn:aws:iam::" + acct + ":user/someone", nil, "InvalidParameterException", 400, "is not a valid IAM role ARN"},
		{"role in another account", "sandbox", ns, "sa", "arn:aws:iam::210987654321:role/elsewhere", nil, "InvalidParameterException", 400, "same account as the cluster"},
		{"role missing", "sandbox", ns, "sa", "arn:aws:iam::" + acct + ":role/" + uniqueName("missing"), nil, "InvalidParameterException", 400, "Role provided in the request does not exist"},
		{"trust without the service principal", "sandbox", ns, "sa", irsaOnly, nil, "InvalidParameterException", 400, "Trust policy of the role provided is invalid"},
		{"bad namespace", "sandbox", "Not_A_Namespace", "sa", good, nil, "InvalidParameterException", 400, "not a valid Kubernetes namespace"},
		{"reserved tag", "sandbox", ns, "sa", good, func(in *eks.CreatePodIdentityAssociationInput) { in.Tags = map[string]string{"aws:x": "y"} }, "InvalidParameterException", 400, "reserved prefix"},
		{"target not a role ARN", "sandbox", ns, "sa", good, func(in *eks.CreatePodIdentityAssociationInput) {
			in.TargetRoleArn = aws.String("arn:aws:iam::210987654321:user/target")
		}, "InvalidParameterException", 400, "is not a valid IAM role ARN"},
		{"policy with session tags", "sandbox", ns, "sa", good, func(in *eks.CreatePodIdentityAssociationInput) {
			in.Policy = aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`)
		}, "InvalidParameterException", 400, "set disableSessionTags to true"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantAPIError(t, create(tc.cluster, tc.ns, tc.sa, tc.role, tc.mod), tc.code, tc.status, tc.msg)
		})
	}
	// The trust's actions are EKS Auth's business, per pod: creating with a trust lacking sts:TagSession works.
	if err := create("sandbox", ns, "notag", noTag, nil); err != nil {
		t.Errorf("association with a trust lacking sts:TagSession: %v; EKS accepts it and refuses the pods' credentials later", err)
	}
	// Nothing refused was stored.
	out, err := c.eks.ListPodIdentityAssociations(ctx, &eks.ListPodIdentityAssociationsInput{ClusterName: aws.String("sandbox"), Namespace: aws.String(ns)})
	if err != nil || len(out.Associations) != 1 {
		t.Errorf("associations in %s after the refusals: %+v, %v; want only notag's", ns, out, err)
	}
}

// rawEKS makes a signed EKS call with the admin's keys and returns the body, for shapes the SDK hides.
func rawEKS(t *testing.T, endpoint, method, pathAndQuery string) string {
	t.Helper()
	req, err := http.NewRequest(method, endpoint+pathAndQuery, nil)
	if err != nil {
		t.Fatal(err)
	}
	const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	creds := aws.Credentials{AccessKeyID: shared.creds.AccessKeyID, SecretAccessKey: shared.creds.SecretAccessKey}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, emptySHA256, "eks", "us-west-2", time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	return readAll(t, resp)
}

func TestAddons(t *testing.T) {
	integration(t)
	t.Parallel()
	ctx := context.Background()
	_, url := newFront(t, Config{EKS: shared.eks})
	c := newClients(adminConfig(url))
	describe := func() (*eks.DescribeAddonOutput, error) {
		return c.eks.DescribeAddon(ctx, &eks.DescribeAddonInput{ClusterName: aws.String("sandbox"), AddonName: aws.String(PodIdentityAgentAddon)})
	}

	out, err := describe()
	if err != nil {
		t.Fatalf("the sandbox cluster has no %s: %v", PodIdentityAgentAddon, err)
	}
	a := out.Addon
	if a.Status != ekstypes.AddonStatusActive || !strings.HasPrefix(aws.ToString(a.AddonVersion), "v1.") || !strings.Contains(aws.ToString(a.AddonVersion), "-eksbuild.") ||
		!addonARNPattern.MatchString(aws.ToString(a.AddonArn)) || aws.ToString(a.ClusterName) != "sandbox" || a.CreatedAt == nil {
		t.Errorf("default add-on %+v", a)
	}
	list, err := c.eks.ListAddons(ctx, &eks.ListAddonsInput{ClusterName: aws.String("sandbox")})
	if err != nil || len(list.Addons) != 1 || list.Addons[0] != PodIdentityAgentAddon {
		t.Errorf("ListAddons = %+v, %v", list, err)
	}
	_, err = c.eks.CreateAddon(ctx, &eks.CreateAddonInput{ClusterName: aws.String("sandbox"), AddonName: aws.String(PodIdentityAgentAddon)})
	wantAPIError(t, err, "ResourceInUseException", 409, "Addon already exists.")

	del, err := c.eks.DeleteAddon(ctx, &eks.DeleteAddonInput{ClusterName: aws.String("sandbox"), AddonName: aws.String(PodIdentityAgentAddon)})
	if err != nil || del.Addon.Status != ekstypes.AddonStatusDeleting {
		t.Fatalf("DeleteAddon = %+v, %v; want status DELETING", del, err)
	}
	_, err = describe()
	var nf *ekstypes.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Fatalf("DescribeAddon after delete: %v; want ResourceNotFoundException", err)
	}
	wantAPIError(t, err, "ResourceNotFoundException", 404, "No addon: eks-pod-identity-agent found in cluster: sandbox")
	_, err = c.eks.DeleteAddon(ctx, &eks.DeleteAddonInput{ClusterName: aws.String("sandbox"), AddonName: aws.String(PodIdentityAgentAddon)})
	wantAPIError(t, err, "ResourceNotFoundException", 404, "No addon: eks-pod-identity-agent found in cluster: sandbox")

	cr, err := c.eks.CreateAddon(ctx, &eks.CreateAddonInput{ClusterName: aws.String("sandbox"), AddonName: aws.String(PodIdentityAgentAddon), Tags: map[string]string{"by": "test"}})
	if err != nil || cr.Addon.Status != ekstypes.AddonStatusCreating {
		t.Fatalf("CreateAddon = %+v, %v; want status CREATING", cr, err)
	}
	// The SDK's own waiter sees it become ACTIVE.
	if err := eks.NewAddonActiveWaiter(c.eks).Wait(ctx, &eks.DescribeAddonInput{ClusterName: aws.String("sandbox"), AddonName: aws.String(PodIdentityAgentAddon)}, 30*time.Second); err != nil {
		t.Fatalf("waiting for the add-on to be ACTIVE: %v", err)
	}
	if out, err := describe(); err != nil || out.Addon.Tags["by"] != "test" || aws.ToString(out.Addon.AddonArn) == aws.ToString(a.AddonArn) {
		t.Errorf("re-created add-on %+v, %v; want the tags and a new ARN", out, err)
	}

	_, err = c.eks.CreateAddon(ctx, &eks.CreateAddonInput{ClusterName: aws.String("sandbox"), AddonName: aws.String("no-such-addon")})
	wantAPIError(t, err, "InvalidParameterException", 400, "Addon no-such-addon specified is not supported")
	_, err = c.eks.DescribeAddon(ctx, &eks.DescribeAddonInput{ClusterName: aws.String("no-such-cluster"), AddonName: aws.String(PodIdentityAgentAddon)})
	wantAPIError(t, err, "ResourceNotFoundException", 404, "No cluster found for name: no-such-cluster.")
}

func TestAutoModeKnob(t *testing.T) {
	integration(t)
	t.Parallel()
	ctx := context.Background()
	_, url := newFront(t, Config{EKS: shared.eks})
	c := newClients(adminConfig(url))
	compute := func() *ekstypes.ComputeConfigResponse {
		out, err := c.eks.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String("sandbox")})
		if err != nil {
			t.Fatal(err)
		}
		return out.Cluster.ComputeConfig
	}
	if cc := compute(); cc != nil && aws.ToBool(cc.Enabled) {
		t.Fatalf("Auto Mode is on by default: %+v", cc)
	}
	post := func(body string) (int, string) {
		resp, err := http.Post(url+"/__sandbox/eks/auto-mode", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		return resp.StatusCode, readAll(t, resp)
	}
	if code, body := post(`{"cluster":"sandbox","enabled":true}`); code != 200 {
		t.Fatalf("turning Auto Mode on: %d %s", code, body)
	}
	if cc := compute(); cc == nil || !aws.ToBool(cc.Enabled) || len(cc.NodePools) == 0 {
		t.Errorf("computeConfig with Auto Mode on: %+v", cc)
	}
	if code, body := post(`{"cluster":"nope","enabled":true}`); code != 400 || !strings.Contains(body, `no EKS cluster \"nope\"`) {
		t.Errorf("auto-mode for an unknown cluster: %d %s", code, body)
	}
	if code, body := post(`{"cluster":"sandbox","enable":true}`); code != 400 || !strings.Contains(body, "known fields") {
		t.Errorf("auto-mode with a misspelt field: %d %s", code, body)
	}
	if code, _ := post(`{"cluster":"sandbox","enabled":false}`); code != 200 {
		t.Fatal("turning Auto Mode off failed")
	}
	if cc := compute(); cc != nil && aws.ToBool(cc.Enabled) {
		t.Errorf("Auto Mode still on: %+v", cc)
	}
}

// podCluster is a sandbox-like cluster whose service-account issuer is a test issuer, so that tests can
// sign its pods' tokens.
func podCluster(t *testing.T) (*issuer, *EKSCluster) {
	is := newIssuer(t)
	return is, &EKSCluster{Name: "sandbox", Endpoint: is.URL, CAData: is.CAPEM, Issuer: is.URL, Version: "1.34"}
}

// podClaims are the claims of a pod's projected token for ns/sa with the audience.
func (is *issuer) podClaims(ns, sa, pod, aud string) map[string]any {
	c := is.claims(ns, sa, aud)
	c["kubernetes.io"] = map[string]any{
		"namespace":      ns,
		"serviceaccount": map[string]any{"name": sa, "uid": "11111111-2222-3333-4444-555555555555"},
		"pod":            map[string]any{"name": pod, "uid": "66666666-7777-8888-9999-000000000000"},
	}
	return c
}

// eksAuthClient is the plugin's own EKS Auth client for the front at url, signed with the shared admin's
// keys and without retries, so that each answer of the front is seen as it is.
func eksAuthClient(url string) *sdcaws.EKSAuth {
	return sdcaws.NewEKSAuth(aws.Config{
		Region:       "us-west-2",
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider(shared.creds.AccessKeyID, shared.creds.SecretAccessKey, ""),
		Retryer:      func() aws.Retryer { return aws.NopRetryer{} },
	}, "")
}

func assumeForPod(t *testing.T, url, token string) (*sdcaws.AssumeRoleForPodIdentityOutput, error) {
	t.Helper()
	return eksAuthClient(url).AssumeRoleForPodIdentity(context.Background(), "sandbox", token)
}

func wantEKSAuthError(t *testing.T, err error, code string, status int, msg string) {
	t.Helper()
	var e *sdcaws.EKSAuthError
	if !errors.As(err, &e) {
		t.Fatalf("got %v; want %s", err, code)
	}
	if e.Code != code || e.Status != status || !strings.Contains(e.Message, msg) {
		t.Errorf("got %s HTTP %d %q; want %s HTTP %d containing %q", e.Code, e.Status, e.Message, code, status, msg)
	}
}

func TestAssumeRoleForPodIdentity(t *testing.T) {
	integration(t)
	t.Parallel()
	ctx := context.Background()
	is, cl := podCluster(t)
	f, url := newFront(t, Config{EKS: cl})
	c := newClients(adminConfig(url))
	acct := shared.creds.AccountID
	clusterARN := "arn:aws:eks:us-west-2:" + acct + ":cluster/sandbox"

	ns := uniqueName("ns")
	bucket := strings.ToLower(uniqueName("pi-bkt"))
	other := strings.ToLower(uniqueName("pi-other"))
	for _, b := range []string{bucket, other} {
		if _, err := c.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b), CreateBucketConfiguration: usWest2}); err != nil {
			t.Fatal(err)
		}
	}
	roleName := uniqueName("pi-role")
	// The trust scopes the role to this cluster and namespace with the request tags EKS Auth sends.
	roleARN := createRole(t, c.iam, roleName, podIdentityTrust(bothActions, map[string]map[string]string{
		"StringEquals": {"aws:RequestTag/kubernetes-namespace": ns, "aws:RequestTag/eks-cluster-arn": clusterARN, "aws:SourceAccount": acct},
	}))
	// ABAC: objects under the pod's own namespace, named by the session tag.
	if _, err := c.iam.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(roleName), PolicyName: aws.String("abac"), PolicyDocument: aws.String(
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::` + bucket + `/${aws:PrincipalTag/kubernetes-namespace}/*"}]}`)}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{ns + "/obj", "someone-else/obj"} {
		if _, err := c.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(k), Body: strings.NewReader("{}")}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(other), Key: aws.String(ns + "/obj"), Body: strings.NewReader("{}")}); err != nil {
		t.Fatal(err)
	}
	assoc, err := c.eks.CreatePodIdentityAssociation(ctx, &eks.CreatePodIdentityAssociationInput{
		ClusterName: aws.String("sandbox"), Namespace: aws.String(ns), ServiceAccount: aws.String("sdc"), RoleArn: aws.String(roleARN),
	})
	if err != nil {
		t.Fatal(err)
	}

	out, err := assumeForPod(t, url, is.token(t, is.podClaims(ns, "sdc", "sdc-0", "pods.eks.amazonaws.com")))
	if err != nil {
		t.Fatalf("AssumeRoleForPodIdentity: %v", err)
	}
	if out.Subject.Namespace != ns || out.Subject.ServiceAccount != "sdc" || out.Audience != "pods.eks.amazonaws.com" ||
		out.PodIdentityAssociation.AssociationID != aws.ToString(assoc.Association.AssociationId) || out.PodIdentityAssociation.AssociationARN != aws.ToString(assoc.Association.AssociationArn) {
		t.Errorf("answer %+v", out)
	}
	if !strings.HasPrefix(out.AssumedRoleUser.ARN, "arn:aws:sts::"+acct+":assumed-role/"+roleName+"/eks-sandbox-sdc-0-") || !strings.Contains(out.AssumedRoleUser.AssumeRoleID, ":eks-sandbox-sdc-0-") {
		t.Errorf("assumedRoleUser %+v; want the role's session eks-sandbox-sdc-0-<id>", out.AssumedRoleUser)
	}
	exp := time.Unix(int64(out.Credentials.Expiration), 0)
	if out.Credentials.AccessKeyID == "" || out.Credentials.SessionToken == "" || !exp.After(time.Now()) {
		t.Errorf("credentials %+v", out.Credentials)
	}
	f.mu.Lock()
	tags := f.sessions[out.Credentials.AccessKeyID].Tags
	f.mu.Unlock()
	if tags["eks-cluster-arn"] != clusterARN || tags["eks-cluster-name"] != "sandbox" || tags["kubernetes-namespace"] != ns || tags["kubernetes-service-account"] != "sdc" ||
		tags["kubernetes-pod-name"] != "sdc-0" || tags["kubernetes-pod-uid"] != "66666666-7777-8888-9999-000000000000" {
		t.Errorf("session tags %v", tags)
	}

	// The credentials work in S3 as the role's, with the session tags as aws:PrincipalTag.
	sess := newClients(awsConfig(url, credentials.NewStaticCredentialsProvider(out.Credentials.AccessKeyID, out.Credentials.SecretAccessKey, out.Credentials.SessionToken)))
	if _, err := sess.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(ns + "/obj")}); err != nil {
		t.Errorf("GetObject under the pod's namespace: %v", err)
	}
	for _, o := range [][2]string{{bucket, "someone-else/obj"}, {other, ns + "/obj"}} {
		_, err := sess.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(o[0]), Key: aws.String(o[1])})
		wantAPIError(t, err, "AccessDenied", 403, "is not authorized to perform: s3:GetObject")
	}

	// Refusals, each for one reason.
	otherKey := newIssuer(t)
	expired := is.podClaims(ns, "sdc", "sdc-0", "pods.eks.amazonaws.com")
	expired["iat"], expired["nbf"], expired["exp"] = time.Now().Add(-2*time.Hour).Unix(), time.Now().Add(-2*time.Hour).Unix(), time.Now().Add(-time.Hour).Unix()
	noPod := is.podClaims(ns, "sdc", "sdc-0", "pods.eks.amazonaws.com")
	delete(noPod["kubernetes.io"].(map[string]any), "pod")
	otherNS := uniqueName("ns")
	cases := []struct {
		name, token, code string
		status            int
		msg               string
	}{
		{"audience sts.amazonaws.com", is.token(t, is.podClaims(ns, "sdc", "sdc-0", "sts.amazonaws.com")), "InvalidTokenException", 400, "audience"},
		{"expired", is.token(t, expired), "ExpiredTokenException", 400, "expired"},
		{"signed by another key", signToken(t, otherKey.key, is.kid, is.podClaims(ns, "sdc", "sdc-0", "pods.eks.amazonaws.com")), "InvalidTokenException", 400, "signature"},
		{"not a JWT", "not.a.jwt", "InvalidTokenException", 400, "not a valid JWT"},
		{"not bound to a pod", is.token(t, noPod), "InvalidTokenException", 400, "not bound to a pod"},
		{"no association", is.token(t, is.podClaims(ns, "nobody", "x-0", "pods.eks.amazonaws.com")), "ResourceNotFoundException", 404, "No Pod Identity Association found for service account nobody"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := assumeForPod(t, url, tc.token)
			wantEKSAuthError(t, err, tc.code, tc.status, tc.msg)
		})
	}

	// The trust decides per pod: another namespace's association to the same role fails its condition.
	if _, err := c.eks.CreatePodIdentityAssociation(ctx, &eks.CreatePodIdentityAssociationInput{
		ClusterName: aws.String("sandbox"), Namespace: aws.String(otherNS), ServiceAccount: aws.String("sdc"), RoleArn: aws.String(roleARN),
	}); err != nil {
		t.Fatal(err)
	}
	_, err = assumeForPod(t, url, is.token(t, is.podClaims(otherNS, "sdc", "sdc-0", "pods.eks.amazonaws.com")))
	wantEKSAuthError(t, err, "AccessDeniedException", 400, "EKS does not have permissions to assume the associated role")

	// Without sts:TagSession the role cannot be assumed with tags; with disableSessionTags it can.
	noTag := createRole(t, c.iam, uniqueName("pi-notag"), podIdentityTrust([]string{"sts:AssumeRole"}, nil))
	nt, err := c.eks.CreatePodIdentityAssociation(ctx, &eks.CreatePodIdentityAssociationInput{
		ClusterName: aws.String("sandbox"), Namespace: aws.String(ns), ServiceAccount: aws.String("notag"), RoleArn: aws.String(noTag),
	})
	if err != nil {
		t.Fatal(err)
	}
	notagToken := is.token(t, is.podClaims(ns, "notag", "notag-0", "pods.eks.amazonaws.com"))
	_, err = assumeForPod(t, url, notagToken)
	wantEKSAuthError(t, err, "AccessDeniedException", 400, "EKS does not have permissions to assume the associated role")
	if _, err := c.eks.UpdatePodIdentityAssociation(ctx, &eks.UpdatePodIdentityAssociationInput{ClusterName: aws.String("sandbox"), AssociationId: nt.Association.AssociationId, DisableSessionTags: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	if out, err := assumeForPod(t, url, notagToken); err != nil {
		t.Errorf("with disableSessionTags a trust without sts:TagSession suffices: %v", err)
	} else {
		f.mu.Lock()
		n := len(f.sessions[out.Credentials.AccessKeyID].Tags)
		f.mu.Unlock()
		if n != 0 {
			t.Errorf("disableSessionTags session has %d tags", n)
		}
	}

	// An unknown cluster.
	_, err = eksAuthClient(url).AssumeRoleForPodIdentity(ctx, "no-such-cluster", notagToken)
	wantEKSAuthError(t, err, "ResourceNotFoundException", 404, "No cluster found for name: no-such-cluster.")

	calls := f.Calls()
	if calls.ByAction["eks-auth:AssumeRoleForPodIdentity"] < 10 {
		t.Errorf("by_action eks-auth:AssumeRoleForPodIdentity = %d; want every call counted", calls.ByAction["eks-auth:AssumeRoleForPodIdentity"])
	}
}

// A cluster of moto's own (made through the front) gets associations too, but no add-ons, and EKS Auth
// cannot verify its pods' tokens: moto's clusters have no real apiserver.
func TestPodIdentityOnMotoCluster(t *testing.T) {
	integration(t)
	t.Parallel()
	ctx := context.Background()
	c := newClients(adminConfig(shared.url))
	name := uniqueName("moto")
	if _, err := c.eks.CreateCluster(ctx, &eks.CreateClusterInput{
		Name: aws.String(name), RoleArn: aws.String("arn:aws:iam::" + shared.creds.AccountID + ":role/eks"),
		ResourcesVpcConfig: &ekstypes.VpcConfigRequest{SubnetIds: []string{"subnet-1"}},
	}); err != nil {
		t.Fatalf("CreateCluster in moto: %v", err)
	}
	role := createRole(t, c.iam, uniqueName("pi-moto"), podIdentityTrust(bothActions, nil))
	out, err := c.eks.CreatePodIdentityAssociation(ctx, &eks.CreatePodIdentityAssociationInput{
		ClusterName: aws.String(name), Namespace: aws.String("ns"), ServiceAccount: aws.String("sa"), RoleArn: aws.String(role),
	})
	if err != nil {
		t.Fatalf("association on moto's cluster %s: %v", name, err)
	}
	if want := ":podidentityassociation/" + name + "/"; !strings.Contains(aws.ToString(out.Association.AssociationArn), want) {
		t.Errorf("associationArn %s; want one containing %s", aws.ToString(out.Association.AssociationArn), want)
	}
	_, err = c.eks.DescribeAddon(ctx, &eks.DescribeAddonInput{ClusterName: aws.String(name), AddonName: aws.String(PodIdentityAgentAddon)})
	wantAPIError(t, err, "ResourceNotFoundException", 404, "No addon: eks-pod-identity-agent found in cluster: "+name)
	is := newIssuer(t)
	_, err = eksAuthClient(shared.url).AssumeRoleForPodIdentity(ctx, name, is.token(t, is.podClaims("ns", "sa", "p", "pods.eks.amazonaws.com")))
	wantEKSAuthError(t, err, "InvalidTokenException", 400, "could not be verified")
}
