#!/usr/bin/env bash
# Builds (or reuses) the local control-plane binaries used by tests and `make demo`:
# kube-apiserver, kube-controller-manager, kube-scheduler, kubectl and etcd from this tools module,
# kwok from its own module. Binaries are cached per version outside the work tree; nothing is
# downloaded but Go modules. Prints the cache directory on its last line.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

# shellcheck source=kubernetes-build.sh
source "$(pwd)/kubernetes-build.sh"
etcd_version="$(awk '$1 == "go.etcd.io/etcd/server/v3" {print $2}' go.mod)"
kwok_version="${KWOK_VERSION:-v0.7.0}"
cache_root="${PRUNEGUARD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pruneguard}"
bin_dir="$cache_root/controlplane/kubernetes-$kubernetes_version-etcd-$etcd_version-kwok-$kwok_version"
binaries=(kube-apiserver kube-controller-manager kube-scheduler kubectl etcd kwok)
# kwok's own pod stages, minus pod-complete: evaluation pods are completed by the e2e harness,
# which runs their real command (see test/support/pod-runner.ts), not by kwok.
kwok_stages=(pod-ready pod-delete)

missing=()
for b in "${binaries[@]}"; do [ -x "$bin_dir/$b" ] || missing+=("$b"); done
if [ ${#missing[@]} -eq 0 ] && [ -f "$bin_dir/kwok-stages.yaml" ]; then
  echo "$bin_dir"
  exit 0
fi

mkdir -p "$bin_dir.partial"
start=$(date +%s)
for b in "${missing[@]}"; do
  echo "building $b ..." >&2
  case "$b" in
    etcd) go build -trimpath -ldflags "-s -w" -o "$bin_dir.partial/etcd" go.etcd.io/etcd/server/v3 ;;
    kwok) GOBIN="$bin_dir.partial" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$kwok_version" ;;
    *) go build -trimpath -ldflags "$version_flags" -o "$bin_dir.partial/$b" "k8s.io/kubernetes/cmd/$b" ;;
  esac
done
mkdir -p "$bin_dir"
for b in "${missing[@]}"; do mv "$bin_dir.partial/$b" "$bin_dir/$b"; done
rmdir "$bin_dir.partial"
stage_dir="$(go env GOMODCACHE)/sigs.k8s.io/kwok@$kwok_version/kustomize/stage/pod/fast"
[ -d "$stage_dir" ] || go mod download "sigs.k8s.io/kwok@$kwok_version"
for s in "${kwok_stages[@]}"; do cat "$stage_dir/$s.yaml"; echo "---"; done > "$bin_dir/kwok-stages.yaml"
[ ${#missing[@]} -eq 0 ] || echo "built ${missing[*]} in $(( $(date +%s) - start ))s; $(du -sh "$bin_dir" | cut -f1) in $bin_dir" >&2
echo "$bin_dir"
