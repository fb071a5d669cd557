package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox"
	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox/awsfront"
)

// harness is one running sandbox (one cluster or a fleet) and the means to measure a command against it.
type harness struct {
	tb    *toolbox
	sb    *sandbox.Sandbox
	calls *callLog
	// audits are the clusters' audit logs, in the sandbox's order: a run's Kubernetes requests are the sum
	// over all of them.
	audits []*auditLog
	// iam and kube are the bench's own clients, for preparing and checking; they are never measured: every
	// measurement resets the counts first and reads them before the bench touches anything again.
	iam  *iam.Client
	eks  *eks.Client
	kube kubernetes.Interface
}

// startHarness starts a sandbox of clusters clusters in dir whose log (the AWS front's call lines included)
// the harness reads.
func startHarness(ctx context.Context, tb *toolbox, dir string, clusters int) (*harness, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "sandbox.log"))
	if err != nil {
		return nil, err
	}
	calls := &callLog{tee: logf}
	sctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	sb, err := sandbox.Start(sctx, sandbox.Options{Dir: dir, BinDir: tb.binDir, Log: calls, Clusters: clusters})
	if err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting the sandbox in %s: %w (its logs are there)", dir, err)
	}
	h := &harness{tb: tb, sb: sb, calls: calls}
	for _, c := range sb.Clusters {
		a, err := newAuditLog(c)
		if err != nil {
			sb.Stop()
			return nil, err
		}
		h.audits = append(h.audits, a)
	}
	cfg := rest.CopyConfig(sb.RESTConfig)
	// Seeding a thousand objects through client-go's default 5 requests/s would take minutes.
	cfg.QPS, cfg.Burst = 2000, 4000
	cfg.UserAgent = "sdc-bench-seed"
	// Protobuf costs the apiserver (and the bench) less than JSON for tens of thousands of creates.
	cfg.ContentType = "application/vnd.kubernetes.protobuf"
	cfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	if h.kube, err = kubernetes.NewForConfig(cfg); err != nil {
		sb.Stop()
		return nil, err
	}
	creds := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: sb.AccessKeyID, SecretAccessKey: sb.SecretAccessKey, Source: "sandbox"}, nil
	})
	httpClient := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: time.Minute}
	h.iam = iam.New(iam.Options{Region: sb.Region, BaseEndpoint: aws.String(sb.AWSEndpoint), Credentials: creds,
		RetryMaxAttempts: 8, HTTPClient: httpClient})
	h.eks = eks.New(eks.Options{Region: sb.Region, BaseEndpoint: aws.String(sb.AWSEndpoint), Credentials: creds,
		RetryMaxAttempts: 8, HTTPClient: httpClient})
	return h, nil
}

func (h *harness) stop() { h.sb.Stop() }

// setLatency sets the AWS front's latency, the only fault the benchmarks use.
func (h *harness) setLatency(ms int) { h.sb.Front.SetFaults(awsfront.Faults{LatencyMS: ms}) }

// sample is one measured command: its result, the AWS calls it made (counted and laid out in time) and the
// Kubernetes requests whose user agent starts with the prefix given.
type sample struct {
	cmd   cmdResult
	aws   awsfront.CallCounts
	calls []awsCall
	kube  kubeSummary
	// changes is how many changes the command's plan made (unbind: each should cost one write).
	changes int
}

// measure runs one command and collects what it cost. kubePrefix picks the requests to count: the plugin's
// "kubectl-sdc/", or "kubectl/" for the baselines.
func (h *harness) measure(ctx context.Context, kubePrefix, name string, args ...string) (sample, error) {
	h.sb.Front.ResetCalls()
	mark := h.calls.mark()
	offs := make([]int64, len(h.audits))
	for i, a := range h.audits {
		off, err := a.mark()
		if err != nil {
			return sample{}, err
		}
		offs[i] = off
	}
	r, err := h.tb.run(ctx, h.sb, name, args...)
	if err != nil {
		return sample{}, err
	}
	s := sample{cmd: r, aws: h.sb.Front.Calls()}
	if s.calls, err = h.calls.since(ctx, mark, s.aws.Total); err != nil {
		return s, err
	}
	var events []sandbox.AuditEvent
	for i, a := range h.audits {
		e, err := a.since(ctx, offs[i], kubePrefix)
		if err != nil {
			return s, err
		}
		events = append(events, e...)
	}
	s.kube = summarizeKube(events)
	return s, nil
}

// progress writes a line about what the bench is doing.
func progress(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, "bench: "+format+"\n", args...)
	}
}
