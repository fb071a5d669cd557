// Command helper runs a command and writes what it cost (see package rusage). It imports little so that
// its own peak resident set, which the command inherits, stays small.
package main

import (
	"os"

	"github.com/kubectl-sdc/kubectl-sdc/bench/internal/rusage"
)

func main() { os.Exit(rusage.Helper(os.Args[1:])) }
