#!/usr/bin/env bash
# Builds the nemesis suite's linearizability checker (hack/lincheck: etcd's KV model for porcupine,
# from the Go module proxy) into .cache/lincheck/<hash of its sources>/ (once per change of the
# sources; later runs skip it). Prints the binary's path last.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
hash="$(cd "$here/lincheck" && cat go.mod go.sum *.go | sha256sum | cut -c1-12)"
out="${LINCHECK_BIN_DIR:-$root/.cache/lincheck/$hash}"
shared="${LINCHECK_SHARED_CACHE-${XDG_CACHE_HOME:-$HOME/.cache}/tsetcd/lincheck/$hash}"
source "$here/lib/go-binary.sh"
go_binary "$here/lincheck" "$out" "$shared" lincheck . "${LINCHECK_BUILD_NICE:-10}" "${LINCHECK_BUILD_JOBS:-2}"
echo "$out/lincheck"
