// Command sdc-sandbox runs the local sandbox kubectl-sdc is developed and tested against: a real Kubernetes
// control plane with a pod identity webhook, and moto's AWS behind a front that behaves like IAM and STS.
// It is a development tool and is not shipped in the krew archive.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox"
)

// stateFile records who runs in DIR, so `down` can stop it and `up` refuses to start a second one.
const stateFile = "sandbox.json"

type state struct {
	PID          int            `json:"pid"`
	ProcessGroup int            `json:"processGroup"`
	APIServers   map[string]int `json:"apiservers,omitempty"` // cluster name -> kube-apiserver pid
}

func main() {
	root := &cobra.Command{
		Use:           "sdc-sandbox",
		Short:         "A local EKS-like sandbox for kubectl-sdc: Kubernetes control plane, pod identity webhook, AWS",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(upCmd(), downCmd(), stopAPIServerCmd(), credentialCmd())
	if err := root.Execute(); err != nil {
		fmt.Fprintf(os.Stderr, "sdc-sandbox: %v\n", err)
		os.Exit(1)
	}
}

func upCmd() *cobra.Command {
	var opts sandbox.Options
	c := &cobra.Command{
		Use:   "up --dir DIR",
		Short: "Run the sandbox in the foreground until SIGINT or SIGTERM; DIR/ready appears when it is ready",
		Args:  cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			return up(opts)
		},
	}
	f := c.Flags()
	f.StringVar(&opts.Dir, "dir", "", "State directory: kubeconfig, env, audit.log, logs/ and ready are written here (required)")
	f.StringVar(&opts.BinDir, "bin-dir", defaultBinDir(), "Directory with etcd, kube-apiserver and kube-controller-manager (make sandbox-bin)")
	f.IntVar(&opts.Clusters, "clusters", 1, fmt.Sprintf("Number of clusters (1-%d): sandbox, sandbox-2, ..., each a kube context and an EKS cluster, even ones in %s", sandbox.MaxClusters, sandbox.SecondRegion))
	f.IntVar(&opts.Faults.LatencyMS, "latency-ms", 0, "AWS front: delay every AWS request by this many milliseconds")
	f.Float64Var(&opts.Faults.ThrottleRate, "throttle-rate", 0, "AWS front: fraction of AWS requests answered with the service's throttling error")
	f.Float64Var(&opts.Faults.ErrorRate, "error-rate", 0, "AWS front: fraction of AWS requests answered with a 5xx error")
	f.IntVar(&opts.Faults.ConsistencyDelayMS, "consistency-delay-ms", 0, "AWS front: IAM roles, policies and providers stay invisible this long after creation")
	f.IntVar(&opts.Faults.FailAfterWrites, "fail-after-writes", 0, "AWS front: let this many AWS writes through, then fail every further write")
	_ = c.MarkFlagRequired("dir")
	return c
}

func downCmd() *cobra.Command {
	var dir string
	c := &cobra.Command{
		Use:   "down --dir DIR",
		Short: "Stop the sandbox that runs in DIR",
		Args:  cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			return down(dir)
		},
	}
	c.Flags().StringVar(&dir, "dir", "", "State directory of the running sandbox (required)")
	_ = c.MarkFlagRequired("dir")
	return c
}

// defaultBinDir is $SDC_SANDBOX_BIN, else the directory this executable is in (make puts both in bin/).
func defaultBinDir() string {
	if d := os.Getenv("SDC_SANDBOX_BIN"); d != "" {
		return d
	}
	if exe, err := os.Executable(); err == nil {
		return filepath.Dir(exe)
	}
	return "bin"
}

func up(opts sandbox.Options) error {
	if opts.Clusters < 1 || opts.Clusters > sandbox.MaxClusters {
		return fmt.Errorf("--clusters %d is out of range: run 1 to %d clusters", opts.Clusters, sandbox.MaxClusters)
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return err
	}
	if st, ok := readState(opts.Dir); ok && alive(st.PID) {
		return fmt.Errorf("a sandbox (pid %d) already runs in %s: stop it with `sdc-sandbox down --dir %s`", st.PID, opts.Dir, opts.Dir)
	}
	// Catch signals before starting anything, so an early Ctrl-C still stops what has started.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	opts.Log = os.Stderr
	// The state file is written before DIR/ready, so that whoever waits for ready can stop this sandbox.
	opts.BeforeReady = func(sb *sandbox.Sandbox) error {
		st := state{PID: os.Getpid(), ProcessGroup: sb.ProcessGroup(), APIServers: map[string]int{}}
		for _, c := range sb.Clusters {
			st.APIServers[c.Name] = c.APIServerPID()
		}
		return writeState(sb.Dir, st)
	}
	sb, err := sandbox.Start(ctx, opts)
	if err != nil {
		return err
	}
	defer sb.Stop()
	defer os.Remove(filepath.Join(sb.Dir, stateFile))
	fmt.Printf("sandbox ready: . %s/env  (kubectl contexts %s, AWS endpoint %s); Ctrl-C stops it\n",
		sb.Dir, strings.Join(sb.ClusterNames(), ", "), sb.AWSEndpoint)
	<-ctx.Done()
	fmt.Fprintln(os.Stderr, "sdc-sandbox: stopping")
	return nil
}

func down(dir string) error {
	st, ok := readState(dir)
	if !ok || !alive(st.PID) {
		fmt.Printf("no sandbox runs in %s\n", dir)
		return nil
	}
	_ = syscall.Kill(st.PID, syscall.SIGTERM)
	deadline := time.Now().Add(30 * time.Second)
	for alive(st.PID) && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if alive(st.PID) {
		_ = syscall.Kill(st.PID, syscall.SIGKILL)
	}
	// Whatever of its children is left (it was killed hard, say) goes with their process group.
	if st.ProcessGroup > 0 {
		if err := syscall.Kill(-st.ProcessGroup, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("stopping process group %d: %w", st.ProcessGroup, err)
		}
	}
	_ = os.Remove(filepath.Join(dir, stateFile))
	fmt.Printf("sandbox in %s stopped\n", dir)
	return nil
}

func readState(dir string) (state, bool) {
	var st state
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil || json.Unmarshal(b, &st) != nil || st.PID <= 0 {
		return st, false
	}
	return st, true
}

func writeState(dir string, st state) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, stateFile), b, 0o644)
}

// alive reports whether pid runs (a zombie counts as gone).
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	// The state field follows the parenthesised command name.
	s := string(b)
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == ')' && i+2 < len(s) {
			return s[i+2] != 'Z'
		}
	}
	return true
}
