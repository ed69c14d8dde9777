// The node agent: a stand-in for kubelet (plus a folder volume provisioner and a hosts-file
// DNS) for the local control plane. It registers Nodes and keeps their Leases fresh, runs the
// Pods scheduled to them as local processes, each in its own network namespace on the host
// bridge, reports their address and readiness, and backs PVCs with folders.
// Test infrastructure only: it trusts the cluster and implements the slice of kubelet the
// e2e tests need (see docs/e2e.md for what it leaves out).
import { spawn, type ChildProcess } from 'node:child_process';
import { fstatSync, mkdirSync, openSync, closeSync, readFileSync, rmSync, writeFileSync, existsSync, readdirSync, unlinkSync, readlinkSync, renameSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { IpPool } from './ip-pool.js';
import { renderHosts, sliceService, type PodName, type ServiceName } from './hosts-file.js';
import type { KubeClient } from './kube-client.js';
import { KubeError } from './kube-client.js';
import type { Container, ContainerStatus, EndpointSlice, PersistentVolume, PersistentVolumeClaim, Pod, Probe, WatchEvent } from './kube-types.js';
import type { Logger } from './logger.js';
import { createPodNetwork, deletePodNetwork, podExecArgv, podNetworkNames } from './netns.js';
import type { NodeSpec } from './node-spec.js';
import { afterInitExit } from './init-containers.js';
import { terminationMessage } from './termination-message.js';
import { buildPodStatus, finalPhaseOf, statusKey, type ContainerRun } from './pod-status.js';
import { resolveProcess, UnresolvableError, type ImageMapping } from './pod-process.js';
import { probeOnce } from './probe.js';
import { mountSizeLimited, quantityBytes, SIZE_LIMIT_PARAMETER, unmountIfMounted } from './size-limit.js';

export const provisionerName = 'tsetcd.dev/node-agent-folder';

export interface AgentConfig {
  nodes: NodeSpec[];
  stateDir: string;
  bridge: string;
  bridgeCidr: string;
  imageMap: ImageMapping[];
  podExecScript: string;
  leaseRenewMs: number;
  nodeStatusMs: number;
  maxRestartBackoffMs: number;
}

interface ContainerProc {
  spec: Container;
  run: ContainerRun;
  child?: ChildProcess;
  readySuccesses: number;
  readyFailures: number;
  liveFailures: number;
  probeTimer?: NodeJS.Timeout;
  restartTimer?: NodeJS.Timeout;
}

interface PodRecord {
  uid: string;
  pod: Pod;
  netns?: string;
  ip?: string;
  startTime: string;
  containers: ContainerProc[];
  /** Run one at a time, in order, each to completion, before `containers` start (init-containers.ts). */
  initContainers: ContainerProc[];
  /** Set when the pod is done for good (an init container failed under restartPolicy Never; every container ended and is not restarted). */
  finalPhase?: 'Succeeded' | 'Failed';
  stopping: boolean;
  statusInFlight: boolean;
  statusAgain: boolean;
  lastStatusKey?: string;
  /** ConfigMap and Secret volumes, re-synced while the pod runs (as the kubelet does). */
  projected?: ProjectedVolume[];
}

interface ProjectedVolume {
  dir: string;
  kind: 'configmap' | 'secret';
  name: string;
  items: Array<{ key: string; path: string }> | undefined;
}

/** How often ConfigMap and Secret volumes are compared with the API (the kubelet: about a minute; shorter here). */
const PROJECTED_SYNC_MS = 5000;
/** The longest wait between two tries to start a pod whose start failed (the kubelet backs off too). */
const START_RETRY_MAX_MS = 30_000;

/**
 * Writes a ConfigMap or Secret volume the way the kubelet's AtomicWriter does: the files in a fresh
 * `..<stamp>` folder, a `..data` symlink swapped with rename(2), and each file a symlink through
 * `..data`, so a reader sees the old set or the new one, never half. Returns whether anything changed.
 */
function writeProjected(dir: string, files: Record<string, string>): boolean {
  const dataLink = join(dir, '..data');
  let old: string | undefined;
  try {
    old = readlinkSync(dataLink);
  } catch {
    old = undefined;
  }
  if (old !== undefined) {
    const cur = join(dir, old);
    const names = existsSync(cur) ? readdirSync(cur).sort() : [];
    const same = names.join('\n') === Object.keys(files).sort().join('\n') && names.every((n) => readFileSync(join(cur, n), 'utf8') === files[n]);
    if (same) return false;
  }
  const stamp = `..${Date.now()}_${Math.random().toString(36).slice(2, 8)}`;
  mkdirSync(join(dir, stamp));
  for (const [k, v] of Object.entries(files)) writeFileSync(join(dir, stamp, k), v);
  const tmp = join(dir, '..data_tmp');
  rmSync(tmp, { force: true });
  symlinkSync(stamp, tmp);
  renameSync(tmp, dataLink);
  for (const k of Object.keys(files)) {
    const link = join(dir, k);
    if (!existsSync(link)) symlinkSync(join('..data', k), link);
  }
  if (old !== undefined) rmSync(join(dir, old), { recursive: true, force: true });
  return true;
}

/** A container process as started: its pid file, and where this run's output begins in its log. */
interface Started {
  child: ChildProcess;
  startedAt: string;
  pidFile: string;
  logPath: string;
  logOffset: number;
  /** The host file bound on the container's terminationMessagePath, when its spec sets one. */
  messageFile?: string;
}

/** The termination message of this run (termination-message.ts), read from the run's part of the log. */
function messageOf(c: Container, exitCode: number, s: Started): { message: string } | Record<string, never> {
  let file = '';
  try {
    if (s.messageFile !== undefined) file = readFileSync(s.messageFile, 'utf8');
  } catch { /* not written */ }
  if (file === '' && (c.terminationMessagePolicy !== 'FallbackToLogsOnError' || exitCode === 0)) return {};
  let log = '';
  try {
    const all = readFileSync(s.logPath);
    log = all.subarray(Math.min(s.logOffset, all.length)).toString('utf8');
  } catch { /* no log: no message */ }
  const message = terminationMessage(c, exitCode, log, file);
  return message === undefined ? {} : { message };
}

const nowIso = (): string => new Date().toISOString();
const microTime = (): string => new Date().toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
const podKey = (p: Pod): string => `${p.metadata.namespace ?? 'default'}/${p.metadata.name}`;
const errText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export class NodeAgent {
  private readonly nodeNames: Set<string>;
  private readonly pool: IpPool;
  private readonly records = new Map<string, PodRecord>();
  /** Failed starts per pod uid, for the retry's backoff (the kubelet retries a pod it could not start). */
  private readonly startFailures = new Map<string, number>();
  /** Every Pod in the cluster with an address, for the hosts file. */
  private readonly podNames = new Map<string, PodName>();
  private readonly slices = new Map<string, EndpointSlice>();
  private readonly pvcs = new Map<string, PersistentVolumeClaim>();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly stopWatches: Array<() => void> = [];
  private readonly hostsFile: string;
  private lastHosts = '';
  private stopped = false;

  constructor(private readonly kube: KubeClient, private readonly cfg: AgentConfig, private readonly log: Logger) {
    this.nodeNames = new Set(cfg.nodes.map((n) => n.name));
    this.pool = new IpPool(cfg.bridgeCidr);
    this.hostsFile = join(cfg.stateDir, 'hosts');
  }

  async start(): Promise<void> {
    for (const d of ['pods', 'pv', 'logs', 'pids']) mkdirSync(join(this.cfg.stateDir, d), { recursive: true });
    this.killLeftovers();
    writeFileSync(this.hostsFile, renderHosts([], []));
    for (const n of this.cfg.nodes) await this.registerNode(n);
    await this.renewLeases();
    this.timers.push(setInterval(() => void this.renewLeases(), this.cfg.leaseRenewMs));
    this.timers.push(setInterval(() => void this.heartbeatNodes(), this.cfg.nodeStatusMs));
    this.timers.push(setInterval(() => void this.refreshProjected(), PROJECTED_SYNC_MS));
    this.informer<EndpointSlice>('/apis/discovery.k8s.io/v1/endpointslices', (e) => this.onSlice(e));
    this.informer<PersistentVolumeClaim>('/api/v1/persistentvolumeclaims', (e) => this.onPvc(e));
    this.informer<PersistentVolume>('/api/v1/persistentvolumes', (e) => this.onPv(e));
    this.informer<Pod>('/api/v1/pods', (e) => this.onPod(e));
  }

  /** Kills every Pod process, removes the namespaces. Node objects stay (they go NotReady). */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    for (const s of this.stopWatches) s();
    await Promise.all([...this.records.values()].map((r) => this.teardown(r, 0)));
  }

  // ---- nodes and leases ----

  private async registerNode(n: NodeSpec): Promise<void> {
    const body = {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: n.name, labels: n.labels },
      spec: { taints: n.taints },
    };
    try {
      await this.kube.send('POST', '/api/v1/nodes', body);
    } catch (err) {
      if (!(err instanceof KubeError && err.status === 409)) throw err;
      await this.kube.send('PATCH', `/api/v1/nodes/${n.name}`, { metadata: { labels: n.labels }, spec: { taints: n.taints } });
    }
    await this.patchNodeStatus(n.name);
    this.log.info('node registered', { node: n.name, labels: n.labels, taints: n.taints });
  }

  private async patchNodeStatus(name: string): Promise<void> {
    const now = nowIso();
    const cond = (type: string, status: string, reason: string) => ({ type, status, reason, message: reason, lastHeartbeatTime: now, lastTransitionTime: now });
    const resources = { cpu: '32', memory: '128Gi', pods: '110', 'ephemeral-storage': '100Gi' };
    await this.kube.send('PATCH', `/api/v1/nodes/${name}/status`, {
      status: {
        capacity: resources,
        allocatable: resources,
        conditions: [
          cond('Ready', 'True', 'KubeletReady'),
          cond('MemoryPressure', 'False', 'KubeletHasSufficientMemory'),
          cond('DiskPressure', 'False', 'KubeletHasNoDiskPressure'),
          cond('PIDPressure', 'False', 'KubeletHasSufficientPID'),
        ],
        addresses: [
          { type: 'InternalIP', address: this.pool.gateway },
          { type: 'Hostname', address: name },
        ],
        nodeInfo: {
          kubeletVersion: 'v0.0.0-tsetcd-node-agent', kubeProxyVersion: '', operatingSystem: 'linux', architecture: 'amd64',
          containerRuntimeVersion: 'local://processes', kernelVersion: '', osImage: 'local', machineID: name, systemUUID: name, bootID: name,
        },
      },
    });
  }

  private async heartbeatNodes(): Promise<void> {
    for (const name of this.nodeNames) {
      try { await this.patchNodeStatus(name); } catch (err) { this.log.warn('node status', { node: name, err: errText(err) }); }
    }
  }

  private async renewLeases(): Promise<void> {
    for (const name of this.nodeNames) {
      const path = `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${name}`;
      try {
        await this.kube.send('PATCH', path, { spec: { holderIdentity: name, leaseDurationSeconds: 40, renewTime: microTime() } });
      } catch (err) {
        if (err instanceof KubeError && err.status === 404) {
          try {
            await this.kube.send('POST', '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases', {
              apiVersion: 'coordination.k8s.io/v1', kind: 'Lease',
              metadata: { name, namespace: 'kube-node-lease' },
              spec: { holderIdentity: name, leaseDurationSeconds: 40, renewTime: microTime() },
            });
          } catch (e2) { this.log.warn('lease create', { node: name, err: errText(e2) }); }
        } else {
          this.log.warn('lease renew', { node: name, err: errText(err) });
        }
      }
    }
  }

  // ---- list + watch ----

  private informer<T extends { metadata: { resourceVersion?: string } }>(path: string, handle: (e: WatchEvent<T>) => void): void {
    let attempt = 0;
    const listAndWatch = async (): Promise<void> => {
      if (this.stopped) return;
      try {
        const list = await this.kube.get<{ metadata: { resourceVersion: string }; items: T[] }>(path);
        for (const item of list.items) handle({ type: 'ADDED', object: item });
        attempt = 0;
        let rv = list.metadata.resourceVersion;
        const watchFrom = (): void => {
          if (this.stopped) return;
          const stop = this.kube.watch<T>(path, rv, (e) => {
            if (e.type === 'BOOKMARK') { rv = e.object.metadata.resourceVersion ?? rv; return; }
            if (e.type === 'ERROR') return; // the stream ends next; relist
            rv = e.object.metadata.resourceVersion ?? rv;
            handle(e);
          }, (err) => {
            if (this.stopped) return;
            if (err) { this.log.warn('watch ended, relisting', { path, err: errText(err) }); void retry(); } else watchFrom();
          });
          this.stopWatches.push(stop);
        };
        watchFrom();
      } catch (err) {
        this.log.warn('list failed', { path, err: errText(err) });
        void retry();
      }
    };
    const retry = async (): Promise<void> => {
      attempt++;
      const t = setTimeout(() => void listAndWatch(), Math.min(500 * 2 ** attempt, 5000));
      this.timers.push(t);
    };
    void listAndWatch();
  }

  // ---- hosts file (DNS for the Pods) ----

  private onSlice(e: WatchEvent<EndpointSlice>): void {
    const key = `${e.object.metadata.namespace}/${e.object.metadata.name}`;
    if (e.type === 'DELETED') this.slices.delete(key); else this.slices.set(key, e.object);
    this.writeHosts();
  }

  private writeHosts(): void {
    const byService = new Map<string, ServiceName>();
    for (const s of this.slices.values()) {
      const service = sliceService(s.metadata.labels);
      if (service === undefined || s.addressType !== 'IPv4') continue;
      const key = `${s.metadata.namespace}/${service}`;
      const entry = byService.get(key) ?? { namespace: s.metadata.namespace ?? 'default', service, ips: [] };
      for (const ep of s.endpoints ?? []) if (ep.conditions?.ready !== false) entry.ips.push(...ep.addresses);
      byService.set(key, entry);
    }
    const text = renderHosts([...this.podNames.values()], [...byService.values()]);
    if (text === this.lastHosts) return;
    this.lastHosts = text;
    // Rewrite in place: Pods see this file through a bind mount of its inode.
    writeFileSync(this.hostsFile, text);
  }

  // ---- volumes: a folder per PVC, provisioned when the scheduler picked one of our nodes ----

  private onPvc(e: WatchEvent<PersistentVolumeClaim>): void {
    const pvc = e.object;
    const key = `${pvc.metadata.namespace}/${pvc.metadata.name}`;
    if (e.type === 'DELETED') { this.pvcs.delete(key); return; }
    this.pvcs.set(key, pvc);
    const ann = pvc.metadata.annotations ?? {};
    const provisioner = ann['volume.kubernetes.io/storage-provisioner'] ?? ann['volume.beta.kubernetes.io/storage-provisioner'];
    const node = ann['volume.kubernetes.io/selected-node'];
    if (provisioner !== provisionerName || node === undefined || !this.nodeNames.has(node)) return;
    if (pvc.spec.volumeName || pvc.status?.phase === 'Bound' || pvc.metadata.deletionTimestamp) return;
    void this.provision(pvc, node);
  }

  private async provision(pvc: PersistentVolumeClaim, node: string): Promise<void> {
    const name = `pvc-${pvc.metadata.uid}`;
    const path = join(this.cfg.stateDir, 'pv', name);
    mkdirSync(path, { recursive: true });
    // A StorageClass that asks for it gets a volume of exactly the requested size (size-limit.ts).
    const requested = pvc.spec.resources?.requests?.storage ?? '1Gi';
    const sc = pvc.spec.storageClassName ? await this.kube.get<{ parameters?: Record<string, string> }>(`/apis/storage.k8s.io/v1/storageclasses/${pvc.spec.storageClassName}`).catch(() => null) : null;
    if (sc?.parameters?.[SIZE_LIMIT_PARAMETER] === 'enforced') {
      const bytes = quantityBytes(requested);
      if (bytes === null) { this.log.warn('size-limited volume: unreadable size, not provisioned', { pvc: `${pvc.metadata.namespace}/${pvc.metadata.name}`, requested }); return; }
      await mountSizeLimited(path, bytes);
    }
    const pv = {
      apiVersion: 'v1', kind: 'PersistentVolume',
      metadata: { name, annotations: { 'pv.kubernetes.io/provisioned-by': provisionerName }, labels: { 'tsetcd.dev/node': node } },
      spec: {
        capacity: { storage: pvc.spec.resources?.requests?.storage ?? '1Gi' },
        accessModes: pvc.spec.accessModes ?? ['ReadWriteOnce'],
        persistentVolumeReclaimPolicy: 'Delete',
        storageClassName: pvc.spec.storageClassName ?? '',
        volumeMode: 'Filesystem',
        claimRef: { apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace: pvc.metadata.namespace, name: pvc.metadata.name, uid: pvc.metadata.uid },
        local: { path },
        nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [node] }] }] } },
      },
    };
    try {
      await this.kube.send('POST', '/api/v1/persistentvolumes', pv);
      this.log.info('provisioned', { pvc: `${pvc.metadata.namespace}/${pvc.metadata.name}`, pv: name, node, path });
    } catch (err) {
      if (!(err instanceof KubeError && err.status === 409)) this.log.warn('provision failed', { pv: name, err: errText(err) });
    }
  }

  private onPv(e: WatchEvent<PersistentVolume>): void {
    const pv = e.object;
    if (pv.metadata.annotations?.['pv.kubernetes.io/provisioned-by'] !== provisionerName) return;
    if (e.type === 'DELETED' || pv.status?.phase !== 'Released' || pv.spec.persistentVolumeReclaimPolicy !== 'Delete') return;
    const path = pv.spec.local?.path;
    if (path !== undefined && path.startsWith(join(this.cfg.stateDir, 'pv') + '/')) void unmountIfMounted(path).then(() => rmSync(path, { recursive: true, force: true }));
    this.kube.send('DELETE', `/api/v1/persistentvolumes/${pv.metadata.name}`).then(
      () => this.log.info('released volume deleted', { pv: pv.metadata.name }),
      (err: unknown) => { if (!(err instanceof KubeError && err.status === 404)) this.log.warn('pv delete', { pv: pv.metadata.name, err: errText(err) }); },
    );
  }

  // ---- pods ----

  private onPod(e: WatchEvent<Pod>): void {
    const pod = e.object;
    const uid = pod.metadata.uid ?? '';
    const key = podKey(pod);
    if (e.type === 'DELETED') this.podNames.delete(key);
    else if (pod.status?.podIP && pod.spec.hostname) {
      this.podNames.set(key, {
        namespace: pod.metadata.namespace ?? 'default', hostname: pod.spec.hostname, ip: pod.status.podIP,
        ...(pod.spec.subdomain !== undefined ? { subdomain: pod.spec.subdomain } : {}),
      });
    }
    this.writeHosts();
    if (pod.spec.nodeName === undefined || !this.nodeNames.has(pod.spec.nodeName)) return;
    const rec = this.records.get(uid);
    if (e.type === 'DELETED') {
      if (rec) void this.teardown(rec, 0);
      return;
    }
    if (rec) rec.pod = pod;
    if (pod.metadata.deletionTimestamp !== undefined) {
      if (rec && !rec.stopping) void this.terminate(rec);
      else if (!rec) void this.finalDelete(pod);
      return;
    }
    if (!rec && pod.status?.phase !== 'Succeeded' && pod.status?.phase !== 'Failed') void this.startPod(pod);
  }

  private async startPod(pod: Pod): Promise<void> {
    const uid = pod.metadata.uid ?? '';
    const proc = (c: Container, statuses: ContainerStatus[] | undefined): ContainerProc => ({
      spec: c, readySuccesses: 0, readyFailures: 0, liveFailures: 0,
      run: { name: c.name, image: c.image ?? '', restartCount: statuses?.find((s) => s.name === c.name)?.restartCount ?? 0, ready: false },
    });
    const rec: PodRecord = {
      uid, pod, startTime: pod.status?.startTime ?? nowIso(), stopping: false, statusInFlight: false, statusAgain: false,
      containers: pod.spec.containers.map((c) => proc(c, pod.status?.containerStatuses)),
      initContainers: (pod.spec.initContainers ?? []).map((c) => proc(c, pod.status?.initContainerStatuses)),
    };
    if (rec.initContainers.length > 0) for (const c of rec.containers) c.run.waitingReason = 'PodInitializing';
    this.records.set(uid, rec);
    this.log.info('pod starting', { pod: podKey(pod), node: pod.spec.nodeName });
    try {
      const ip = this.pool.allocate();
      rec.ip = ip;
      const net = await createPodNetwork(uid, ip, this.pool.prefixLength, this.pool.gateway, this.cfg.bridge);
      rec.netns = net.netns;
      if (rec.stopping) return;
      this.podNames.set(podKey(pod), {
        namespace: pod.metadata.namespace ?? 'default', hostname: pod.spec.hostname ?? pod.metadata.name, ip,
        ...(pod.spec.subdomain !== undefined ? { subdomain: pod.spec.subdomain } : {}),
      });
      this.writeHosts();
      this.syncStatus(rec);
      const volumePaths = await this.prepareVolumes(rec);
      if (rec.initContainers.length > 0) this.startInitContainer(rec, 0, volumePaths);
      else for (const c of rec.containers) this.startContainer(rec, c, volumePaths);
    } catch (err) {
      this.log.error('pod start failed', { pod: podKey(pod), err: errText(err) });
      for (const c of [...rec.initContainers, ...rec.containers]) { c.run.waitingReason = 'CreateContainerError'; c.run.waitingMessage = errText(err); }
      this.syncStatus(rec);
      // As the kubelet: try again, with a backoff (a slow API server or a claim bound late must not
      // leave the pod dead for good).
      const failures = (this.startFailures.get(uid) ?? 0) + 1;
      this.startFailures.set(uid, failures);
      setTimeout(() => void this.retryStart(rec), Math.min(START_RETRY_MAX_MS, 1000 * 2 ** (failures - 1))).unref();
    }
  }

  /** A pod whose start failed: its record, address and namespace go, and it starts anew. */
  private async retryStart(rec: PodRecord): Promise<void> {
    if (rec.stopping || this.records.get(rec.uid) !== rec) return;
    await this.teardown(rec, 0);
    const pod = rec.pod;
    if (this.stopped || pod.metadata.deletionTimestamp !== undefined || this.records.has(rec.uid)) return;
    this.log.info('pod start retried', { pod: podKey(pod), failures: this.startFailures.get(rec.uid) });
    await this.startPod(pod);
  }

  private async prepareVolumes(rec: PodRecord): Promise<Record<string, string>> {
    const pod = rec.pod;
    const ns = pod.metadata.namespace ?? 'default';
    const podDir = join(this.cfg.stateDir, 'pods', rec.uid);
    const out: Record<string, string> = {};
    for (const v of pod.spec.volumes ?? []) {
      const dir = join(podDir, 'volumes', v.name);
      if (v.persistentVolumeClaim) {
        const deadline = Date.now() + 60_000;
        for (;;) {
          const pvc = await this.kube.get<PersistentVolumeClaim>(`/api/v1/namespaces/${ns}/persistentvolumeclaims/${v.persistentVolumeClaim.claimName}`);
          if (pvc.spec.volumeName) {
            const pv = await this.kube.get<PersistentVolume>(`/api/v1/persistentvolumes/${pvc.spec.volumeName}`);
            if (!pv.spec.local?.path) throw new Error(`PV ${pv.metadata.name} is not a local folder`);
            mkdirSync(pv.spec.local.path, { recursive: true });
            out[v.name] = pv.spec.local.path;
            break;
          }
          if (Date.now() > deadline) throw new Error(`PVC ${v.persistentVolumeClaim.claimName} not bound within 60 s`);
          await new Promise((r) => setTimeout(r, 500));
        }
      } else if (v.configMap || v.secret) {
        mkdirSync(dir, { recursive: true });
        const pv: ProjectedVolume = {
          dir,
          kind: v.configMap ? 'configmap' : 'secret',
          name: v.configMap ? v.configMap.name : (v.secret?.secretName ?? ''),
          items: (v.configMap ?? v.secret)?.items,
        };
        await this.syncProjected(pv, ns);
        (rec.projected ??= []).push(pv);
        out[v.name] = dir;
      } else {
        mkdirSync(dir, { recursive: true });
        out[v.name] = dir;
      }
    }
    return out;
  }

  /** Writes a ConfigMap/Secret volume's current data (atomically; nothing when unchanged). */
  private async syncProjected(pv: ProjectedVolume, ns: string): Promise<boolean> {
    const data = await this.lookup(pv.kind, ns, pv.name);
    if (data === undefined) return false;
    const files: Record<string, string> = {};
    for (const [k, val] of Object.entries(data)) {
      const target = pv.items ? pv.items.find((i) => i.key === k)?.path : k;
      if (target !== undefined) files[target] = val;
    }
    return writeProjected(pv.dir, files);
  }

  /** The kubelet's periodic volume sync: a changed Secret (a renewed certificate) reaches running pods. */
  private async refreshProjected(): Promise<void> {
    for (const rec of this.records.values()) {
      if (rec.stopping) continue;
      for (const pv of rec.projected ?? []) {
        try {
          if (await this.syncProjected(pv, rec.pod.metadata.namespace ?? 'default')) this.log.info('volume updated', { pod: podKey(rec.pod), [pv.kind]: pv.name });
        } catch (err) {
          this.log.warn('volume sync failed', { pod: podKey(rec.pod), [pv.kind]: pv.name, err: errText(err) });
        }
      }
    }
  }

  private async lookup(kind: 'configmap' | 'secret', ns: string, name: string): Promise<Record<string, string> | undefined> {
    try {
      if (kind === 'configmap') {
        const cm = await this.kube.get<{ data?: Record<string, string> }>(`/api/v1/namespaces/${ns}/configmaps/${name}`);
        return cm.data ?? {};
      }
      const s = await this.kube.get<{ data?: Record<string, string> }>(`/api/v1/namespaces/${ns}/secrets/${name}`);
      return Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
    } catch (err) {
      if (err instanceof KubeError && err.status === 404) return undefined;
      throw err;
    }
  }

  /**
   * Starts one container's process (env, volumes and args resolved as for any container) and
   * records it running; undefined when the pod is going away.
   */
  private async spawnContainer(rec: PodRecord, c: ContainerProc, volumePaths: Record<string, string>): Promise<Started | undefined> {
    if (rec.stopping || this.stopped) return undefined;
    const pod = rec.pod;
    const ns = pod.metadata.namespace ?? 'default';
    const refs = new Map<string, Record<string, string> | undefined>();
    for (const e of c.spec.env ?? []) {
      const r = e.valueFrom?.configMapKeyRef ?? e.valueFrom?.secretKeyRef;
      const kind = e.valueFrom?.configMapKeyRef ? 'configmap' : 'secret';
      if (r && !refs.has(`${kind}/${r.name}`)) refs.set(`${kind}/${r.name}`, await this.lookup(kind, ns, r.name));
    }
    for (const ef of c.spec.envFrom ?? []) {
      const kind = ef.configMapRef ? 'configmap' : 'secret';
      const name = (ef.configMapRef ?? ef.secretRef)?.name ?? '';
      if (!refs.has(`${kind}/${name}`)) refs.set(`${kind}/${name}`, await this.lookup(kind, ns, name));
    }
    const spec = resolveProcess({
      pod, container: c.spec, podIP: rec.ip ?? '', hostIP: this.pool.gateway, imageMap: this.cfg.imageMap, volumePaths,
      lookup: (kind, name) => refs.get(`${kind}/${name}`),
    });
    // A fresh, empty termination message file per run, bound where the spec says (termination-message.ts).
    let messageFile: string | undefined;
    if (c.spec.terminationMessagePath !== undefined) {
      messageFile = join(this.cfg.stateDir, 'pods', rec.uid, 'termination', c.spec.name);
      mkdirSync(join(this.cfg.stateDir, 'pods', rec.uid, 'termination'), { recursive: true });
      writeFileSync(messageFile, '');
    }
    const binds = messageFile === undefined ? spec.binds : [...spec.binds, { source: messageFile, target: c.spec.terminationMessagePath as string }];
    const argv = podExecArgv({
      netns: rec.netns ?? '', podExecScript: this.cfg.podExecScript, hostsFile: this.hostsFile,
      hostname: pod.spec.hostname ?? pod.metadata.name, binds, file: spec.file, args: spec.args,
      ...(spec.workingDir !== undefined ? { workingDir: spec.workingDir } : {}),
    });
    const logPath = join(this.cfg.stateDir, 'logs', `${ns}_${pod.metadata.name}_${c.spec.name}.log`);
    const fd = openSync(logPath, 'a');
    const logOffset = fstatSync(fd).size;
    const child = spawn(argv[0] as string, argv.slice(1), { env: spec.env, stdio: ['ignore', fd, fd], detached: true });
    closeSync(fd);
    const startedAt = nowIso();
    c.child = child;
    const pidFile = join(this.cfg.stateDir, 'pids', `${rec.uid}-${c.spec.name}`);
    if (child.pid !== undefined) writeFileSync(pidFile, String(child.pid));
    c.run.runningSince = startedAt;
    delete c.run.waitingReason;
    delete c.run.waitingMessage;
    delete c.run.terminated;
    this.log.info('container started', { pod: podKey(pod), container: c.spec.name, pid: child.pid, file: spec.file, args: spec.args });
    return { child, startedAt, pidFile, logPath, logOffset, ...(messageFile !== undefined ? { messageFile } : {}) };
  }

  /** The container's error before its process could start: reported as the kubelet does, retried. */
  private startFailed(rec: PodRecord, c: ContainerProc, err: unknown, retry: () => void): void {
    c.run.waitingReason = err instanceof UnresolvableError ? 'CreateContainerConfigError' : 'CreateContainerError';
    c.run.waitingMessage = errText(err);
    this.log.error('container start failed', { pod: podKey(rec.pod), container: c.spec.name, err: errText(err) });
    this.syncStatus(rec);
    if (!rec.stopping && !this.stopped) c.restartTimer = setTimeout(retry, 2000);
  }

  /** Runs init container `index` to its end, then the next, and after the last the pod's containers. */
  private startInitContainer(rec: PodRecord, index: number, volumePaths: Record<string, string>): void {
    const c = rec.initContainers[index] as ContainerProc;
    void (async () => {
      const started = await this.spawnContainer(rec, c, volumePaths);
      if (started === undefined) return;
      const { child, startedAt, pidFile } = started;
      this.syncStatus(rec);
      child.on('exit', (code, signal) => {
        try { unlinkSync(pidFile); } catch { /* gone */ }
        if (c.child !== child) return;
        c.child = undefined;
        const exitCode = code ?? (signal ? 128 + 9 : 1);
        delete c.run.runningSince;
        c.run.terminated = { exitCode, startedAt, finishedAt: nowIso(), ...messageOf(c.spec, exitCode, started) };
        c.run.lastExit = c.run.terminated;
        this.log.info('init container exited', { pod: podKey(rec.pod), container: c.spec.name, code, signal });
        if (rec.stopping || this.stopped) return;
        const step = afterInitExit(rec.pod, index, exitCode, c.run.restartCount, this.cfg.maxRestartBackoffMs);
        switch (step.kind) {
          case 'next': this.startInitContainer(rec, step.index, volumePaths); break;
          case 'containers':
            for (const m of rec.containers) delete m.run.waitingReason;
            for (const m of rec.containers) this.startContainer(rec, m, volumePaths);
            break;
          case 'retry':
            delete c.run.terminated;
            c.run.waitingReason = 'CrashLoopBackOff';
            c.run.restartCount++;
            c.restartTimer = setTimeout(() => this.startInitContainer(rec, index, volumePaths), step.backoffMs);
            break;
          case 'fail-pod':
            rec.finalPhase = 'Failed';
            for (const m of rec.containers) m.run.waitingReason = 'PodInitializing';
            this.log.warn('pod failed: init container failed under restartPolicy Never', { pod: podKey(rec.pod), container: c.spec.name, exitCode });
            break;
        }
        this.syncStatus(rec);
      });
    })().catch((err: unknown) => this.startFailed(rec, c, err, () => this.startInitContainer(rec, index, volumePaths)));
  }

  private startContainer(rec: PodRecord, c: ContainerProc, volumePaths: Record<string, string>): void {
    void (async () => {
      const started = await this.spawnContainer(rec, c, volumePaths);
      if (started === undefined) return;
      const { child, startedAt, pidFile } = started;
      const pod = rec.pod;
      c.readySuccesses = 0; c.readyFailures = 0; c.liveFailures = 0;
      c.run.ready = c.spec.readinessProbe === undefined;
      this.syncStatus(rec);
      this.scheduleProbes(rec, c);
      child.on('exit', (code, signal) => {
        try { unlinkSync(pidFile); } catch { /* gone */ }
        if (c.child !== child) return;
        c.child = undefined;
        if (c.probeTimer) clearTimeout(c.probeTimer);
        const exitCode = code ?? (signal ? 128 + 9 : 1);
        c.run.lastExit = { exitCode, startedAt, finishedAt: nowIso(), ...messageOf(c.spec, exitCode, started) };
        delete c.run.runningSince;
        c.run.ready = false;
        this.log.info('container exited', { pod: podKey(pod), container: c.spec.name, code, signal });
        if (rec.stopping || this.stopped) return;
        const policy = pod.spec.restartPolicy ?? 'Always';
        if (policy === 'Always' || (policy === 'OnFailure' && exitCode !== 0)) {
          c.run.waitingReason = 'CrashLoopBackOff';
          const backoffMs = Math.min(1000 * 2 ** Math.min(c.run.restartCount, 10), this.cfg.maxRestartBackoffMs);
          c.run.restartCount++;
          c.restartTimer = setTimeout(() => this.startContainer(rec, c, volumePaths), backoffMs);
        } else {
          // Not restarted: the container stays terminated, and once every one has, the pod is done
          // (Succeeded when all exited 0), as the kubelet decides it (a Job's pod, a one-off pod).
          c.run.terminated = c.run.lastExit;
          const phase = finalPhaseOf(rec.containers.map((m) => m.run));
          if (phase !== undefined) rec.finalPhase = phase;
        }
        this.syncStatus(rec);
      });
    })().catch((err: unknown) => this.startFailed(rec, c, err, () => this.startContainer(rec, c, volumePaths)));
  }

  private scheduleProbes(rec: PodRecord, c: ContainerProc): void {
    const ready = c.spec.readinessProbe;
    const live = c.spec.livenessProbe;
    if (ready === undefined && live === undefined) return;
    const child = c.child;
    const periodMs = (p: Probe | undefined): number => Math.max(1, p?.periodSeconds ?? 10) * 1000;
    const tickMs = Math.min(periodMs(ready ?? live), periodMs(live ?? ready));
    const startMs = Date.now();
    const tick = async (): Promise<void> => {
      if (c.child !== child || rec.stopping || !rec.ip) return;
      const elapsedS = (Date.now() - startMs) / 1000;
      if (ready && elapsedS >= (ready.initialDelaySeconds ?? 0)) {
        const ok = await probeOnce(ready, c.spec, rec.ip);
        if (ok) { c.readySuccesses++; c.readyFailures = 0; } else { c.readyFailures++; c.readySuccesses = 0; }
        const was = c.run.ready;
        if (ok && c.readySuccesses >= (ready.successThreshold ?? 1)) c.run.ready = true;
        if (!ok && c.readyFailures >= (ready.failureThreshold ?? 3)) c.run.ready = false;
        if (was !== c.run.ready) this.syncStatus(rec);
      }
      if (live && elapsedS >= (live.initialDelaySeconds ?? 0) && c.child === child) {
        const ok = await probeOnce(live, c.spec, rec.ip);
        c.liveFailures = ok ? 0 : c.liveFailures + 1;
        if (c.liveFailures >= (live.failureThreshold ?? 3)) {
          this.log.warn('liveness failed, restarting', { pod: podKey(rec.pod), container: c.spec.name });
          c.liveFailures = 0;
          child?.kill('SIGKILL');
        }
      }
      if (c.child === child && !rec.stopping) c.probeTimer = setTimeout(() => void tick(), tickMs);
    };
    c.probeTimer = setTimeout(() => void tick(), Math.min(1000, tickMs));
  }

  private syncStatus(rec: PodRecord): void {
    if (rec.stopping) return;
    if (rec.statusInFlight) { rec.statusAgain = true; return; }
    const status = buildPodStatus(rec.pod, {
      ...(rec.ip !== undefined && rec.netns !== undefined ? { podIP: rec.ip } : {}),
      hostIP: this.pool.gateway, startTime: rec.startTime, containers: rec.containers.map((c) => c.run),
      initContainers: rec.initContainers.map((c) => c.run),
      ...(rec.finalPhase !== undefined ? { finalPhase: rec.finalPhase } : {}),
    }, nowIso());
    const key = statusKey(status);
    if (key === rec.lastStatusKey) return;
    rec.statusInFlight = true;
    const ns = rec.pod.metadata.namespace ?? 'default';
    this.kube.send('PATCH', `/api/v1/namespaces/${ns}/pods/${rec.pod.metadata.name}/status`, { status }).then(
      () => { rec.lastStatusKey = key; },
      (err: unknown) => { this.log.warn('pod status', { pod: podKey(rec.pod), err: errText(err) }); },
    ).finally(() => {
      rec.statusInFlight = false;
      if (rec.statusAgain) { rec.statusAgain = false; this.syncStatus(rec); }
    });
  }

  /** Graceful: SIGTERM, wait up to the grace period, SIGKILL; then the final delete. */
  private async terminate(rec: PodRecord): Promise<void> {
    const graceS = rec.pod.metadata.deletionGracePeriodSeconds ?? rec.pod.spec.terminationGracePeriodSeconds ?? 30;
    await this.teardown(rec, graceS * 1000);
    await this.finalDelete(rec.pod);
  }

  private async finalDelete(pod: Pod): Promise<void> {
    const ns = pod.metadata.namespace ?? 'default';
    try {
      await this.kube.send('DELETE', `/api/v1/namespaces/${ns}/pods/${pod.metadata.name}`, {
        apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0, preconditions: { uid: pod.metadata.uid },
      });
      this.log.info('pod deleted', { pod: podKey(pod) });
    } catch (err) {
      if (!(err instanceof KubeError && (err.status === 404 || err.status === 409))) this.log.warn('pod delete', { pod: podKey(pod), err: errText(err) });
    }
  }

  private async teardown(rec: PodRecord, graceMs: number): Promise<void> {
    if (rec.stopping && graceMs > 0) return;
    rec.stopping = true;
    const all = [...rec.initContainers, ...rec.containers];
    const live = all.filter((c) => c.child !== undefined);
    for (const c of all) {
      if (c.probeTimer) clearTimeout(c.probeTimer);
      if (c.restartTimer) clearTimeout(c.restartTimer);
    }
    const exited = live.map((c) => new Promise<void>((resolve) => {
      const child = c.child as ChildProcess;
      if (child.exitCode !== null || child.signalCode !== null) { resolve(); return; }
      child.once('exit', () => resolve());
      signalGroup(child, graceMs > 0 ? 'SIGTERM' : 'SIGKILL');
    }));
    if (graceMs > 0) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((r) => { timer = setTimeout(() => r('timeout'), graceMs); });
      const res = await Promise.race([Promise.all(exited).then(() => 'done' as const), timeout]);
      if (timer) clearTimeout(timer);
      if (res === 'timeout') for (const c of live) if (c.child) signalGroup(c.child, 'SIGKILL');
    }
    await Promise.all(exited);
    if (rec.netns) await deletePodNetwork(rec.netns);
    if (rec.ip) this.pool.release(rec.ip);
    rmSync(join(this.cfg.stateDir, 'pods', rec.uid), { recursive: true, force: true });
    this.records.delete(rec.uid);
    this.podNames.delete(podKey(rec.pod));
    this.writeHosts();
    this.log.info('pod stopped', { pod: podKey(rec.pod) });
  }

  /** Pod processes and namespaces left by an agent that died without cleaning up. */
  private killLeftovers(): void {
    const dir = join(this.cfg.stateDir, 'pids');
    for (const f of existsSync(dir) ? readdirSync(dir) : []) {
      const pid = Number(readFileSync(join(dir, f), 'utf8'));
      if (Number.isInteger(pid) && pid > 1) {
        try { process.kill(-pid, 'SIGKILL'); } catch { /* gone */ }
      }
      rmSync(join(dir, f), { force: true });
    }
  }

  /** For tests and debugging: the network namespace a Pod's processes run in. */
  netnsOf(uid: string): string {
    return podNetworkNames(uid).netns;
  }
}

function signalGroup(child: ChildProcess, sig: NodeJS.Signals): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, sig);
  } catch {
    child.kill(sig);
  }
}
