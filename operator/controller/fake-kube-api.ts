// An in-memory KubeApi for controller tests, with a tiny StatefulSet controller (simulateStatefulSets)
// so that passes see pods and PVCs come and go.
import type { EtcdBackup, EtcdBackupStatus } from '../api/etcd-backup.js';
import type { EtcdCluster, EtcdClusterStatus } from '../api/types.js';
import type { KubeObject } from '../plan/kube-object.js';
import type { EventType, InvolvedObject, KubeApi, OneOffPod, PodInfo, PvcInfo, StatefulSetInfo } from './kube-api.js';
import { peerTLSOfArgs } from '../plan/statefulset.js';

export interface RecordedEvent {
  type: EventType;
  reason: string;
  message: string;
  /** kind/name of the object it is about. */
  about?: string;
}

export class FakeKubeApi implements KubeApi {
  clusters = new Map<string, EtcdCluster>();
  objects = new Map<string, KubeObject>();
  pods = new Map<string, PodInfo>();
  pvcs = new Map<string, PvcInfo>();
  events: RecordedEvent[] = [];
  storageClasses = new Set<string>(['standard']);
  applies = 0;
  private uidSeq = 0;

  addCluster(c: EtcdCluster): void {
    this.clusters.set(`${c.metadata.namespace}/${c.metadata.name}`, structuredClone(c));
  }

  /** Changes the spec the way kubectl would: bumps the generation. */
  editSpec(ns: string, name: string, edit: (c: EtcdCluster) => void): void {
    const c = this.clusters.get(`${ns}/${name}`);
    if (!c) throw new Error('no such cluster');
    edit(c);
    c.metadata.generation = (c.metadata.generation ?? 1) + 1;
  }

  cluster(ns: string, name: string): EtcdCluster {
    const c = this.clusters.get(`${ns}/${name}`);
    if (!c) throw new Error('no such cluster');
    return c;
  }

  object(kind: string, ns: string, name: string): KubeObject | undefined {
    return this.objects.get(`${kind}/${ns}/${name}`);
  }

  async getCluster(namespace: string, name: string): Promise<EtcdCluster | null> {
    const c = this.clusters.get(`${namespace}/${name}`);
    return c ? structuredClone(c) : null;
  }

  async updateStatus(cluster: EtcdCluster, status: EtcdClusterStatus): Promise<void> {
    const c = this.clusters.get(`${cluster.metadata.namespace}/${cluster.metadata.name}`);
    if (!c) throw new Error('not found');
    c.status = structuredClone(status);
  }

  /** When set, apply() throws this message (e.g. an admission webhook or quota refusing). */
  failApply: string | null = null;

