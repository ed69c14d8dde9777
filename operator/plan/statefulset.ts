// The members' StatefulSet: OnDelete updates (the operator rolls pods itself), one PVC per member,
// Guaranteed resources, readiness on /readyz, a conservative liveness probe on /livez, placement.
import type { ResolvedSpec } from '../api/defaults.js';
import { FORCE_NEW_CLUSTER_KEY } from './bootstrap-configmap.js';
import type { KubeObject } from './kube-object.js';
import type { MemberContainerConfig } from './member-config.js';
import {
  CLIENT_PORT,
  DATA_DIR,
  DATA_VOLUME,
  METRICS_PORT,
  PEER_PORT,
  bootstrapConfigMapName,
  commonLabels,
  ownerReference,
  peerServiceName,
  selectorLabels,
  statefulSetName,
  type ClusterRef,
} from './names.js';

export const TLS_CLIENT_DIR = '/etc/tsetcd/tls/client';
export const TLS_PEER_DIR = '/etc/tsetcd/tls/peer';
/** The user and group the member image runs as (hack/images/build.sh). */
export const IMAGE_UID = 65532;
/** The member container's name in the pod template. */
export const MEMBER_CONTAINER = 'tsetcd';

/** Whether a member's args listen for peers over https; null when the flag is not there. */
export function peerTLSOfArgs(args: readonly string[]): boolean | null {
  const flag = args.find((a) => a.startsWith('--listen-peer-urls='));
  return flag === undefined ? null : flag.includes('https://');
}

/** The etcd-style flags of a member. $(POD_NAME) and $(POD_IP) are expanded by the kubelet. */
export function memberArgs(ref: ClusterRef, spec: ResolvedSpec): string[] {
  const clientScheme = spec.tls.clientSecretName ? 'https' : 'http';
  const peerScheme = spec.tls.peerSecretName ? 'https' : 'http';
  const host = `$(POD_NAME).${peerServiceName(ref)}.${ref.namespace}.svc`;
  const args = [
    '--name=$(POD_NAME)',
    `--data-dir=${DATA_DIR}/data`,
    `--listen-client-urls=${clientScheme}://$(POD_IP):${CLIENT_PORT}`,
    `--advertise-client-urls=${clientScheme}://${host}:${CLIENT_PORT}`,
    `--listen-peer-urls=${peerScheme}://$(POD_IP):${PEER_PORT}`,
    `--initial-advertise-peer-urls=${peerScheme}://${host}:${PEER_PORT}`,
    `--listen-metrics-urls=http://$(POD_IP):${METRICS_PORT}`,
    `--heartbeat-interval=${spec.heartbeatIntervalMs}`,
    `--election-timeout=${spec.electionTimeoutMs}`,
    `--auto-compaction-mode=${spec.compaction.mode}`,
    `--auto-compaction-retention=${spec.compaction.retention}`,
  ];
  if (spec.tls.clientSecretName) {
    args.push(
      `--cert-file=${TLS_CLIENT_DIR}/tls.crt`,
      `--key-file=${TLS_CLIENT_DIR}/tls.key`,
      `--trusted-ca-file=${TLS_CLIENT_DIR}/ca.crt`,
      '--client-cert-auth=true',
    );
  }
  if (spec.tls.peerSecretName) {
    args.push(
      `--peer-cert-file=${TLS_PEER_DIR}/tls.crt`,
      `--peer-key-file=${TLS_PEER_DIR}/tls.key`,
      `--peer-trusted-ca-file=${TLS_PEER_DIR}/ca.crt`,
      '--peer-client-cert-auth=true',
    );
  }
  return args;
}

