package doctor

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/vocab"
)

// probeAssumeRoleTarget: with the credentials probe.assume-role obtained, STS lets the binding's role
// assume the role the stages assume, as SDC's "Assume Another Role" does; probe.access then uses that
// role's credentials.
var probeAssumeRoleTarget = Check{
	ID: "probe.assume-role-target", Layer: LayerProbe, Scope: TargetScope, Probe: true,
	Needs: []string{"probe.assume-role"},
	Run: func(ctx context.Context, f *Facts, t *Target) Result {
		if t.AssumeRoleARN == "" {
			return pass("the stages assume no other role", "probe.access uses the role's own credentials")
		}
		c := t.probeCreds
		client := sts.New(f.aws.STS.Options(), func(o *sts.Options) {
			o.Credentials = credentials.NewStaticCredentialsProvider(aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken))
			if f.Region != "" {
				o.Region = f.Region
			}
		})
		out, err := client.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(t.AssumeRoleARN),
			RoleSessionName: aws.String(probeSessionName), DurationSeconds: aws.Int32(probeSessionSeconds)})
		from := vocab.RoleNameOf(t.RoleARN)
		if err != nil {
			return fail(fmt.Sprintf("STS refused role %s the role its stages assume, %s", from, t.AssumeRoleARN),
				"STS said "+awsMessage(err)+" (see iam.assume-role-target)", bindFix(f, t))
		}
		t.targetCreds = out.Credentials
		return pass(fmt.Sprintf("STS let role %s assume %s", from, t.AssumeRoleARN),
			fmt.Sprintf("session %s, from the session of %s (the credentials stay in memory)", aws.ToString(out.AssumedRoleUser.Arn), from))
	},
}
