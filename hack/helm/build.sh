#!/usr/bin/env bash
# Builds (or reuses) the helm v3 binary used by the chart tests (test/integration/chart/) from
# this tools module. The binary is cached per version outside the work tree; nothing is downloaded
# but Go modules. Prints the cache directory on its last line.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

helm_version="$(awk '$1 == "require" && $2 == "helm.sh/helm/v3" {print $3}' go.mod)"
cache_root="${PRUNEGUARD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pruneguard}"
bin_dir="$cache_root/helm/$helm_version"

if [ -x "$bin_dir/helm" ]; then
  echo "$bin_dir"
  exit 0
fi

export GOFLAGS="${GOFLAGS:--buildvcs=false}" CGO_ENABLED=0
mkdir -p "$bin_dir.partial"
start=$(date +%s)
# helm's own Makefile stamps its version and the Kubernetes version that `helm lint` and
# `helm template` assume (client-go v0.X.Y is Kubernetes 1.X).
client_go="$(go list -m -f '{{.Version}}' k8s.io/client-go)"
k8s_minor="$(echo "$client_go" | cut -d. -f2)"
ldflags="-s -w \
 -X helm.sh/helm/v3/internal/version.version=$helm_version \
 -X helm.sh/helm/v3/internal/version.gitTreeState=clean \
 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$k8s_minor \
 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$k8s_minor"
echo "building helm $helm_version ..." >&2
go build -trimpath -ldflags "$ldflags" -o "$bin_dir.partial/helm" helm.sh/helm/v3/cmd/helm
mkdir -p "$bin_dir"
mv "$bin_dir.partial/helm" "$bin_dir/helm"
rmdir "$bin_dir.partial"
echo "built helm in $(( $(date +%s) - start ))s; $(du -sh "$bin_dir/helm" | cut -f1) in $bin_dir" >&2
echo "$bin_dir"
