package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox"
	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox/credential"
)

func stopAPIServerCmd() *cobra.Command {
	var dir, cluster string
	c := &cobra.Command{
		Use:   "stop-apiserver --cluster NAME --dir DIR",
		Short: "Stop one cluster's kube-apiserver in the sandbox that runs in DIR; everything else keeps running",
		Args:  cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			return stopAPIServer(dir, cluster)
		},
	}
	c.Flags().StringVar(&dir, "dir", "", "State directory of the running sandbox (required)")
	c.Flags().StringVar(&cluster, "cluster", "", "Cluster whose apiserver to stop: sandbox, sandbox-2, ... (required)")
	_ = c.MarkFlagRequired("dir")
	_ = c.MarkFlagRequired("cluster")
	return c
}

func stopAPIServer(dir, cluster string) error {
	st, ok := readState(dir)
	if !ok || !alive(st.PID) {
		return fmt.Errorf("no sandbox runs in %s: start one with `sdc-sandbox up --dir %s`", dir, dir)
	}
	pid, ok := st.APIServers[cluster]
	if !ok {
		var names []string
		for n := range st.APIServers {
			names = append(names, n)
		}
		slices.Sort(names)
		return fmt.Errorf("--cluster %q is not a cluster of the sandbox in %s; its clusters: %s", cluster, dir, strings.Join(names, ", "))
	}
	// The pid was the apiserver's when the sandbox started; make sure it still is before signalling it.
	if !alive(pid) || !isAPIServer(pid) {
		fmt.Printf("the apiserver of cluster %s is not running\n", cluster)
		return nil
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	deadline := time.Now().Add(sandbox.APIServerStopGrace)
	for alive(pid) && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if alive(pid) {
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("killing the apiserver of %s (pid %d): %w", cluster, pid, err)
		}
		// SIGKILL is delivered asynchronously: report success only once the process is gone.
		for deadline := time.Now().Add(5 * time.Second); alive(pid); {
			if time.Now().After(deadline) {
				return fmt.Errorf("the apiserver of %s (pid %d) still runs 5 s after SIGKILL", cluster, pid)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	fmt.Printf("stopped the apiserver of cluster %s (pid %d)\n", cluster, pid)
	return nil
}

// isAPIServer tells whether pid runs kube-apiserver.
func isAPIServer(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return false
	}
	args := strings.Split(string(b), "\x00")
	return len(args) > 0 && strings.HasSuffix(args[0], "kube-apiserver")
}

func credentialCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "credential --cluster-name NAME [--region REGION]",
		Short: "Print an ExecCredential with an EKS token for the cluster (the kubeconfig's exec plugin; like `aws eks get-token`)",
		// The plugin parses its own flags, as the kubeconfig passes them.
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if code := credential.Run(context.Background(), args, os.Stdout, os.Stderr); code != 0 {
				os.Exit(code)
			}
			return nil
		},
	}
}
