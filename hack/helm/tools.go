//go:build tools

// Package helm only exists so that `go mod tidy` keeps the command we build.
package helm

import (
	_ "helm.sh/helm/v3/cmd/helm"
)
