#!/usr/bin/env bash
# Builds SeaweedFS's weed (hack/weed/VERSION) from the Go module proxy into .cache/weed/<version>/
# (once; later runs skip it). The backup and restore tests (test/integration/backup-*.test.ts) run
# `weed mini` as a real S3-compatible server on loopback. Prints the directory holding the binary last.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
source "$here/lib/go-binary.sh"
# As for etcd 3.6, helm and the Kubernetes binaries, a copy outside the work tree survives fresh
# clones on the same machine (CI clones anew each run). WEED_SHARED_CACHE= (empty) turns it off.
versioned_dirs weed WEED
require_modules weed 'go get github.com/seaweedfs/seaweedfs/weed@$version' github.com/seaweedfs/seaweedfs
# A large Go build: several minutes cold.
go_binary "$here/weed" "$out" "$shared" weed github.com/seaweedfs/seaweedfs/weed "${WEED_BUILD_NICE:-10}" "${WEED_BUILD_JOBS:-2}"
echo "$out"
