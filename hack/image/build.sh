#!/usr/bin/env bash
# `make image`: the pruneguard image, built with no Docker engine and no registry. The root
# filesystem comes from hack/image/rootfs.sh (which the Dockerfile runs too) and the configuration
# (user, entrypoint, env) from the Dockerfile's last stage; pack.py writes a deterministic image
# tarball (docker-archive and OCI layout in one) that `ctr images import` and `docker load` take.
# Cached by a hash of every input; prints the cache folder (pruneguard.tar, tags) on its last line.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
cache_root="${PRUNEGUARD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pruneguard}"
repository="ghcr.io/pruneguard/pruneguard"
app_version="$(awk '$1 == "appVersion:" {gsub(/"/, "", $2); print $2}' charts/pruneguard/Chart.yaml)"

# Inputs: what rootfs.sh and pack.py read, the sources, and this machine's libraries (ldd copies them).
inputs_hash="$(
  {
    for f in Dockerfile hack/image/* package.json package-lock.json .npmrc tsconfig.json; do
      echo "$f $(sha256sum < "$f")"
    done
    find src -type f -name '*.ts' | LC_ALL=C sort | while read -r f; do echo "$f $(sha256sum < "$f")"; done
    dpkg-query -W -f '${Package} ${Version}\n' libc6 libstdc++6 libgcc-s1 coreutils 2>/dev/null || ldd --version | head -1
  } | sha256sum | cut -c1-16
)"
out="$cache_root/image/pruneguard-$inputs_hash"
tags=("$repository:$app_version" "$repository:dev-$inputs_hash")
if [ -f "$out/pruneguard.tar" ]; then
  echo "pruneguard image (cached): ${tags[*]}, $(du -m "$out/pruneguard.tar" | cut -f1) MB" >&2
  echo "$out"
  exit 0
fi

[ -x node_modules/.bin/tsc ] || npm ci --no-audit --no-fund
start=$(date +%s)
staging="$out.partial"
rm -rf "$staging"
mkdir -p "$staging"
bash hack/image/rootfs.sh "$staging/rootfs"
python3 hack/image/pack.py --root "$staging/rootfs" --dockerfile Dockerfile \
  --tag "${tags[0]}" --tag "${tags[1]}" --output "$staging/pruneguard.tar"
printf '%s\n' "${tags[@]}" > "$staging/tags"
bash hack/image/smoke.sh "$staging/rootfs"
rm -rf "$staging/rootfs"
rm -rf "$out"
mv "$staging" "$out"
# Older builds of this image are of no use once their inputs have changed.
find "$cache_root/image" -mindepth 1 -maxdepth 1 -name 'pruneguard-*' ! -path "$out" -exec rm -rf {} +
echo "built pruneguard image in $(( $(date +%s) - start ))s: ${tags[*]}, $(du -m "$out/pruneguard.tar" | cut -f1) MB uncompressed" >&2
echo "$out"