export function buildStatefulSet(
  ref: ClusterRef,
  spec: ResolvedSpec,
  replicas: number,
  member: MemberContainerConfig,
): KubeObject {
  const sel = selectorLabels(ref);
  const cm = bootstrapConfigMapName(ref);
  const resources = { cpu: spec.resources.cpu, memory: spec.resources.memory };
  const affinityTerm = { labelSelector: { matchLabels: sel }, topologyKey: 'kubernetes.io/hostname' };
  const podAntiAffinity =
    spec.placement.antiAffinity === 'required'
      ? { requiredDuringSchedulingIgnoredDuringExecution: [affinityTerm] }
      : { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: affinityTerm }] };

  const volumeMounts: Array<Record<string, unknown>> = [{ name: DATA_VOLUME, mountPath: DATA_DIR }];
  const volumes: Array<Record<string, unknown>> = [];
  if (spec.tls.clientSecretName) {
    volumeMounts.push({ name: 'tls-client', mountPath: TLS_CLIENT_DIR, readOnly: true });
    volumes.push({ name: 'tls-client', secret: { secretName: spec.tls.clientSecretName } });
  }
  if (spec.tls.peerSecretName) {
    volumeMounts.push({ name: 'tls-peer', mountPath: TLS_PEER_DIR, readOnly: true });
    volumes.push({ name: 'tls-peer', secret: { secretName: spec.tls.peerSecretName } });
  }

  const container: Record<string, unknown> = {
    name: MEMBER_CONTAINER,
    image: member.imageOverride ?? spec.image,
    imagePullPolicy: 'IfNotPresent',
    args: memberArgs(ref, spec),
    env: [
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
      { name: 'ETCD_INITIAL_CLUSTER', valueFrom: { configMapKeyRef: { name: cm, key: 'initial-cluster' } } },
      { name: 'ETCD_INITIAL_CLUSTER_STATE', valueFrom: { configMapKeyRef: { name: cm, key: 'initial-cluster-state' } } },
      { name: 'ETCD_INITIAL_CLUSTER_TOKEN', valueFrom: { configMapKeyRef: { name: cm, key: 'initial-cluster-token' } } },
      // Set only during a quorum-loss recovery, naming the one member that starts with --force-new-cluster
      // (plan/quorum-recovery.ts); the others ignore it (node/config.ts compares it with --name).
      { name: 'ETCD_FORCE_NEW_CLUSTER_FOR', valueFrom: { configMapKeyRef: { name: cm, key: FORCE_NEW_CLUSTER_KEY, optional: true } } },
    ],
    ports: [
      { name: 'client', containerPort: CLIENT_PORT, protocol: 'TCP' },
      { name: 'peer', containerPort: PEER_PORT, protocol: 'TCP' },
      { name: 'metrics', containerPort: METRICS_PORT, protocol: 'TCP' },
    ],
    resources: { requests: resources, limits: { ...resources } },
    // Readiness gates traffic and the operator's rolling; it may flap without harm.
    readinessProbe: { httpGet: { path: '/readyz', port: METRICS_PORT }, periodSeconds: 5, timeoutSeconds: 5, failureThreshold: 3 },
    // Startup: a member replaying a large WAL is not dead. Up to 10 minutes.
    startupProbe: { httpGet: { path: '/livez', port: METRICS_PORT }, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 60 },
    // Liveness restarts hurt etcd clusters: only after ~4 minutes of a dead /livez.
    livenessProbe: { httpGet: { path: '/livez', port: METRICS_PORT }, periodSeconds: 30, timeoutSeconds: 15, failureThreshold: 8 },
    // A member that refuses to start (e.g. "member ... has already been bootstrapped" on an empty data
    // dir) leaves its last log line in the pod status, where the operator reads it.
    terminationMessagePolicy: 'FallbackToLogsOnError',
    // The image runs as 65532 with a read-only root; only the data volume is written.
    securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
    volumeMounts,
  };
  if (member.command.length > 0) container.command = [...member.command];

  const podSpec: Record<string, unknown> = {
    containers: [container],
    affinity: { podAntiAffinity },
    terminationGracePeriodSeconds: 30,
    enableServiceLinks: false,
    // fsGroup: most block-storage CSI drivers create root-owned volumes, which the non-root
    // member could not write; OnRootMismatch skips the recursive chown on every restart.
    securityContext: {
      runAsNonRoot: true,
      runAsUser: IMAGE_UID,
      runAsGroup: IMAGE_UID,
      fsGroup: IMAGE_UID,
      fsGroupChangePolicy: 'OnRootMismatch',
      seccompProfile: { type: 'RuntimeDefault' },
    },
  };
  if (volumes.length > 0) podSpec.volumes = volumes;
  if (Object.keys(spec.placement.nodeSelector).length > 0) podSpec.nodeSelector = { ...spec.placement.nodeSelector };
  if (spec.placement.tolerations.length > 0) podSpec.tolerations = spec.placement.tolerations.map((t) => ({ ...t }));
  if (spec.placement.topologySpreadConstraints.length > 0) {
    podSpec.topologySpreadConstraints = spec.placement.topologySpreadConstraints.map((t) => ({ ...t, labelSelector: { matchLabels: sel } }));
  }
  if (spec.placement.priorityClassName !== null) podSpec.priorityClassName = spec.placement.priorityClassName;

  const pvcSpec: Record<string, unknown> = {
    accessModes: ['ReadWriteOnce'],
    resources: { requests: { storage: spec.storage.size } },
  };
  if (spec.storage.storageClassName !== null) pvcSpec.storageClassName = spec.storage.storageClassName;

  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: statefulSetName(ref), namespace: ref.namespace, labels: commonLabels(ref), ownerReferences: [ownerReference(ref) as unknown as Record<string, unknown>] },
    spec: {
      replicas,
      serviceName: peerServiceName(ref),
      selector: { matchLabels: sel },
      // Parallel: a new cluster's members must all start before any can be ready (no quorum alone).
      podManagementPolicy: 'Parallel',
      // OnDelete: the operator rolls one pod at a time, gated on health, leader last after MoveLeader.
      updateStrategy: { type: 'OnDelete' },
      // Always Retain: a `kubectl delete statefulset` must never take every member's data with it (the
      // operator recreates the StatefulSet and the members come back on their volumes). The operator
      // applies spec.storage.retentionPolicy itself: after MemberRemove on scale-down, and through the
      // EtcdCluster's finalizer when the cluster is deleted.
      persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Retain', whenScaled: 'Retain' },
      template: { metadata: { labels: commonLabels(ref) }, spec: podSpec },
      volumeClaimTemplates: [{ metadata: { name: DATA_VOLUME, labels: selectorLabels(ref) }, spec: pvcSpec }],
    },
  };
}
