// Package workload puts real AWS SDKs in the seat of an SDC pod: for a Deployment bound by `kubectl sdc bind`,
// it takes the environment the pod identity webhook gave its pod, writes a token bound to that pod where
// that environment says, and runs each SDK's default credential chain from exactly that environment
// (aws-sdk-go-v2, the aws CLI's botocore, the AWS SDK for JavaScript v3), then SDC's "Assume Another Role"
// on top of it, against the package's sandbox. What each chain could and could not do is the verdict.
package workload

import (
	"os"
	"testing"

	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox"
	"github.com/kubectl-sdc/kubectl-sdc/test/harness"
)

func TestMain(m *testing.M) {
	// The test binary is also the Go workload: run as `workload.test go-seat PLAN` with the seat's
	// environment, it runs aws-sdk-go-v2's chain and exits, so that chain sees that environment alone, as
	// a process in the pod would.
	if len(os.Args) == 3 && os.Args[1] == goSeatArg {
		os.Exit(runGoSeat(os.Args[2]))
	}
	os.Exit(harness.Main(m, sandbox.Options{}, harness.Stamp{Version: "v9.9.9-workload", Commit: "workload", Date: "2026-01-02T03:04:05Z"}))
}
