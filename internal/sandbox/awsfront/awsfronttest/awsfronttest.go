// Package awsfronttest runs moto behind the sandbox's AWS front for tests that need AWS but no Kubernetes.
package awsfronttest

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/kubectl-sdc/kubectl-sdc/internal/sandbox/awsfront"
)

// Moto starts moto_server for the test and stops it afterwards. A machine without moto fails the test:
// these tests prove code against a real implementation of AWS's wire protocols. Under -short (unit tests
// only) the test is skipped.
func Moto(t testing.TB) *awsfront.Moto {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: unit tests only; this test runs moto_server behind the sandbox's AWS front")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m, err := awsfront.StartMoto(ctx, awsfront.MotoOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatalf("starting moto_server (install it with: pip install 'moto[server]'): %v", err)
	}
	t.Cleanup(func() { _ = m.Stop() })
	return m
}

// Front serves a new front over m with the given faults (and a fixed seed, so fault rates repeat), and
// returns it, its URL, and the admin credentials of the account it bootstrapped.
func Front(t testing.TB, m *awsfront.Moto, faults awsfront.Faults) (*awsfront.Front, string, awsfront.Credentials) {
	t.Helper()
	f, err := awsfront.New(awsfront.Config{MotoURL: m.URL, Faults: faults, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	creds, err := f.Bootstrap(context.Background())
	if err != nil {
		t.Fatalf("bootstrapping the sandbox account: %v", err)
	}
	return f, srv.URL, creds
}
