#!/usr/bin/env bash
# Builds (or reuses) promql-check (main.go beside this script: Prometheus's PromQL parser and query
# engine), used by the chart tests. Cached outside the work tree per Prometheus version and per hash
# of our own source, so an edit to main.go rebuilds it; nothing is downloaded but Go modules.
# Prints the cache directory on its last line.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

prometheus_version="$(awk '$1 == "require" && $2 == "github.com/prometheus/prometheus" {print $3}' go.mod)"
source_hash="$(cat main.go go.mod go.sum | sha256sum | cut -c1-12)"
cache_root="${PRUNEGUARD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pruneguard}"
bin_dir="$cache_root/promql/prometheus-$prometheus_version-$source_hash"

if [ -x "$bin_dir/promql-check" ]; then
  echo "$bin_dir"
  exit 0
fi

export GOFLAGS="${GOFLAGS:--buildvcs=false}" CGO_ENABLED=0
mkdir -p "$bin_dir.partial"
start=$(date +%s)
echo "building promql-check (prometheus $prometheus_version) ..." >&2
go build -trimpath -ldflags "-s -w" -o "$bin_dir.partial/promql-check" .
mkdir -p "$bin_dir"
mv "$bin_dir.partial/promql-check" "$bin_dir/promql-check"
rmdir "$bin_dir.partial"
echo "built promql-check in $(( $(date +%s) - start ))s; $(du -sh "$bin_dir/promql-check" | cut -f1) in $bin_dir" >&2
echo "$bin_dir"
