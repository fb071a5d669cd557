package awsfront

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

func sigv4(service string) string {
	return "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250101/us-west-2/" + service + "/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc"
}

func TestClassify(t *testing.T) {
	t.Parallel()
	form := "application/x-www-form-urlencoded; charset=utf-8"
	cases := []struct {
		name            string
		method, target  string
		auth, ctype     string
		body            string
		header          map[string]string
		wantKey         string
		wantWrite       bool
		wantAccessKeyID string
	}{
		{name: "IAM awsQuery write", method: "POST", target: "/", auth: sigv4("iam"), ctype: form, body: "Action=CreateRole&Version=2010-05-08&RoleName=r", wantKey: "iam:CreateRole", wantWrite: true, wantAccessKeyID: "AKIDEXAMPLE"},
		{name: "IAM awsQuery read", method: "POST", target: "/", auth: sigv4("iam"), ctype: form, body: "Action=ListAttachedRolePolicies&RoleName=r", wantKey: "iam:ListAttachedRolePolicies", wantAccessKeyID: "AKIDEXAMPLE"},
		{name: "STS GetCallerIdentity", method: "POST", target: "/", auth: sigv4("sts"), ctype: form, body: "Action=GetCallerIdentity&Version=2011-06-15", wantKey: "sts:GetCallerIdentity", wantAccessKeyID: "AKIDEXAMPLE"},
		{name: "STS unsigned web identity form", method: "POST", target: "/", ctype: form, body: "Action=AssumeRoleWithWebIdentity&RoleArn=x", wantKey: "sts:AssumeRoleWithWebIdentity"},
		{name: "STS unsigned web identity query", method: "GET", target: "/?Action=AssumeRoleWithWebIdentity&RoleArn=x", wantKey: "sts:AssumeRoleWithWebIdentity"},
		{name: "STS presigned query", method: "GET", target: "/?Action=GetCallerIdentity&X-Amz-Credential=AKIDQ%2F20250101%2Fus-east-1%2Fsts%2Faws4_request", wantKey: "sts:GetCallerIdentity", wantAccessKeyID: "AKIDQ"},
		{name: "JSON protocol target", method: "POST", target: "/", auth: sigv4("sts"), ctype: "application/x-amz-json-1.1", header: map[string]string{"X-Amz-Target": "AWSSecurityTokenServiceV20110615.GetCallerIdentity"}, wantKey: "sts:GetCallerIdentity", wantAccessKeyID: "AKIDEXAMPLE"},
		{name: "EKS ListClusters", method: "GET", target: "/clusters?maxResults=10", auth: sigv4("eks"), wantKey: "eks:ListClusters", wantAccessKeyID: "AKIDEXAMPLE"},
		{name: "EKS DescribeCluster", method: "GET", target: "/clusters/sandbox", auth: sigv4("eks"), wantKey: "eks:DescribeCluster", wantAccessKeyID: "AKIDEXAMPLE"},
		{name: "EKS CreatePodIdentityAssociation", method: "POST", target: "/clusters/sandbox/pod-identity-associations", auth: sigv4("eks"), wantKey: "eks:CreatePodIdentityAssociation", wantWrite: true, wantAccessKeyID: "AKIDEXAMPLE"},
		{name: "EKS TagResource with an escaped ARN", method: "POST", target: "/tags/arn%3Aaws%3Aeks%3Aus-west-2%3A123456789012%3Acluster%2Fsandbox", auth: sigv4("eks"), wantKey: "eks:TagResource", wantWrite: true, wantAccessKeyID: "AKIDEXAMPLE"},
		{name: "EKS unknown path", method: "GET", target: "/nothing/here", auth: sigv4("eks"), wantKey: "eks:Unknown", wantAccessKeyID: "AKIDEXAMPLE"},
		{name: "S3 ListObjectsV2", method: "GET", target: "/bkt?list-type=2&prefix=data%2F", auth: sigv4("s3"), wantKey: "s3:ListObjectsV2", wantAccessKeyID: "AKIDEXAMPLE"},
		{name: "S3 PutObject", method: "PUT", target: "/bkt/a/b.json", auth: sigv4("s3"), wantKey: "s3:PutObject", wantWrite: true, wantAccessKeyID: "AKIDEXAMPLE"},
		{name: "S3 form body stays S3", method: "POST", target: "/bkt", auth: sigv4("s3"), ctype: form, body: "Action=Nope", wantKey: "s3:Unknown", wantWrite: true, wantAccessKeyID: "AKIDEXAMPLE"},
		{name: "unsigned GET is S3", method: "GET", target: "/bkt/key", wantKey: "s3:GetObject"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(tc.method, tc.target, strings.NewReader(tc.body))
			if tc.auth != "" {
				r.Header.Set("Authorization", tc.auth)
			}
			if tc.ctype != "" {
				r.Header.Set("Content-Type", tc.ctype)
			}
			for k, v := range tc.header {
				r.Header.Set(k, v)
			}
			var body []byte
			if isFormBody(r) {
				body = []byte(tc.body)
			}
			c := classify(r, body)
			if c.Key() != tc.wantKey || c.Write != tc.wantWrite || c.AccessKeyID != tc.wantAccessKeyID {
				t.Fatalf("classify = %s write=%v key=%q; want %s write=%v key=%q", c.Key(), c.Write, c.AccessKeyID, tc.wantKey, tc.wantWrite, tc.wantAccessKeyID)
			}
		})
	}
}

