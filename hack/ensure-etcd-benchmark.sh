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
mkdir -p "$out"
export GOTOOLCHAIN=local GOFLAGS="-mod=mod -buildvcs=false"
shared="${ETCD_BENCHMARK_SHARED_CACHE-${XDG_CACHE_HOME:-$HOME/.cache}/tsetcd/etcd-benchmark/$version}"
if [[ ! -x "$out/benchmark" ]]; then
  if [[ -n "$shared" && -x "$shared/benchmark" ]]; then
    cp "$shared/benchmark" "$out/benchmark.tmp" && mv "$out/benchmark.tmp" "$out/benchmark"
    echo "copied benchmark from $shared" >&2
  else
    start=$(date +%s)
    echo "building etcd benchmark $version ..." >&2
    (cd "$here/etcd-benchmark" && nice -n "${ETCD36_BUILD_NICE:-10}" go build -p "${ETCD36_BUILD_JOBS:-2}" -trimpath \
        -ldflags='-s -w' -o "$out/benchmark.tmp" go.etcd.io/etcd/v3/tools/benchmark)
    mv "$out/benchmark.tmp" "$out/benchmark"
    echo "built benchmark in $(( $(date +%s) - start ))s" >&2
    if [[ -n "$shared" ]]; then mkdir -p "$shared" && cp "$out/benchmark" "$shared/benchmark.tmp" && mv "$shared/benchmark.tmp" "$shared/benchmark"; fi
  fi
fi
echo "$out/benchmark"
