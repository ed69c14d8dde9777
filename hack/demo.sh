#!/usr/bin/env bash
# `make demo`: the operator managing a real tsetcd cluster, watched by Prometheus, in one command.
#   1. the local control plane (hack/control-plane/up.sh: kube-apiserver & co. on loopback, and the
#      node agent, which runs Pods as local processes in network namespaces on the bridge tsetcd0);
#   2. the EtcdCluster CRD, and the operator (bin/tsetcd-operator) in the background;
#   3. Prometheus on 127.0.0.1:$DEMO_PROMETHEUS_PORT, scraping the operator and every member's
#      metrics port (2381) at its Pod address (198.18.x.x on the host bridge: the host reaches
#      them directly, nothing leaves the machine), the Pods listed through the apiserver; with the
#      chart's alerts and etcd's mixin alerts loaded;
#   4. the example EtcdCluster (crds/examples/etcdcluster-dedicated.yaml), awaited until Available;
#   5. prints what to try next.
# Everything lives under .data/demo (pids, logs, Prometheus data) and .data/cp (the control plane).
# `make demo-down` (hack/demo-down.sh) removes all of it. Needs root (network namespaces).
# The control plane uses fixed ports and one bridge per machine: one demo or e2e run at a time.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
source hack/control-plane/env.sh
DEMO_DIR="${DEMO_DIR:-$ROOT/.data/demo}"
DEMO_PROMETHEUS_PORT="${DEMO_PROMETHEUS_PORT:-49090}"
DEMO_OPERATOR_PORT="${DEMO_OPERATOR_PORT:-48080}"
DEMO_TIMEOUT_S="${DEMO_TIMEOUT_S:-600}"
EXAMPLE="${DEMO_EXAMPLE:-$ROOT/crds/examples/etcdcluster-dedicated.yaml}"
log() { echo "[demo] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

if [[ "${1:-}" == targets-loop ]]; then # out.json: the member Pods as Prometheus file_sd targets
  export KUBECONFIG="$CP_DIR/kubeconfig"
  while true; do
    "$CP_BIN_DIR/kubectl" get pods -A -l app.kubernetes.io/name=tsetcd -o jsonpath='{range .items[?(@.status.podIP)]}{.metadata.namespace} {.metadata.name} {.status.podIP} {.metadata.labels.app\.kubernetes\.io/instance}{"\n"}{end}' |
      awk 'BEGIN { printf "[" } NF == 4 { printf "%s{\"targets\":[\"%s:2381\"],\"labels\":{\"namespace\":\"%s\",\"pod\":\"%s\",\"app_kubernetes_io_instance\":\"%s\"}}", (n++ ? "," : ""), $3, $1, $2, $4 } END { print "]" }' > "$2.tmp" &&
      mv "$2.tmp" "$2"
    sleep 2
  done
fi

[[ "$(id -u)" == 0 ]] || die "needs root (the node agent makes network namespaces and bind mounts)"
command -v prometheus > /dev/null || die "prometheus not found (apt-get install prometheus)"
# Another work tree's control plane on this machine would share the ports and the bridge.
if pid="$(ss -Hltnp "sport = :$CP_APISERVER_PORT" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n1 | cut -d= -f2)" && [[ -n "$pid" ]]; then
  [[ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" == "$ROOT" || "$(tr '\0' ' ' < "/proc/$pid/cmdline")" == *"$ROOT/"* ]] ||
    die "port $CP_APISERVER_PORT is taken by pid $pid ($(tr '\0' ' ' < "/proc/$pid/cmdline" | cut -c1-80)...): another control plane runs on this machine; stop it first"
fi
mkdir -p "$DEMO_DIR/logs" "$DEMO_DIR/pids"

PID_DIR="$DEMO_DIR/pids" LOG_DIR="$DEMO_DIR/logs"
source hack/lib/pids.sh # running, start (logs in $DEMO_DIR/logs)
wait_for() { # what deadline_s cmd...
  local what="$1" deadline=$(( $(date +%s) + $2 )); shift 2
  until "$@" > /dev/null 2>&1; do
    (( $(date +%s) < deadline )) || die "$what: not after $2 s"
    sleep 1
  done
}

# 1. The control plane.
bash hack/control-plane/up.sh
export KUBECONFIG="$CP_DIR/kubeconfig" PATH="$CP_BIN_DIR:$PATH"

# 2. The CRD and the operator (admin credentials; the chart's least-privilege RBAC is what
#    `make e2e` proves).
kubectl apply --server-side -f crds/tsetcd.dev_etcdclusters.yaml -f crds/tsetcd.dev_etcdbackups.yaml > /dev/null
kubectl wait --for=condition=Established --timeout=60s crd/etcdclusters.tsetcd.dev > /dev/null
start operator env POD_NAMESPACE=default "$ROOT/bin/tsetcd-operator" \
  --kubeconfig="$KUBECONFIG" --metrics-addr="127.0.0.1:$DEMO_OPERATOR_PORT" --leader-elect=false --resync-ms=10000
wait_for "the operator's /readyz" 60 curl -fsS "http://127.0.0.1:$DEMO_OPERATOR_PORT/readyz"

# 3. Prometheus. Debian's build has no kubernetes_sd, so a small loop (pid file "targets")
#    writes the member Pods (label app.kubernetes.io/name=tsetcd, with an address) every 2 s
#    into a file_sd file, which Prometheus rereads: scaling shows up by itself.
prom="$DEMO_DIR/prometheus"
mkdir -p "$prom/rules"
cp charts/tsetcd-operator/files/alerts.rules.yaml "$prom/rules/tsetcd.yaml"
# etcd's mixin alerts as the chart ships them, with the chart's member selector for this job.
sed 's/job=~"\.\*etcd\.\*"/job="tsetcd-members"/g' charts/tsetcd-operator/files/etcd-mixin/alerts-kubernetes.yaml > "$prom/rules/etcd-mixin.yaml"
start targets bash hack/demo.sh targets-loop "$prom/members.json"
wait_for "the member targets file" 30 test -f "$prom/members.json"
cat > "$prom/prometheus.yml" <<EOF
global: {scrape_interval: 5s, evaluation_interval: 5s}
rule_files: ['$prom/rules/*.yaml']
scrape_configs:
  - job_name: tsetcd-operator
    static_configs: [{targets: ['127.0.0.1:$DEMO_OPERATOR_PORT']}]
  - job_name: tsetcd-members
    file_sd_configs: [{files: ['$prom/members.json'], refresh_interval: 5s}]
EOF
promtool check config "$prom/prometheus.yml" > /dev/null || die "promtool check config $prom/prometheus.yml failed"
start prometheus prometheus --config.file="$prom/prometheus.yml" --storage.tsdb.path="$prom/data" \
  --web.listen-address="127.0.0.1:$DEMO_PROMETHEUS_PORT" --log.level=warn
wait_for "Prometheus ready" 60 curl -fsS "http://127.0.0.1:$DEMO_PROMETHEUS_PORT/-/ready"

# 4. The example cluster.
name="$(awk '/^  name:/ {print $2; exit}' "$EXAMPLE")"
ns="$(awk '/^  namespace:/ {print $2; exit}' "$EXAMPLE")"
kubectl apply -f "$EXAMPLE"
log "waiting for etcdcluster/$name to be Available (up to $DEMO_TIMEOUT_S s)"
if ! kubectl wait -n "$ns" --for=condition=Available --timeout="${DEMO_TIMEOUT_S}s" "etcdcluster/$name"; then
  kubectl get -n "$ns" etcdc,pods -o wide || true
  tail -n 30 "$DEMO_DIR/logs/operator.log" >&2
  die "etcdcluster/$name not Available"
fi
replicas="$(kubectl get -n "$ns" etcdc "$name" -o jsonpath='{.spec.replicas}')"
kubectl wait -n "$ns" --for=jsonpath='{.status.readyReplicas}'="$replicas" --timeout=120s "etcdcluster/$name" > /dev/null ||
  log "not every member Pod is Ready yet"
kubectl get -n "$ns" etcdc "$name"
kubectl get -n "$ns" pods -o wide -l app.kubernetes.io/instance="$name"
query() { curl -fsS "http://127.0.0.1:$DEMO_PROMETHEUS_PORT/api/v1/query" --data-urlencode "query=$1"; }
members_scraped() { [[ "$(query "count(up{job=\"tsetcd-members\"} == 1)" | grep -o '"value":\[[^]]*\]' | grep -o '"[0-9]*"' | tr -d '"')" == "$replicas" ]]; }
wait_for "Prometheus scraping every member" 60 members_scraped
leader="$(query 'etcd_server_is_leader == 1' | grep -o '"pod":"[^"]*"' | head -n1 | cut -d'"' -f4)"
P="http://127.0.0.1:$DEMO_PROMETHEUS_PORT"
# host:port (no scheme): etcdctl 3.4 puts a URL's scheme in the HTTP/2 :authority, which Node's
# HTTP/2 server refuses (docs/design-notes.md), so `endpoint status --cluster` does not work here.
eps="$(for i in $(seq 0 $(( replicas - 1 ))); do printf '%s-%s.%s-peer.%s.svc:2379\n' "$name" "$i" "$name" "$ns"; done | paste -sd,)"

cat <<EOF

tsetcd demo is up. The leader is ${leader:-"(not scraped yet)"}.
  export KUBECONFIG=$KUBECONFIG PATH=$CP_BIN_DIR:\$PATH

Watch the cluster (one terminal):
  kubectl get etcdc -n $ns -w

Scale it to 5 members, then back to 3 (one learner at a time, then promotion):
  kubectl scale etcdc/$name -n $ns --replicas=5
  kubectl scale etcdc/$name -n $ns --replicas=3

The leader and the heartbeats, from Prometheus ($P):
  promtool query instant $P 'etcd_server_is_leader == 1'
  promtool query instant $P 'tsetcd_cluster_has_leader'
  promtool query instant $P 'tsetcd_cluster_heartbeat_failures_total'
  promtool query instant $P 'sum by (pod) (rate(etcd_server_heartbeat_send_failures_total[1m]))'
  promtool query instant $P 'histogram_quantile(0.99, sum by (pod, le) (rate(etcd_network_peer_round_trip_time_seconds_bucket[1m])))'
  curl -s $P/api/v1/query --data-urlencode 'query=sum(etcd_server_is_leader{job="tsetcd-members"})'
  curl -s $P/api/v1/alerts          # the chart's alerts and etcd's mixin alerts, as loaded here

Straight from a member (Pod addresses are reachable from this host):
  curl -s http://\$(kubectl get pod -n $ns $name-0 -o jsonpath='{.status.podIP}'):2381/metrics | grep -E '^etcd_server_(has_leader|is_leader|leader_changes_seen_total|heartbeat_send_failures_total)'
  bash hack/node-agent/with-cluster-dns.sh etcdctl --endpoints=$name-client.$ns.svc:2379 member list -w table
  bash hack/node-agent/with-cluster-dns.sh etcdctl --endpoints=$eps endpoint status -w table

Logs: $DEMO_DIR/logs/{operator,prometheus}.log, $CP_DIR/logs/. Tear down: make demo-down
EOF
