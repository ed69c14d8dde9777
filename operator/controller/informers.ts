// Informers (@kubernetes/client-node) on EtcdClusters and the owned StatefulSets, Pods and Services, and
// on EtcdBackups (their own queue). Every event only enqueues the owning object's key: reconcile is
// level-triggered.
import * as k8s from '@kubernetes/client-node';
import type { Logger } from '../../node/log.js';
import { BACKUP_PLURAL } from '../api/etcd-backup.js';
import { GROUP, PLURAL, VERSION } from '../api/types.js';
import { LABEL_CLUSTER, LABEL_MANAGED_BY } from '../plan/names.js';
import type { Clock } from './clock.js';

const CHILD_SELECTOR = `${LABEL_MANAGED_BY}=tsetcd-operator`;

export interface InformerSet {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Keys of every EtcdCluster in the caches. */
  clusterKeys(): string[];
  /** Keys of every EtcdBackup in the caches. */
  backupKeys(): string[];
  synced(): boolean;
}

export function startInformers(kc: k8s.KubeConfig, namespaces: readonly string[], enqueue: (key: string) => void, log: Logger, clock: Clock, enqueueBackup: (key: string) => void = () => {}): InformerSet {
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const scopes = namespaces.length === 0 ? [null] : [...namespaces];
  const clusterInformers: Array<k8s.Informer<k8s.KubernetesObject> & k8s.ObjectCache<k8s.KubernetesObject>> = [];
  const backupInformers: Array<k8s.Informer<k8s.KubernetesObject> & k8s.ObjectCache<k8s.KubernetesObject>> = [];
  const all: Array<k8s.Informer<k8s.KubernetesObject>> = [];
  let stopped = false;
  let syncedCount = 0;

  const keyOf = (o: k8s.KubernetesObject): string | null => (o.metadata?.name ? `${o.metadata.namespace ?? ''}/${o.metadata.name}` : null);
  const ownerKeyOf = (o: k8s.KubernetesObject): string | null => {
    const c = o.metadata?.labels?.[LABEL_CLUSTER];
    return c ? `${o.metadata?.namespace ?? ''}/${c}` : null;
  };

  const wire = (inf: k8s.Informer<k8s.KubernetesObject>, toKey: (o: k8s.KubernetesObject) => string | null, what: string, to: (key: string) => void = enqueue): void => {
    const onObj = (o: k8s.KubernetesObject): void => {
      const k = toKey(o);
      if (k !== null) to(k);
    };
    inf.on('add', onObj);
    inf.on('update', onObj);
    inf.on('delete', onObj);
    inf.on('error', (err: unknown) => {
      if (stopped) return;
      log.warn('informer error; restarting', { what, error: err instanceof Error ? err.message : String(err) });
      clock.after(3000, () => {
        if (!stopped) void inf.start().catch(() => {});
      });
    });
    all.push(inf);
  };

  for (const ns of scopes) {
    const crPath = ns === null ? `/apis/${GROUP}/${VERSION}/${PLURAL}` : `/apis/${GROUP}/${VERSION}/namespaces/${ns}/${PLURAL}`;
    const listCr = async (): Promise<k8s.KubernetesListObject<k8s.KubernetesObject>> =>
      (ns === null
        ? await custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL })
        : await custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: PLURAL })) as k8s.KubernetesListObject<k8s.KubernetesObject>;
    const crInf = k8s.makeInformer(kc, crPath, listCr);
    clusterInformers.push(crInf);
    wire(crInf, keyOf, 'etcdclusters');

    const backupPath = ns === null ? `/apis/${GROUP}/${VERSION}/${BACKUP_PLURAL}` : `/apis/${GROUP}/${VERSION}/namespaces/${ns}/${BACKUP_PLURAL}`;
    const backupInf = k8s.makeInformer(kc, backupPath, async () =>
      (ns === null
        ? await custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: BACKUP_PLURAL })
        : await custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: BACKUP_PLURAL })) as k8s.KubernetesListObject<k8s.KubernetesObject>);
    backupInformers.push(backupInf);
    wire(backupInf, keyOf, 'etcdbackups', enqueueBackup);

    const prefix = (group: string): string => (ns === null ? group : `${group}/namespaces/${ns}`);
    const stsInf = k8s.makeInformer(
      kc,
      `${prefix('/apis/apps/v1')}/statefulsets`,
      () => (ns === null ? apps.listStatefulSetForAllNamespaces({ labelSelector: CHILD_SELECTOR }) : apps.listNamespacedStatefulSet({ namespace: ns, labelSelector: CHILD_SELECTOR })) as Promise<k8s.KubernetesListObject<k8s.KubernetesObject>>,
      CHILD_SELECTOR,
    );
    wire(stsInf, ownerKeyOf, 'statefulsets');
    const podInf = k8s.makeInformer(
      kc,
      `${prefix('/api/v1')}/pods`,
      () => (ns === null ? core.listPodForAllNamespaces({ labelSelector: CHILD_SELECTOR }) : core.listNamespacedPod({ namespace: ns, labelSelector: CHILD_SELECTOR })) as Promise<k8s.KubernetesListObject<k8s.KubernetesObject>>,
      CHILD_SELECTOR,
    );
    wire(podInf, ownerKeyOf, 'pods');
    const svcInf = k8s.makeInformer(
      kc,
      `${prefix('/api/v1')}/services`,
      () => (ns === null ? core.listServiceForAllNamespaces({ labelSelector: CHILD_SELECTOR }) : core.listNamespacedService({ namespace: ns, labelSelector: CHILD_SELECTOR })) as Promise<k8s.KubernetesListObject<k8s.KubernetesObject>>,
      CHILD_SELECTOR,
    );
    wire(svcInf, ownerKeyOf, 'services');
  }

  return {
    async start() {
      await Promise.all(
        all.map(async (inf) => {
          await inf.start();
          syncedCount++;
        }),
      );
    },
    async stop() {
      stopped = true;
      await Promise.all(all.map((inf) => inf.stop().catch(() => {})));
    },
    clusterKeys() {
      return clusterInformers.flatMap((inf) => inf.list().flatMap((o) => keyOf(o) ?? []));
    },
    backupKeys() {
      return backupInformers.flatMap((inf) => inf.list().flatMap((o) => keyOf(o) ?? []));
    },
    synced() {
      return syncedCount === all.length;
    },
  };
}
