//go:build tools

// Package tools pins krew and its manifest validator. They live in their own module because krew v0.4.3
// needs Kubernetes libraries far older than the control plane the other tools module pins.
package tools

import (
	_ "sigs.k8s.io/krew/cmd/krew"
	_ "sigs.k8s.io/krew/cmd/validate-krew-manifest"
)
