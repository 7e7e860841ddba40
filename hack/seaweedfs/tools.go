//go:build tools

// Package seaweedfs only exists so that `go mod tidy` keeps the command we build.
package seaweedfs

import _ "github.com/seaweedfs/seaweedfs/weed"
