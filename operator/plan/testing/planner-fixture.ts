// Planner inputs for the planner's tests: by default a healthy 3-member cluster (leader at ordinal 0)
// whose StatefulSet, pods and PVCs match; members and operations named after one ClusterRef.
// Pure like the room it serves: times are given, never read.
import type { MembershipOperation } from '../../api/types.js';
import { memberName, peerURL, type ClusterRef } from '../names.js';
import type { ObservedCluster, ObservedMember } from '../observed.js';

export const T0_ISO = '2026-01-01T00:00:00.000Z';
export const T0 = Date.parse(T0_ISO);

export interface PlannerFixture {
  member(ord: number, over?: Partial<ObservedMember>): ObservedMember;
  observed(over?: Partial<ObservedCluster>): ObservedCluster;
  op(type: MembershipOperation['type'], ordinal: number, over?: Partial<MembershipOperation>): MembershipOperation;
}

export function plannerFixture(ref: ClusterRef): PlannerFixture {
  const member = (ord: number, over: Partial<ObservedMember> = {}): ObservedMember => ({
    id: String(1000 + ord),
    name: memberName(ref, ord),
    peerURLs: [peerURL(ref, ord, false)],
    isLearner: false,
    healthy: true,
    isLeader: ord === 0,
    raftIndex: 100,
    dataLost: false,
    dbSizeBytes: 20480,
    dbSizeInUseBytes: 20480,
    version: '3.5.17',
    ...over,
  });
  const observed = (over: Partial<ObservedCluster> = {}): ObservedCluster => {
    const sts = over.statefulSetReplicas === undefined ? 3 : over.statefulSetReplicas;
    const all: ObservedCluster = {
      ref,
      generation: 1,
      desiredReplicas: 3,
      peerTLS: false,
      retentionPolicy: 'Retain',
      paused: false,
      specInvalid: false,
      statefulSetReplicas: sts,
      recordedOrdinals: [0, 1, 2],
      bootstrapped: true,
      members: [member(0), member(1), member(2)],
      pods: Array.from({ length: sts ?? 0 }, (_, i) => ({ ordinal: i, ready: true, upToDate: true, deleting: false })),
      pvcs: Array.from({ length: sts ?? 0 }, (_, i) => ({ ordinal: i, terminating: false })),
      operation: null,
      scaleUpBlockedGeneration: null,
      scaleUpRetry: null,
      nowMs: T0,
      nowIso: T0_ISO,
      learnerTimeoutMs: 300_000,
      desiredVersion: '3.5.17',
      defragmentation: null,
      defragStatus: {},
    };
    return { ...all, ...over };
  };
  const op = (type: MembershipOperation['type'], ordinal: number, over: Partial<MembershipOperation> = {}): MembershipOperation => ({
    type,
    phase: 'Pending',
    ordinal,
    memberName: memberName(ref, ordinal),
    peerURL: peerURL(ref, ordinal, false),
    startTime: T0_ISO,
    ...over,
  });
  return { member, observed, op };
}
