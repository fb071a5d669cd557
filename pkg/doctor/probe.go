package doctor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	authv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/catalog"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// Probe settings: a token that lives as briefly as the TokenRequest API allows, a session as briefly as
// STS allows, and a marker object whose name says who wrote it.
const (
	probeTokenSeconds   = int64(600)
	probeSessionSeconds = int32(900)
	probeSessionName    = "kubectl-sdc-doctor"
	// ProbeMarker is appended to the prefix to name the object --probe-write puts.
	ProbeMarker = ".kubectl-sdc-doctor-probe"
)

// probeAssumeRole: a token minted for the ServiceAccount with its audience, exchanged at STS for the
// role's credentials, exactly as the pod's AWS SDK does.
var probeAssumeRole = Check{
	ID: "probe.assume-role", Layer: LayerProbe, Scope: TargetScope, Probe: true,
	Needs: []string{"kube.role-annotation", "cluster.issuer"},
	Run: func(ctx context.Context, f *Facts, t *Target) Result {
		exp := probeTokenSeconds
		tr, err := f.core.ServiceAccounts(t.Namespace).CreateToken(ctx, t.ServiceAccount, &authv1.TokenRequest{
			Spec: authv1.TokenRequestSpec{Audiences: []string{t.Audience()}, ExpirationSeconds: &exp},
		}, metav1.CreateOptions{})
		if err != nil {
			return fail(fmt.Sprintf("the TokenRequest API gave no token for ServiceAccount %s/%s", t.Namespace, t.ServiceAccount), err.Error(),
				"kubectl apply -f docs/permissions/doctor-rbac.yaml   # and bind ClusterRole kubectl-sdc-doctor-probe (create on serviceaccounts/token) to you")
		}
		client := sts.New(f.aws.STS.Options(), func(o *sts.Options) {
			// The call a pod makes: unsigned, the token is the credential.
			o.Credentials = aws.AnonymousCredentials{}
			if f.Region != "" {
				o.Region = f.Region
			}
		})
		out, err := client.AssumeRoleWithWebIdentity(ctx, &sts.AssumeRoleWithWebIdentityInput{
			RoleArn: aws.String(t.RoleARN), RoleSessionName: aws.String(probeSessionName),
			WebIdentityToken: aws.String(tr.Status.Token), DurationSeconds: aws.Int32(probeSessionSeconds),
		})
		if err != nil {
			return fail(fmt.Sprintf("STS refused ServiceAccount %s/%s for role %s", t.Namespace, t.ServiceAccount, vocab.RoleNameOf(t.RoleARN)),
				"STS said "+awsMessage(err)+stsHint(err), bindFix(f, t))
		}
		t.probeCreds = out.Credentials
		return pass(fmt.Sprintf("STS accepted ServiceAccount %s/%s for role %s", t.Namespace, t.ServiceAccount, vocab.RoleNameOf(t.RoleARN)),
			fmt.Sprintf("session %s, a token with audience %s (the credentials stay in memory)", aws.ToString(out.AssumedRoleUser.Arn), t.Audience()))
	},
}

// awsMessage is an AWS error as "Code: message", the words AWS itself used.
func awsMessage(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode() + ": " + ae.ErrorMessage()
	}
	return err.Error()
}

// stsHint points from STS's terse answer to the check that explains it.
func stsHint(err error) string {
	msg := awsMessage(err)
	switch {
	case strings.Contains(msg, "No OpenIDConnect provider"):
		return " (see iam.oidc-provider)"
	case strings.Contains(msg, "Incorrect token audience"):
		return " (see iam.oidc-audience)"
	case strings.Contains(msg, "Not authorized to perform sts:AssumeRoleWithWebIdentity"):
		return " (the role is missing or its trust does not admit this ServiceAccount: see iam.role and iam.trust)"
	case strings.Contains(msg, "thumbprint"):
		return " (the provider's thumbprint does not match the issuer's certificate)"
	}
	return ""
}

// s3Probe is one bucket and prefix to look at, and whether a marker may be written there.
type s3Probe struct {
	stage, bucket, prefix string
	write                 bool
}

