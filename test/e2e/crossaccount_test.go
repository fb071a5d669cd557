package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox/sandboxtest"
	"github.com/kubectl-sdc/kubectl-sdc/pkg/iampolicy"
)

// targetAdmin are AWS clients of the sandbox's second account (210987654321), as its administrator.
func targetAdmin(t *testing.T) admin {
	t.Helper()
	sb := sandboxtest.Get(t)
	cfg := aws.Config{
		Region:       sb.Region,
		Credentials:  credentials.NewStaticCredentialsProvider(sb.Target.AccessKeyID, sb.Target.SecretAccessKey, ""),
		BaseEndpoint: aws.String(sb.AWSEndpoint),
	}
	return admin{cfg: cfg, IAM: iam.NewFromConfig(cfg), S3: s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })}
}

// newTargetBucket creates a bucket in the second account: the data lives where the assumed role is.
func newTargetBucket(t *testing.T) string {
	t.Helper()
	name := fmt.Sprintf("sdc-e2e-data-%d-%d", time.Now().UnixNano()%1_000_000, bucketSeq.Add(1))
	_, err := targetAdmin(t).S3.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(name),
		CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraintUsWest2}})
	if err != nil {
		t.Fatalf("creating bucket %s in the target account: %v", name, err)
	}
	return name
}

// policyDoc reads the default version of a managed policy.
func policyDoc(t *testing.T, c *iam.Client, arn string) *iampolicy.Policy {
	t.Helper()
	ctx := context.Background()
	p, err := c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(arn)})
	if err != nil {
		t.Fatalf("GetPolicy %s: %v", arn, err)
	}
	v, err := c.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: aws.String(arn), VersionId: p.Policy.DefaultVersionId})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := iampolicy.Parse([]byte(aws.ToString(v.PolicyVersion.Document)))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// Cross-account data with SDC's "Assume Another Role": bind --assume-role-arn --target-profile makes the
