#!/usr/bin/env bash
# Builds (or reuses) glua, gopher-lua's command-line interpreter: Argo CD runs health checks in
# gopher-lua, so the tests run manifests/argocd/ health scripts in the same interpreter. Cached
# outside the work tree per gopher-lua version; nothing is downloaded but Go modules. Prints the
# cache directory on its last line.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
source ../lib/cached-go-build.sh

gopher_lua_version="$(awk '$1 == "require" && $2 == "github.com/yuin/gopher-lua" {print $3}' go.mod)"
cached_go_build "$pruneguard_cache_root/lua/gopher-lua-$gopher_lua_version" glua -ldflags "-s -w" github.com/yuin/gopher-lua/cmd/glua
