#!/usr/bin/env bash
# make run: a local 3-member tsetcd cluster on loopback, data under .data/run/ in the repo.
# Stays in the foreground; Ctrl-C (or SIGTERM) stops every member. Logs: .data/run/<name>.log
# Environment knobs: RUN_FRESH=1 wipes the data first; TSETCD_LOG_LEVEL (default info).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="$PWD/bin/tsetcd"
[ -x "$BIN" ] || { echo "bin/tsetcd is missing: run 'make build' first" >&2; exit 1; }
DATA="$PWD/.data/run"
[ "${RUN_FRESH:-0}" = 1 ] && rm -rf "$DATA"
mkdir -p "$DATA"

NAMES=(m1 m2 m3)
CLIENT=(2379 22379 32379)
PEER=(2380 22380 32380)
METRICS=(2381 22381 32381)
HOST=127.0.0.1

for p in "${CLIENT[@]}" "${PEER[@]}" "${METRICS[@]}"; do
  if (exec 3<>"/dev/tcp/$HOST/$p") 2>/dev/null; then
    echo "port $HOST:$p is already in use (another etcd or 'make run'?); stop it first" >&2
    exit 1
  fi
done

CLUSTER=""
for i in 0 1 2; do CLUSTER+="${CLUSTER:+,}${NAMES[$i]}=http://$HOST:${PEER[$i]}"; done

PIDS=()
STOPPING=0
stop_all() {
  trap - INT TERM EXIT
  STOPPING=1
  echo
  echo "stopping the members..."
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  echo "stopped. Data kept in $DATA (RUN_FRESH=1 make run starts over)."
}
trap stop_all INT TERM EXIT

for i in 0 1 2; do
  n=${NAMES[$i]}
  "$BIN" \
    --name "$n" \
    --data-dir "$DATA/$n" \
    --listen-client-urls "http://$HOST:${CLIENT[$i]}" \
    --advertise-client-urls "http://$HOST:${CLIENT[$i]}" \
    --listen-peer-urls "http://$HOST:${PEER[$i]}" \
    --initial-advertise-peer-urls "http://$HOST:${PEER[$i]}" \
    --listen-metrics-urls "http://$HOST:${METRICS[$i]}" \
    --initial-cluster "$CLUSTER" \
    --initial-cluster-state new \
    --initial-cluster-token tsetcd-local \
    --log-level "${TSETCD_LOG_LEVEL:-info}" \
    >>"$DATA/$n.log" 2>&1 &
  PIDS+=($!)
done

ENDPOINTS="$HOST:${CLIENT[0]},$HOST:${CLIENT[1]},$HOST:${CLIENT[2]}"
# Wait (bounded) until every member answers /health.
deadline=$((SECONDS + 30))
for i in 0 1 2; do
  until curl -fsS "http://$HOST:${METRICS[$i]}/health" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then echo "member ${NAMES[$i]} did not become healthy; see $DATA/${NAMES[$i]}.log" >&2; exit 1; fi
    for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null || { echo "a member exited; see $DATA/*.log" >&2; exit 1; }; done
    sleep 0.2
  done
done

cat <<MSG
tsetcd: a 3-member cluster is running (data in $DATA, logs in $DATA/<name>.log).

  client endpoints:  $ENDPOINTS
  metrics URLs:      http://$HOST:${METRICS[0]}/metrics  http://$HOST:${METRICS[1]}/metrics  http://$HOST:${METRICS[2]}/metrics
  peer URLs:         http://$HOST:${PEER[0]}  http://$HOST:${PEER[1]}  http://$HOST:${PEER[2]}

Try:
  export ETCDCTL_API=3
  etcdctl --endpoints=$ENDPOINTS put hello world
  etcdctl --endpoints=$ENDPOINTS get hello
  etcdctl --endpoints=$ENDPOINTS endpoint status -w table
  curl http://$HOST:${METRICS[0]}/metrics | grep etcd_server_has_leader

Press Ctrl-C to stop all members.
MSG

# Stay in the foreground until a member exits or we are interrupted.
wait -n "${PIDS[@]}" || true
[ "$STOPPING" = 1 ] || echo "a member exited; see $DATA/*.log" >&2
