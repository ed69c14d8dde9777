// One operator pass over the model World, the way operator/controller/reconciler.ts does it: observe,
// plan (the real planner), apply the StatefulSet size, perform the one step, write status. A crash can
// cut the pass before the step or between the step and the status write.
import type { DefragmentationStatus, MembershipOperation, ScaleUpRetry } from '../../operator/api/types.js';
import { memberName, ordinalOfPeerURL, peerURL, type ClusterRef } from '../../operator/plan/names.js';
import type { ObservedCluster, ObservedMember } from '../../operator/plan/observed.js';
import { planNextStep, type Plan } from '../../operator/plan/planner.js';
import type { World, WMember } from './world.js';

export const ref: ClusterRef = { name: 'm', namespace: 'ns', uid: 'uid-m' };
export const STEP_MS = 2000;
export const LEARNER_TIMEOUT_MS = 30_000;

/** What the operator keeps in the EtcdCluster: spec and status. */
export interface OperatorState {
  generation: number;
  desired: number;
  operation: MembershipOperation | null;
  blocked: number | null;
  retry: ScaleUpRetry | null;
  recordedOrdinals: number[];
  nowMs: number;
  /** status.defragmentation (a run every minute, every member over the threshold: defrag as often as it can). */
  defrag: DefragmentationStatus;
}

/** Defragment every member whenever the planner lets it: the schedule fires every minute. */
const DEFRAG_EVERY_MINUTE = { schedule: '* * * * *', minFreePercent: 0, minDbSizeBytes: 0, timeoutMs: 60_000 };

export type Crash = 'none' | 'before-step' | 'before-status';

export function observe(w: World, s: OperatorState): ObservedCluster {
  return {
    ref,
    generation: s.generation,
    desiredReplicas: s.desired,
    peerTLS: false,
    retentionPolicy: 'Retain',
    paused: false,
    specInvalid: false,
    statefulSetReplicas: w.sts,
    recordedOrdinals: s.recordedOrdinals,
    bootstrapped: true,
    // A list read from the leader (linearizable); none without one.
    members: w.leader === null ? null : w.members.map((m) => observeMember(w, m)),
    pods: [...w.pods.entries()].map(([ordinal]) => {
      const m = w.memberAt(ordinal);
      return { ordinal, ready: m !== undefined && w.healthy(m), upToDate: true, deleting: false };
    }),
    pvcs: [...w.pvcs.entries()].map(([ordinal, p]) => ({ ordinal, terminating: p.terminating })),
    operation: s.operation,
    scaleUpBlockedGeneration: s.blocked,
    scaleUpRetry: s.retry,
    nowMs: s.nowMs,
    nowIso: new Date(s.nowMs).toISOString(),
    learnerTimeoutMs: LEARNER_TIMEOUT_MS,
    desiredVersion: '3.5.17',
    defragmentation: DEFRAG_EVERY_MINUTE,
    defragStatus: s.defrag,
  };
}

function observeMember(w: World, m: WMember): ObservedMember {
  const k = m.ordinal;
  const pod = k === null ? undefined : w.pods.get(k);
  const pvc = k === null ? undefined : w.pvcs.get(k);
  const healthy = w.healthy(m);
  return {
    id: String(m.id),
    name: !m.started ? '' : k === null ? `intruder-${m.id}` : memberName(ref, k),
    peerURLs: [k === null ? `http://10.9.9.${m.id % 250}:2380` : peerURL(ref, k, false)],
    isLearner: m.learner,
    healthy,
    isLeader: m.id === w.leader,
    raftIndex: healthy ? 100 : w.running(m) ? 1 : null,
    // A new claim under a started voter, or its pod refusing to start as it on an empty data dir.
    dataLost: !m.learner && m.started && pod !== undefined && pod.volumeOk && pvc !== undefined && pvc.data !== m.id,
    dbSizeBytes: healthy ? 20480 : null,
    dbSizeInUseBytes: healthy ? 20480 : null,
    version: healthy ? '3.5.17' : null,
  };
}

/** Runs one pass; returns the plan and whether its step was carried out. */
export function operatorPass(w: World, s: OperatorState, crash: Crash): { plan: Plan; acted: boolean; error: string | null } {
  const o = observe(w, s);
  const plan = planNextStep(o);
  if (crash === 'before-step') return { plan, acted: false, error: null };
  if (w.sts !== plan.statefulSetReplicas) w.setReplicas(plan.statefulSetReplicas);
  let error: string | null = null;
  try {
    perform(w, plan);
  } catch (err: unknown) {
    error = err instanceof Error ? err.message : String(err);
  }
  if (crash === 'before-status') return { plan, acted: error === null, error };
  if (error === null) {
    s.operation = plan.operation;
    s.blocked = plan.scaleUpBlockedGeneration;
    s.retry = plan.scaleUpRetry;
    s.defrag = plan.defrag;
  } else if (plan.defragOnFailure !== undefined) {
    s.defrag = plan.defragOnFailure;
  }
  if (o.members !== null) s.recordedOrdinals = w.members.flatMap((m) => (m.ordinal === null ? [] : [m.ordinal]));
  return { plan, acted: error === null, error };
}

function perform(w: World, plan: Plan): void {
  const a = plan.action;
  switch (a.kind) {
    case 'member-add-learner':
      w.addLearner(ordinalOfPeerURL(ref, a.peerURL));
      return;
    case 'promote':
      w.promote(Number(a.memberID));
      return;
    case 'move-leader':
      w.moveLeader(Number(a.toID));
      return;
    case 'member-remove':
      w.remove(Number(a.memberID));
      return;
    case 'delete-pvc':
      w.deletePvc(a.ordinal);
      return;
    case 'recreate-pod':
      if (a.deletePvc) w.deletePvc(a.ordinal);
      w.deletePod(a.ordinal);
      return;
    case 'defragment': {
      // Defragment blocks the member: it must be a running, caught-up member of a healthy cluster.
      const m = w.members.find((x) => String(x.id) === a.memberID);
      if (m === undefined || !w.running(m)) throw new Error(`Defragment of ${a.memberID}: not running`);
      return;
    }
    case 'bootstrap':
      throw new Error('the model starts from a running cluster; bootstrap must not be planned');
    case 'none':
    case 'wait':
    case 'refuse':
    case 'start-operation':
    case 'set-replicas':
    case 'finish-operation':
    case 'record-defrag':
    case 'finish-defrag':
      return;
  }
}
