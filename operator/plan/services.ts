// The peer (headless) and client Services.
import type { KubeObject } from './kube-object.js';
import {
  CLIENT_PORT,
  METRICS_PORT,
  PEER_PORT,
  clientServiceName,
  commonLabels,
  ownerReference,
  peerServiceName,
  selectorLabels,
  type ClusterRef,
} from './names.js';

/** Headless, publishing not-ready addresses: members must find each other before any is ready. */
export function buildPeerService(ref: ClusterRef): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: peerServiceName(ref), namespace: ref.namespace, labels: commonLabels(ref), ownerReferences: [ownerReference(ref) as unknown as Record<string, unknown>] },
    spec: {
      clusterIP: 'None',
      publishNotReadyAddresses: true,
      selector: selectorLabels(ref),
      ports: [
        { name: 'peer', port: PEER_PORT, targetPort: PEER_PORT, protocol: 'TCP' },
        { name: 'client', port: CLIENT_PORT, targetPort: CLIENT_PORT, protocol: 'TCP' },
      ],
    },
  };
}

/** Client traffic (ready members only) and member metrics. */
export function buildClientService(ref: ClusterRef): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: clientServiceName(ref), namespace: ref.namespace, labels: commonLabels(ref), ownerReferences: [ownerReference(ref) as unknown as Record<string, unknown>] },
    spec: {
      type: 'ClusterIP',
      selector: selectorLabels(ref),
      ports: [
        { name: 'client', port: CLIENT_PORT, targetPort: CLIENT_PORT, protocol: 'TCP' },
        { name: 'metrics', port: METRICS_PORT, targetPort: METRICS_PORT, protocol: 'TCP' },
      ],
    },
  };
}
