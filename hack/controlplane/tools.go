//go:build tools

// Package controlplane only exists so that `go mod tidy` keeps the commands we build
// (the node's kubelet and kube-proxy too: hack/node/build.sh builds them from this module).
package controlplane

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "go.etcd.io/etcd/server/v3"
)
