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
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"
	authv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sdcaws "github.com/kubectl-sdc/kubectl-sdc/pkg/aws"
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
	Needs: []string{"kube.role-annotation", "eks.pod-identity-association", "cluster.issuer"},
	Run: func(ctx context.Context, f *Facts, t *Target) Result {
		var irsa Result
		if t.UsesIRSA() {
			irsa = probeWebIdentity(ctx, f, t)
			if irsa.Status != Pass || !t.UsesPodIdentity() {
				return irsa
			}
		}
		pod := probePodIdentity(ctx, f, t)
		switch {
		case !t.UsesIRSA() || pod.Status == Fail:
			return pod
		case pod.Status == Skip:
			irsa.Detail += "; EKS Pod Identity not probed: " + strings.TrimPrefix(pod.Title, "skipped: ")
			return irsa
		}
		return pass(fmt.Sprintf("STS and EKS Auth accepted ServiceAccount %s/%s (IRSA and EKS Pod Identity)", t.Namespace, t.ServiceAccount),
			irsa.Title+": "+irsa.Detail+"; "+pod.Title+": "+pod.Detail)
	},
}

// probeWebIdentity is IRSA's probe: a token of the ServiceAccount exchanged at STS.
func probeWebIdentity(ctx context.Context, f *Facts, t *Target) Result {
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
}

// probePodIdentity is EKS Pod Identity's probe, as the agent on the pod's node does it: a token of the
// ServiceAccount bound to one of its pods, with audience pods.eks.amazonaws.com, exchanged at EKS Auth
// (signed with doctor's credentials, as the agent signs with the node role's).
func probePodIdentity(ctx context.Context, f *Facts, t *Target) Result {
	p := podOf(t)
	if p == nil {
		return skip(fmt.Sprintf("skipped: no pod runs under ServiceAccount %s/%s to bind a token to", t.Namespace, t.ServiceAccount),
			"EKS Auth accepts only a token bound to a pod (the kubernetes.io pod claim the Pod Identity agent's token carries); run the Deployment, then probe again")
	}
	exp := probeTokenSeconds
	tr, err := f.core.ServiceAccounts(t.Namespace).CreateToken(ctx, t.ServiceAccount, &authv1.TokenRequest{
		Spec: authv1.TokenRequestSpec{Audiences: []string{vocab.PodIdentityService}, ExpirationSeconds: &exp,
			BoundObjectRef: &authv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: p.Name, UID: p.UID}},
	}, metav1.CreateOptions{})
	if err != nil {
		return fail(fmt.Sprintf("the TokenRequest API gave no token for ServiceAccount %s/%s bound to pod %s", t.Namespace, t.ServiceAccount, p.Name), err.Error(),
			"kubectl apply -f docs/permissions/doctor-rbac.yaml   # and bind ClusterRole kubectl-sdc-doctor-probe (create on serviceaccounts/token) to you")
	}
	out, err := f.aws.EKSAuth().AssumeRoleForPodIdentity(ctx, f.Cluster.Name, tr.Status.Token)
	if err != nil {
		hint, fix := eksAuthHint(f, t, err)
		return fail(fmt.Sprintf("EKS Auth refused ServiceAccount %s/%s", t.Namespace, t.ServiceAccount),
			"EKS Auth said "+awsMessage(err)+hint, fix)
	}
	c := out.Credentials
	t.probePodCreds = &ststypes.Credentials{AccessKeyId: aws.String(c.AccessKeyID), SecretAccessKey: aws.String(c.SecretAccessKey), SessionToken: aws.String(c.SessionToken)}
	return pass(fmt.Sprintf("EKS Auth accepted ServiceAccount %s/%s for role %s", t.Namespace, t.ServiceAccount, assumedRoleName(out.AssumedRoleUser.ARN, t)),
		fmt.Sprintf("session %s through association %s, a token of pod %s with audience %s (the credentials stay in memory)",
			out.AssumedRoleUser.ARN, out.PodIdentityAssociation.AssociationID, p.Name, vocab.PodIdentityService))
}

// assumedRoleName is the role of an assumed-role session ARN (arn:aws:sts::<account>:assumed-role/<role>/
// <session>); the target's association's role when it does not parse.
func assumedRoleName(session string, t *Target) string {
	if _, rest, ok := strings.Cut(session, ":assumed-role/"); ok {
		if role, _, ok := strings.Cut(rest, "/"); ok && role != "" {
			return role
		}
	}
	if t.Association != nil {
		return vocab.RoleNameOf(t.Association.RoleARN)
	}
	return ""
}

