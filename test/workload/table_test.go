package workload

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox"
	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox/sandboxtest"
	"github.com/kubectl-sdc/kubectl-sdc/test/harness"
)

// sdcImage is the SDC the bound Deployments run (the image is never pulled: the sandbox has no kubelet).
const sdcImage = "streamsets/datacollector:5.11.0"

func kube(t *testing.T) kubernetes.Interface {
	t.Helper()
	c, err := kubernetes.NewForConfig(sandboxtest.Get(t).RESTConfig)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var bucketSeq atomic.Int64

// newBucket creates a bucket with the keys of an account's administrator: the data lives in that account.
func newBucket(t *testing.T, keyID, secret string) string {
	t.Helper()
	sb := sandboxtest.Get(t)
	c := s3.New(s3.Options{Region: sb.Region, BaseEndpoint: aws.String(sb.AWSEndpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(keyID, secret, "")})
	name := fmt.Sprintf("sdc-wl-%d-%d", time.Now().UnixNano()%1_000_000, bucketSeq.Add(1))
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(name),
		CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraintUsWest2}}); err != nil {
		t.Fatalf("creating bucket %s: %v", name, err)
	}
	return name
}

// A binding setup: the mechanism and where the data is.
type setup struct {
	mechanism string // irsa, pod-identity
	account   string // "" (the binding's role holds the permissions), same-account, cross-account
}

func (s setup) String() string {
	if s.account == "" {
		return s.mechanism
	}
	return s.mechanism + "/" + s.account
}

// binding is what bind made for a setup: the Deployment sdc in ns, its role, the bucket and the role the
// stages assume (with --assume-role-arn).
type binding struct {
	ns, bucket, role, target, targetARN string
}

// bind makes the setup with `kubectl sdc bind ... --yes` as a user would: a bucket where the data lives, and
// with Assume Another Role a target role bind creates through --target-profile (the sandbox's own
// profile for the same account, the second account's for cross-account).
func bind(t *testing.T, s setup) binding {
	t.Helper()
	sb := sandboxtest.Get(t)
	b := binding{ns: harness.NewNamespace(t, kube(t))}
	b.role = "sdc-" + sandbox.ClusterName + "." + sb.Region + "+" + b.ns + "+sdc"
	args := []string{"sdc", "bind", "-n", b.ns, "--deployment", "sdc", "--create-deployment", "--image", sdcImage, "--yes"}
	if s.mechanism == "pod-identity" {
		args = append(args, "--mechanism", "pod-identity")
	}
	b.target = "sdc-wl-target-" + b.ns
	switch s.account {
	case "":
		b.bucket, b.target = newBucket(t, sb.AccessKeyID, sb.SecretAccessKey), ""
	case "same-account":
		b.bucket = newBucket(t, sb.AccessKeyID, sb.SecretAccessKey)
		b.targetARN = "arn:aws:iam::" + sb.AccountID + ":role/" + b.target
		args = append(args, "--assume-role-arn", b.targetARN, "--target-profile", sb.Clusters[0].Profile)
	case "cross-account":
		b.bucket = newBucket(t, sb.Target.AccessKeyID, sb.Target.SecretAccessKey)
		b.targetARN = "arn:aws:iam::" + sb.Target.AccountID + ":role/" + b.target
		args = append(args, "--assume-role-arn", b.targetARN, "--target-profile", sb.Target.Profile)
	}
	args = append(args, "--bucket", b.bucket)
	if r := harness.Run(t, "", nil, "kubectl", args...); r.Code != 0 {
		t.Fatalf("kubectl %s: %s", strings.Join(args, " "), r)
	}
	return b
}

// The workload decides: for each binding setup, each SDK's default credential chain from the bound pod's
// own environment reaches the stage's S3 calls and is refused the others, directly or through SDC's
// "Assume Another Role" (tagged, as SDC makes it) in the same account and across accounts. Every cell of
// the printed table is a real SDK run.
func TestCredentialChains(t *testing.T) {
	setups := []setup{
		{"irsa", ""}, {"irsa", "same-account"}, {"irsa", "cross-account"},
		{"pod-identity", ""}, {"pod-identity", "same-account"}, {"pod-identity", "cross-account"},
	}
	var mu sync.Mutex
	outcomes := map[string]outcome{}
	t.Run("setups", func(t *testing.T) {
		for _, s := range setups {
			t.Run(s.String(), func(t *testing.T) {
				t.Parallel()
				b := bind(t, s)
				st := newSeat(t, b.ns, "sdc")
				for _, c := range chains {
					t.Run(c.name, func(t *testing.T) {
						t.Parallel()
						p := plan{Bucket: b.bucket, Key: c.name + "/" + st.pod, AssumeRoleARN: b.targetARN, Principal: defaultUserName}
						o := c.run(t, st.environ(t), p)
						mu.Lock()
						outcomes[cellKey(s, c)] = o
						mu.Unlock()
						checkOutcome(t, o, s.mechanism, b.role, b.target)
					})
				}
			})
		}
	})
	if len(outcomes) == 0 {
		return
	}
	var out strings.Builder
	out.WriteString("\nsetup\tchain\tS3 calls\n")
	for _, s := range setups {
		for _, c := range chains {
			if o, ok := outcomes[cellKey(s, c)]; ok {
				out.WriteString(s.String() + "\t" + c.name + "\t" + cellText(o) + "\n")
			}
		}
	}
	t.Log(out.String())
	if len(outcomes) == len(setups)*len(chains) {
		checkChainsDoc(t, chainsRows(setups, outcomes))
	}
}

func cellKey(s setup, c chain) string { return s.String() + "\t" + c.name }

// The control: a pod no binding covers has no AWS variables, and each chain run from that environment finds
// no credentials at all (none of the developer's, the sandbox's admin keys or this machine's metadata
// service), so the identities above came from the pods' environments alone.
func TestUnboundPodGetsNoCredentials(t *testing.T) {
	sb := sandboxtest.Get(t)
	bucket := newBucket(t, sb.AccessKeyID, sb.SecretAccessKey)
	s := seat{pod: "unbound", root: t.TempDir()}
	for _, c := range chains {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			o := c.run(t, s.environ(t), plan{Bucket: bucket, Key: c.name + "/unbound"})
			if o.Error == "" || o.Identity != "" || len(o.Calls) != 0 {
				t.Errorf("a chain found an identity in an environment without one: %+v", o)
			}
			t.Logf("%s: %s", c.name, o.Error)
		})
	}
}
