#!/usr/bin/env bash
# Builds etcd's load generator `benchmark` (hack/etcd-benchmark/VERSION) from the Go module proxy
# into .cache/etcd-benchmark/<version>/ (once; later runs skip it), with a copy in
# ~/.cache/tsetcd that survives fresh clones on the same machine (as hack/ensure-etcd36.sh does).
# hack/bench-etcd-benchmark.ts (BENCH=etcd-benchmark make bench) runs it. Prints the binary's path.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
source "$here/lib/go-binary.sh"
versioned_dirs etcd-benchmark ETCD_BENCHMARK
require_modules etcd-benchmark 'go get -tool go.etcd.io/etcd/v3/tools/benchmark@$version' go.etcd.io/etcd/v3
go_binary "$here/etcd-benchmark" "$out" "$shared" benchmark go.etcd.io/etcd/v3/tools/benchmark "${ETCD36_BUILD_NICE:-10}" "${ETCD36_BUILD_JOBS:-2}"
echo "$out/benchmark"
