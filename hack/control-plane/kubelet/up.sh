#!/usr/bin/env bash
# The kubelet node of the local control plane (CP_NODE=kubelet; hack/control-plane/up.sh runs this
# after the node agent): a real kubelet at the pinned version, on its own containerd (Debian's,
# runc, private root/state/socket under $CP_KUBELET_DIR) with a CNI bridge ($CP_KUBELET_POD_CIDR).
# No registry: the sandbox image is built here from pause.c, the member image comes from
# `make images` (.cache/images/tsetcd.docker.tar), both imported with `ctr -n k8s.io images import`.
# The node is labelled and tainted tsetcd.dev/node-type=kubelet, so only Pods that ask land on it.
# Its volumes: static `local` PersistentVolumes in the default StorageClass, pinned to the node.
set -euo pipefail
source "$(dirname "$0")/../env.sh"
log() { echo "[kubelet-node] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }
PID_DIR="$CP_DIR/pids" LOG_DIR="$CP_DIR/logs"
source "$CP_ROOT/hack/lib/pids.sh" # running, start
D="$CP_KUBELET_DIR"
pki="$CP_DIR/pki"
node="$CP_KUBELET_NODE"
export KUBECONFIG="$CP_DIR/kubeconfig" PATH="$CP_BIN_DIR:$PATH"
mkdir -p "$D"/{cni,containerd,root,pv,pause} "$CP_DIR/logs" "$CP_DIR/pids"

# 1. Binaries and packages.
for b in containerd ctr runc; do command -v "$b" > /dev/null || die "$b not found (apt-get install containerd runc)"; done
[[ -x /usr/lib/cni/bridge && -x /usr/lib/cni/host-local && -x /usr/lib/cni/loopback ]] || die "CNI plugins missing (apt-get install containernetworking-plugins)"
if [[ ! -x "$CP_BIN_DIR/kubelet" ]]; then
  [[ "${CP_BUILD:-1}" == 1 ]] || die "$CP_BIN_DIR/kubelet missing (hack/control-plane/build.sh kubelet)"
  bash "$CP_ROOT/hack/control-plane/build.sh" kubelet > /dev/null
fi
member_archive="$CP_ROOT/.cache/images/tsetcd.docker.tar"
[[ -f "$member_archive" ]] || die "$member_archive missing (make images)"

# 2. The sandbox image: a static pause binary in an image of its own (one file, no base).
pause_ref="localhost/tsetcd/pause:1"
pause_archive="$D/pause/pause.docker.tar"
if [[ ! -f "$pause_archive" ]]; then
  command -v buildah > /dev/null || die "buildah not found (apt-get install buildah)"
  gcc -static -Os -s -o "$D/pause/pause" "$CP_ROOT/hack/control-plane/kubelet/pause.c"
  store=(--root="$D/pause/storage" --runroot="$D/pause/run" --storage-driver=vfs)
  ctr_id="$(buildah "${store[@]}" from scratch)"
  buildah "${store[@]}" copy "$ctr_id" "$D/pause/pause" /pause > /dev/null
  buildah "${store[@]}" config --entrypoint '["/pause"]' --user 65535:65535 "$ctr_id"
  buildah "${store[@]}" commit --quiet "$ctr_id" "$pause_ref" > /dev/null
  buildah "${store[@]}" push --quiet "$pause_ref" "docker-archive:$pause_archive.tmp:$pause_ref"
  buildah "${store[@]}" rm --all > /dev/null; buildah "${store[@]}" rmi --all --force > /dev/null 2>&1 || true
  rm -rf "$D/pause/storage" "$D/pause/run"
  mv "$pause_archive.tmp" "$pause_archive"
fi

# 3. containerd: private socket, root and state; runc with cgroupfs (this host's v1 hierarchy).
#    CP_KUBELET_RUNC overrides the runtime binary (e.g. a wrapper adding --debug).
sock="$D/containerd.sock"
cat > "$D/containerd.toml" <<TOML
version = 2
root = "$D/containerd/root"
state = "$D/containerd/state"
[grpc]
  address = "$sock"
[ttrpc]
  address = "$sock.ttrpc"
[debug]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  # This host's root lacks CAP_SYS_RESOURCE (CapEff 000001fffeffffff: bit 24 clear), so runc cannot
  # lower oom_score_adj to the kubelet's -998/-997 ("nsexec: failed to update /proc/self/oom_score_adj:
  # Permission denied"): clamp the Pods' scores to containerd's own instead.
  restrict_oom_score_adj = true
  sandbox_image = "$pause_ref"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "${CP_KUBELET_RUNC:-$(command -v runc)}"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$D/cni"
TOML
gateway="${CP_KUBELET_POD_CIDR%.*}.1"
cat > "$D/cni/10-tsetcd.conflist" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "tsetcd-kubelet",
  "plugins": [
    {"type": "bridge", "bridge": "$CP_KUBELET_BRIDGE", "isGateway": true, "ipMasq": false, "hairpinMode": true,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "$CP_KUBELET_POD_CIDR", "gateway": "$gateway"}]], "routes": [{"dst": "0.0.0.0/0"}],
              "dataDir": "$D/cni-ipam"}},
    {"type": "portmap", "capabilities": {"portMappings": true}},
    {"type": "loopback"}
  ]
}
JSON
sysctl -qw net.ipv4.ip_forward=1
modprobe br_netfilter 2>/dev/null || true
start containerd containerd --config "$D/containerd.toml"
ctr_() { ctr --address "$sock" --namespace k8s.io "$@"; }
deadline=$(( $(date +%s) + 60 ))
until ctr_ version > /dev/null 2>&1; do
  running containerd || { tail -n 30 "$CP_DIR/logs/containerd.log" >&2; die "containerd exited"; }
  (( $(date +%s) < deadline )) || die "containerd not serving $sock after 60 s"
  sleep 0.5