// target role in the second account (trust admitting the binding's role, the stages' policy attached)
// in the same plan; the binding's role may only assume it; the rerun writes nothing; doctor --probe goes
// through both roles to the bucket; without the target's credentials its check is skipped with the
// reason; a trust broken by hand fails iam.assume-role-target with a fix that repairs it. Not parallel: it
// counts the sandbox's calls.
func TestCrossAccountAssumeRole(t *testing.T) {
	sb := sandboxtest.Get(t)
	ns := newNamespace(t)
	bucket := newTargetBucket(t)
	targetName := "sdc-e2e-target-" + ns
	target := "arn:aws:iam::" + sb.Target.AccountID + ":role/data/" + targetName
	targetPolicy := "arn:aws:iam::" + sb.Target.AccountID + ":policy/data/" + targetName
	args := []string{"-n", ns, "--bucket", bucket, "--deployment", "sdc", "--create-deployment", "--image", sdcImage,
		"--assume-role-arn", target, "--target-profile", sb.Target.Profile, "--yes"}

	r := mustBind(t, args...)
	for _, want := range []string{
		"Assumes  " + target + " in account " + sb.Target.AccountID + ": changed here too, as arn:aws:iam::" + sb.Target.AccountID + ":user/sandbox-target-admin (--target-profile " + sb.Target.Profile + ")",
		"+ create    IAM role " + target + "\n    in account " + sb.Target.AccountID + " (the target account, --target-profile " + sb.Target.Profile + ")",
		"+ create    IAM policy " + targetPolicy + "\n    in account " + sb.Target.AccountID,
		"+ create    IAM role policy attachment " + target + " <- " + targetPolicy,
		"+ create    IAM role " + roleARN(t, ns, "sdc") + "\n    in account " + sb.AccountID + " (the binding's",
		"tag kubectl-sdc/assume-role-arn=" + target,
	} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("the plan lacks %q:\n%s", want, r.Stdout)
		}
	}

	// The binding's role: only SDC's call (sts:AssumeRole, sts:TagSession for SDC's tag key), on exactly the
	// target; the target is recorded on it.
	own := policyDoc(t, awsAdmin(t).IAM, policyARN(t, ns, "sdc"))
	sdcTag := map[string][]string{"aws:TagKeys": {"streamsets/principal"}, "aws:RequestTag/streamsets/principal": {"alice"}}
	for _, q := range []struct {
		action, resource string
		context          map[string][]string
		allowed          bool
	}{
		{"sts:AssumeRole", target, nil, true},
		{"sts:TagSession", target, sdcTag, true},
		{"sts:TagSession", target, map[string][]string{"aws:TagKeys": {"team"}}, false},
		{"sts:AssumeRole", sb.Target.RoleARN, nil, false},
		{"s3:GetObject", "arn:aws:s3:::" + bucket + "/k", nil, false},
	} {
		if d := iampolicy.Evaluate(iampolicy.Request{Action: q.action, Resource: q.resource, Context: q.context}, own); d.Allowed() != q.allowed {
			t.Errorf("the binding's role: %s on %s allowed=%v, want %v\n%s", q.action, q.resource, d.Allowed(), q.allowed, own.Canonical())
		}
	}
	if got := getRole(t, roleName(ns, "sdc")).tags()["kubectl-sdc/assume-role-arn"]; got != target {
		t.Errorf("the binding's role records %q as its target", got)
	}
	// The target role, as the aws CLI of its account shows it.
	tr := getRole(t, targetName, "--profile", sb.Target.Profile)
	if tr.Role.Arn != target || tr.tags()["app.kubernetes.io/managed-by"] != "kubectl-sdc" {
		t.Errorf("target role: %+v", tr.Role)
	}
	ta := targetAdmin(t)
	out, err := ta.IAM.GetRole(context.Background(), &iam.GetRoleInput{RoleName: aws.String(targetName)})
	if err != nil {
		t.Fatal(err)
	}
	trust, err := iampolicy.Parse([]byte(aws.ToString(out.Role.AssumeRolePolicyDocument)))
	if err != nil {
		t.Fatal(err)
	}
	for _, req := range iampolicy.SDCAssumeRoleRequests(roleARN(t, ns, "sdc"), "sdc", "alice") {
		if d := iampolicy.Evaluate(req, trust); !d.Allowed() || len(trust.Statements) != 1 {
			t.Errorf("the target's trust does not admit exactly the binding's role for %s: %v\n%s", req.Action, d, trust.Canonical())
		}
	}
	att, err := ta.IAM.ListAttachedRolePolicies(context.Background(), &iam.ListAttachedRolePoliciesInput{RoleName: aws.String(targetName)})
	if err != nil || len(att.AttachedPolicies) != 1 || aws.ToString(att.AttachedPolicies[0].PolicyArn) != targetPolicy {
		t.Errorf("attached to the target: %+v %v", att, err)
	}
	stages := policyDoc(t, ta.IAM, targetPolicy)
	if d := iampolicy.Evaluate(iampolicy.Request{Action: "s3:PutObject", Resource: "arn:aws:s3:::" + bucket + "/k"}, stages); !d.Allowed() {
		t.Errorf("the target's policy does not grant the stage: %s", stages.Canonical())
	}

	// The rerun: nothing written in either account.
	sb.Front.ResetCalls()
	again := mustBind(t, args...)
	if c := calls(t); c.Writes != 0 || !strings.Contains(again.Stdout, "No changes:") {
		t.Errorf("the rerun wrote: %v\n%s", c.ByAction, again.Stdout)
	}

	// A binding an earlier version made (its role allowed sts:AssumeRole alone): the rerun's plan shows
	// the one update, a new version of the binding's policy, and writes that alone.
	untagged := `{"Version":"2012-10-17","Statement":[{"Sid":"AssumeAnotherRole","Effect":"Allow","Action":"sts:AssumeRole","Resource":"` + target + `"}]}`
	if r := run(t, nil, "aws", "iam", "create-policy-version", "--policy-arn", policyARN(t, ns, "sdc"), "--set-as-default", "--policy-document", untagged); r.Code != 0 {
		t.Fatal(r)
	}
	sb.Front.ResetCalls()
	up := mustBind(t, args...)
	if c := calls(t); c.Writes != 1 || c.ByAction["iam:CreatePolicyVersion"] != 1 || !strings.Contains(up.Stdout, "~ update    IAM policy "+policyARN(t, ns, "sdc")) {
		t.Errorf("the rerun on an earlier binding: %v\n%s", c.ByAction, up.Stdout)
	}

	// doctor --probe, with the target's account readable: web identity, AssumeRole into the target, S3
	// with the target's credentials.
	waitMutatedPod(t, ns, "sdc", roleARN(t, ns, "sdc"))
	rep, dr := doctorJSON(t, "-n", ns, "--probe", "--probe-write", "--target-profile", sb.Target.Profile)
	if dr.Code != 0 {
		t.Fatalf("doctor --probe through both roles: %s\n%s", dr, rep)
	}
	for _, c := range rep.all() {
		if c.Status != "pass" {
			t.Errorf("%s: %s %s (%s)", c.ID, c.Status, c.Title, c.Detail)
		}
	}
	if c := rep.check(t, "probe.assume-role-target"); !strings.Contains(c.Detail, "session arn:aws:sts::"+sb.Target.AccountID+":assumed-role/"+targetName+"/") {
		t.Errorf("probe.assume-role-target: %+v", c)
	}
	if c := rep.check(t, "probe.access"); !strings.Contains(c.Title, target+" (assumed from "+roleName(ns, "sdc")+")") ||
		!strings.Contains(c.Detail, "PutObject s3://"+bucket+"/") {
		t.Errorf("probe.access: %+v", c)
	}
	if c := rep.check(t, "iam.assume-role-target"); !strings.Contains(c.Detail, "read with --target-profile "+sb.Target.Profile) {
		t.Errorf("iam.assume-role-target: %+v", c)
	}

	// Without the target's credentials: skipped, saying why; with credentials of another account, too.
	for _, tc := range []struct {
		args []string
		why  string
	}{
		{nil, "doctor has no credentials of account " + sb.Target.AccountID + ": pass --target-profile PROFILE"},
		{[]string{"--target-profile", "sandbox"}, "--target-profile sandbox's credentials are for account " + sb.AccountID},
		{[]string{"--target-profile", "no-such-profile"}, "--target-profile no-such-profile could not be used"},
	} {
		rep, _ := doctorJSON(t, append([]string{"-n", ns}, tc.args...)...)
		c := rep.check(t, "iam.assume-role-target")
		if c.Status != "skip" || !strings.Contains(c.Title, "account "+sb.Target.AccountID+" of "+target+" is not readable") ||
			!strings.Contains(c.Detail, tc.why) || !strings.Contains(c.Detail, "may call sts:AssumeRole on it") {
			t.Errorf("doctor %v: iam.assume-role-target %+v; want a skip saying %q", tc.args, c, tc.why)
		}
	}

	// The target's trust broken by hand: another statement, and the binding's role admitted for
	// sts:AssumeRole alone (as an earlier version wrote it), so SDC's tagged call is refused.
	// iam.assume-role-target fails naming sts:TagSession with the fix, the probe (SDC's call) agrees, and the
	// fix repairs it, keeping both statements.
	ec2 := `{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}`
	broken := `{"Version":"2012-10-17","Statement":[` + ec2 + `,{"Effect":"Allow","Principal":{"AWS":"` + roleARN(t, ns, "sdc") + `"},"Action":"sts:AssumeRole"}]}`
	if r := run(t, nil, "aws", "--profile", sb.Target.Profile, "iam", "update-assume-role-policy", "--role-name", targetName, "--policy-document", broken); r.Code != 0 {
		t.Fatal(r)
	}
	rep, dr = doctorJSON(t, "-n", ns, "--probe", "--target-profile", sb.Target.Profile)
	if dr.Code != 1 {
		t.Errorf("doctor on a broken target trust: exit %d, want 1", dr.Code)
	}
	c := rep.check(t, "iam.assume-role-target")
	wantFix := fmt.Sprintf("kubectl sdc bind -n %s --service-account sdc --deployment sdc --bucket %s --assume-role-arn %s --target-profile %s", ns, bucket, target, sb.Target.Profile)
	if c.Status != "fail" || !strings.Contains(c.Title, "the trust of role "+target+" does not let role "+roleName(ns, "sdc")+" assume it as SDC does (sts:TagSession)") || c.Fix != wantFix {
		t.Errorf("iam.assume-role-target: %+v\nwant the fix %s", c, wantFix)
	}
	if p := rep.check(t, "probe.assume-role-target"); p.Status != "fail" || !strings.Contains(p.Detail, "AccessDenied") ||
		!strings.Contains(p.Detail, "is not authorized to perform: sts:TagSession on resource: "+target) || !strings.Contains(p.Detail, "session tag streamsets/principal=admin") {
		t.Errorf("probe.assume-role-target: %+v", p)
	}
	if p := rep.check(t, "probe.access"); p.Status != "skip" {
		t.Errorf("probe.access: %+v", p)
	}
	applyFix(t, c.Fix)
	out, err = ta.IAM.GetRole(context.Background(), &iam.GetRoleInput{RoleName: aws.String(targetName)})
	if err != nil {
		t.Fatal(err)
	}
	fixed, _ := iampolicy.Parse([]byte(aws.ToString(out.Role.AssumeRolePolicyDocument)))
	if len(fixed.Statements) != 3 || !fixed.Statements[0].Equivalent(trustDocument(t, broken).Statements[0]) || !fixed.Statements[1].Equivalent(trustDocument(t, broken).Statements[1]) {
		t.Errorf("the fix did not keep the other statements:\n%s", fixed.Canonical())
	}
	if rep, dr := doctorJSON(t, "-n", ns, "--probe", "--target-profile", sb.Target.Profile); dr.Code != 0 {
		t.Errorf("after the fix: %s\n%s", dr, rep)
	}
}

