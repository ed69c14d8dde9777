#!/usr/bin/env bash
# Builds SeaweedFS's weed (hack/weed/VERSION) from the Go module proxy into .cache/weed/<version>/
# (once; later runs skip it). The backup and restore tests (test/integration/backup-*.test.ts) run
# `weed mini` as a real S3-compatible server on loopback. Prints the directory holding the binary last.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
version="$(tr -d '[:space:]' < "$here/weed/VERSION")"
out="${WEED_BIN_DIR:-$root/.cache/weed/$version}"
if ! grep -q "github.com/seaweedfs/seaweedfs $version" "$here/weed/go.mod"; then
  echo "hack/weed/go.mod does not require seaweedfs $version (VERSION): cd hack/weed && go get github.com/seaweedfs/seaweedfs/weed@$version" >&2
  exit 1
fi
# As for etcd 3.6, helm and the Kubernetes binaries, a copy outside the work tree survives fresh
# clones on the same machine (CI clones anew each run). WEED_SHARED_CACHE= (empty) turns it off.
shared="${WEED_SHARED_CACHE-${XDG_CACHE_HOME:-$HOME/.cache}/tsetcd/weed/$version}"
source "$here/lib/go-binary.sh"
# A large Go build: several minutes cold.
go_binary "$here/weed" "$out" "$shared" weed github.com/seaweedfs/seaweedfs/weed "${WEED_BUILD_NICE:-10}" "${WEED_BUILD_JOBS:-2}"
echo "$out"