func TestIsWrite(t *testing.T) {
	t.Parallel()
	for action, want := range map[string]bool{
		"CreateRole": true, "AttachRolePolicy": true, "PutRolePolicy": true, "TagRole": true, "UpdateAssumeRolePolicy": true,
		"DeleteOpenIDConnectProvider": true, "CreatePolicyVersion": true, "SetDefaultPolicyVersion": true,
		"GetRole": false, "ListRoles": false, "DescribeCluster": false, "GetCallerIdentity": false,
		"AssumeRole": false, "AssumeRoleWithWebIdentity": false, "SimulatePrincipalPolicy": false, "Unknown": false,
	} {
		if got := isWrite(action); got != want {
			t.Errorf("isWrite(%s) = %v; want %v", action, got, want)
		}
	}
}

func TestParseS3Request(t *testing.T) {
	t.Parallel()
	cases := []struct {
		method, target string
		host           string
		header         map[string]string
		wantOp         string
		wantChecks     []s3Check
		wantContext    map[string][]string
	}{
		{"GET", "/", "", nil, "ListBuckets", []s3Check{{"s3:ListAllMyBuckets", "*"}}, map[string][]string{}},
		{"GET", "/b?list-type=2&prefix=data%2F&delimiter=%2F", "", nil, "ListObjectsV2", []s3Check{{"s3:ListBucket", "arn:aws:s3:::b"}}, map[string][]string{"s3:prefix": {"data/"}, "s3:delimiter": {"/"}}},
		{"GET", "/b", "", nil, "ListObjects", []s3Check{{"s3:ListBucket", "arn:aws:s3:::b"}}, map[string][]string{}},
		{"GET", "/b?versions", "", nil, "ListObjectVersions", []s3Check{{"s3:ListBucketVersions", "arn:aws:s3:::b"}}, map[string][]string{}},
		{"GET", "/b?location", "", nil, "GetBucketLocation", []s3Check{{"s3:GetBucketLocation", "arn:aws:s3:::b"}}, map[string][]string{}},
		{"HEAD", "/b", "", nil, "HeadBucket", []s3Check{{"s3:ListBucket", "arn:aws:s3:::b"}}, nil},
		{"PUT", "/b", "", nil, "CreateBucket", []s3Check{{"s3:CreateBucket", "arn:aws:s3:::b"}}, map[string][]string{}},
		{"DELETE", "/b", "", nil, "DeleteBucket", []s3Check{{"s3:DeleteBucket", "arn:aws:s3:::b"}}, map[string][]string{}},
		{"PUT", "/b?policy", "", nil, "PutBucketPolicy", []s3Check{{"s3:PutBucketPolicy", "arn:aws:s3:::b"}}, map[string][]string{}},
		{"POST", "/b?delete", "", nil, "DeleteObjects", []s3Check{{"s3:DeleteObject", "arn:aws:s3:::b"}}, map[string][]string{}},
		{"GET", "/b/dir/a%20b.json", "", nil, "GetObject", []s3Check{{"s3:GetObject", "arn:aws:s3:::b/dir/a b.json"}}, map[string][]string{}},
		{"GET", "/b/k?versionId=3", "", nil, "GetObject", []s3Check{{"s3:GetObjectVersion", "arn:aws:s3:::b/k"}}, map[string][]string{"s3:VersionId": {"3"}}},
		{"HEAD", "/b/k", "", nil, "HeadObject", []s3Check{{"s3:GetObject", "arn:aws:s3:::b/k"}}, map[string][]string{}},
		{"PUT", "/b/k", "", map[string]string{"x-amz-server-side-encryption": "aws:kms"}, "PutObject", []s3Check{{"s3:PutObject", "arn:aws:s3:::b/k"}}, map[string][]string{"s3:x-amz-server-side-encryption": {"aws:kms"}}},
		{"PUT", "/b/k", "", map[string]string{"X-Amz-Copy-Source": "/src/o%2Fk"}, "CopyObject", []s3Check{{"s3:PutObject", "arn:aws:s3:::b/k"}, {"s3:GetObject", "arn:aws:s3:::src/o/k"}}, map[string][]string{}},
		{"PUT", "/b/k?partNumber=1&uploadId=u", "", nil, "UploadPart", []s3Check{{"s3:PutObject", "arn:aws:s3:::b/k"}}, map[string][]string{}},
		{"POST", "/b/k?uploads", "", nil, "CreateMultipartUpload", []s3Check{{"s3:PutObject", "arn:aws:s3:::b/k"}}, map[string][]string{}},
		{"POST", "/b/k?uploadId=u", "", nil, "CompleteMultipartUpload", []s3Check{{"s3:PutObject", "arn:aws:s3:::b/k"}}, map[string][]string{}},
		{"DELETE", "/b/k?uploadId=u", "", nil, "AbortMultipartUpload", []s3Check{{"s3:AbortMultipartUpload", "arn:aws:s3:::b/k"}}, map[string][]string{}},
		{"DELETE", "/b/k", "", nil, "DeleteObject", []s3Check{{"s3:DeleteObject", "arn:aws:s3:::b/k"}}, map[string][]string{}},
		{"PUT", "/b/k?tagging", "", nil, "PutObjectTagging", []s3Check{{"s3:PutObjectTagging", "arn:aws:s3:::b/k"}}, map[string][]string{}},
		{"GET", "/k/x", "vh.s3.us-west-2.amazonaws.com", nil, "GetObject", []s3Check{{"s3:GetObject", "arn:aws:s3:::vh/k/x"}}, map[string][]string{}},
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.target, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(tc.method, tc.target, nil)
			if tc.host != "" {
				r.Host = tc.host
			}
			for k, v := range tc.header {
				r.Header.Set(k, v)
			}
			got := parseS3Request(r)
			if got.Op != tc.wantOp || !reflect.DeepEqual(got.Checks, tc.wantChecks) || !reflect.DeepEqual(got.Context, tc.wantContext) {
				t.Fatalf("got op %s checks %v context %v; want %s %v %v", got.Op, got.Checks, got.Context, tc.wantOp, tc.wantChecks, tc.wantContext)
			}
		})
	}
}

