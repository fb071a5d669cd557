package workload

import (
	"crypto/rand"
	"fmt"
)

// plan is what a chain is asked to do, the same for every SDK: find its credentials, say who it is, with
// AssumeRoleARN assume that role as SDC's "Assume Another Role" does, then make the S3 calls.
type plan struct {
	Bucket string `json:"bucket"`
	Key    string `json:"key"`
	// AssumeRoleARN, when set: AssumeRole with a random UUID session name, 3600 s and the session tag
	// streamsets/principal=Principal (SDC's "Set Session Tags" is on by default), then S3 as that role.
	AssumeRoleARN string `json:"assumeRoleArn,omitempty"`
	Principal     string `json:"principal,omitempty"`
}

// outcome is what a chain reports on standard output, as one JSON object.
type outcome struct {
	Identity string `json:"identity"`          // GetCallerIdentity with the chain's own credentials
	Assumed  string `json:"assumed,omitempty"` // GetCallerIdentity after Assume Another Role
	Error    string `json:"error,omitempty"`   // a step before the S3 calls failed
	Calls    []call `json:"calls"`
}

// call is one S3 call and its result: "ok" or the error code the service answered.
type call struct {
	Call   string `json:"call"`
	Result string `json:"result"`
}

// The S3 calls every chain makes, in this order: the stage's three (granted by the binding) and two it
// does not grant.
var (
	granted = []string{"PutObject", "GetObject", "ListBucket"}
	refused = []string{"DeleteObject", "DeleteBucket"}
)

// The session tag SDC sets on Assume Another Role, and the session length it asks for (its "Session
// Timeout" default and minimum).
const (
	principalTag    = "streamsets/principal"
	sessionSeconds  = 3600
	objectBody      = "written by the workload's seat"
	defaultUserName = "sdc-user@example.com"
)

// sessionName is a random UUID (version 4), SDC's role session name when none is configured.
func sessionName() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
