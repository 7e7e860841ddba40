//go:build tools

// Package lua only exists so that `go mod tidy` keeps the command we build.
package lua

import (
	_ "github.com/yuin/gopher-lua/cmd/glua"
)