done
log "containerd ready"
for a in "$pause_archive" "$member_archive"; do ctr_ images import --no-unpack=false "$a" > /dev/null; done
log "images: $(ctr_ images ls -q | grep -v '^sha256:' | tr '\n' ' ')"

# 4. The node's identity: a client certificate for system:node:<name> (group system:nodes),
#    bound to the bootstrap ClusterRole system:node (the apiserver runs RBAC without Node).
if [[ ! -f "$pki/$node.crt" ]]; then
  openssl req -newkey rsa:2048 -nodes -keyout "$pki/$node.key" -out "$pki/$node.csr" -subj "/O=system:nodes/CN=system:node:$node" 2>/dev/null
  printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n' > "$pki/$node.ext"
  openssl x509 -req -in "$pki/$node.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial -days 3650 -extfile "$pki/$node.ext" -out "$pki/$node.crt" 2>/dev/null
fi
cat > "$D/kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster: {server: "https://$CP_HOST:$CP_APISERVER_PORT", certificate-authority: "$pki/ca.crt"}
users:
- name: $node
  user: {client-certificate: "$pki/$node.crt", client-key: "$pki/$node.key"}
contexts:
- name: local
  context: {cluster: local, user: $node}
current-context: local
KC
kubectl apply -f - > /dev/null <<YAML
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: tsetcd-local-nodes}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: system:node}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: Group, name: system:nodes}]
YAML

# 5. Cluster DNS for the Pods: answers from the node agent's hosts file.
hosts="$CP_DIR/agent/hosts"
[[ -f "$hosts" ]] || die "$hosts missing: the kubelet node needs the node agent's hosts file (CP_AGENT=1)"
start cluster-dns node --import tsx "$CP_ROOT/hack/control-plane/kubelet/cluster-dns.ts" --hosts "$hosts" --listen "$CP_CLUSTER_DNS_IP:53"

# 6. The kubelet. failCgroupV1: false, since this host's hierarchy is cgroup v1 (kubelet 1.35+
#    refuses v1 by default); failSwapOn: false for hosts with swap. Eviction thresholds are low:
#    the e2e shares the disk with everything else, and an eviction would look like a member failure.
cat > "$D/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
failSwapOn: false
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://$sock
address: $CP_BRIDGE_IP
port: $CP_KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $CP_KUBELET_HEALTHZ_PORT
# Anonymous + AlwaysAllow, listening on the host-only bridge address: kube-apiserver reaches it for logs/exec without a client cert.
authentication:
  anonymous: {enabled: true}
  webhook: {enabled: false}
  x509: {clientCAFile: "$pki/ca.crt"}
authorization: {mode: AlwaysAllow}
clusterDomain: cluster.local
clusterDNS: ["$CP_CLUSTER_DNS_IP"]
resolvConf: /etc/resolv.conf
registerWithTaints: [{key: tsetcd.dev/node-type, value: kubelet, effect: NoSchedule}]
evictionHard: {memory.available: "50Mi", nodefs.available: "1%", imagefs.available: "1%"}
imageGCHighThresholdPercent: 99
imageGCLowThresholdPercent: 98
serializeImagePulls: false
maxPods: 20
YAML
start kubelet "$CP_BIN_DIR/kubelet" --config="$D/kubelet.yaml" --kubeconfig="$D/kubeconfig" \
  --root-dir="$D/root" --cert-dir="$D/pki" --hostname-override="$node" \
  --node-labels="tsetcd.dev/node-type=kubelet" --node-ip="$CP_BRIDGE_IP" --v=1
deadline=$(( $(date +%s) + ${CP_READY_TIMEOUT_S:-120} ))
until [[ "$(kubectl get node "$node" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" == True ]]; do
  running kubelet || { tail -n 40 "$CP_DIR/logs/kubelet.log" >&2; die "kubelet exited"; }
  (( $(date +%s) < deadline )) || { tail -n 40 "$CP_DIR/logs/kubelet.log" >&2; die "node $node not Ready after ${CP_READY_TIMEOUT_S:-120} s"; }
  sleep 1
done
log "node $node Ready"

# 7. Volumes: static local PVs in the default class, pinned to the node (the agent provisions
#    only for its own nodes). Retain: a released one is wiped and freed by the e2e's teardown.
pvs="${CP_KUBELET_PVS:-12}"
for i in $(seq 1 "$pvs"); do
  mkdir -p "$D/pv/pv-$i" && chown 65532:65532 "$D/pv/pv-$i" # the member image's user
  cat <<YAML
apiVersion: v1
kind: PersistentVolume
metadata: {name: $node-pv-$i, labels: {tsetcd.dev/node-type: kubelet}}
spec:
  capacity: {storage: 10Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: standard
  local: {path: "$D/pv/pv-$i"}
  nodeAffinity:
    required:
      nodeSelectorTerms: [{matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [$node]}]}]
---
YAML
done | kubectl apply -f - > /dev/null
log "up: node $node ($CP_KUBELET_POD_CIDR on $CP_KUBELET_BRIDGE), $pvs local PVs, DNS on $CP_CLUSTER_DNS_IP:53"