// probeAccess: with the probe's temporary credentials (those of the role the stages assume, when they
// assume one), each S3 stage's bucket answers HeadBucket and a ListObjectsV2 under the prefix; with
// --probe-write, a marker object is put where the stage writes.
var probeAccess = Check{
	ID: "probe.access", Layer: LayerProbe, Scope: TargetScope, Probe: true,
	Needs: []string{"probe.assume-role", "probe.assume-role-target"},
	Run: func(ctx context.Context, f *Facts, t *Target) Result {
		if t.Selection == nil {
			return skip("skipped: no stages known, so nothing to probe", "pass --stage (or --bucket), or bind the role with kubectl sdc bind, which records them")
		}
		probes, others := s3Probes(f.Catalog, *t.Selection)
		if len(probes) == 0 {
			return skip("skipped: no S3 stage to probe", "stages "+strings.Join(others, ", ")+" are not probed: only S3 stages are")
		}
		c, who := t.probeCreds, vocab.RoleNameOf(t.RoleARN)
		if t.targetCreds != nil {
			c, who = t.targetCreds, fmt.Sprintf("%s (assumed from %s)", t.AssumeRoleARN, who)
		}
		client := s3.New(f.aws.S3.Options(), func(o *s3.Options) {
			o.Credentials = credentials.NewStaticCredentialsProvider(aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken))
			if f.Region != "" {
				o.Region = f.Region
			}
		})
		var done, failed []string
		for _, p := range probes {
			where := "s3://" + p.bucket + "/" + p.prefix
			if _, err := client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(p.bucket)}); err != nil {
				failed = append(failed, fmt.Sprintf("HeadBucket %s: %s", p.bucket, s3Message(err)))
				continue
			}
			done = append(done, "HeadBucket "+p.bucket)
			if _, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(p.bucket), Prefix: aws.String(p.prefix), MaxKeys: aws.Int32(1)}); err != nil {
				failed = append(failed, fmt.Sprintf("ListObjectsV2 %s: %s", where, s3Message(err)))
			} else {
				done = append(done, "ListObjectsV2 "+where)
			}
			if f.Options.ProbeWrite && p.write {
				key := p.prefix + ProbeMarker
				_, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(p.bucket), Key: aws.String(key),
					Body: strings.NewReader("written by kubectl sdc doctor --probe-write to prove the role can write here\n")})
				if err != nil {
					failed = append(failed, fmt.Sprintf("PutObject s3://%s/%s: %s", p.bucket, key, s3Message(err)))
				} else {
					done = append(done, fmt.Sprintf("PutObject s3://%s/%s", p.bucket, key))
				}
			}
		}
		note := ""
		if len(others) > 0 {
			note = "; stages " + strings.Join(others, ", ") + " are not probed (only S3 stages are)"
		}
		if len(failed) > 0 {
			ok := ""
			if len(done) > 0 {
				ok = "; answered: " + strings.Join(done, ", ")
			}
			return fail(fmt.Sprintf("role %s cannot reach what its stages use", who),
				strings.Join(failed, "; ")+ok+note, bindFix(f, t))
		}
		return pass(fmt.Sprintf("role %s reaches what its S3 stages use", who), strings.Join(done, ", ")+note)
	},
}

// s3Message is an S3 error in S3's words; HeadBucket has no body, so its status says it.
func s3Message(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		msg := ae.ErrorMessage()
		if msg == "" {
			switch ae.ErrorCode() {
			case "NotFound":
				msg = "the bucket does not exist"
			case "Forbidden":
				msg = "access denied"
			}
		}
		return ae.ErrorCode() + ": " + msg
	}
	return err.Error()
}

// s3Probes are the distinct buckets and prefixes of the selected S3 stages (those with a bucket parameter),
// and the names of the stages that are not probed.
func s3Probes(c *catalog.Catalog, sel catalog.Selection) (probes []s3Probe, others []string) {
	for _, name := range sel.Stages {
		bucket := sel.Params["bucket"]
		s, ok := c.Stage(name)
		if !ok || bucket == "" {
			others = append(others, name)
			continue
		}
		if _, hasBucket := s.Parameter("bucket"); !hasBucket {
			others = append(others, name)
			continue
		}
		write := false
		for _, st := range s.Statements {
			if slices.Contains(st.Actions, "s3:PutObject") && st.When == "" {
				write = true
			}
		}
		p := s3Probe{stage: name, bucket: bucket, prefix: sel.Params["prefix"], write: write}
		merged := false
		for i := range probes {
			if probes[i].bucket == p.bucket && probes[i].prefix == p.prefix {
				probes[i].write = probes[i].write || p.write
				merged = true
			}
		}
		if !merged {
			probes = append(probes, p)
		}
	}
	return probes, others
}
