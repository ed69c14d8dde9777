#!/usr/bin/env bash
# `make images-smoke`: loads the archives `make images` wrote into a private podman store and runs
# each image once, as the chart does (uid 65532, no capabilities, no privilege escalation):
#   - the member, from the docker-archive, on host networking bound to 127.0.0.1 only, read-only
#     but for its data on the image's volume: etcdctl endpoint health, a put and a get, then
#     SIGTERM and a clean exit;
#   - the operator, from the oci-archive, with a read-only root and no network: its usage (--help).
# Every wait is bounded; the store (.cache/images/smoke) is removed at the end.
# Needs: root, podman (apt-get install podman), etcdctl (apt-get install etcd-client).
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/../.."
out="$PWD/.cache/images"
smoke="$out/smoke"
version="$(node -p 'require("./package.json").version')"
tag="${IMAGE_TAG:-$version}"
registry="${IMAGE_REGISTRY:-ghcr.io/tsetcd}"
member="$registry/tsetcd:$tag"
operator="$registry/tsetcd-operator:$tag"
etcdctl="${ETCDCTL:-/usr/bin/etcdctl}"

fail() { echo "images-smoke: FAIL: $*" >&2; exit 1; }
say() { printf '=== images-smoke: %s (%ss)\n' "$*" "$SECONDS"; }
command -v podman > /dev/null || fail "podman not found (apt-get install podman)"
[[ -x "$etcdctl" ]] || fail "$etcdctl not found (apt-get install etcd-client)"
[[ "$(id -u)" == 0 ]] || fail "run as root"
for f in tsetcd.docker.tar tsetcd-operator.oci.tar; do
  [[ -f "$out/$f" ]] || fail "$out/$f missing: run make images"
done

# A private store and runtime dir: nothing touches the machine's own podman images or containers.
# cgroupfs and a file event log: no systemd or journald is needed. runc, not Debian 12's crun 1.8:
# on a hybrid cgroup hierarchy (v1 controllers + cgroup2 at /sys/fs/cgroup/unified, as on the CI
# machine) crun refuses with "cgroups in hybrid mode not supported, drop all controllers from cgroupv2".
runtime="${OCI_RUNTIME:-runc}"
command -v "$runtime" > /dev/null || fail "$runtime not found (apt-get install runc)"
pm() {
  timeout "${PM_TIMEOUT:-60}" podman --root "$smoke/storage" --runroot "$smoke/run" --storage-driver vfs \
    --cgroup-manager cgroupfs --events-backend file --tmpdir "$smoke/tmp" --runtime "$runtime" "$@"
}
name="tsetcd-smoke-$$"
# By default podman asks for nofile 1048576 and nproc above what a root without CAP_SYS_RESOURCE
# (as here) may set ("setrlimit RLIMIT_NOFILE: Operation not permitted"); conmon itself runs with
# nproc 32768. So: the shell's nofile, and nproc no higher than 32768.
nproc="$(ulimit -Hu)"; [[ "$nproc" == unlimited || "$nproc" -gt 32768 ]] && nproc=32768
limits=(--ulimit "nofile=$(ulimit -Hn):$(ulimit -Hn)" --ulimit "nproc=$nproc:$nproc")
cleanup() {
  pm rm --force --time 5 "$name" > /dev/null 2>&1 || true
  pm rmi --all --force > /dev/null 2>&1 || true
  rm -rf "$smoke" 2> /dev/null || true
}
trap cleanup EXIT
rm -rf "$smoke"
mkdir -p "$smoke/tmp"

say "podman $(podman --version | awk '{print $3}'): load the archives"
PM_TIMEOUT=120 pm load --quiet --input "$out/tsetcd.docker.tar"
PM_TIMEOUT=120 pm load --quiet --input "$out/tsetcd-operator.oci.tar"
pm images --format '{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}'
pm image exists "$member" || fail "$member not in the store after podman load"
pm image exists "$operator" || fail "$operator not in the store after podman load"

