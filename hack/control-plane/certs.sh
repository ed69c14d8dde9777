#!/usr/bin/env bash
# Self-generated PKI of the local control plane, written once under $CP_DIR/pki:
# a CA, the apiserver's serving cert, the service-account key pair, a static token file
# (admin, controller-manager, scheduler, node agent) and one kubeconfig per identity.
set -euo pipefail
source "$(dirname "$0")/env.sh"
pki="$CP_DIR/pki"
mkdir -p "$pki"
cd "$pki"
if [[ ! -f ca.crt ]]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -keyout ca.key -out ca.crt \
    -subj "/CN=tsetcd-local-ca" 2>/dev/null
fi
if [[ ! -f apiserver.crt ]]; then
  cat > apiserver.ext <<EXT
basicConstraints=CA:FALSE
keyUsage=digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:$CP_BRIDGE_IP,IP:$CP_SERVICE_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
EXT
  openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr -subj "/CN=kube-apiserver" 2>/dev/null
  openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
    -extfile apiserver.ext -out apiserver.crt 2>/dev/null
fi
# The storage's own CA (CP_STORAGE=tsetcd): members' client+peer certificate, and the apiserver's
# client certificate for --etcd-certfile/--etcd-keyfile (mutual TLS, as a production control plane).
if [[ ! -f etcd-ca.crt ]]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 -keyout etcd-ca.key -out etcd-ca.crt \
    -subj "/CN=tsetcd-local-etcd-ca" 2>/dev/null
fi
etcd_leaf() { # name cn usages san
  [[ -f "$1.crt" ]] && return
  printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=%s\n%s\n' "$3" "$4" > "$1.ext"
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$2" 2>/dev/null
  openssl x509 -req -in "$1.csr" -CA etcd-ca.crt -CAkey etcd-ca.key -CAcreateserial -days 3650 -extfile "$1.ext" -out "$1.crt" 2>/dev/null
}
etcd_leaf etcd-member tsetcd-cp-member serverAuth,clientAuth "subjectAltName=IP:127.0.0.1,DNS:localhost"
etcd_leaf apiserver-etcd-client kube-apiserver-etcd-client clientAuth ""
if [[ ! -f sa.key ]]; then
  openssl genrsa -out sa.key 2048 2>/dev/null
  openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
fi
if [[ ! -f tokens.csv ]]; then
  tok() { openssl rand -hex 24; }
  {
    echo "$(tok),admin,admin-uid,system:masters"
    echo "$(tok),system:kube-controller-manager,kcm-uid"
    echo "$(tok),system:kube-scheduler,scheduler-uid"
    echo "$(tok),tsetcd-node-agent,node-agent-uid,system:masters"
  } > tokens.csv
  chmod 600 tokens.csv
fi
kubeconfig() { # name user
  local token
  token="$(awk -F, -v u="$2" '$2==u {print $1}' tokens.csv)"
  cat > "$CP_DIR/$1" <<KC
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: https://$CP_HOST:$CP_APISERVER_PORT
    certificate-authority: $pki/ca.crt
users:
- name: $2
  user:
    token: $token
contexts:
- name: local
  context: {cluster: local, user: $2, namespace: default}
current-context: local
KC
  chmod 600 "$CP_DIR/$1"
}
kubeconfig kubeconfig admin
kubeconfig kcm.kubeconfig system:kube-controller-manager
kubeconfig scheduler.kubeconfig system:kube-scheduler
kubeconfig agent.kubeconfig tsetcd-node-agent