  async apply(obj: KubeObject): Promise<void> {
    if (this.failApply !== null) throw new Error(this.failApply);
    this.applies++;
    const key = `${obj.kind}/${obj.metadata.namespace}/${obj.metadata.name}`;
    const prev = this.objects.get(key);
    if (prev && obj.kind === 'StatefulSet') {
      const a = JSON.stringify((prev.spec as Record<string, unknown>).volumeClaimTemplates);
      const b = JSON.stringify((obj.spec as Record<string, unknown>).volumeClaimTemplates);
      if (a !== b) throw new Error('StatefulSet.apps is invalid: spec: Forbidden: updates to statefulset spec for fields other than ... are forbidden');
    }
    this.objects.set(key, structuredClone(obj));
    if (obj.kind === 'Pod' && !this.oneOffPods.has(`${obj.metadata.namespace}/${obj.metadata.name}`)) {
      this.oneOffPods.set(`${obj.metadata.namespace}/${obj.metadata.name}`, { phase: 'Pending', podIP: null, ready: false, deleting: false, terminationMessage: null, notRunning: null });
    }
    if (obj.kind === 'Secret') {
      const data = (obj.data ?? {}) as Record<string, string>;
      this.secrets.set(`${obj.metadata.namespace}/${obj.metadata.name}`, Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'base64')])));
    }
  }

  async getStatefulSet(namespace: string, name: string): Promise<StatefulSetInfo | null> {
    const o = this.objects.get(`StatefulSet/${namespace}/${name}`);
    if (!o) return null;
    const spec = o.spec as { replicas: number; volumeClaimTemplates: Array<{ spec: { resources: { requests: { storage: string } }; storageClassName?: string } }> };
    const vct = spec.volumeClaimTemplates[0];
    return {
      replicas: spec.replicas,
      updateRevision: 'rev-1',
      storageSize: vct?.spec.resources.requests.storage ?? null,
      storageClassName: vct?.spec.storageClassName ?? null,
      volumeClaimTemplates: structuredClone(spec.volumeClaimTemplates),
      image: (o.spec as { template: { spec: { containers: Array<{ image: string }> } } }).template.spec.containers[0]?.image ?? null,
      peerTLS: peerTLSOfArgs((o.spec as { template: { spec: { containers: Array<{ args?: string[] }> } } }).template.spec.containers[0]?.args ?? []),
    };
  }

  async listPods(): Promise<PodInfo[]> {
    return [...this.pods.values()].map((p) => ({ ...p }));
  }

  async listPvcs(): Promise<PvcInfo[]> {
    return [...this.pvcs.values()].map((p) => ({ ...p }));
  }

  async deletePod(ns: string, name: string): Promise<void> {
    this.pods.delete(name);
    this.oneOffPods.delete(`${ns}/${name}`);
    this.objects.delete(`Pod/${ns}/${name}`);
  }

  /** One-off pods (backup, restore source) by ns/name: created Pending by apply; a test moves them on. */
  oneOffPods = new Map<string, OneOffPod>();

  async getOneOffPod(ns: string, name: string): Promise<OneOffPod | null> {
    const p = this.oneOffPods.get(`${ns}/${name}`);
    return p === undefined ? null : { ...p };
  }

  /** Claims by ns/name that getPvc finds (the cluster's own are in pvcs). */
  claims = new Map<string, PvcInfo>();

  async getPvc(ns: string, name: string): Promise<PvcInfo | null> {
    const p = this.claims.get(`${ns}/${name}`);
    return p === undefined ? null : { ...p };
  }

  async deletePvc(_ns: string, name: string): Promise<void> {
    this.pvcs.delete(name);
  }

  async deleteStatefulSet(ns: string, name: string): Promise<void> {
    this.objects.delete(`StatefulSet/${ns}/${name}`);
    for (const pod of [...this.pods.keys()]) if (pod.startsWith(`${name}-`)) this.pods.delete(pod);
  }

  async setFinalizer(cluster: EtcdCluster, finalizer: string, present: boolean): Promise<void> {
    const key = `${cluster.metadata.namespace}/${cluster.metadata.name}`;
    const c = this.clusters.get(key);
    if (!c) {
      if (present) throw new Error('not found');
      return;
    }
    const have = c.metadata.finalizers ?? [];
    c.metadata.finalizers = present ? [...new Set([...have, finalizer])] : have.filter((f) => f !== finalizer);
    // The apiserver deletes an object marked for deletion once its last finalizer goes.
    if (c.metadata.deletionTimestamp !== undefined && c.metadata.finalizers.length === 0) this.clusters.delete(key);
  }

  /** kubectl delete etcdcluster: marked while finalizers remain, gone otherwise (owned children with it). */
  deleteCluster(ns: string, name: string, nowIso: string): void {
    const key = `${ns}/${name}`;
    const c = this.clusters.get(key);
    if (!c) return;
    if ((c.metadata.finalizers ?? []).length > 0) c.metadata.deletionTimestamp = nowIso;
    else this.clusters.delete(key);
  }

  /** StorageClasses that allow expansion. */
  expandable = new Set<string>(['standard']);

  async resizePvc(_ns: string, name: string, size: string): Promise<void> {
    const p = this.pvcs.get(name);
    if (!p) throw new Error(`persistentvolumeclaims "${name}" not found`);
    const sts = [...this.objects.values()].find((o) => o.kind === 'StatefulSet');
    const cls = (sts?.spec as { volumeClaimTemplates: Array<{ spec: { storageClassName?: string } }> } | undefined)?.volumeClaimTemplates[0]?.spec.storageClassName ?? 'standard';
    if (!this.expandable.has(cls)) {
      throw new Error(`persistentvolumeclaims "${name}" is forbidden: only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize`);
    }
    this.pvcs.set(name, { ...p, requestedStorage: size });
  }

  secrets = new Map<string, Record<string, Buffer>>();

  async getSecret(namespace: string, name: string): Promise<Record<string, Buffer> | null> {
    return this.secrets.get(`${namespace}/${name}`) ?? null;
  }

  async storageClassExists(name: string): Promise<boolean | null> {
    return this.storageClasses.has(name);
  }

  async recordEvent(about: InvolvedObject, type: EventType, reason: string, message: string): Promise<void> {
    this.events.push({ type, reason, message, ...(about.kind !== 'EtcdCluster' ? { about: `${about.kind}/${about.metadata.name}` } : {}) });
  }

  backups = new Map<string, EtcdBackup>();
  /** Status writes of EtcdBackups, in order (phases), for crash-point tests. */
  backupStatusWrites: EtcdBackupStatus[] = [];

  async getEtcdBackup(namespace: string, name: string): Promise<EtcdBackup | null> {
    const b = this.backups.get(`${namespace}/${name}`);
    return b ? structuredClone(b) : null;
  }

  async updateEtcdBackupStatus(backup: EtcdBackup, status: EtcdBackupStatus): Promise<void> {
    const b = this.backups.get(`${backup.metadata.namespace}/${backup.metadata.name}`);
    if (!b) throw new Error('not found');
    b.status = structuredClone(status);
    this.backupStatusWrites.push(structuredClone(status));
  }

  /**
   * One sync of every StatefulSet: pods 0..replicas-1 exist (with a PVC each), others are gone.
   * Calls onPodCreated for each new pod (the test starts the member there).
   */
  simulateStatefulSets(onPodCreated: (name: string, ordinal: number, podIP: string) => void): void {
    for (const o of this.objects.values()) {
      if (o.kind !== 'StatefulSet') continue;
      const replicas = (o.spec as { replicas: number }).replicas;
      const base = o.metadata.name;
      for (const [name] of this.pods) {
        const ord = Number(name.slice(base.length + 1));
        if (name.startsWith(`${base}-`) && ord >= replicas) this.pods.delete(name);
      }
      for (let i = 0; i < replicas; i++) {
        const name = `${base}-${i}`;
        if (this.pods.has(name)) continue;
        const pvc = `data-${name}`;
        const vct = (o.spec as { volumeClaimTemplates: Array<{ spec: { resources: { requests: { storage: string } } } }> }).volumeClaimTemplates[0];
        if (!this.pvcs.has(pvc)) {
          this.pvcs.set(pvc, { name: pvc, uid: `pvc-uid-${++this.uidSeq}`, terminating: false, phase: 'Bound', requestedStorage: vct?.spec.resources.requests.storage ?? null });
        }
        const podIP = `127.0.10.${i + 10}`;
        this.pods.set(name, { name, podIP, ready: true, revision: 'rev-1', waitingReason: null, waitingMessage: null, deleting: false, lastTerminationMessage: null });
        onPodCreated(name, i, podIP);
      }
    }
  }
}
