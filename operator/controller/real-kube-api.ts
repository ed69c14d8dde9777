// KubeApi over @kubernetes/client-node. Every child is written by server-side apply with one field manager.
import * as k8s from '@kubernetes/client-node';
import { BACKUP_PLURAL, type EtcdBackup, type EtcdBackupStatus } from '../api/etcd-backup.js';
import { GROUP, PLURAL, VERSION, type EtcdCluster, type EtcdClusterStatus } from '../api/types.js';
import type { KubeObject } from '../plan/kube-object.js';
import { FIELD_MANAGER } from '../plan/names.js';
import { MEMBER_CONTAINER, peerTLSOfArgs } from '../plan/statefulset.js';
import { ConflictError, type EventType, type InvolvedObject, type KubeApi, type OneOffPod, type PodInfo, type PvcInfo, type StatefulSetInfo } from './kube-api.js';

export function httpCode(err: unknown): number | null {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const c = (err as { code: unknown }).code;
    if (typeof c === 'number') return c;
  }
  return null;
}

function pvcInfo(p: k8s.V1PersistentVolumeClaim): PvcInfo {
  return {
    name: p.metadata?.name ?? '',
    uid: p.metadata?.uid ?? '',
    terminating: p.metadata?.deletionTimestamp != null,
    phase: p.status?.phase ?? '',
    requestedStorage: (p.spec?.resources?.requests?.storage as string | undefined) ?? null,
  };
}

export class RealKubeApi implements KubeApi {
  private readonly objects: k8s.KubernetesObjectApi;
  private readonly custom: k8s.CustomObjectsApi;
  private readonly core: k8s.CoreV1Api;
  private readonly apps: k8s.AppsV1Api;
  private readonly storage: k8s.StorageV1Api;

  constructor(
    kc: k8s.KubeConfig,
    private readonly component = 'tsetcd-operator',
  ) {
    this.objects = k8s.KubernetesObjectApi.makeApiClient(kc);
    this.custom = kc.makeApiClient(k8s.CustomObjectsApi);
    this.core = kc.makeApiClient(k8s.CoreV1Api);
    this.apps = kc.makeApiClient(k8s.AppsV1Api);
    this.storage = kc.makeApiClient(k8s.StorageV1Api);
  }

