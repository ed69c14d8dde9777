#!/usr/bin/env bash
# Builds etcd, etcdutl and etcdctl (hack/etcd36/VERSION, 3.6) from the Go module proxy into
# .cache/etcd36/<version>/ (once; later runs skip it). The snapshot interoperability test
# (test/integration/snapshot-etcd.test.ts) runs them: etcdutl reads tsetcd's snapshot, a real etcd
# serves the restored data, and the reverse; and the differential test (test/compat) runs etcd
# and etcdctl 3.6 beside tsetcd. Prints the directory holding the binaries last.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
source "$here/lib/go-binary.sh"
# As for helm and the Kubernetes binaries, a copy outside the work tree survives fresh clones on
# the same machine (CI clones anew each run). ETCD36_SHARED_CACHE= (empty) turns it off.
versioned_dirs etcd36 ETCD36
require_modules etcd36 'go get go.etcd.io/etcd/server/v3@$version go.etcd.io/etcd/etcdutl/v3@$version go.etcd.io/etcd/etcdctl/v3@$version' \
  go.etcd.io/etcd/server/v3 go.etcd.io/etcd/etcdutl/v3 go.etcd.io/etcd/etcdctl/v3
build() { go_binary "$here/etcd36" "$out" "$shared" "$1" "$2" "${ETCD36_BUILD_NICE:-10}" "${ETCD36_BUILD_JOBS:-2}"; }
build etcdutl go.etcd.io/etcd/etcdutl/v3
build etcd go.etcd.io/etcd/server/v3
build etcdctl go.etcd.io/etcd/etcdctl/v3
echo "$out"
