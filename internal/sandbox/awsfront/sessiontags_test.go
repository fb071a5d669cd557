package awsfront

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"

	"github.com/kubectl-sdc/kubectl-sdc/test/oracle"
)

// SDC's "Assume Another Role" with its defaults (datacollector-oss aws-support AWSUtil): a random UUID
// session name, 3600 s, and the session tag streamsets/principal = the user who started the pipeline.
const sdcTagKey = "streamsets/principal"

func sdcAssumeRole(arn string, tags ...ststypes.Tag) *sts.AssumeRoleInput {
	return &sts.AssumeRoleInput{RoleArn: aws.String(arn), RoleSessionName: aws.String("2f1c7d0e-5b7a-4c39-9b61-0d5d8a4f3e21"),
		DurationSeconds: aws.Int32(3600), Tags: tags}
}

func tag(k, v string) ststypes.Tag { return ststypes.Tag{Key: aws.String(k), Value: aws.String(v)} }

// trustingActions is a trust admitting the AWS principals for the actions.
func trustingActions(actions []string, principals ...string) string {
	return policyDoc(map[string]any{"Effect": "Allow", "Principal": map[string]any{"AWS": principals}, "Action": actions})
}

func TestReadSessionTagsValidates(t *testing.T) {
	long := strings.Repeat("k", 129)
	many := url.Values{}
	for i := 1; i <= 51; i++ {
		many.Set(fmt.Sprintf("Tags.member.%d.Key", i), fmt.Sprintf("k%d", i))
		many.Set(fmt.Sprintf("Tags.member.%d.Value", i), "v")
	}
	big := url.Values{}
	for i := 1; i <= 50; i++ {
		// Values that DEFLATE cannot shrink much: distinct digits of a counter.
		v := strings.Repeat(fmt.Sprintf("%03d", i*7919%1000), 1)
		for len(v) < 250 {
			v += fmt.Sprintf("%x", len(v)*i*2654435761%0xffffff)
		}
		big.Set(fmt.Sprintf("Tags.member.%d.Key", i), fmt.Sprintf("key%d", i))
		big.Set(fmt.Sprintf("Tags.member.%d.Value", i), v[:250])
	}
	inheritor := &principal{Tags: map[string]string{"kubernetes-namespace": "ns1"}, TransitiveKeys: []string{"kubernetes-namespace"}}
	for _, tc := range []struct {
		name     string
		params   url.Values
		caller   *principal
		code     string
		contains string
	}{
		{"no tags", url.Values{}, nil, "", ""},
		{"SDC's tag", url.Values{"Tags.member.1.Key": {sdcTagKey}, "Tags.member.1.Value": {"alice@example.com"}}, nil, "", ""},
		{"51 tags", many, nil, "ValidationError", "less than or equal to 50"},
		{"key too long", url.Values{"Tags.member.1.Key": {long}, "Tags.member.1.Value": {"v"}}, nil, "ValidationError", "between 1 and 128"},
		{"value too long", url.Values{"Tags.member.1.Key": {"k"}, "Tags.member.1.Value": {strings.Repeat("v", 257)}}, nil, "ValidationError", "less than or equal to 256"},
		{"key outside the pattern", url.Values{"Tags.member.1.Key": {"a,b"}, "Tags.member.1.Value": {"v"}}, nil, "ValidationError", "regular expression pattern"},
		{"reserved prefix", url.Values{"Tags.member.1.Key": {"AWS:team"}, "Tags.member.1.Value": {"v"}}, nil, "InvalidParameterValue", "reserved"},
		{"keys equal but for case", url.Values{"Tags.member.1.Key": {"Team"}, "Tags.member.1.Value": {"a"}, "Tags.member.2.Key": {"team"}, "Tags.member.2.Value": {"b"}}, nil, "InvalidParameterValue", "case insensitive"},
		{"transitive key not among the tags", url.Values{"Tags.member.1.Key": {"team"}, "Tags.member.1.Value": {"a"}, "TransitiveTagKeys.member.1": {"project"}}, nil, "InvalidParameterValue", "transitive tag key project"},
		{"overriding an inherited transitive tag", url.Values{"Tags.member.1.Key": {"Kubernetes-Namespace"}, "Tags.member.1.Value": {"other"}}, inheritor, "InvalidParameterValue", "cannot override a transitive tag"},
		{"another key beside inherited ones", url.Values{"Tags.member.1.Key": {sdcTagKey}, "Tags.member.1.Value": {"bob"}}, inheritor, "", ""},
		{"packed size", big, nil, "PackedPolicyTooLarge", "exceeds limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, e, ok := readSessionTags(&call{Params: tc.params}, tc.caller, "")
			switch {
			case tc.code == "" && !ok:
				t.Fatalf("refused: %s %s", e.Code, e.Message)
			case tc.code != "" && ok:
				t.Fatalf("accepted; want %s", tc.code)
			case tc.code != "" && (e.Code != tc.code || !strings.Contains(e.Message, tc.contains)):
				t.Errorf("%s %q; want %s containing %q", e.Code, e.Message, tc.code, tc.contains)
			}
		})
	}
}

