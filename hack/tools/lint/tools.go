//go:build tools

// Package lint pins the linters `make lint` runs, apart from the plugin's own dependencies.
package lint

import _ "honnef.co/go/tools/cmd/staticcheck"