func trustDocument(t *testing.T, js string) *iampolicy.Policy {
	t.Helper()
	p, err := iampolicy.Parse([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Without --target-profile, bind changes nothing in the target account and prints the exact trust
// statement and policy its owners must add; -o json carries them too. The sandbox's own target role (whose
// trust admits the sandbox account already) stays as it is.
func TestCrossAccountWithoutTargetProfile(t *testing.T) {
	t.Parallel()
	sb := sandboxtest.Get(t)
	ns := newNamespace(t)
	bucket := newTargetBucket(t)
	ctx := context.Background()
	ta := targetAdmin(t)
	before, err := ta.IAM.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("sandbox-target")})
	if err != nil {
		t.Fatal(err)
	}
	r := run(t, nil, "kubectl", "sdc", "bind", "-n", ns, "--bucket", bucket, "--assume-role-arn", sb.Target.RoleARN, "--yes")
	if r.Code != 0 {
		t.Fatal(r)
	}
	for _, want := range []string{
		"Assumes  " + sb.Target.RoleARN + " in account " + sb.Target.AccountID + ": not changed by bind (no --target-profile)",
		"warning: bind changes nothing in account " + sb.Target.AccountID + " (no --target-profile)",
		"For the trust policy of " + sb.Target.RoleARN + " (account " + sb.Target.AccountID + "), a statement:\n{\n  \"Effect\": \"Allow\",\n  \"Principal\": {\n    \"AWS\": \"" + roleARN(t, ns, "sdc") + "\"\n  },\n  \"Action\": [\n    \"sts:AssumeRole\",\n    \"sts:TagSession\"\n  ]\n}\n",
		"A policy to attach to " + sb.Target.RoleARN + " (the stages' permissions):\n{\n  \"Version\": \"2012-10-17\",",
		"\"arn:aws:s3:::" + bucket + "/*\"",
	} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("bind's output lacks %q:\n%s", want, r.Stdout)
		}
	}
	after, err := ta.IAM.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("sandbox-target")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(after.Role.AssumeRolePolicyDocument) != aws.ToString(before.Role.AssumeRolePolicyDocument) {
		t.Errorf("the target's trust changed: %s", aws.ToString(after.Role.AssumeRolePolicyDocument))
	}
	att, err := ta.IAM.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String("sandbox-target")})
	if err != nil || len(att.AttachedPolicies) != 0 {
		t.Errorf("policies were attached to the target: %+v %v", att, err)
	}

	j := kubectl(t, "sdc", "bind", "-n", ns, "--bucket", bucket, "--assume-role-arn", sb.Target.RoleARN, "--dry-run", "-o", "json")
	var out struct {
		AssumeRoleARN    string `json:"assumeRoleArn"`
		AssumeRoleTarget struct {
			Account        string          `json:"account"`
			RoleARN        string          `json:"roleArn"`
			TrustStatement json.RawMessage `json:"trustStatement"`
			Policy         json.RawMessage `json:"policy"`
		} `json:"assumeRoleTarget"`
	}
	if err := json.Unmarshal([]byte(j.Stdout), &out); err != nil || j.Code != 0 {
		t.Fatalf("bind -o json: %v\n%s", err, j)
	}
	st := out.AssumeRoleTarget
	if out.AssumeRoleARN != sb.Target.RoleARN || st.Account != sb.Target.AccountID || !strings.Contains(string(st.TrustStatement), roleARN(t, ns, "sdc")) ||
		!strings.Contains(string(st.Policy), bucket) {
		t.Errorf("bind -o json: %s", j.Stdout)
	}
	// The statement bind prints, put into a trust by hand, admits the binding's role.
	printed := trustDocument(t, `{"Version":"2012-10-17","Statement":[`+string(st.TrustStatement)+`]}`)
	for _, req := range iampolicy.SDCAssumeRoleRequests(roleARN(t, ns, "sdc"), "sdc", "alice") {
		if d := iampolicy.Evaluate(req, printed); !d.Allowed() {
			t.Errorf("the printed trust statement %s does not admit SDC's %s: %v", st.TrustStatement, req.Action, d)
		}
	}

	// doctor knows the target from the role's tag; the sandbox's target role trusts the whole account for
	// sts:AssumeRole alone, so SDC's tagged call fails the trust check, which says what to add.
	rep, _ := doctorJSON(t, "-n", ns, "--target-profile", sb.Target.Profile)
	c := rep.check(t, "iam.assume-role-target")
	if c.Status != "fail" || !strings.Contains(c.Title, "the trust of role "+sb.Target.RoleARN+" does not let role "+roleName(ns, "sdc")+" assume it as SDC does (sts:TagSession)") ||
		!strings.Contains(c.Detail, `"sts:TagSession"`) {
		t.Errorf("iam.assume-role-target: %+v", c)
	}
}
