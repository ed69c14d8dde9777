// The controller's view of the Kubernetes API, defined by its user. Real: RealKubeApi (client-node).
// Twin: FakeKubeApi (in memory, with a small StatefulSet simulation for controller tests).
import type { EtcdBackup, EtcdBackupStatus } from '../api/etcd-backup.js';
import type { EtcdCluster, EtcdClusterStatus, ObjectMeta } from '../api/types.js';
import type { KubeObject } from '../plan/kube-object.js';

export interface StatefulSetInfo {
  replicas: number;
  updateRevision: string | null;
  /** Size from the existing volumeClaimTemplate (immutable on a StatefulSet). */
  storageSize: string | null;
  storageClassName: string | null;
  /** The existing volumeClaimTemplates, re-sent unchanged on apply. */
  volumeClaimTemplates: unknown[];
  /** The member container's image in the pod template (held there while a version change is refused). */
  image: string | null;
  /** Whether the members listen for peers over https (from their args); null when not known. */
  peerTLS: boolean | null;
}

export interface PodInfo {
  name: string;
  podIP: string | null;
  ready: boolean;
  revision: string | null;
  /** e.g. "ErrImagePull: ..." when the container cannot start. */
  waitingReason: string | null;
  waitingMessage: string | null;
  deleting: boolean;
  /** metadata.deletionTimestamp (RFC 3339): by when the pod was to be gone (deletion time + grace period). */
  deletionTime?: string | null;
  /** The container's last termination message (terminationMessagePolicy FallbackToLogsOnError), if any. */
  lastTerminationMessage: string | null;
  /** metadata.creationTimestamp (RFC 3339, whole seconds); a quorum recovery tells a restarted pod by it. */
  createdTime?: string | null;
  /** spec.nodeName: the node it was placed on; null while unscheduled. */
  nodeName?: string | null;
  /** The scheduler found no node for it (condition PodScheduled False, reason Unschedulable). */
  unschedulable?: boolean;
}

export interface PvcInfo {
  name: string;
  uid: string;
  terminating: boolean;
  phase: string;
  /** spec.resources.requests.storage. */
  requestedStorage: string | null;
}

/** A pod the operator made for one task (a backup pod, a restore source pod), as far as its outcome goes. */
export interface OneOffPod {
  /** Pending, Running, Succeeded, Failed. */
  phase: string;
  podIP: string | null;
  ready: boolean;
  deleting: boolean;
  /** The first container's termination message once it ended (its result), else null. */
  terminationMessage: string | null;
  /** Why it does not run yet: the scheduler's (Unschedulable: ...) or a waiting container's reason and message. */
  notRunning: string | null;
}

export type EventType = 'Normal' | 'Warning';

/** The object an Event is about (an EtcdCluster or an EtcdBackup). */
export interface InvolvedObject {
  apiVersion: string;
  kind: string;
  metadata: Pick<ObjectMeta, 'name' | 'namespace' | 'uid' | 'resourceVersion'>;
}

export interface KubeApi {
  getCluster(namespace: string, name: string): Promise<EtcdCluster | null>;
  /** Writes the status subresource; throws ConflictError when the object changed meanwhile. */
  updateStatus(cluster: EtcdCluster, status: EtcdClusterStatus): Promise<void>;
  /** Server-side apply with the operator's field manager, forcing ownership. */
  apply(obj: KubeObject): Promise<void>;
  getStatefulSet(namespace: string, name: string): Promise<StatefulSetInfo | null>;
  listPods(namespace: string, labelSelector: string): Promise<PodInfo[]>;
  listPvcs(namespace: string, labelSelector: string): Promise<PvcInfo[]>;
  deletePod(namespace: string, name: string): Promise<void>;
  /** null when the pod does not exist. */
  getOneOffPod(namespace: string, name: string): Promise<OneOffPod | null>;
  /** null when the claim does not exist. */
  getPvc(namespace: string, name: string): Promise<PvcInfo | null>;
  /** Deletes the StatefulSet (its pods go with it; its PVCs stay: whenDeleted is always Retain). */
  deleteStatefulSet(namespace: string, name: string): Promise<void>;
  /** Adds or removes a finalizer on the EtcdCluster; ConflictError when it changed meanwhile. */
  setFinalizer(cluster: EtcdCluster, finalizer: string, present: boolean): Promise<void>;
  deletePvc(namespace: string, name: string): Promise<void>;
  /** Asks for a larger volume (PVC expansion; the StorageClass must allow it). */
  resizePvc(namespace: string, name: string, size: string): Promise<void>;
  /** A Secret's data (decoded), or null when it does not exist. */
  getSecret(namespace: string, name: string): Promise<Record<string, Buffer> | null>;
  /** null when it cannot tell (e.g. no RBAC), else whether it exists. */
  storageClassExists(name: string): Promise<boolean | null>;
  recordEvent(about: InvolvedObject, type: EventType, reason: string, message: string): Promise<void>;
  getEtcdBackup(namespace: string, name: string): Promise<EtcdBackup | null>;
  /** Writes the EtcdBackup's status subresource; ConflictError when the object changed meanwhile. */
  updateEtcdBackupStatus(backup: EtcdBackup, status: EtcdBackupStatus): Promise<void>;
}

export class ConflictError extends Error {
  override readonly name = 'ConflictError';
}
