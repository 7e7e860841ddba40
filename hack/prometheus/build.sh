#!/usr/bin/env bash
# Builds (or reuses) the upstream Prometheus server from this tools module, for the live-metrics
# tests (test/support/prometheus.ts): a real Prometheus scraping a real serving process and
# answering pruneguard's range queries. Cached outside the work tree per Prometheus version and
# per hash of the module files; nothing is downloaded but Go modules. The web UI's assets are not
# built in (the `builtinassets` tag needs npm); the HTTP API, which is all the tests use, is.
# Prints the cache directory on its last line.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
source ../lib/cached-go-build.sh

prometheus_version="$(awk '$1 == "require" && $2 == "github.com/prometheus/prometheus" {print $3}' go.mod)"
source_hash="$(cat tools.go go.mod go.sum | sha256sum | cut -c1-12)"
cached_go_build "$pruneguard_cache_root/prometheus/$prometheus_version-$source_hash" prometheus \
  -ldflags "-s -w" github.com/prometheus/prometheus/cmd/prometheus
