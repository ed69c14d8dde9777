#!/usr/bin/env bash
# `make bench`: every benchmark, one after another (they share 2 cores; never in parallel).
# Each prints medians and ratios; docs/BENCHMARKS.md records the figures and these commands.
set -euo pipefail
cd "$(dirname "$0")/.."
only="${BENCH:-}"
run() {
  local name="$1"; shift
  [ -n "$only" ] && [[ ",$only," != *",$name,"* ]] && return 0
  echo "=== bench: $name ($*)"
  "$@"
}
[ -f hack/bench-raft.ts ] && run raft npx tsx hack/bench-raft.ts
[ -f hack/bench-wal.ts ] && run wal npx tsx hack/bench-wal.ts
[ -f hack/bench-mvcc.ts ] && run mvcc node --expose-gc --import tsx hack/bench-mvcc.ts
[ -f hack/bench-cluster.ts ] && run cluster npx tsx hack/bench-cluster.ts
# etcd's own `benchmark` tool against etcd 3.6 and tsetcd (issue 10's table); BENCH_PAIRS=N pairs
# of runs (default 3), BENCH_ETCD34=1 adds Debian's etcd 3.4 as a third column.
run etcd-benchmark npx tsx hack/bench-etcd-benchmark.ts
# List pages at a revision, as kube-apiserver reads a paged list (etcd's benchmark cannot): etcd 3.6 beside tsetcd.
run list-pages npx tsx hack/bench-list-pages.ts
[ -f hack/bench-tls.ts ] && run tls npx tsx hack/bench-tls.ts
# kube-apiserver of the local control plane stored on tsetcd and on etcd 3.6 (issue 10): 50 clients
# create, list in pages, watch and delete 5,000 ConfigMaps; BENCH_KUBE_PAIRS=N pairs (default 1).
# Holds the control plane's lock: its ports are fixed and the e2e suite uses it too. Needs root.
run kube-apiserver flock /tmp/tsetcd-cp.lock npx tsx hack/bench-kube-apiserver.ts
# issue 11's data-scale table: BENCH_DATA_MIB=1024,4096 (default 1024), etcd 3.6 beside tsetcd.
run data-scale npx tsx hack/bench-data-scale.ts
run timing npx vitest run -c test/timing/vitest.config.ts
echo "=== bench: done"
