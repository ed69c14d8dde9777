// Names, labels and DNS names of an EtcdCluster's children. One place, so builders and planner agree.
import { API_VERSION, KIND, type EtcdCluster } from '../api/types.js';

export const CLIENT_PORT = 2379;
export const PEER_PORT = 2380;
export const METRICS_PORT = 2381;
export const FIELD_MANAGER = 'tsetcd-operator';
export const LABEL_CLUSTER = 'tsetcd.dev/cluster';
export const LABEL_NAME = 'app.kubernetes.io/name';
export const LABEL_INSTANCE = 'app.kubernetes.io/instance';
export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
export const LABEL_POD_NAME = 'statefulset.kubernetes.io/pod-name';
export const DATA_VOLUME = 'data';
export const DATA_DIR = '/var/lib/tsetcd';

export interface ClusterRef {
  name: string;
  namespace: string;
  uid: string;
}

export function refOf(c: EtcdCluster): ClusterRef {
  return { name: c.metadata.name, namespace: c.metadata.namespace, uid: c.metadata.uid };
}

export function selectorLabels(ref: ClusterRef): Record<string, string> {
  return { [LABEL_NAME]: 'tsetcd', [LABEL_INSTANCE]: ref.name, [LABEL_CLUSTER]: ref.name };
}

export function commonLabels(ref: ClusterRef): Record<string, string> {
  return { ...selectorLabels(ref), [LABEL_MANAGED_BY]: 'tsetcd-operator' };
}

/** The label selector string for status.selector (used by the scale subresource). */
export function selectorString(ref: ClusterRef): string {
  return Object.entries(selectorLabels(ref))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

export const peerServiceName = (ref: ClusterRef): string => `${ref.name}-peer`;
export const clientServiceName = (ref: ClusterRef): string => `${ref.name}-client`;
export const statefulSetName = (ref: ClusterRef): string => ref.name;
export const pdbName = (ref: ClusterRef): string => ref.name;
export const bootstrapConfigMapName = (ref: ClusterRef): string => `${ref.name}-bootstrap`;
export const memberName = (ref: ClusterRef, ordinal: number): string => `${ref.name}-${ordinal}`;
export const pvcName = (ref: ClusterRef, ordinal: number): string => `${DATA_VOLUME}-${memberName(ref, ordinal)}`;

/** Stable DNS name of a member through the headless peer Service. */
export function memberHost(ref: ClusterRef, ordinal: number): string {
  return `${memberName(ref, ordinal)}.${peerServiceName(ref)}.${ref.namespace}.svc`;
}

export function peerURL(ref: ClusterRef, ordinal: number, tls: boolean): string {
  return `${tls ? 'https' : 'http'}://${memberHost(ref, ordinal)}:${PEER_PORT}`;
}

export function clientURL(ref: ClusterRef, ordinal: number, tls: boolean): string {
  return `${tls ? 'https' : 'http'}://${memberHost(ref, ordinal)}:${CLIENT_PORT}`;
}

/** The ordinal of a member name "<cluster>-<n>", or null. */
export function ordinalOfName(ref: ClusterRef, name: string): number | null {
  const prefix = `${ref.name}-`;
  if (!name.startsWith(prefix)) return null;
  const rest = name.slice(prefix.length);
  if (!/^(0|[1-9][0-9]*)$/.test(rest)) return null;
  return Number(rest);
}

/** The ordinal a peer URL belongs to, when it is one of ours. */
export function ordinalOfPeerURL(ref: ClusterRef, url: string): number | null {
  const m = /^https?:\/\/([^.:/]+)\./.exec(url);
  if (!m || m[1] === undefined) return null;
  const ord = ordinalOfName(ref, m[1]);
  if (ord === null) return null;
  return url === peerURL(ref, ord, url.startsWith('https')) ? ord : null;
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller: true;
  blockOwnerDeletion: true;
}

export function ownerReference(ref: ClusterRef): OwnerReference {
  return { apiVersion: API_VERSION, kind: KIND, name: ref.name, uid: ref.uid, controller: true, blockOwnerDeletion: true };
}

/** A member ID (decimal uint64 string, as the member API gives it) in etcdctl's hex form. */
export function hexID(decimalID: string): string {
  return /^[0-9]+$/.test(decimalID) ? BigInt(decimalID).toString(16) : decimalID;
}

/**
 * On an EtcdCluster whose storage.retentionPolicy is Delete: its PVCs are deleted when the cluster is.
 * (The StatefulSet itself always retains them, so deleting only the StatefulSet never loses data.)
 */
export const STORAGE_FINALIZER = 'tsetcd.dev/delete-volumes';
