#!/usr/bin/env bash
# Builds (or reuses) promql-check (main.go beside this script: Prometheus's PromQL parser and query
# engine), used by the chart tests. Cached outside the work tree per Prometheus version and per hash
# of our own source, so an edit to main.go rebuilds it; nothing is downloaded but Go modules.
# Prints the cache directory on its last line.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
source ../lib/cached-go-build.sh

prometheus_version="$(awk '$1 == "require" && $2 == "github.com/prometheus/prometheus" {print $3}' go.mod)"
source_hash="$(cat main.go go.mod go.sum | sha256sum | cut -c1-12)"
cached_go_build "$pruneguard_cache_root/promql/prometheus-$prometheus_version-$source_hash" promql-check -ldflags "-s -w" .
