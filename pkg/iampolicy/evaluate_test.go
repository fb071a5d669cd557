package iampolicy

import (
	"testing"
)

type evalCase struct {
	name      string
	policies  []string
	req       Request
	want      Effect
	wantAt    [2]int // policy and statement that decided; ignored for ImplicitDeny
	wantSid   string
	checkSite bool
}

func runEvalCases(t *testing.T, cases []evalCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var policies []*Policy
			for _, doc := range tt.policies {
				policies = append(policies, mustParse(t, doc))
			}
			got := Evaluate(tt.req, policies...)
			if got.Effect != tt.want {
				t.Fatalf("Evaluate(%+v) = %s, want %s", tt.req, got, tt.want)
			}
			if got.Allowed() != (tt.want == Allow) {
				t.Errorf("Allowed() = %v for %s", got.Allowed(), got.Effect)
			}
			if tt.want == ImplicitDeny {
				if got.PolicyIndex != -1 || got.StatementIndex != -1 {
					t.Errorf("implicit deny reports statement %d/%d, want -1/-1", got.PolicyIndex, got.StatementIndex)
				}
				return
			}
			if tt.checkSite && [2]int{got.PolicyIndex, got.StatementIndex} != tt.wantAt {
				t.Errorf("decided by policy %d statement %d, want %v", got.PolicyIndex, got.StatementIndex, tt.wantAt)
			}
			if got.Sid != tt.wantSid {
				t.Errorf("Sid = %q, want %q", got.Sid, tt.wantSid)
			}
		})
	}
}

// The S3 examples from AWS's "Policy evaluation logic" and "IAM JSON policy
// elements" pages.
const (
	allowS3DenyDelete = `{"Version":"2012-10-17","Statement":[
		{"Sid":"AllowAll","Effect":"Allow","Action":"s3:*","Resource":"*"},
		{"Sid":"NoDelete","Effect":"Deny","Action":"s3:DeleteObject","Resource":"arn:aws:s3:::reports/*"}]}`
	allowNotIAM = `{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}}`
	notPayroll  = `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*",
		"NotResource":["arn:aws:s3:::HRBucket/Payroll","arn:aws:s3:::HRBucket/Payroll/*"]}}`
	getStar = `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["s3:Get*","s3:?istBucket"],"Resource":"arn:aws:s3:::sdc-in*"}}`
)

