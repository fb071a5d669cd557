// Command kubectl-sdc is the kubectl plugin that gives StreamSets Data Collector workloads on Amazon EKS
// their AWS permissions through IAM Roles for Service Accounts.
package main

import (
	"os"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-sdc/kubectl-sdc/pkg/cmd"
)

func main() {
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	os.Exit(cmd.Execute(streams, os.Args[1:]))
}
