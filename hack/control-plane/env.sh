# Shared settings of the local control plane; sourced by up.sh, down.sh and certs.sh.
# Every value can be overridden from the environment.
CP_ROOT="${CP_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
CP_VERSION="${CP_VERSION:-$(tr -d '[:space:]' < "$CP_ROOT/hack/control-plane/k8s/VERSION")}"
CP_BIN_DIR="${CP_BIN_DIR:-$CP_ROOT/.cache/k8s/$CP_VERSION}"
CP_DIR="${CP_DIR:-$CP_ROOT/.data/cp}"
CP_HOST="127.0.0.1"
# Fixed ports below the kernel's ephemeral range (32768-60999 here): a port picked there can be
# taken as the source port of any outgoing connection, and a local rehearsal once failed to bind
# etcd's peer port 42380 while benchmarks ran beside it. The tsetcd storage uses +100 and +200.
CP_APISERVER_PORT="${CP_APISERVER_PORT:-17443}"
CP_ETCD_CLIENT_PORT="${CP_ETCD_CLIENT_PORT:-17379}"
CP_ETCD_PEER_PORT="${CP_ETCD_PEER_PORT:-17380}"
CP_KCM_PORT="${CP_KCM_PORT:-17257}"
CP_SCHEDULER_PORT="${CP_SCHEDULER_PORT:-17259}"
# Storage of the apiserver. Empty: start Debian's etcd on CP_ETCD_CLIENT_PORT.
# Set it (comma-separated URLs) to point the apiserver at another etcd, e.g. a tsetcd cluster.
CP_ETCD_SERVERS="${CP_ETCD_SERVERS:-}"
CP_SERVICE_CIDR="${CP_SERVICE_CIDR:-10.96.0.0/16}"
CP_SERVICE_IP="${CP_SERVICE_IP:-10.96.0.1}"
# The pod network: a bridge on this host; each Pod gets a network namespace and a veth on it.
# 198.18.0.0/15 is reserved for network tests (RFC 2544); traffic never leaves this machine.
CP_BRIDGE="${CP_BRIDGE:-tsetcd0}"
CP_BRIDGE_CIDR="${CP_BRIDGE_CIDR:-198.18.0.1/16}"
CP_BRIDGE_IP="${CP_BRIDGE_CIDR%/*}"
CP_READY_TIMEOUT_S="${CP_READY_TIMEOUT_S:-120}"
# The node type(s): `agent` (default) runs only the node agent's process nodes; `kubelet` adds one
# real kubelet node (containerd + runc + CNI bridge, hack/control-plane/kubelet) beside them.
CP_NODE="${CP_NODE:-agent}"
CP_KUBELET_NODE="${CP_KUBELET_NODE:-kubelet-1}"
CP_KUBELET_DIR="${CP_KUBELET_DIR:-$CP_DIR/kubelet}"
# The kubelet node's Pod network: its own CNI bridge, in the RFC 2544 block next to the agent's
# 198.18.0.0/16 (and apart from podman's 10.88.0.0/16), routed to it through this host.
CP_KUBELET_BRIDGE="${CP_KUBELET_BRIDGE:-tsk0}"
CP_KUBELET_POD_CIDR="${CP_KUBELET_POD_CIDR:-198.19.0.0/24}"
CP_KUBELET_PORT="${CP_KUBELET_PORT:-17250}"
CP_KUBELET_HEALTHZ_PORT="${CP_KUBELET_HEALTHZ_PORT:-17248}"
# Cluster DNS of the kubelet's Pods: hack/control-plane/kubelet/cluster-dns.ts on the agent bridge.
CP_CLUSTER_DNS_IP="${CP_CLUSTER_DNS_IP:-$CP_BRIDGE_IP}"
