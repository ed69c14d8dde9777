// The bootstrap ConfigMap: the member list and state a starting member reads (ETCD_INITIAL_CLUSTER*).
// A member with a data dir ignores it (etcd semantics); it matters for brand-new clusters ("new") and
// for members joining an existing cluster ("existing", listing the current members plus the new one).
import type { KubeObject } from './kube-object.js';
import { bootstrapConfigMapName, commonLabels, ownerReference, type ClusterRef } from './names.js';

/** The key naming the one member to start with --force-new-cluster (ETCD_FORCE_NEW_CLUSTER_FOR); absent otherwise. */
export const FORCE_NEW_CLUSTER_KEY = 'force-new-cluster-for';

export function initialClusterToken(ref: ClusterRef): string {
  return `${ref.namespace}-${ref.name}-${ref.uid.slice(0, 8)}`;
}

export function buildBootstrapConfigMap(
  ref: ClusterRef,
  state: 'new' | 'existing',
  members: ReadonlyArray<{ name: string; peerURL: string }>,
  /** A quorum-loss recovery's survivor (its member name), while it is to start with --force-new-cluster. */
  forceNewClusterFor: string | null = null,
): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: bootstrapConfigMapName(ref), namespace: ref.namespace, labels: commonLabels(ref), ownerReferences: [ownerReference(ref) as unknown as Record<string, unknown>] },
    data: {
      'initial-cluster': members.map((m) => `${m.name}=${m.peerURL}`).join(','),
      'initial-cluster-state': state,
      'initial-cluster-token': initialClusterToken(ref),
      ...(forceNewClusterFor !== null ? { [FORCE_NEW_CLUSTER_KEY]: forceNewClusterFor } : {}),
    },
  };
}