func TestDeleteKeys(t *testing.T) {
	t.Parallel()
	body := `<?xml version="1.0" encoding="UTF-8"?><Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>a/1</Key></Object><Object><Key>b &amp; c</Key><VersionId>v</VersionId></Object><Quiet>true</Quiet></Delete>`
	if got := deleteKeys([]byte(body)); !reflect.DeepEqual(got, []string{"a/1", "b & c"}) {
		t.Fatalf("deleteKeys = %q", got)
	}
}

func TestFilterList(t *testing.T) {
	t.Parallel()
	f, err := New(Config{MotoURL: "http://127.0.0.1:1", Faults: Faults{ConsistencyDelayMS: 60_000}})
	if err != nil {
		t.Fatal(err)
	}
	f.remember(roleKey("Fresh"))
	f.remember(oidcKey("arn:aws:iam::123456789012:oidc-provider/new"))
	roles := `<ListRolesResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><ListRolesResult><Roles>` +
		`<member><Path>/</Path><RoleName>old</RoleName><Tags><member><Key>RoleName</Key><Value>fresh</Value></member></Tags></member>` +
		`<member><Path>/</Path><RoleName>fresh</RoleName><Arn>arn:aws:iam::123456789012:role/fresh</Arn></member>` +
		`<member><RoleName>other</RoleName></member>` +
		`</Roles><IsTruncated>false</IsTruncated></ListRolesResult></ListRolesResponse>`
	want := `<ListRolesResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><ListRolesResult><Roles>` +
		`<member><Path>/</Path><RoleName>old</RoleName><Tags><member><Key>RoleName</Key><Value>fresh</Value></member></Tags></member>` +
		`<member><RoleName>other</RoleName></member>` +
		`</Roles><IsTruncated>false</IsTruncated></ListRolesResult></ListRolesResponse>`
	if got := string(f.filterList([]byte(roles), "Roles")); got != want {
		t.Errorf("ListRoles filtered:\n got %s\nwant %s", got, want)
	}
	provs := `<ListOpenIDConnectProvidersResponse><ListOpenIDConnectProvidersResult><OpenIDConnectProviderList>` +
		`<member><Arn>arn:aws:iam::123456789012:oidc-provider/new</Arn></member><member><Arn>arn:aws:iam::123456789012:oidc-provider/old</Arn></member>` +
		`</OpenIDConnectProviderList></ListOpenIDConnectProvidersResult></ListOpenIDConnectProvidersResponse>`
	if got := string(f.filterList([]byte(provs), "OpenIDConnectProviderList")); strings.Contains(got, "provider/new") || !strings.Contains(got, "provider/old") {
		t.Errorf("ListOpenIDConnectProviders filtered: %s", got)
	}
	// With the window closed nothing is hidden.
	f.SetFaults(Faults{})
	if got := string(f.filterList([]byte(roles), "Roles")); got != roles {
		t.Errorf("with no window the list changed: %s", got)
	}
}

func TestFaultsValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		f    Faults
		want string
	}{
		{Faults{}, ""},
		{Faults{LatencyMS: 100, ThrottleRate: 0.3, ErrorRate: 0.1, ConsistencyDelayMS: 2000, FailAfterWrites: 3}, ""},
		{Faults{ThrottleRate: 1.5}, "throttle_rate 1.5"},
		{Faults{ErrorRate: -0.1}, "error_rate -0.1"},
		{Faults{LatencyMS: -1}, "latency_ms -1"},
		{Faults{ConsistencyDelayMS: -5}, "consistency_delay_ms -5"},
		{Faults{FailAfterWrites: -2}, "fail_after_writes -2"},
	} {
		err := tc.f.validate()
		if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("validate(%+v) = %v; want %q", tc.f, err, tc.want)
		}
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	for _, cfg := range []Config{
		{MotoURL: "not a url"},
		{MotoURL: "http://127.0.0.1:1", Faults: Faults{ThrottleRate: 2}},
		{MotoURL: "http://127.0.0.1:1", EKS: &EKSCluster{}},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted a bad config", cfg)
		}
	}
}

func TestRoleNameOf(t *testing.T) {
	t.Parallel()
	for arn, want := range map[string]string{
		"arn:aws:iam::123456789012:role/r":         "r",
		"arn:aws:iam::123456789012:role/path/to/r": "r",
		"arn:aws:iam::123456789012:user/u":         "",
	} {
		if got := roleNameOf(arn); got != want {
			t.Errorf("roleNameOf(%s) = %q; want %q", arn, got, want)
		}
	}
}

// TestMotoUnreachable: a front whose moto is gone answers in the service's error shape and says so.
func TestMotoUnreachable(t *testing.T) {
	t.Parallel()
	f, err := New(Config{MotoURL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("POST", "/", strings.NewReader("Action=ListRoles"))
	r.Header.Set("Authorization", sigv4("iam"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	f.ServeHTTP(w, r)
	body := w.Body.String()
	if w.Code != http.StatusInternalServerError || !strings.Contains(body, "<Code>InternalFailure</Code>") || !strings.Contains(body, "moto at http://127.0.0.1:1") {
		t.Fatalf("HTTP %d %s; want 500 InternalFailure naming moto", w.Code, body)
	}
}
