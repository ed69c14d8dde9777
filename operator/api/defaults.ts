// Defaults for an EtcdCluster spec. The CRD carries the same defaults (the apiserver applies them);
// the operator applies them again so that it never depends on a defaulted object.
import type {
  AntiAffinityMode,
  CompactionMode,
  EtcdClusterSpec,
  PvcRetentionPolicy,
  Toleration,
  TopologySpreadConstraint,
} from './types.js';
import { resolveTlsSpec, type ResolvedTls } from './tls.js';
import { DEFAULT_IMAGE_REPOSITORY, TSETCD_RELEASE, imageForVersion } from './versions.js';

export { DEFAULT_IMAGE_REPOSITORY, TSETCD_RELEASE };

export const DEFAULT_REPLICAS = 3;
export const DEFAULT_VERSION = '3.5.17';
/** The member image of this release: what the default spec.version selects (operator/api/versions.ts). */
export const DEFAULT_IMAGE = `${DEFAULT_IMAGE_REPOSITORY}:${TSETCD_RELEASE}`;
export const DEFAULT_STORAGE_SIZE = '8Gi';
export const DEFAULT_CPU = '1';
export const DEFAULT_MEMORY = '2Gi';
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 100;
export const DEFAULT_ELECTION_TIMEOUT_MS = 1000;
/** etcd refuses an election timeout below 5 x the heartbeat interval. */
export const MIN_ELECTION_TO_HEARTBEAT_RATIO = 5;
/**
 * Auto-compaction is on by default (etcd's own default is off): a cluster that serves anything but
 * kube-apiserver (which compacts every 5 minutes itself) would otherwise keep every revision until the
 * 2 GiB quota raises NOSPACE and the cluster turns read-only. periodic 1h keeps an hour of history for
 * watchers that resume; under kube-apiserver it is a no-op (the apiserver compacts further first).
 */
export const DEFAULT_COMPACTION_MODE: CompactionMode = 'periodic';
export const DEFAULT_COMPACTION_RETENTION = '1h';
/** Defragment only a member with at least this share of its backend free, and at least this big. */
export const DEFAULT_DEFRAG_MIN_FREE_PERCENT = 50;
export const DEFAULT_DEFRAG_MIN_DB_SIZE = '100Mi';
/** Bound on one Defragment call (etcd blocks the member meanwhile; a multi-GiB bbolt file takes a while). */
export const DEFAULT_DEFRAG_TIMEOUT_SECONDS = 120;
export const MIN_REPLICAS = 1;
export const MAX_REPLICAS = 9;

/** A spec with every default filled in. */
export interface ResolvedSpec {
  replicas: number;
  version: string;
  image: string;
  storage: { size: string; storageClassName: string | null; retentionPolicy: PvcRetentionPolicy };
  resources: { cpu: string; memory: string };
  placement: {
    nodeSelector: Record<string, string>;
    tolerations: Toleration[];
    antiAffinity: AntiAffinityMode;
    topologySpreadConstraints: TopologySpreadConstraint[];
    priorityClassName: string | null;
  };
  heartbeatIntervalMs: number;
  electionTimeoutMs: number;
  tls: ResolvedTls;
  paused: boolean;
  compaction: { mode: CompactionMode; retention: string };
  /** schedule null: no scheduled defragmentation. */
  defragmentation: { schedule: string | null; minFreePercent: number; minDbSize: string; timeoutSeconds: number };
}

export function resolveSpec(spec: EtcdClusterSpec): ResolvedSpec {
  const version = spec.version ?? DEFAULT_VERSION;
  const requests = spec.resources?.requests ?? {};
  const limits = spec.resources?.limits ?? {};
  return {
    replicas: spec.replicas ?? DEFAULT_REPLICAS,
    version,
    // spec.image wins; else the release that speaks spec.version (an unknown one is refused by validateSpec).
    image: spec.image ?? imageForVersion(version) ?? DEFAULT_IMAGE,
    storage: {
      size: spec.storage?.size ?? DEFAULT_STORAGE_SIZE,
      storageClassName: spec.storage?.storageClassName ?? null,
      retentionPolicy: spec.storage?.retentionPolicy ?? 'Retain',
    },
    // Guaranteed QoS needs requests == limits; when only one side is given it sets both.
    resources: {
      cpu: limits.cpu ?? requests.cpu ?? DEFAULT_CPU,
      memory: limits.memory ?? requests.memory ?? DEFAULT_MEMORY,
    },
    placement: {
      nodeSelector: { ...(spec.placement?.dedicated?.nodeSelector ?? {}) },
      tolerations: [...(spec.placement?.dedicated?.tolerations ?? [])],
      antiAffinity: spec.placement?.antiAffinity ?? 'required',
      topologySpreadConstraints: [...(spec.placement?.topologySpreadConstraints ?? [])],
      priorityClassName: spec.placement?.priorityClassName ?? null,
    },
    heartbeatIntervalMs: spec.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS,
    electionTimeoutMs: spec.electionTimeoutMs ?? DEFAULT_ELECTION_TIMEOUT_MS,
    tls: resolveTlsSpec(spec.tls),
    paused: spec.paused ?? false,
    compaction: {
      mode: spec.compaction?.mode ?? DEFAULT_COMPACTION_MODE,
      retention: spec.compaction?.retention ?? DEFAULT_COMPACTION_RETENTION,
    },
    defragmentation: {
      schedule: spec.defragmentation?.schedule ?? null,
      minFreePercent: spec.defragmentation?.minFreePercent ?? DEFAULT_DEFRAG_MIN_FREE_PERCENT,
      minDbSize: spec.defragmentation?.minDbSize ?? DEFAULT_DEFRAG_MIN_DB_SIZE,
      timeoutSeconds: spec.defragmentation?.timeoutSeconds ?? DEFAULT_DEFRAG_TIMEOUT_SECONDS,
    },
  };
}
