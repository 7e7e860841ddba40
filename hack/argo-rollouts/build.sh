#!/usr/bin/env bash
# Builds (or reuses) the Argo Rollouts controller (rollouts-controller) and its kubectl plugin
# (kubectl-argo-rollouts) from this tools module, and copies the CRDs of the same module version
# (manifests/crds/) beside them, so the tests install exactly the CRDs that controller was built
# for. Cached outside the work tree per version and per hash of the build inputs (go.mod, go.sum,
# link flags); nothing is downloaded but Go modules. Prints the cache directory on its last line.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
source ../lib/cached-go-build.sh

module=github.com/argoproj/argo-rollouts
version="$(awk -v m="$module" '$1 == "require" && $2 == m {print $3}' go.mod)"
# What argo-rollouts' own Makefile stamps, so that `version` prints the release. The tag's commit
# is filled in below from the module proxy's record; go.sum already pins it, so it is not hashed.
ldflags="-s -w \
 -X $module/utils/version.version=${version#v} \
 -X $module/utils/version.gitTag=$version \
 -X $module/utils/version.gitTreeState=clean"
inputs_hash="$( (cat go.mod go.sum; echo "$ldflags") | sha256sum | cut -c1-12)"
bin_dir="$pruneguard_cache_root/argo-rollouts/$version-$inputs_hash"
binaries=(rollouts-controller kubectl-argo-rollouts)

built=true
for b in "${binaries[@]}"; do [ -x "$bin_dir/$b" ] || built=false; done
if $built && [ -f "$bin_dir/crds/rollout-crd.yaml" ]; then
  echo "$bin_dir"
  exit 0
fi

info="$(go mod download -json "$module@$version")"
field() { sed -n "s/.*\"$1\": *\"\([^\"]*\)\".*/\1/p" <<<"$info" | head -1; }
ldflags="$ldflags -X $module/utils/version.gitCommit=$(field Hash)"
for b in "${binaries[@]}"; do
  cached_go_build "$bin_dir" "$b" -ldflags "$ldflags" "$module/cmd/$b" >/dev/null
done
if [ ! -f "$bin_dir/crds/rollout-crd.yaml" ]; then
  rm -rf "$bin_dir/crds" "$bin_dir/crds.partial"
  mkdir -p "$bin_dir/crds.partial"
  cp "$(field Dir)"/manifests/crds/*-crd.yaml "$bin_dir/crds.partial/"
  chmod u+w "$bin_dir"/crds.partial/*
  mv "$bin_dir/crds.partial" "$bin_dir/crds"
fi
echo "$bin_dir"
