# Sourced by the hack/ensure-*.sh scripts: one Go binary, built once from the Go module proxy in a
# scratch module, kept in the work tree's .cache and in a copy outside it (~/.cache/tsetcd) that
# survives fresh clones on the same machine (CI clones anew each run).
#
#   go_binary <scratch module dir> <out dir> <shared dir, or '' for none> <name> <package> [nice] [jobs]
#
# Does nothing when <out dir>/<name> exists; copies it from the shared dir when there; else builds
# it (niced: it runs beside the tests) and stores the copy.
go_binary() {
  local module="$1" out="$2" shared="$3" name="$4" pkg="$5" niceness="${6:-10}" jobs="${7:-2}"
  mkdir -p "$out"
  if [[ -x "$out/$name" ]]; then return; fi
  if [[ -n "$shared" && -x "$shared/$name" ]]; then
    cp "$shared/$name" "$out/$name.tmp" && mv "$out/$name.tmp" "$out/$name"
    echo "copied $name from $shared" >&2
    return
  fi
  local start; start=$(date +%s)
  echo "building $name ($pkg) ..." >&2
  (cd "$module" && GOTOOLCHAIN=local GOFLAGS="-mod=mod -buildvcs=false" nice -n "$niceness" go build -p "$jobs" -trimpath \
      -ldflags='-s -w' -o "$out/$name.tmp" "$pkg")
  mv "$out/$name.tmp" "$out/$name"
  echo "built $name in $(( $(date +%s) - start ))s" >&2
  if [[ -n "$shared" ]]; then mkdir -p "$shared" && cp "$out/$name" "$shared/$name.tmp" && mv "$shared/$name.tmp" "$shared/$name"; fi
}

# The prelude the ensure scripts share. Needs $here (hack/) and $root. Sets version (from
# hack/<dir>/VERSION), out (<PREFIX>_BIN_DIR, default .cache/<dir>/<version>) and shared
# (<PREFIX>_SHARED_CACHE, default ~/.cache/tsetcd/<dir>/<version>; set empty, it turns the copy off).
#
#   versioned_dirs <dir under hack/> <PREFIX>
versioned_dirs() {
  local dir="$1" binvar="$2_BIN_DIR" sharedvar="$2_SHARED_CACHE"
  version="$(tr -d '[:space:]' < "$here/$dir/VERSION")"
  out="${!binvar:-$root/.cache/$dir/$version}"
  if [[ -v $sharedvar ]]; then shared="${!sharedvar}"; else shared="${XDG_CACHE_HOME:-$HOME/.cache}/tsetcd/$dir/$version"; fi
}

# Exits with the fix (its literal '$version' filled in) when hack/<dir>/go.mod does not require each module at $version (VERSION).
#
#   require_modules <dir under hack/> <fix command> <module>...
require_modules() {
  local dir="$1" fix="$2" m; shift 2
  for m in "$@"; do
    if ! grep -q "$m $version" "$here/$dir/go.mod"; then
      echo "hack/$dir/go.mod does not require $m $version (VERSION): cd hack/$dir && ${fix//'$version'/$version}" >&2
      exit 1
    fi
  done
}