  async getCluster(namespace: string, name: string): Promise<EtcdCluster | null> {
    try {
      return (await this.custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: PLURAL, name })) as EtcdCluster;
    } catch (err: unknown) {
      if (httpCode(err) === 404) return null;
      throw err;
    }
  }

  async updateStatus(cluster: EtcdCluster, status: EtcdClusterStatus): Promise<void> {
    const body = { apiVersion: cluster.apiVersion, kind: cluster.kind, metadata: cluster.metadata, spec: cluster.spec, status };
    try {
      await this.custom.replaceNamespacedCustomObjectStatus({
        group: GROUP,
        version: VERSION,
        namespace: cluster.metadata.namespace,
        plural: PLURAL,
        name: cluster.metadata.name,
        body,
        fieldManager: FIELD_MANAGER,
      });
    } catch (err: unknown) {
      if (httpCode(err) === 409) throw new ConflictError(`status of ${cluster.metadata.namespace}/${cluster.metadata.name} changed meanwhile`);
      throw err;
    }
  }

  async apply(obj: KubeObject): Promise<void> {
    await this.objects.patch(obj as k8s.KubernetesObject, undefined, undefined, FIELD_MANAGER, true, k8s.PatchStrategy.ServerSideApply);
  }

  async getStatefulSet(namespace: string, name: string): Promise<StatefulSetInfo | null> {
    let s: k8s.V1StatefulSet;
    try {
      s = await this.apps.readNamespacedStatefulSet({ namespace, name });
    } catch (err: unknown) {
      if (httpCode(err) === 404) return null;
      throw err;
    }
    const vcts = s.spec?.volumeClaimTemplates ?? [];
    const first = vcts[0];
    return {
      replicas: s.spec?.replicas ?? 0,
      updateRevision: s.status?.updateRevision ?? null,
      storageSize: (first?.spec?.resources?.requests?.storage as string | undefined) ?? null,
      storageClassName: first?.spec?.storageClassName ?? null,
      // Re-sent on apply exactly as stored (minus status), since they are immutable.
      volumeClaimTemplates: vcts.map((v) => ({ metadata: { name: v.metadata?.name, labels: v.metadata?.labels }, spec: v.spec })),
      image: s.spec?.template?.spec?.containers?.find((c) => c.name === MEMBER_CONTAINER)?.image ?? null,
      peerTLS: peerTLSOfArgs(s.spec?.template?.spec?.containers?.find((c) => c.name === MEMBER_CONTAINER)?.args ?? []),
    };
  }

  async listPods(namespace: string, labelSelector: string): Promise<PodInfo[]> {
    const list = await this.core.listNamespacedPod({ namespace, labelSelector });
    return list.items.map((p) => {
      const waiting = p.status?.containerStatuses?.find((c) => c.state?.waiting)?.state?.waiting;
      const terminated = p.status?.containerStatuses?.map((c) => c.state?.terminated ?? c.lastState?.terminated).find((t) => t?.message);
      return {
        name: p.metadata?.name ?? '',
        podIP: p.status?.podIP ?? null,
        ready: p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
        revision: p.metadata?.labels?.['controller-revision-hash'] ?? null,
        waitingReason: waiting?.reason ?? null,
        waitingMessage: waiting?.message ?? null,
        deleting: p.metadata?.deletionTimestamp != null,
        deletionTime: p.metadata?.deletionTimestamp ? new Date(p.metadata.deletionTimestamp).toISOString() : null,
        lastTerminationMessage: terminated?.message ?? null,
        createdTime: p.metadata?.creationTimestamp ? new Date(p.metadata.creationTimestamp).toISOString() : null,
        nodeName: p.spec?.nodeName ?? null,
        unschedulable: p.status?.conditions?.some((c) => c.type === 'PodScheduled' && c.status === 'False' && c.reason === 'Unschedulable') ?? false,
      };
    });
  }

  async listPvcs(namespace: string, labelSelector: string): Promise<PvcInfo[]> {
    const list = await this.core.listNamespacedPersistentVolumeClaim({ namespace, labelSelector });
    return list.items.map(pvcInfo);
  }

  async deletePod(namespace: string, name: string): Promise<void> {
    try {
      await this.core.deleteNamespacedPod({ namespace, name });
    } catch (err: unknown) {
      if (httpCode(err) !== 404) throw err;
    }
  }

  async getOneOffPod(namespace: string, name: string): Promise<OneOffPod | null> {
    let p: k8s.V1Pod;
    try {
      p = await this.core.readNamespacedPod({ namespace, name });
    } catch (err: unknown) {
      if (httpCode(err) === 404) return null;
      throw err;
    }
    const first = p.status?.containerStatuses?.[0];
    const waiting = first?.state?.waiting;
    const unschedulable = p.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
    return {
      phase: p.status?.phase ?? 'Pending',
      podIP: p.status?.podIP ?? null,
      ready: p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
      deleting: p.metadata?.deletionTimestamp != null,
      terminationMessage: first?.state?.terminated?.message ?? null,
      notRunning: unschedulable !== undefined
        ? `${unschedulable.reason ?? 'Unschedulable'}: ${unschedulable.message ?? ''}`
        : waiting?.reason !== undefined && waiting.reason !== 'ContainerCreating' && waiting.reason !== 'PodInitializing' ? `${waiting.reason}: ${waiting.message ?? ''}` : null,
    };
  }

  async getPvc(namespace: string, name: string): Promise<PvcInfo | null> {
    try {
      const p = await this.core.readNamespacedPersistentVolumeClaim({ namespace, name });
      return pvcInfo(p);
    } catch (err: unknown) {
      if (httpCode(err) === 404) return null;
      throw err;
    }
  }

  async deleteStatefulSet(namespace: string, name: string): Promise<void> {
    try {
      await this.apps.deleteNamespacedStatefulSet({ namespace, name, propagationPolicy: 'Background' });
    } catch (err: unknown) {
      if (httpCode(err) !== 404) throw err;
    }
  }

  async setFinalizer(cluster: EtcdCluster, finalizer: string, present: boolean): Promise<void> {
    const have = cluster.metadata.finalizers ?? [];
    const finalizers = present ? [...new Set([...have, finalizer])] : have.filter((f) => f !== finalizer);
    // A merge patch with the resourceVersion read: the apiserver refuses it if the list changed meanwhile.
    const body = { apiVersion: cluster.apiVersion, kind: cluster.kind, metadata: { name: cluster.metadata.name, namespace: cluster.metadata.namespace, resourceVersion: cluster.metadata.resourceVersion, finalizers } };
    try {
      await this.objects.patch(body as k8s.KubernetesObject, undefined, undefined, FIELD_MANAGER, undefined, k8s.PatchStrategy.MergePatch);
    } catch (err: unknown) {
      const code = httpCode(err);
      if (code === 409) throw new ConflictError(`${cluster.metadata.namespace}/${cluster.metadata.name} changed meanwhile`);
      if (code === 404 && !present) return;
      throw err;
    }
  }

  async deletePvc(namespace: string, name: string): Promise<void> {
    try {
      await this.core.deleteNamespacedPersistentVolumeClaim({ namespace, name });
    } catch (err: unknown) {
      if (httpCode(err) !== 404) throw err;
    }
  }

  async resizePvc(namespace: string, name: string, size: string): Promise<void> {
    await this.apply({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name, namespace }, spec: { resources: { requests: { storage: size } } } });
  }

  async getSecret(namespace: string, name: string): Promise<Record<string, Buffer> | null> {
    try {
      const sec = await this.core.readNamespacedSecret({ namespace, name });
      return Object.fromEntries(Object.entries(sec.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')]));
    } catch (err: unknown) {
      if (httpCode(err) === 404) return null;
      throw err;
    }
  }

  async storageClassExists(name: string): Promise<boolean | null> {
    try {
      await this.storage.readStorageClass({ name });
      return true;
    } catch (err: unknown) {
      const code = httpCode(err);
      if (code === 404) return false;
      if (code === 403) return null;
      throw err;
    }
  }

  async getEtcdBackup(namespace: string, name: string): Promise<EtcdBackup | null> {
    try {
      return (await this.custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: BACKUP_PLURAL, name })) as EtcdBackup;
    } catch (err: unknown) {
      if (httpCode(err) === 404) return null;
      throw err;
    }
  }

  async updateEtcdBackupStatus(backup: EtcdBackup, status: EtcdBackupStatus): Promise<void> {
    const { namespace, name } = backup.metadata;
    try {
      await this.custom.replaceNamespacedCustomObjectStatus({
        group: GROUP, version: VERSION, namespace, plural: BACKUP_PLURAL, name,
        body: { apiVersion: backup.apiVersion, kind: backup.kind, metadata: backup.metadata, spec: backup.spec, status },
        fieldManager: FIELD_MANAGER,
      });
    } catch (err: unknown) {
      if (httpCode(err) === 409) throw new ConflictError(`status of EtcdBackup ${namespace}/${name} changed meanwhile`);
      throw err;
    }
  }

  async recordEvent(cluster: InvolvedObject, type: EventType, reason: string, message: string): Promise<void> {
    const now = new Date();
    await this.core.createNamespacedEvent({
      namespace: cluster.metadata.namespace,
      body: {
        metadata: { generateName: `${cluster.metadata.name}.`, namespace: cluster.metadata.namespace },
        involvedObject: {
          apiVersion: cluster.apiVersion,
          kind: cluster.kind,
          name: cluster.metadata.name,
          namespace: cluster.metadata.namespace,
          uid: cluster.metadata.uid,
          ...(cluster.metadata.resourceVersion ? { resourceVersion: cluster.metadata.resourceVersion } : {}),
        },
        type,
        reason,
        message: message.slice(0, 1024),
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
        source: { component: this.component },
        reportingComponent: this.component,
      },
    });
  }
}
