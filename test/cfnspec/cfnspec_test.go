package cfnspec

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// The validator finds what is wrong with a template, and nothing in one that is right: a test of the
// oracle itself, so that its silence about bind's templates means something.
func TestValidatorCatchesWhatIsWrong(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Node; skipped in -short mode")
	}
	parse := func(s string) map[string]any {
		var m map[string]any
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	good := parse(`{"AWSTemplateFormatVersion":"2010-09-09","Resources":{
		"Provider":{"Type":"AWS::IAM::OIDCProvider","Properties":{"Url":"https://oidc.example","ClientIdList":["sts.amazonaws.com"],"Tags":[{"Key":"k","Value":"v"}]}},
		"Policy":{"Type":"AWS::IAM::ManagedPolicy","Properties":{"ManagedPolicyName":"p","PolicyDocument":{"Version":"2012-10-17","Statement":[]}}},
		"Role":{"Type":"AWS::IAM::Role","DependsOn":["Policy"],"DeletionPolicy":"Retain","Properties":{"RoleName":"r","AssumeRolePolicyDocument":{"Statement":[]},"MaxSessionDuration":3600,"ManagedPolicyArns":["arn:aws:iam::123456789012:policy/p"]}},
		"Association":{"Type":"AWS::EKS::PodIdentityAssociation","Properties":{"ClusterName":"c","Namespace":"n","ServiceAccount":"s","RoleArn":"arn:aws:iam::123456789012:role/r"}}}}`)
	bad := parse(`{"AWSTemplateFormatVersion":"2010-09-09","Resources":{
		"Policy":{"Type":"AWS::IAM::ManagedPolicy","Properties":{"PolicyDocument":{},"Tags":[{"Key":"k","Value":"v"}]}},
		"Role":{"Type":"AWS::IAM::Role","DependsOn":"Nothing","Properties":{"RoleName":"r","MaxSessionDuration":"an hour","ManagedPolicyArns":"arn"}},
		"Association":{"Type":"AWS::EKS::PodIdentityAssociation","Properties":{"ClusterName":"c","Namespace":"n","RoleArn":"a","Tags":{"k":"v"}}},
		"Thing":{"Type":"AWS::IAM::NoSuchThing","Properties":{}}}}`)
	r := Validate(t, []map[string]any{good})
	t.Logf("@aws-cdk/aws-service-spec %s", r.Version)
	if len(r.Problems) != 0 || r.Checked != 4 {
		t.Errorf("a valid template: %d checked, problems %q", r.Checked, r.Problems)
	}
	r = Validate(t, []map[string]any{bad})
	for _, want := range []string{
		"Policy (AWS::IAM::ManagedPolicy): Tags is not a property",
		"Role: DependsOn Nothing",
		"Role (AWS::IAM::Role): required property AssumeRolePolicyDocument is missing",
		"Role (AWS::IAM::Role).MaxSessionDuration: want an integer",
		"Role (AWS::IAM::Role).ManagedPolicyArns: want a list",
		"Association (AWS::EKS::PodIdentityAssociation): required property ServiceAccount is missing",
		"Association (AWS::EKS::PodIdentityAssociation).Tags: want a list",
		"Thing: no resource type AWS::IAM::NoSuchThing",
	} {
		if !slices.ContainsFunc(r.Problems, func(p string) bool { return strings.Contains(p, want) }) {
			t.Errorf("the validator missed %q; it said:\n%s", want, strings.Join(r.Problems, "\n"))
		}
	}
}