// eksAuthHint points from EKS Auth's answer to the check that explains it, with the fix.
func eksAuthHint(f *Facts, t *Target, err error) (hint, fix string) {
	msg := awsMessage(err)
	switch code := sdcaws.ErrorCode(err); {
	case code == "AccessDeniedException" && strings.Contains(msg, "EKS does not have permissions to assume the target role"):
		return " (the target role's trust does not admit EKS's second hop, or the association's role may not assume it: see iam.assume-role-target)", trustFixFor(f, t)
	case code == "AccessDeniedException" && strings.Contains(msg, "EKS does not have permissions to assume the associated role"):
		return " (the role's trust does not let pods.eks.amazonaws.com assume it with sts:AssumeRole and sts:TagSession, or the role is gone: see iam.trust and eks.pod-identity-association)", podIdentityBindFix(f, t)
	case code == "AccessDeniedException" || code == "AccessDenied" || strings.Contains(msg, "not authorized"):
		return " (the credentials doctor uses may not call eks-auth:AssumeRoleForPodIdentity, which the Pod Identity agent calls with the node role's)",
			"attach docs/permissions/doctor-probe-policy.json to the credentials doctor uses (eks-auth:AssumeRoleForPodIdentity on the cluster)"
	case code == "ResourceNotFoundException":
		return " (see eks.pod-identity-association)", podIdentityBindFix(f, t)
	case code == "InvalidTokenException" || code == "ExpiredTokenException":
		return " (EKS Auth did not accept the token the TokenRequest API minted for the pod)", "kubectl get pod " + shellQuote(podOf(t).Name) + " -n " + shellQuote(t.Namespace) + "   # it must exist and run under ServiceAccount " + t.ServiceAccount
	}
	return "", podIdentityBindFix(f, t)
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
		type session struct {
			label string
			creds *ststypes.Credentials
		}
		var sessions []session
		for _, s := range []session{{"web identity", t.probeCreds}, {"EKS Pod Identity", t.probePodCreds}} {
			if s.creds != nil {
				sessions = append(sessions, s)
			}
		}
		who := vocab.RoleNameOf(t.RoleARN)
		if t.targetCreds != nil {
			// The stages act as the role they assume, whichever mechanism gave the first session.
			sessions = []session{{"assumed", t.targetCreds}}
			who = fmt.Sprintf("%s (assumed from %s)", t.AssumeRoleARN, who)
		}
		var done, failed []string
		for _, sess := range sessions {
			label := ""
			if len(sessions) > 1 {
				label = " (" + sess.label + ")"
			}
			d, fl := probeS3(ctx, f, sess.creds, probes, label)
			done, failed = append(done, d...), append(failed, fl...)
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

// probeS3 looks at each probe's bucket with the credentials; label names the session in the lines.
func probeS3(ctx context.Context, f *Facts, c *ststypes.Credentials, probes []s3Probe, label string) (done, failed []string) {
	client := s3.New(f.aws.S3.Options(), func(o *s3.Options) {
		o.Credentials = credentials.NewStaticCredentialsProvider(aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken))
		if f.Region != "" {
			o.Region = f.Region
		}
	})
	for _, p := range probes {
		where := "s3://" + p.bucket + "/" + p.prefix
		if _, err := client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(p.bucket)}); err != nil {
			failed = append(failed, fmt.Sprintf("HeadBucket %s%s: %s", p.bucket, label, s3Message(err)))
			continue
		}
		done = append(done, "HeadBucket "+p.bucket+label)
		if _, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(p.bucket), Prefix: aws.String(p.prefix), MaxKeys: aws.Int32(1)}); err != nil {
			failed = append(failed, fmt.Sprintf("ListObjectsV2 %s%s: %s", where, label, s3Message(err)))
		} else {
			done = append(done, "ListObjectsV2 "+where+label)
		}
		if f.Options.ProbeWrite && p.write {
			key := p.prefix + ProbeMarker
			_, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(p.bucket), Key: aws.String(key),
				Body: strings.NewReader("written by kubectl sdc doctor --probe-write to prove the role can write here\n")})
			if err != nil {
				failed = append(failed, fmt.Sprintf("PutObject s3://%s/%s%s: %s", p.bucket, key, label, s3Message(err)))
			} else {
				done = append(done, fmt.Sprintf("PutObject s3://%s/%s%s", p.bucket, key, label))
			}
		}
	}
	return done, failed
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