// TestTaggedAssumeRole: SDC's tagged call needs sts:TagSession in the target's trust and, across accounts,
// in the caller's permissions; the tags reach the session as principal tags; conditions on the request's
// tags are evaluated; transitive tags follow a chain and cannot be overridden.
func TestTaggedAssumeRole(t *testing.T) {
	integration(t)
	t.Parallel()
	ctx := context.Background()
	x := newCrossAccount(t)
	bucketPolicy := policyDoc(map[string]any{"Effect": "Allow", "Action": "s3:*",
		"Resource":  []string{"arn:aws:s3:::" + x.bucket, "arn:aws:s3:::" + x.bucket + "/*"},
		"Condition": map[string]any{"StringEquals": map[string]any{"aws:PrincipalTag/" + sdcTagKey: "alice"}}})
	_, assumeOnly := x.targetRole(t, trusting(x.irsaARN), bucketPolicy)
	_, withTag := x.targetRole(t, trustingActions([]string{"sts:AssumeRole", "sts:TagSession"}, x.irsaARN), bucketPolicy)
	_, onlyAlice := x.targetRole(t, policyDoc(
		map[string]any{"Effect": "Allow", "Principal": map[string]any{"AWS": x.irsaARN}, "Action": "sts:AssumeRole"},
		map[string]any{"Effect": "Allow", "Principal": map[string]any{"AWS": x.irsaARN}, "Action": "sts:TagSession",
			"Condition": map[string]any{"StringEquals": map[string]any{"aws:RequestTag/" + sdcTagKey: "alice"}}}), bucketPolicy)
	putRolePolicy(t, x.source.iam, x.irsa, policyDoc(allow("sts:AssumeRole", assumeOnly, withTag, onlyAlice)))
	irsa := sts.NewFromConfig(sessionConfig(webIdentity(t, x.is, x.irsaARN)))
	refusal := func(action, arn string) string {
		return "User: arn:aws:sts::" + shared.creds.AccountID + ":assumed-role/" + x.irsa + "/irsa is not authorized to perform: " + action + " on resource: " + arn
	}
	expectDenied := func(t *testing.T, err error, want string) {
		t.Helper()
		code, msg, status := apiError(t, err)
		if code != "AccessDenied" || status != 403 || msg != want {
			t.Errorf("%s %q HTTP %d; want AccessDenied %q", code, msg, status, want)
		}
	}

	// The caller may not tag yet: across accounts its own policy must allow sts:TagSession too.
	_, err := irsa.AssumeRole(ctx, sdcAssumeRole(withTag, tag(sdcTagKey, "alice")))
	expectDenied(t, err, refusal("sts:TagSession", withTag))
	putRolePolicy(t, x.source.iam, x.irsa, policyDoc(allow("sts:AssumeRole", assumeOnly, withTag, onlyAlice), map[string]any{
		"Effect": "Allow", "Action": "sts:TagSession", "Resource": []string{assumeOnly, withTag, onlyAlice},
		"Condition": map[string]any{"ForAllValues:StringEquals": map[string]any{"aws:TagKeys": []string{sdcTagKey}}}}))

	t.Run("a trust without sts:TagSession refuses SDC's tagged call", func(t *testing.T) {
		_, err := irsa.AssumeRole(ctx, sdcAssumeRole(assumeOnly, tag(sdcTagKey, "alice")))
		expectDenied(t, err, refusal("sts:TagSession", assumeOnly))
		if _, err := irsa.AssumeRole(ctx, sdcAssumeRole(assumeOnly)); err != nil {
			t.Errorf("the same call without tags: %v", err)
		}
	})
	t.Run("the caller's policy allows only SDC's tag key", func(t *testing.T) {
		_, err := irsa.AssumeRole(ctx, sdcAssumeRole(withTag, tag(sdcTagKey, "alice"), tag("team", "x")))
		expectDenied(t, err, refusal("sts:TagSession", withTag))
	})
	t.Run("allowed: the session carries the tag as a principal tag", func(t *testing.T) {
		for _, who := range []string{"alice", "bob"} {
			out, err := irsa.AssumeRole(ctx, sdcAssumeRole(withTag, tag(sdcTagKey, who)))
			if err != nil {
				t.Fatalf("AssumeRole as %s: %v", who, err)
			}
			_, err = s3Of(sessionConfig(out.Credentials)).PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(x.bucket), Key: aws.String("k"), Body: strings.NewReader("x")})
			if who == "alice" && err != nil {
				t.Errorf("PutObject by alice's session, which the policy's aws:PrincipalTag condition admits: %v", err)
			}
			if who == "bob" {
				if code, _, _ := apiError(t, err); code != "AccessDenied" {
					t.Errorf("PutObject by bob's session: %s; want AccessDenied (the policy admits alice's tag only)", code)
				}
			}
		}
	})
	t.Run("a trust condition on the request's tag", func(t *testing.T) {
		if _, err := irsa.AssumeRole(ctx, sdcAssumeRole(onlyAlice, tag(sdcTagKey, "alice"))); err != nil {
			t.Errorf("alice: %v", err)
		}
		_, err := irsa.AssumeRole(ctx, sdcAssumeRole(onlyAlice, tag(sdcTagKey, "bob")))
		expectDenied(t, err, refusal("sts:TagSession", onlyAlice))
	})
	t.Run("transitive tags follow the chain and cannot be overridden", func(t *testing.T) {
		// withTag's sessions may assume a third role of the target account, whose policy reads the tag.
		hopName, hop := x.targetRole(t, trustingActions([]string{"sts:AssumeRole", "sts:TagSession"}, withTag), bucketPolicy)
		putRolePolicy(t, x.target.iam, roleNameOf(withTag), policyDoc(allow("sts:AssumeRole", hop), allow("sts:TagSession", hop)))
		in := sdcAssumeRole(withTag, tag(sdcTagKey, "alice"))
		in.TransitiveTagKeys = []string{sdcTagKey}
		first, err := irsa.AssumeRole(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		chained := sts.NewFromConfig(sessionConfig(first.Credentials))
		second, err := chained.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(hop), RoleSessionName: aws.String("hop")})
		if err != nil {
			t.Fatalf("the chained AssumeRole into %s: %v", hopName, err)
		}
		if _, err := s3Of(sessionConfig(second.Credentials)).PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(x.bucket), Key: aws.String("k2"), Body: strings.NewReader("x")}); err != nil {
			t.Errorf("PutObject by the second hop, whose inherited tag the policy admits: %v", err)
		}
		_, err = chained.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(hop), RoleSessionName: aws.String("hop"), Tags: []ststypes.Tag{tag(sdcTagKey, "mallory")}})
		if code, msg, _ := apiError(t, err); code != "InvalidParameterValue" || !strings.Contains(msg, "transitive") {
			t.Errorf("overriding the inherited tag: %s %q; want InvalidParameterValue", code, msg)
		}
	})
}

