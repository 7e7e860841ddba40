#!/usr/bin/env bash
# Builds (or reuses) SeaweedFS's `weed` from this tools module: master, volume server, filer and S3
# gateway in one binary, the S3-compatible server the object-storage tests read from
# (test/support/s3-server.ts). Cached outside the work tree per version and per hash of the build
# inputs (go.mod, go.sum, link flags); nothing is downloaded but Go modules. Prints the cache
# directory on its last line.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
source ../lib/cached-go-build.sh

module=github.com/seaweedfs/seaweedfs
version="$(awk -v m="$module" '$1 == "require" && $2 == m {print $3}' go.mod)"
ldflags="-s -w"
inputs_hash="$( (cat go.mod go.sum; echo "$ldflags") | sha256sum | cut -c1-12)"
bin_dir="$pruneguard_cache_root/seaweedfs/$version-$inputs_hash"

cached_go_build "$bin_dir" weed -ldflags "$ldflags" "$module/weed" | tail -1
