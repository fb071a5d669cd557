package realtokens

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox"
	sdcaws "github.com/kubectl-sdc/kubectl-sdc/pkg/aws"
)

const podAud = "pods.eks.amazonaws.com"

// podToken asks the TokenRequest API for a token of ns/sa bound to a new pod of that ServiceAccount, the
// token the Pod Identity agent presents for a pod.
func (e *env) podToken(t *testing.T, ns, sa, pod, audience string) string {
	t.Helper()
	ctx := context.Background()
	p, err := e.kube.CoreV1().Pods(ns).Get(ctx, pod, metav1.GetOptions{})
	if err != nil {
		p, err = e.kube.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: pod},
			Spec:       corev1.PodSpec{ServiceAccountName: sa, Containers: []corev1.Container{{Name: "app", Image: "example/app:1"}}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("creating pod %s/%s: %v", ns, pod, err)
		}
	}
	ttl := int64(600)
	tr, err := e.kube.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa, &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		Audiences: []string{audience}, ExpirationSeconds: &ttl,
		BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: p.Name, UID: p.UID},
	}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("TokenRequest for %s/%s bound to pod %s: %v", ns, sa, pod, err)
	}
	return tr.Status.Token
}

func (e *env) podIdentityRole(t *testing.T, name string, actions string) string {
	t.Helper()
	out, err := e.iam.CreateRole(context.Background(), &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":` + actions + `}]}`)})
	if err != nil {
		t.Fatalf("creating role %s: %v", name, err)
	}
	return aws.ToString(out.Role.Arn)
}

func (e *env) associate(t *testing.T, ns, sa, roleARN string) {
	t.Helper()
	if _, err := eks.NewFromConfig(adminConfig(e.sb)).CreatePodIdentityAssociation(context.Background(), &eks.CreatePodIdentityAssociationInput{
		ClusterName: aws.String(sandbox.ClusterName), Namespace: aws.String(ns), ServiceAccount: aws.String(sa), RoleArn: aws.String(roleARN),
	}); err != nil {
		t.Fatalf("associating %s/%s with %s: %v", ns, sa, roleARN, err)
	}
}

// assumeForPod calls EKS Auth as the Pod Identity agent does, with the plugin's own client and without
// retries, so that each answer of the front is seen as it is.
func (e *env) assumeForPod(token string) (*sdcaws.AssumeRoleForPodIdentityOutput, error) {
	return sdcaws.NewEKSAuth(aws.Config{
		Region:       e.sb.Region,
		BaseEndpoint: aws.String(e.sb.AWSEndpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(e.sb.AccessKeyID, e.sb.SecretAccessKey, ""),
		Retryer:      func() aws.Retryer { return aws.NopRetryer{} },
	}, "").AssumeRoleForPodIdentity(context.Background(), sandbox.ClusterName, token)
}

func wantRefusal(t *testing.T, err error, code string, status int, msg string) {
	t.Helper()
	var ae *sdcaws.EKSAuthError
	if !errors.As(err, &ae) {
		t.Fatalf("got %v; want %s", err, code)
	}
	if ae.Code != code || ae.Status != status || !strings.Contains(ae.Message, msg) {
		t.Fatalf("got %s HTTP %d %q; want %s HTTP %d containing %q", ae.Code, ae.Status, ae.Message, code, status, msg)
	}
}

// EKS Auth against tokens the sandbox apiserver really issues for pods, verified with its real keys.
func TestPodIdentityWithKubernetesTokens(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	const ns = "pod-identity"
	e.serviceAccount(t, ns, "sdc")
	e.serviceAccount(t, ns, "notag")
	e.serviceAccount(t, ns, "unassociated")
	roleARN := e.podIdentityRole(t, "pi-sdc", `["sts:AssumeRole","sts:TagSession"]`)
	noTagARN := e.podIdentityRole(t, "pi-notag", `"sts:AssumeRole"`)
	e.associate(t, ns, "sdc", roleARN)
	e.associate(t, ns, "notag", noTagARN)

	admin := s3.NewFromConfig(adminConfig(e.sb), func(o *s3.Options) { o.UsePathStyle = true })
	allowed, denied := "pi-allowed-bucket", "pi-denied-bucket"
	for _, b := range []string{allowed, denied} {
		if _, err := admin.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b), CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraintUsWest2}}); err != nil {
			t.Fatal(err)
		}
		if _, err := admin.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("data.json"), Body: strings.NewReader("{}")}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.iam.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("pi-sdc"), PolicyName: aws.String("read"), PolicyDocument: aws.String(
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::` + allowed + `/*","Condition":{"StringEquals":{"aws:PrincipalTag/kubernetes-service-account":"sdc"}}}]}`)}); err != nil {
		t.Fatal(err)
	}

	t.Run("accepted, and the credentials read what the role allows", func(t *testing.T) {
		out, err := e.assumeForPod(e.podToken(t, ns, "sdc", "sdc-0", podAud))
		if err != nil {
			t.Fatalf("AssumeRoleForPodIdentity with a real pod token: %v", err)
		}
		if out.Subject.Namespace != ns || out.Subject.ServiceAccount != "sdc" || !strings.Contains(out.AssumedRoleUser.ARN, ":assumed-role/pi-sdc/eks-sandbox-sdc-0-") {
			t.Fatalf("answer %+v", out)
		}
		c := out.Credentials
		sess := s3.NewFromConfig(awsConfig(e.sb, credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken)), func(o *s3.Options) { o.UsePathStyle = true })
		if _, err := sess.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(allowed), Key: aws.String("data.json")}); err != nil {
			t.Errorf("GetObject in the bucket the role allows: %v", err)
		}
		_, err = sess.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(denied), Key: aws.String("data.json")})
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDenied" {
			t.Errorf("GetObject in another bucket: %v; want AccessDenied", err)
		}
	})
	cases := []struct {
		name, code, msg string
		status          int
		token           func(t *testing.T) string
	}{
		{"trust without sts:TagSession", "AccessDeniedException", "EKS does not have permissions to assume the associated role", 400,
			func(t *testing.T) string { return e.podToken(t, ns, "notag", "notag-0", podAud) }},
		{"audience sts.amazonaws.com", "InvalidTokenException", "audience", 400,
			func(t *testing.T) string { return e.podToken(t, ns, "sdc", "sdc-0", "sts.amazonaws.com") }},
		{"expired", "ExpiredTokenException", "expired", 400, func(t *testing.T) string {
			// Genuinely signed with the apiserver's key; only the lifetime is over.
			return resign(t, e.podToken(t, ns, "sdc", "sdc-0", podAud), apiserverKey(t, e.sb.ServiceAccountKeyPath), func(c map[string]any) {
				past := time.Now().Add(-2 * time.Hour).Unix()
				c["iat"], c["nbf"], c["exp"] = past, past, past+600
			})
		}},
		{"no association", "ResourceNotFoundException", "No Pod Identity Association found for service account unassociated", 404,
			func(t *testing.T) string { return e.podToken(t, ns, "unassociated", "unassociated-0", podAud) }},
		{"a token not bound to a pod", "InvalidTokenException", "not bound to a pod", 400,
			func(t *testing.T) string { return e.token(t, ns, "sdc", podAud) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.assumeForPod(tc.token(t))
			wantRefusal(t, err, tc.code, tc.status, tc.msg)
		})
	}
}
