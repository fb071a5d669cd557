package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox"
	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox/awsfront"
	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox/sandboxtest"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
)

// admin are AWS clients with the sandbox's admin keys: the test's own view of the account, independent of
// the plugin's code.
type admin struct {
	cfg aws.Config
	IAM *iam.Client
	STS *sts.Client
	S3  *s3.Client
}

func awsAdmin(t *testing.T) admin {
	t.Helper()
	sb := sandboxtest.Get(t)
	cfg := aws.Config{
		Region:       sb.Region,
		Credentials:  credentials.NewStaticCredentialsProvider(sb.AccessKeyID, sb.SecretAccessKey, ""),
		BaseEndpoint: aws.String(sb.AWSEndpoint),
	}
	return admin{
		cfg: cfg,
		IAM: iam.NewFromConfig(cfg),
		STS: sts.NewFromConfig(cfg),
		S3:  s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }),
	}
}

var bucketSeq atomic.Int64

// newBucket creates a bucket with a unique name.
func newBucket(t *testing.T) string {
	t.Helper()
	name := fmt.Sprintf("sdc-e2e-%d-%d", time.Now().UnixNano()%1_000_000, bucketSeq.Add(1))
	_, err := awsAdmin(t).S3.CreateBucket(context.Background(), &s3.CreateBucketInput{
		Bucket:                    aws.String(name),
		CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraintUsWest2},
	})
	if err != nil {
		t.Fatalf("creating bucket %s: %v", name, err)
	}
	return name
}

// roleName is bind's default role name for a ServiceAccount on the sandbox cluster (short enough never to be
// shortened): sdc-<cluster>.<region>+<namespace>+<serviceaccount>, as docs/bind.md documents it.
func roleName(ns, sa string) string {
	return "sdc-" + sandbox.ClusterName + "." + sandbox.Region + "+" + ns + "+" + sa
}

func roleARN(t *testing.T, ns, sa string) string {
	return fmt.Sprintf("arn:aws:iam::%s:role/%s", sandboxtest.Get(t).AccountID, roleName(ns, sa))
}

func policyARN(t *testing.T, ns, sa string) string {
	return fmt.Sprintf("arn:aws:iam::%s:policy/%s", sandboxtest.Get(t).AccountID, roleName(ns, sa))
}

func providerARN(t *testing.T) string {
	sb := sandboxtest.Get(t)
	return fmt.Sprintf("arn:aws:iam::%s:oidc-provider/%s", sb.AccountID, strings.TrimPrefix(sb.Issuer, "https://"))
}

// trustOf reads a role's trust policy through IAM.
func trustOf(t *testing.T, role string) *iampolicy.Policy {
	t.Helper()
	out, err := awsAdmin(t).IAM.GetRole(context.Background(), &iam.GetRoleInput{RoleName: aws.String(role)})
	if err != nil {
		t.Fatalf("GetRole %s: %v", role, err)
	}
	p, err := iampolicy.Parse([]byte(aws.ToString(out.Role.AssumeRolePolicyDocument)))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func attachedTo(t *testing.T, role string) []string {
	t.Helper()
	out, err := awsAdmin(t).IAM.ListAttachedRolePolicies(context.Background(), &iam.ListAttachedRolePoliciesInput{RoleName: aws.String(role)})
	if err != nil {
		t.Fatalf("ListAttachedRolePolicies %s: %v", role, err)
	}
	var arns []string
	for _, a := range out.AttachedPolicies {
		arns = append(arns, aws.ToString(a.PolicyArn))
	}
	return arns
}

// serviceAccountToken mints a token for ns/sa through the TokenRequest API, as the kubelet does for pods.
func serviceAccountToken(t *testing.T, ns, sa, audience string) string {
	t.Helper()
	tr, err := kube(t).CoreV1().ServiceAccounts(ns).CreateToken(context.Background(), sa, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{Audiences: []string{audience}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("TokenRequest for %s/%s: %v", ns, sa, err)
	}
	return tr.Status.Token
}

// assumeWithToken calls sts:AssumeRoleWithWebIdentity (unsigned, as pods do) and returns the error, if any.
func assumeWithToken(t *testing.T, role, token string) (*sts.AssumeRoleWithWebIdentityOutput, error) {
	t.Helper()
	a := awsAdmin(t)
	anon := sts.NewFromConfig(a.cfg, func(o *sts.Options) { o.Credentials = aws.AnonymousCredentials{} })
	return anon.AssumeRoleWithWebIdentity(context.Background(), &sts.AssumeRoleWithWebIdentityInput{
		RoleArn: aws.String(role), RoleSessionName: aws.String("e2e"), WebIdentityToken: aws.String(token),
	})
}

// calls snapshots the sandbox front's AWS call counts.
func calls(t *testing.T) awsfront.CallCounts { return sandboxtest.Get(t).Front.Calls() }

// kubeRequests returns the plugin's requests in the audit log, after making sure the log has caught up:
// a sentinel request is sent and its own audit event awaited, so every earlier request is in.
func kubeRequests(t *testing.T) []sandbox.AuditEvent {
	t.Helper()
	sb := sandboxtest.Get(t)
	cfg := rest.CopyConfig(sb.RESTConfig)
	sentinel := fmt.Sprintf("e2e-sentinel-%d", time.Now().UnixNano())
	cfg.UserAgent = sentinel
	c, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Get(sb.APIServerURL + "/api/v1/namespaces/default")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if ev, _ := sb.AuditEvents(sentinel); len(ev) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the audit log did not catch up within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	ev, err := sb.AuditEvents("kubectl-sdc/")
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func writes(ev []sandbox.AuditEvent) (n int) {
	for _, e := range ev {
		if e.Mutating() {
			n++
		}
	}
	return n
}
