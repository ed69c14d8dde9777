// What one reconcile pass observed, in a form the pure planner can use.
import type { DefragmentationStatus, MembershipOperation, PvcRetentionPolicy, ScaleUpRetry } from '../api/types.js';
import type { ClusterRef } from './names.js';

export interface ObservedMember {
  /** Member ID, decimal string. */
  id: string;
  /** Empty for a learner that has not started yet (etcd reports no name until it joins). */
  name: string;
  peerURLs: string[];
  isLearner: boolean;
  /**
   * Its Status call answered with its own ID and no errors, and it has applied close to the leader's
   * index (memberCaughtUp): a member replaying a long log answers Status long before it is useful.
   */
  healthy: boolean;
  isLeader: boolean;
  raftIndex: number | null;
  /**
   * Its data is gone: a new PVC under it, its pod reports another member ID, or its pod refused to start
   * as this member on an empty data dir ("member ... has already been bootstrapped").
   */
  dataLost: boolean;
  /** From its Status; null when it did not answer (or, for dbSizeInUse, does not report it). */
  dbSizeBytes: number | null;
  dbSizeInUseBytes: number | null;
  /** The etcd server version its Status reports; null when it did not answer. */
  version: string | null;
}

export interface ObservedPod {
  ordinal: number;
  ready: boolean;
  /** Runs the StatefulSet's current revision. */
  upToDate: boolean;
  /** Has a deletionTimestamp. */
  deleting: boolean;
  /** That deletionTimestamp (epoch ms): by when the pod was to be gone; absent when unknown. */
  deletionMs?: number | null;
}

export interface ObservedPvc {
  ordinal: number;
  terminating: boolean;
}

export interface ObservedCluster {
  ref: ClusterRef;
  generation: number;
  /** spec.replicas after defaults. */
  desiredReplicas: number;
  /** Peer traffic uses TLS (changes the peer URL scheme). */
  peerTLS: boolean;
  retentionPolicy: PvcRetentionPolicy;
  paused: boolean;
  /** The spec failed validation: the running cluster must not be touched. */
  specInvalid: boolean;
  /**
   * Ordinals of the members recorded in status.members by earlier passes: the size to recreate a deleted
   * StatefulSet at when no member answers (their pods went with it).
   */
  recordedOrdinals: number[];
  /** null when the StatefulSet does not exist. */
  statefulSetReplicas: number | null;
  /** status.clusterID was recorded: the cluster has been bootstrapped once. */
  bootstrapped: boolean;
  /** null when no member answered a linearizable MemberList (a lagging member's list is not acted on). */
  members: ObservedMember[] | null;
  pods: ObservedPod[];
  pvcs: ObservedPvc[];
  operation: MembershipOperation | null;
  /** A scale-up failed for this generation: the next waits for scaleUpRetry's time or a spec change. */
  scaleUpBlockedGeneration: number | null;
  scaleUpRetry: ScaleUpRetry | null;
  nowMs: number;
  /** The same instant as RFC 3339 (the planner may not read clocks or build dates). */
  nowIso: string;
  learnerTimeoutMs: number;
  /** spec.version: what the members are to run (checked against what they report). */
  desiredVersion: string;
  /** spec.defragmentation; null when no schedule is set. */
  defragmentation: ObservedDefragSpec | null;
  /** status.defragmentation as recorded. */
  defragStatus: DefragmentationStatus;
}

export interface ObservedDefragSpec {
  /** The cron text (checked by the controller; an unreadable one plans nothing). */
  schedule: string;
  minFreePercent: number;
  minDbSizeBytes: number;
  timeoutMs: number;
}