// TestOracleTaggedAssumeRole: the sandbox's decisions on tagged and untagged AssumeRole requests, same
// account and across accounts, agree with iam-simulate's (sts:AssumeRole and, for a tagged request,
// sts:TagSession, each judged with the role's trust as the resource policy and the caller's policy as its
// identity policy).
func TestOracleTaggedAssumeRole(t *testing.T) {
	integration(t)
	o := oracle.Start(t)
	t.Parallel()
	ctx := context.Background()
	x := newCrossAccount(t)
	account := shared.creds.AccountID

	trusts := map[string]func(principal string) string{
		"assume":     func(p string) string { return trustingActions([]string{"sts:AssumeRole"}, p) },
		"assume+tag": func(p string) string { return trustingActions([]string{"sts:AssumeRole", "sts:TagSession"}, p) },
		"tag-if-alice": func(p string) string {
			return policyDoc(map[string]any{"Effect": "Allow", "Principal": map[string]any{"AWS": p}, "Action": "sts:AssumeRole"},
				map[string]any{"Effect": "Allow", "Principal": map[string]any{"AWS": p}, "Action": "sts:TagSession",
					"Condition": map[string]any{"StringEquals": map[string]any{"aws:RequestTag/" + sdcTagKey: "alice"}}})
		},
	}
	type target struct{ name, arn, trust, account string }
	var targets []target
	for _, tn := range []string{"assume", "assume+tag", "tag-if-alice"} {
		for _, principal := range []string{x.irsaARN, "arn:aws:iam::" + account + ":root"} {
			doc := trusts[tn](principal)
			targets = append(targets, target{tn + " naming " + principal[strings.LastIndex(principal, ":")+1:], createRole(t, x.source.iam, uniqueName("same"), doc), doc, account})
			_, arn := x.targetRole(t, doc, "")
			targets = append(targets, target{tn + " naming " + principal[strings.LastIndex(principal, ":")+1:] + " (cross-account)", arn, doc, targetAccount})
		}
	}
	var arns []string
	for _, tg := range targets {
		arns = append(arns, tg.arn)
	}
	identityDocs := map[string]string{
		"assume":     policyDoc(allow("sts:AssumeRole", arns...)),
		"assume+tag": policyDoc(allow("sts:AssumeRole", arns...), allow("sts:TagSession", arns...)),
		"assume+sdc-tag-key": policyDoc(allow("sts:AssumeRole", arns...), map[string]any{"Effect": "Allow", "Action": "sts:TagSession", "Resource": arns,
			"Condition": map[string]any{"ForAllValues:StringEquals": map[string]any{"aws:TagKeys": []string{sdcTagKey}}}}),
	}
	requests := []struct {
		name string
		tags []ststypes.Tag
	}{
		{"untagged", nil},
		{"SDC's tag (alice)", []ststypes.Tag{tag(sdcTagKey, "alice")}},
		{"SDC's tag (bob)", []ststypes.Tag{tag(sdcTagKey, "bob")}},
		{"another key", []ststypes.Tag{tag("team", "x")}},
	}
	type outcome struct {
		label   string
		sandbox bool
		sims    []oracle.Simulation
	}
	var outcomes []outcome
	session := "arn:aws:sts::" + account + ":assumed-role/" + x.irsa + "/irsa"
	for _, idName := range []string{"assume", "assume+tag", "assume+sdc-tag-key"} {
		putRolePolicy(t, x.source.iam, x.irsa, identityDocs[idName])
		irsa := sts.NewFromConfig(sessionConfig(webIdentity(t, x.is, x.irsaARN)))
		for _, tg := range targets {
			for _, rq := range requests {
				_, err := irsa.AssumeRole(ctx, sdcAssumeRole(tg.arn, rq.tags...))
				if err != nil {
					if code, _, _ := apiError(t, err); code != "AccessDenied" {
						t.Fatalf("%s: %v", tg.name, err)
					}
				}
				keys := map[string]any{"aws:PrincipalArn": x.irsaARN, "aws:PrincipalAccount": account, "aws:PrincipalType": "AssumedRole",
					"sts:RoleSessionName": aws.ToString(sdcAssumeRole("").RoleSessionName)}
				var tagKeys []string
				for _, tg := range rq.tags {
					keys["aws:RequestTag/"+aws.ToString(tg.Key)] = aws.ToString(tg.Value)
					tagKeys = append(tagKeys, aws.ToString(tg.Key))
				}
				if tagKeys != nil {
					keys["aws:TagKeys"] = tagKeys
				}
				actions := []string{"sts:AssumeRole"}
				if rq.tags != nil {
					actions = append(actions, "sts:TagSession")
				}
				var sims []oracle.Simulation
				for _, a := range actions {
					sims = append(sims, oracle.Simulation{Principal: session, Action: a, Resource: tg.arn, ResourceAccount: tg.account,
						Context: keys, Identity: []json.RawMessage{json.RawMessage(identityDocs[idName])}, ResourcePolicy: json.RawMessage(tg.trust)})
				}
				outcomes = append(outcomes, outcome{fmt.Sprintf("identity %s, trust %s, %s", idName, tg.name, rq.name), err == nil, sims})
			}
		}
	}
	var all []oracle.Simulation
	for _, oc := range outcomes {
		all = append(all, oc.sims...)
	}
	decisions, err := o.Simulate(all)
	if err != nil {
		t.Fatal(err)
	}
	allowed, i := 0, 0
	for _, oc := range outcomes {
		want := true
		for range oc.sims {
			want = want && decisions[i] == oracle.Allowed
			i++
		}
		if want {
			allowed++
		}
		if oc.sandbox != want {
			t.Errorf("%s: the sandbox allowed=%v, iam-simulate allowed=%v", oc.label, oc.sandbox, want)
		}
	}
	t.Logf("%d AssumeRole requests (%d allowed) judged alike by the sandbox and iam-simulate", len(outcomes), allowed)
}