# Three free loopback ports for client, peer and metrics.
read -r cport pport mport < <(node -e '
const net = require("node:net");
const take = () => new Promise((ok) => { const s = net.createServer().listen(0, "127.0.0.1", () => ok(s)); });
Promise.all([take(), take(), take()]).then((ss) => { console.log(ss.map((s) => s.address().port).join(" ")); ss.forEach((s) => s.close()); });')
client="http://127.0.0.1:$cport"

say "member: podman run $member (client $client)"
pm run --detach --name "$name" --network host "${limits[@]}" --read-only --cap-drop all --security-opt no-new-privileges \
  "$member" --name smoke --data-dir /var/lib/tsetcd/data \
  --listen-client-urls "$client" --advertise-client-urls "$client" \
  --listen-peer-urls "http://127.0.0.1:$pport" --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
  --initial-cluster "smoke=http://127.0.0.1:$pport" --listen-metrics-urls "http://127.0.0.1:$mport" > /dev/null

healthy=false
for _ in $(seq 1 60); do
  if timeout 5 "$etcdctl" --endpoints="$client" --dial-timeout=2s --command-timeout=3s endpoint health 2>&1 | tee "$smoke/health"; then
    healthy=true; break
  fi
  [[ "$(pm inspect --format '{{.State.Running}}' "$name" 2>/dev/null)" == "true" ]] || break
  sleep 1
done
if ! $healthy; then
  pm logs "$name" 2>&1 | tail -40 >&2 || true
  fail "the member did not answer etcdctl endpoint health within 60s"
fi
timeout 10 "$etcdctl" --endpoints="$client" put smoke-key "from the image" > /dev/null || fail "etcdctl put"
got="$(timeout 10 "$etcdctl" --endpoints="$client" get smoke-key --print-value-only)" || fail "etcdctl get"
[[ "$got" == "from the image" ]] || fail "etcdctl get returned '$got'"
echo "put/get: $got"
timeout 10 "$etcdctl" --endpoints="$client" member list -w table || fail "etcdctl member list"
pm exec "$name" /usr/bin/node -e 'console.log(`inside: uid ${process.getuid()} gid ${process.getgid()} node ${process.version}`)'
# As uid 65532 with no capabilities the member still lowers V8's helper threads below its main
# thread (node/thread-priority.ts): count its threads by nice value (stat field 19), main first.
nices="$(pm exec "$name" /usr/bin/node -e '
const fs = require("node:fs");
const nice = (t) => { const s = fs.readFileSync(`/proc/1/task/${t}/stat`, "utf8"); return Number(s.slice(s.lastIndexOf(")") + 2).split(" ")[16]); };
const main = nice(1);
const lower = fs.readdirSync("/proc/1/task").filter((t) => nice(t) > main).length;
console.log(`${main} ${lower}`);')" || fail "reading the member's thread priorities"
read -r main_nice lowered <<< "$nices"
echo "threads: main at nice $main_nice, $lowered below it"
(( lowered > 0 )) || fail "the member left V8's helper threads at its main thread's priority"

say "member: SIGTERM"
pm stop --time 20 "$name" > /dev/null
code="$(pm inspect --format '{{.State.ExitCode}}' "$name")"
pm logs "$name" 2>&1 | tail -3
[[ "$code" == 0 ]] || fail "the member exited with $code after SIGTERM"
echo "member exited 0"

say "operator: podman run $operator --help"
set +e
usage="$(pm run --rm --network none "${limits[@]}" --read-only --cap-drop all --security-opt no-new-privileges "$operator" --help 2>&1)"
code=$?
set -e
echo "$usage" | head -5
echo "... ($(echo "$usage" | wc -l) lines, exit $code)"
grep -q -- '--member-image' <<< "$usage" || fail "the operator did not print its usage"
# The operator has no --help flag yet: it prints the usage for an unknown flag and exits 2.
[[ "$code" == 0 || "$code" == 2 ]] || fail "the operator exited with $code"

say "ok"
