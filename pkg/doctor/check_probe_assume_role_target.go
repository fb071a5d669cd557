package doctor

import (
	"context"
	"crypto/rand"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// DefaultProbePrincipal is the value of SDC's session tag in the probe's call when --probe-principal is not
// given: the user SDC's own image starts with.
const DefaultProbePrincipal = "admin"

// sdcSessionName is what SDC names an Assume Another Role session when the stage names none: a random UUID.
func sdcSessionName() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// probeAssumeRoleTarget: with the credentials probe.assume-role obtained, STS lets the binding's role
// assume the role the stages assume, with the very call SDC's "Assume Another Role" makes (a UUID session
// name, "Session Timeout" 3600 s, the session tag streamsets/principal: "Set Session Tags" is on by
// default); probe.access then uses that role's credentials.
var probeAssumeRoleTarget = Check{
	ID: "probe.assume-role-target", Layer: LayerProbe, Scope: TargetScope, Probe: true,
	Needs: []string{"probe.assume-role"},
	Run: func(ctx context.Context, f *Facts, t *Target) Result {
		if t.AssumeRoleARN == "" {
			return pass("the stages assume no other role", "probe.access uses the role's own credentials")
		}
		if t.Chain {
			if t.probePodCreds == nil {
				return skip("skipped: EKS Auth gave no credentials to go on with", "see probe.assume-role")
			}
			// EKS Auth already made the second hop: its credentials are the target's.
			t.targetCreds = t.probePodCreds
			return pass(fmt.Sprintf("EKS Auth assumed the association's target role %s", t.AssumeRoleARN),
				fmt.Sprintf("EKS Pod Identity's own chain: role %s, then %s; probe.access uses the target's credentials", vocab.RoleNameOf(t.RoleARN), t.AssumeRoleARN))
		}
		c := t.probeCreds
		if c == nil {
			c = t.probePodCreds // Pod Identity alone
		}
		client := sts.New(f.aws.STS.Options(), func(o *sts.Options) {
			o.Credentials = credentials.NewStaticCredentialsProvider(aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken))
			if f.Region != "" {
				o.Region = f.Region
			}
		})
		user := f.Options.ProbePrincipal
		if user == "" {
			user = DefaultProbePrincipal
		}
		out, err := client.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(t.AssumeRoleARN),
			RoleSessionName: aws.String(sdcSessionName()), DurationSeconds: aws.Int32(vocab.SDCSessionSeconds),
			Tags: []ststypes.Tag{{Key: aws.String(vocab.SDCSessionTagKey), Value: aws.String(user)}}})
		from := vocab.RoleNameOf(t.RoleARN)
		if err != nil {
			return fail(fmt.Sprintf("STS refused role %s the role its stages assume, %s", from, t.AssumeRoleARN),
				fmt.Sprintf("SDC's call (session tag %s=%s, %d s) was refused: STS said %s (see iam.assume-role-target)", vocab.SDCSessionTagKey, user, vocab.SDCSessionSeconds, awsMessage(err)), bindFix(f, t))
		}
		t.targetCreds = out.Credentials
		return pass(fmt.Sprintf("STS let role %s assume %s", from, t.AssumeRoleARN),
			fmt.Sprintf("session %s, from the session of %s, with SDC's session tag %s=%s for %d s (the credentials stay in memory)",
				aws.ToString(out.AssumedRoleUser.Arn), from, vocab.SDCSessionTagKey, user, vocab.SDCSessionSeconds))
	},
}