func TestEvaluateActionsAndResources(t *testing.T) {
	t.Parallel()
	runEvalCases(t, []evalCase{
		{name: "explicit deny overrides allow", policies: []string{allowS3DenyDelete},
			req: Request{Action: "s3:DeleteObject", Resource: "arn:aws:s3:::reports/2024.csv"}, want: Deny, wantAt: [2]int{0, 1}, wantSid: "NoDelete", checkSite: true},
		{name: "allow where the deny does not reach", policies: []string{allowS3DenyDelete},
			req: Request{Action: "s3:DeleteObject", Resource: "arn:aws:s3:::other/x"}, want: Allow, wantAt: [2]int{0, 0}, wantSid: "AllowAll", checkSite: true},
		{name: "deny in a later policy wins over allow in an earlier one",
			policies: []string{`{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}`, `{"Statement":[{"Effect":"Allow","Action":"sqs:*","Resource":"*"},{"Effect":"Deny","Action":"s3:PutObject","Resource":"*"}]}`},
			req:      Request{Action: "s3:PutObject", Resource: "arn:aws:s3:::b/k"}, want: Deny, wantAt: [2]int{1, 1}, checkSite: true},
		{name: "first allowing statement is reported",
			policies: []string{`{"Statement":{"Effect":"Allow","Action":"sqs:*","Resource":"*"}}`, `{"Statement":[{"Sid":"One","Effect":"Allow","Action":"s3:Get*","Resource":"*"},{"Sid":"Two","Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`},
			req:      Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k"}, want: Allow, wantAt: [2]int{1, 0}, wantSid: "One", checkSite: true},
		{name: "no policy is an implicit deny", req: Request{Action: "s3:GetObject", Resource: "*"}, want: ImplicitDeny},
		{name: "nothing matches is an implicit deny", policies: []string{allowNotIAM},
			req: Request{Action: "iam:CreateUser", Resource: "arn:aws:iam::111122223333:user/x"}, want: ImplicitDeny},
		{name: "NotAction with Allow allows other services", policies: []string{allowNotIAM},
			req: Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k"}, want: Allow},
		{name: "NotAction is case-insensitive too", policies: []string{allowNotIAM},
			req: Request{Action: "IAM:createuser", Resource: "*"}, want: ImplicitDeny},
		{name: "NotResource allows other resources", policies: []string{notPayroll},
			req: Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::HRBucket/Benefits/plan.pdf"}, want: Allow},
		{name: "NotResource excludes the named resources", policies: []string{notPayroll},
			req: Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::HRBucket/Payroll/2024.csv"}, want: ImplicitDeny},
		{name: "s3:Get* matches GetObject", policies: []string{getStar},
			req: Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::sdc-in/k"}, want: Allow},
		{name: "s3:Get* matches GetBucketLocation", policies: []string{getStar},
			req: Request{Action: "s3:GetBucketLocation", Resource: "arn:aws:s3:::sdc-in"}, want: Allow},
		{name: "s3:Get* does not match PutObject", policies: []string{getStar},
			req: Request{Action: "s3:PutObject", Resource: "arn:aws:s3:::sdc-in/k"}, want: ImplicitDeny},
		{name: "? matches exactly one character", policies: []string{getStar},
			req: Request{Action: "s3:ListBucket", Resource: "arn:aws:s3:::sdc-in"}, want: Allow},
		{name: "? does not match two characters", policies: []string{getStar},
			req: Request{Action: "s3:XListBucket", Resource: "arn:aws:s3:::sdc-in"}, want: ImplicitDeny},
		{name: "actions match case-insensitively", policies: []string{getStar},
			req: Request{Action: "S3:getobject", Resource: "arn:aws:s3:::sdc-in/k"}, want: Allow},
		{name: "resources match case-sensitively", policies: []string{getStar},
			req: Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::SDC-IN/k"}, want: ImplicitDeny},
		{name: "* in a resource crosses / and :", policies: []string{`{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::*"}}`},
			req: Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/a:b/c"}, want: Allow},
		{name: "* alone matches every resource", policies: []string{`{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`},
			req: Request{Action: "dynamodb:PutItem", Resource: "arn:aws:dynamodb:us-west-2:111122223333:table/app"}, want: Allow},
		{name: "empty request resource means *", policies: []string{`{"Statement":{"Effect":"Allow","Action":"sts:GetCallerIdentity","Resource":"*"}}`},
			req: Request{Action: "sts:GetCallerIdentity"}, want: Allow},
		{name: "a specific resource pattern does not match a request for *", policies: []string{`{"Statement":{"Effect":"Allow","Action":"s3:ListAllMyBuckets","Resource":"arn:aws:s3:::*"}}`},
			req: Request{Action: "s3:ListAllMyBuckets", Resource: "*"}, want: ImplicitDeny},
		{name: "identity evaluation ignores Principal", policies: []string{`{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"s3:*","Resource":"*"}}`},
			req: Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k"}, want: Allow},
	})
}

func TestEvaluateConditions(t *testing.T) {
	t.Parallel()
	// AWS's example: both keys must match (AND), either role value may (OR).
	const tags = `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:*AccessKey*","Resource":"*",
		"Condition":{"StringEquals":{"aws:PrincipalTag/department":"security","aws:PrincipalTag/role":["audit","incident"]}}}}`
	// AWS's IfExists example: instance types only matter when the request has one.
	const ifExists = `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ec2:RunInstances","Resource":"*",
		"Condition":{"StringLikeIfExists":{"ec2:InstanceType":["t1.*","t2.*","m3.*"]}}}}`
	const forAll = `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:TagRole","Resource":"*",
		"Condition":{"ForAllValues:StringEquals":{"aws:TagKeys":["environment","cost-center"]}}}}`
	const forAny = `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:TagRole","Resource":"*",
		"Condition":{"ForAnyValue:StringEquals":{"aws:TagKeys":["environment","cost-center"]}}}}`
	const forAnyNot = `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"iam:TagRole","Resource":"*",
		"Condition":{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["environment","cost-center"]}}}}`
	const denyOtherAccounts = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"},
		{"Sid":"OnlyOurAccount","Effect":"Deny","Action":"s3:*","Resource":"*","Condition":{"StringNotEquals":{"aws:ResourceAccount":"111122223333"}}}]}`
	const denyNotLike = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"},
		{"Effect":"Deny","Action":"s3:*","Resource":"*","Condition":{"StringNotLike":{"aws:userid":"AROA*:sdc-*"}}}]}`
	const noTempCreds = `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ec2:*","Resource":"*","Condition":{"Null":{"aws:TokenIssueTime":"true"}}}}`
	const home = `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::home/${aws:username}/*",
		"Condition":{"StringEquals":{"s3:prefix":"${aws:username}/${*}"}}}}`
	const homeDefault = `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::home/${aws:username, 'guest'}/*"}}`
	const home2008 = `{"Version":"2008-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::home/${aws:username}/*"}}`
	const numericDateIP = `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{
		"NumericLessThanEquals":{"s3:max-keys":"100"},
		"DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"},
		"IpAddress":{"aws:SourceIp":["192.0.2.0/24","2001:db8::/32"]},
		"Bool":{"aws:SecureTransport":"true"}}}}`
	const arnLike = `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sqs:SendMessage","Resource":"*",
		"Condition":{"ArnLike":{"aws:SourceArn":"arn:aws:sns:*:111122223333:sdc-*"}}}}`
	const ignoreCase = `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*",
		"Condition":{"StringEqualsIgnoreCase":{"aws:PrincipalTag/team":"DataOps"}}}}`

	ctx := func(kv ...string) map[string][]string {
		m := map[string][]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = append(m[kv[i]], kv[i+1])
		}
		return m
	}
	okNet := ctx("s3:max-keys", "50", "aws:CurrentTime", "2025-06-01T12:00:00Z", "aws:SourceIp", "192.0.2.7", "aws:SecureTransport", "true")
	withNet := func(k, v string) map[string][]string {
		m := map[string][]string{}
		for key, vals := range okNet {
			m[key] = vals
		}
		if v == "" {
			delete(m, k)
		} else {
			m[k] = []string{v}
		}
		return m
	}
	list := func(k string, v ...string) map[string][]string { return map[string][]string{k: v} }

	runEvalCases(t, []evalCase{
		{name: "all keys match", policies: []string{tags}, want: Allow,
			req: Request{Action: "iam:CreateAccessKey", Resource: "*", Context: ctx("aws:PrincipalTag/department", "security", "aws:PrincipalTag/role", "incident")}},
		{name: "one of several values for a key is enough (OR)", policies: []string{tags}, want: Allow,
			req: Request{Action: "iam:CreateAccessKey", Resource: "*", Context: ctx("aws:PrincipalTag/department", "security", "aws:PrincipalTag/role", "audit")}},
		{name: "every key must match (AND)", policies: []string{tags}, want: ImplicitDeny,
			req: Request{Action: "iam:CreateAccessKey", Resource: "*", Context: ctx("aws:PrincipalTag/department", "finance", "aws:PrincipalTag/role", "audit")}},
		{name: "a missing key fails a positive operator", policies: []string{tags}, want: ImplicitDeny,
			req: Request{Action: "iam:CreateAccessKey", Resource: "*", Context: ctx("aws:PrincipalTag/department", "security")}},
		{name: "condition keys match case-insensitively", policies: []string{tags}, want: Allow,
			req: Request{Action: "iam:CreateAccessKey", Resource: "*", Context: ctx("AWS:principaltag/DEPARTMENT", "security", "aws:PrincipalTag/Role", "audit")}},
		{name: "condition values match case-sensitively", policies: []string{tags}, want: ImplicitDeny,
			req: Request{Action: "iam:CreateAccessKey", Resource: "*", Context: ctx("aws:PrincipalTag/department", "Security", "aws:PrincipalTag/role", "audit")}},
		{name: "StringEqualsIgnoreCase ignores case of values", policies: []string{ignoreCase}, want: Allow,
			req: Request{Action: "s3:GetObject", Resource: "*", Context: ctx("aws:PrincipalTag/team", "dataops")}},
		{name: "IfExists with the key absent holds", policies: []string{ifExists}, want: Allow,
			req: Request{Action: "ec2:RunInstances", Resource: "*"}},
		{name: "IfExists with a matching value holds", policies: []string{ifExists}, want: Allow,
			req: Request{Action: "ec2:RunInstances", Resource: "*", Context: ctx("ec2:InstanceType", "t2.micro")}},
		{name: "IfExists with another value fails", policies: []string{ifExists}, want: ImplicitDeny,
			req: Request{Action: "ec2:RunInstances", Resource: "*", Context: ctx("ec2:InstanceType", "c5.large")}},
		{name: "ForAllValues with the key absent holds", policies: []string{forAll}, want: Allow,
			req: Request{Action: "iam:TagRole", Resource: "*"}},
		{name: "ForAllValues with an empty set holds", policies: []string{forAll}, want: Allow,
			req: Request{Action: "iam:TagRole", Resource: "*", Context: list("aws:TagKeys")}},
		{name: "ForAllValues with every value listed holds", policies: []string{forAll}, want: Allow,
			req: Request{Action: "iam:TagRole", Resource: "*", Context: list("aws:TagKeys", "environment", "cost-center")}},
		{name: "ForAllValues with one value not listed fails", policies: []string{forAll}, want: ImplicitDeny,
			req: Request{Action: "iam:TagRole", Resource: "*", Context: list("aws:TagKeys", "environment", "owner")}},
		{name: "ForAnyValue with the key absent fails", policies: []string{forAny}, want: ImplicitDeny,
			req: Request{Action: "iam:TagRole", Resource: "*"}},
		{name: "ForAnyValue with an empty set fails", policies: []string{forAny}, want: ImplicitDeny,
			req: Request{Action: "iam:TagRole", Resource: "*", Context: list("aws:TagKeys")}},
		{name: "ForAnyValue with one value listed holds", policies: []string{forAny}, want: Allow,
			req: Request{Action: "iam:TagRole", Resource: "*", Context: list("aws:TagKeys", "owner", "cost-center")}},
		{name: "ForAnyValue:StringNotEquals with one value not listed holds", policies: []string{forAnyNot}, want: Deny,
			req: Request{Action: "iam:TagRole", Resource: "*", Context: list("aws:TagKeys", "environment", "owner")}},
		{name: "ForAnyValue:StringNotEquals with every value listed fails", policies: []string{forAnyNot}, want: ImplicitDeny,
			req: Request{Action: "iam:TagRole", Resource: "*", Context: list("aws:TagKeys", "environment")}},
		{name: "ForAnyValue:StringNotEquals with the key absent fails", policies: []string{forAnyNot}, want: ImplicitDeny,
			req: Request{Action: "iam:TagRole", Resource: "*"}},
		{name: "negated operator with the key missing holds", policies: []string{denyOtherAccounts}, want: Deny, wantSid: "OnlyOurAccount",
			req: Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k"}},
		{name: "negated operator with a listed value fails", policies: []string{denyOtherAccounts}, want: Allow,
			req: Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k", Context: ctx("aws:ResourceAccount", "111122223333")}},
		{name: "negated operator with another value holds", policies: []string{denyOtherAccounts}, want: Deny, wantSid: "OnlyOurAccount",
			req: Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k", Context: ctx("aws:ResourceAccount", "444455556666")}},
		{name: "StringNotLike with the key missing holds", policies: []string{denyNotLike}, want: Deny,
			req: Request{Action: "s3:GetObject", Resource: "*"}},
		{name: "StringNotLike with a matching value fails", policies: []string{denyNotLike}, want: Allow,
			req: Request{Action: "s3:GetObject", Resource: "*", Context: ctx("aws:userid", "AROAEXAMPLE:sdc-0")}},
		{name: "Null true holds when the key is absent", policies: []string{noTempCreds}, want: Allow,
			req: Request{Action: "ec2:DescribeInstances", Resource: "*"}},
		{name: "Null true fails when the key is present", policies: []string{noTempCreds}, want: ImplicitDeny,
			req: Request{Action: "ec2:DescribeInstances", Resource: "*", Context: ctx("aws:TokenIssueTime", "2025-01-01T00:00:00Z")}},
		{name: "numeric, date, IP and Bool all hold", policies: []string{numericDateIP}, want: Allow,
			req: Request{Action: "s3:ListBucket", Resource: "*", Context: okNet}},
		{name: "numeric over the limit fails", policies: []string{numericDateIP}, want: ImplicitDeny,
			req: Request{Action: "s3:ListBucket", Resource: "*", Context: withNet("s3:max-keys", "101")}},
		{name: "numeric at the limit holds", policies: []string{numericDateIP}, want: Allow,
			req: Request{Action: "s3:ListBucket", Resource: "*", Context: withNet("s3:max-keys", "100.0")}},
		{name: "date after the limit fails", policies: []string{numericDateIP}, want: ImplicitDeny,
			req: Request{Action: "s3:ListBucket", Resource: "*", Context: withNet("aws:CurrentTime", "2031-01-01T00:00:00Z")}},
		{name: "date as epoch seconds", policies: []string{numericDateIP}, want: Allow,
			req: Request{Action: "s3:ListBucket", Resource: "*", Context: withNet("aws:CurrentTime", "1700000000")}},
		{name: "IPv6 source in the listed prefix", policies: []string{numericDateIP}, want: Allow,
			req: Request{Action: "s3:ListBucket", Resource: "*", Context: withNet("aws:SourceIp", "2001:db8::1")}},
		{name: "source outside the listed prefixes fails", policies: []string{numericDateIP}, want: ImplicitDeny,
			req: Request{Action: "s3:ListBucket", Resource: "*", Context: withNet("aws:SourceIp", "198.51.100.1")}},
		{name: "Bool false fails", policies: []string{numericDateIP}, want: ImplicitDeny,
			req: Request{Action: "s3:ListBucket", Resource: "*", Context: withNet("aws:SecureTransport", "false")}},
		{name: "Bool with the key absent fails", policies: []string{numericDateIP}, want: ImplicitDeny,
			req: Request{Action: "s3:ListBucket", Resource: "*", Context: withNet("aws:SecureTransport", "")}},
		{name: "ArnLike matches segment by segment", policies: []string{arnLike}, want: Allow,
			req: Request{Action: "sqs:SendMessage", Resource: "*", Context: ctx("aws:SourceArn", "arn:aws:sns:us-west-2:111122223333:sdc-events")}},
		{name: "ArnLike wildcard does not span a colon", policies: []string{arnLike}, want: ImplicitDeny,
			req: Request{Action: "sqs:SendMessage", Resource: "*", Context: ctx("aws:SourceArn", "arn:aws:sns:us-west-2:extra:111122223333:sdc-events")}},
		{name: "ArnLike against another account fails", policies: []string{arnLike}, want: ImplicitDeny,
			req: Request{Action: "sqs:SendMessage", Resource: "*", Context: ctx("aws:SourceArn", "arn:aws:sns:us-west-2:444455556666:sdc-events")}},
		{name: "policy variable in Resource and condition", policies: []string{home}, want: Allow,
			req: Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::home/alice/notes.txt", Context: ctx("aws:username", "alice", "s3:prefix", "alice/*")}},
		{name: "policy variable for another user fails", policies: []string{home}, want: ImplicitDeny,
			req: Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::home/bob/notes.txt", Context: ctx("aws:username", "alice", "s3:prefix", "alice/*")}},
		{name: "substituted value is literal, not a wildcard", policies: []string{home}, want: ImplicitDeny,
			req: Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::home/bob/notes.txt", Context: ctx("aws:username", "*", "s3:prefix", "*/*")}},
		{name: "policy variable without a value matches nothing", policies: []string{home}, want: ImplicitDeny,
			req: Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::home/${aws:username}/x"}},
		{name: "policy variable default applies when the key is absent", policies: []string{homeDefault}, want: Allow,
			req: Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::home/guest/x"}},
		{name: "version 2008 takes ${...} literally", policies: []string{home2008}, want: Allow,
			req: Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::home/${aws:username}/x", Context: ctx("aws:username", "alice")}},
	})
}

// Rules the differential test against iam-simulate (oracle_test.go) showed our evaluator breaking, each
// decided by IAM's documentation.
func TestEvaluateFoundByTheOracle(t *testing.T) {
	t.Parallel()
	allowAll := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`
	// reference_policies_elements_condition_operators: "You can use a policy variable with the Boolean
	// condition operator."
	const boolVar = `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*",
		"Condition":{"Bool":{"aws:SecureTransport":"${aws:ViaAWSService}"}}}}`
	// reference_policies_condition-single-vs-multi-valued-context-keys: "Multivalued context keys require a
	// condition set operator."
	const tagKeysEquals = `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:TagRole","Resource":"*",
		"Condition":{"StringEquals":{"aws:TagKeys":"owner"}}}}`
	const tagKeysNotEquals = `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"iam:TagRole","Resource":"*",
		"Condition":{"StringNotEqualsIfExists":{"aws:TagKeys":"owner"}}}}`
	// reference_policies_variables: a key that is "not present ... any attempt to match it fails and causes
	// the statement to be invalid".
	const denyOtherTeam = `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"s3:*","Resource":"*",
		"Condition":{"StringNotEquals":{"aws:PrincipalTag/team":"${aws:username}"}}}}`
	const notHome = `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"s3:*","NotResource":"arn:aws:s3:::home/${aws:username}/*"}}`
	ctx := func(kv ...string) map[string][]string {
		m := map[string][]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = append(m[kv[i]], kv[i+1])
		}
		return m
	}
	runEvalCases(t, []evalCase{
		{name: "Bool substitutes a policy variable", policies: []string{boolVar}, want: Allow,
			req: Request{Action: "s3:GetObject", Resource: "*", Context: ctx("aws:SecureTransport", "false", "aws:ViaAWSService", "false")}},
		{name: "Bool with a variable of another value fails", policies: []string{boolVar}, want: ImplicitDeny,
			req: Request{Action: "s3:GetObject", Resource: "*", Context: ctx("aws:SecureTransport", "true", "aws:ViaAWSService", "false")}},
		{name: "Bool with a variable without a value fails", policies: []string{boolVar}, want: ImplicitDeny,
			req: Request{Action: "s3:GetObject", Resource: "*", Context: ctx("aws:SecureTransport", "true")}},
		{name: "an operator without a set qualifier compares a single value", policies: []string{tagKeysEquals}, want: Allow,
			req: Request{Action: "iam:TagRole", Resource: "*", Context: ctx("aws:TagKeys", "owner")}},
		{name: "an operator without a set qualifier does not hold on several values", policies: []string{tagKeysEquals}, want: ImplicitDeny,
			req: Request{Action: "iam:TagRole", Resource: "*", Context: ctx("aws:TagKeys", "owner", "aws:TagKeys", "env")}},
		{name: "nor does its negation", policies: []string{allowAll, tagKeysNotEquals}, want: Allow,
			req: Request{Action: "iam:TagRole", Resource: "*", Context: ctx("aws:TagKeys", "cost", "aws:TagKeys", "env")}},
		{name: "the negation holds on one other value", policies: []string{allowAll, tagKeysNotEquals}, want: Deny, wantAt: [2]int{1, 0}, checkSite: true,
			req: Request{Action: "iam:TagRole", Resource: "*", Context: ctx("aws:TagKeys", "cost")}},
		{name: "a negated operator whose variable has no value does not hold", policies: []string{allowAll, denyOtherTeam}, want: Allow,
			req: Request{Action: "s3:GetObject", Resource: "*", Context: ctx("aws:PrincipalTag/team", "data")}},
		{name: "a negated operator whose variable has a value holds", policies: []string{allowAll, denyOtherTeam}, want: Deny,
			req: Request{Action: "s3:GetObject", Resource: "*", Context: ctx("aws:PrincipalTag/team", "data", "aws:username", "alice")}},
		{name: "NotResource whose variable has no value does not apply", policies: []string{allowAll, notHome}, want: Allow,
			req: Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::home/bob/x"}},
		{name: "NotResource whose variable has a value applies elsewhere", policies: []string{allowAll, notHome}, want: Deny,
			req: Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::home/bob/x", Context: ctx("aws:username", "alice")}},
		{name: "NotResource whose variable has a value spares the named resources", policies: []string{allowAll, notHome}, want: Allow,
			req: Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::home/alice/x", Context: ctx("aws:username", "alice")}},
	})
}

func TestEvaluatePrincipals(t *testing.T) {
	t.Parallel()
	trust := func(principal string) string {
		return `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":` + principal + `,"Action":"sts:AssumeRole"}}`
	}
	aws := func(id string) *RequestPrincipal { return &RequestPrincipal{Type: "AWS", ID: id} }
	const roleSession = "arn:aws:sts::111122223333:assumed-role/ops/alice"
	runEvalCases(t, []evalCase{
		{name: "* allows anyone", policies: []string{trust(`"*"`)}, want: Allow,
			req: Request{Principal: &RequestPrincipal{Type: "Service", ID: "ec2.amazonaws.com"}, Action: "sts:AssumeRole"}},
		{name: "AWS * allows anyone", policies: []string{trust(`{"AWS":"*"}`)}, want: Allow,
			req: Request{Principal: aws("arn:aws:iam::444455556666:user/bob"), Action: "sts:AssumeRole"}},
		{name: "exact role ARN", policies: []string{trust(`{"AWS":"arn:aws:iam::111122223333:role/ops"}`)}, want: Allow,
			req: Request{Principal: aws("arn:aws:iam::111122223333:role/ops"), Action: "sts:AssumeRole"}},
		{name: "role ARN covers its sessions", policies: []string{trust(`{"AWS":"arn:aws:iam::111122223333:role/team/ops"}`)}, want: Allow,
			req: Request{Principal: aws(roleSession), Action: "sts:AssumeRole"}},
		{name: "role ARN does not cover another role's sessions", policies: []string{trust(`{"AWS":"arn:aws:iam::111122223333:role/dev"}`)}, want: ImplicitDeny,
			req: Request{Principal: aws(roleSession), Action: "sts:AssumeRole"}},
		{name: "account id covers the account's principals", policies: []string{trust(`{"AWS":"111122223333"}`)}, want: Allow,
			req: Request{Principal: aws("arn:aws:iam::111122223333:user/alice"), Action: "sts:AssumeRole"}},
		{name: "account root ARN covers the account's principals", policies: []string{trust(`{"AWS":"arn:aws:iam::111122223333:root"}`)}, want: Allow,
			req: Request{Principal: aws(roleSession), Action: "sts:AssumeRole"}},
		{name: "account does not cover another account", policies: []string{trust(`{"AWS":"111122223333"}`)}, want: ImplicitDeny,
			req: Request{Principal: aws("arn:aws:iam::444455556666:user/alice"), Action: "sts:AssumeRole"}},
		{name: "Federated exact ARN", policies: []string{trust(`{"Federated":"arn:aws:iam::111122223333:oidc-provider/oidc.example/id/A"}`)}, want: Allow,
			req: Request{Principal: &RequestPrincipal{Type: "Federated", ID: "arn:aws:iam::111122223333:oidc-provider/oidc.example/id/A"}, Action: "sts:AssumeRole"}},
		{name: "Federated another provider", policies: []string{trust(`{"Federated":"arn:aws:iam::111122223333:oidc-provider/oidc.example/id/A"}`)}, want: ImplicitDeny,
			req: Request{Principal: &RequestPrincipal{Type: "Federated", ID: "arn:aws:iam::111122223333:oidc-provider/oidc.example/id/B"}, Action: "sts:AssumeRole"}},
		{name: "Service principal", policies: []string{trust(`{"Service":["pods.eks.amazonaws.com","ec2.amazonaws.com"]}`)}, want: Allow,
			req: Request{Principal: &RequestPrincipal{Type: "Service", ID: "pods.eks.amazonaws.com"}, Action: "sts:AssumeRole"}},
		{name: "type must match: a Service id is no Federated id", policies: []string{trust(`{"Service":"ec2.amazonaws.com"}`)}, want: ImplicitDeny,
			req: Request{Principal: &RequestPrincipal{Type: "Federated", ID: "ec2.amazonaws.com"}, Action: "sts:AssumeRole"}},
		{name: "NotPrincipal denies everyone else",
			policies: []string{`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"},{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:role/ops"},"Action":"sts:AssumeRole"}]}`},
			want:     Deny, wantAt: [2]int{0, 1}, checkSite: true,
			req: Request{Principal: aws("arn:aws:iam::111122223333:role/dev"), Action: "sts:AssumeRole"}},
		{name: "NotPrincipal spares the named principal",
			policies: []string{`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"},{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:role/ops"},"Action":"sts:AssumeRole"}]}`},
			want:     Allow, wantAt: [2]int{0, 0}, checkSite: true,
			req: Request{Principal: aws("arn:aws:iam::111122223333:role/ops"), Action: "sts:AssumeRole"}},
		{name: "statement without a principal grants nobody in resource evaluation",
			policies: []string{`{"Statement":{"Effect":"Allow","Action":"sts:AssumeRole"}}`}, want: ImplicitDeny,
			req: Request{Principal: aws("arn:aws:iam::111122223333:role/ops"), Action: "sts:AssumeRole"}},
	})
}

func TestMatchPattern(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern, s string
		fold, want bool
	}{
		{"", "", false, true},
		{"*", "", false, true},
		{"a*", "a", false, true},
		{"a*b*c", "aXbYbZc", false, true},
		{"a*b*c", "aXbYbZ", false, false},
		{"*a", "bbbb", false, false},
		{"??", "ab", false, true},
		{"??", "abc", false, false},
		{"?", "é", false, true},
		{"A*", "abc", true, true},
		{"A*", "abc", false, false},
		{"**x", "yyx", false, true},
	}
	for _, tt := range tests {
		if got := matchPattern(literalPattern(tt.pattern), tt.s, tt.fold); got != tt.want {
			t.Errorf("matchPattern(%q, %q, fold=%v) = %v, want %v", tt.pattern, tt.s, tt.fold, got, tt.want)
		}
	}
}
