//go:build tools

// Package prometheus only exists so that `go mod tidy` keeps the command we build.
package prometheus

import _ "github.com/prometheus/prometheus/cmd/prometheus"
