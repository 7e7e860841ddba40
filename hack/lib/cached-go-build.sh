# Sourced by hack/*/build.sh. Tools are built from Go modules into a cache outside the work tree,
# one folder per version, and reused while that folder exists.
pruneguard_cache_root="${PRUNEGUARD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pruneguard}"

# cached_go_build BIN_DIR NAME [go build arguments...]
# Reuses BIN_DIR/NAME, or builds it (through BIN_DIR.partial, so an interrupted build is never
# taken for a finished one). Prints BIN_DIR on its last line.
cached_go_build() {
  local bin_dir="$1" name="$2" start
  shift 2
  if [ ! -x "$bin_dir/$name" ]; then
    export GOFLAGS="${GOFLAGS:--buildvcs=false}" CGO_ENABLED=0
    mkdir -p "$bin_dir.partial"
    start=$(date +%s)
    echo "building $name ..." >&2
    go build -trimpath -o "$bin_dir.partial/$name" "$@"
    mkdir -p "$bin_dir"
    mv "$bin_dir.partial/$name" "$bin_dir/$name"
    rmdir "$bin_dir.partial"
    echo "built $name in $(( $(date +%s) - start ))s; $(du -sh "$bin_dir/$name" | cut -f1) in $bin_dir" >&2
  fi
  echo "$bin_dir"
}
