#!/usr/bin/env bash
# Builds etcd's load generator `benchmark` (hack/etcd-benchmark/VERSION) from the Go module proxy
# into .cache/etcd-benchmark/<version>/ (once; later runs skip it), with a copy in
# ~/.cache/tsetcd that survives fresh clones on the same machine (as hack/ensure-etcd36.sh does).
# hack/bench-etcd-benchmark.ts (BENCH=etcd-benchmark make bench) runs it. Prints the binary's path.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
version="$(tr -d '[:space:]' < "$here/etcd-benchmark/VERSION")"
out="${ETCD_BENCHMARK_BIN_DIR:-$root/.cache/etcd-benchmark/$version}"
if ! grep -q "go.etcd.io/etcd/v3 $version" "$here/etcd-benchmark/go.mod"; then
  echo "hack/etcd-benchmark/go.mod does not require etcd $version (VERSION): cd hack/etcd-benchmark && go get -tool go.etcd.io/etcd/v3/tools/benchmark@$version" >&2
  exit 1
fi
shared="${ETCD_BENCHMARK_SHARED_CACHE-${XDG_CACHE_HOME:-$HOME/.cache}/tsetcd/etcd-benchmark/$version}"
source "$here/lib/go-binary.sh"
go_binary "$here/etcd-benchmark" "$out" "$shared" benchmark go.etcd.io/etcd/v3/tools/benchmark "${ETCD36_BUILD_NICE:-10}" "${ETCD36_BUILD_JOBS:-2}"
echo "$out/benchmark"
