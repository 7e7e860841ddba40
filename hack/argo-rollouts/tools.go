//go:build tools

// Package argorollouts only exists so that `go mod tidy` keeps the commands we build.
package argorollouts

import (
	_ "github.com/argoproj/argo-rollouts/cmd/kubectl-argo-rollouts"
	_ "github.com/argoproj/argo-rollouts/cmd/rollouts-controller"
)
