// Package kubectlsdc holds the files of the repository root that the binary embeds.
package kubectlsdc

import _ "embed"

// PluginsYAML is plugins.yaml, the catalog of SDC stage libraries and the IAM statements each stage needs.
// It lives at the repository root so people find and review it there; pkg/catalog parses it.
//
//go:embed plugins.yaml
var PluginsYAML []byte
