// Command kubectl-sdc is the kubectl plugin that gives StreamSets Data Collector workloads on Amazon EKS
// their AWS permissions through IAM Roles for Service Accounts.
package main

import (
	"os"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/cmd"
)

// atExit runs before the process exits (profiles of a -tags pprof build).
var atExit []func()

func main() {
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	code := cmd.Execute(streams, os.Args[1:])
	for _, f := range atExit {
		f()
	}
	os.Exit(code)
}
