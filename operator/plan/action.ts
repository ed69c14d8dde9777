// The planner's output: one action from a closed set, the StatefulSet size, and the operation to record.
// Shared by planner.ts (starting an operation) and continue-operation.ts (carrying one on).
import type { DefragmentationStatus, DefragResult, MembershipOperation, OperationPhase, OperationType, ScaleUpRetry } from '../api/types.js';
import { memberName, peerURL } from './names.js';
import type { ObservedCluster } from './observed.js';

export type Action =
  | { kind: 'none' }
  /** Create the StatefulSet with every initial member; they start with initial-cluster-state=new. */
  | { kind: 'bootstrap'; replicas: number }
  /** Only record the operation in status (intent before any member-API call). */
  | { kind: 'start-operation' }
  | { kind: 'member-add-learner'; peerURL: string }
  | { kind: 'promote'; memberID: string }
  | { kind: 'move-leader'; fromID: string; toID: string }
  | { kind: 'member-remove'; memberID: string }
  | { kind: 'set-replicas'; replicas: number }
  | { kind: 'delete-pvc'; ordinal: number }
  /** Delete the pod (and its PVC when asked) so the StatefulSet recreates it. */
  | { kind: 'recreate-pod'; ordinal: number; deletePvc: boolean }
  /** Cancelled: no longer wanted (e.g. the cluster reached the size by other means). */
  | { kind: 'finish-operation'; result: OperationResult }
  /** Only record in status which member is defragmented next (intent before the Defragment call). */
  | { kind: 'record-defrag'; memberID: string; memberName: string; message: string }
  /** Defragment one member at its own endpoint, bounded by timeoutMs. */
  | { kind: 'defragment'; memberID: string; memberName: string; timeoutMs: number }
  | { kind: 'finish-defrag'; result: DefragResult; message: string }
  | { kind: 'wait'; reason: string; message: string }
  | { kind: 'refuse'; reason: string; message: string };

export type ActionKind = Action['kind'];
export type OperationResult = 'Succeeded' | 'Failed' | 'Cancelled';

export interface Plan {
  action: Action;
  /** The StatefulSet size to apply this pass. */
  statefulSetReplicas: number;
  /** The operation to record in status at the end of this pass (null: none in flight). */
  operation: MembershipOperation | null;
  /** Set when a scale-up failed; stored in status.scaleUpBlockedGeneration and status.scaleUpRetry. */
  scaleUpBlockedGeneration: number | null;
  scaleUpRetry: ScaleUpRetry | null;
  /** For the bootstrap ConfigMap. */
  initialClusterState: 'new' | 'existing';
  initialCluster: Array<{ name: string; peerURL: string }>;
  /**
   * The version change is not allowed (see versionChangeProblem): keep the StatefulSet's current member
   * image, so that no pod (restarted for any reason) comes up on it.
   */
  holdImage: boolean;
  /** status.defragmentation to write when this pass's step succeeded. */
  defrag: DefragmentationStatus;
  /** ... and when its Defragment call failed (the attempt is counted). Absent: keep what was recorded. */
  defragOnFailure?: DefragmentationStatus;
}

export function newOperation(o: ObservedCluster, type: OperationType, ordinal: number, phase: OperationPhase, message: string): MembershipOperation {
  return {
    type,
    phase,
    ordinal,
    memberName: memberName(o.ref, ordinal),
    peerURL: peerURL(o.ref, ordinal, o.peerTLS),
    startTime: o.nowIso,
    message,
  };
}

export function finish(base: Plan, result: OperationResult): Plan {
  return { ...base, action: { kind: 'finish-operation', result }, operation: null };
}

export function refuse(reason: string, message: string): Action {
  return { kind: 'refuse', reason, message };
}

export function assertNever(x: never): never {
  throw new Error(`unexpected value: ${String(x)}`);
}
