#!/usr/bin/env bash
# Builds (or reuses) the helm v3 binary used by the chart tests (test/integration/chart/) from
# this tools module. The binary is cached per version outside the work tree; nothing is downloaded
# but Go modules. Prints the cache directory on its last line.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
source ../lib/cached-go-build.sh

helm_version="$(awk '$1 == "require" && $2 == "helm.sh/helm/v3" {print $3}' go.mod)"
# helm's own Makefile stamps its version and the Kubernetes version that `helm lint` and
# `helm template` assume (client-go v0.X.Y is Kubernetes 1.X).
k8s_minor="$(awk '$1 == "k8s.io/client-go" {print $2}' go.mod | cut -d. -f2)"
ldflags="-s -w \
 -X helm.sh/helm/v3/internal/version.version=$helm_version \
 -X helm.sh/helm/v3/internal/version.gitTreeState=clean \
 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$k8s_minor \
 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$k8s_minor"
cached_go_build "$pruneguard_cache_root/helm/$helm_version" helm -ldflags "$ldflags" helm.sh/helm/v3/cmd/helm
