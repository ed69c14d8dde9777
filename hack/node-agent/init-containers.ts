// What the node agent does after an init container exits, by the kubelet's rules: a pod's init
// containers run one at a time, in order, each to completion, before any of its containers starts.
// One that fails is run again (with back-off) unless the pod's restartPolicy is Never, in which case
// the pod fails and its containers never start. Pure. Test infrastructure for the local control plane.
import type { Pod } from './kube-types.js';

export type InitStep =
  | { kind: 'next'; index: number }
  | { kind: 'containers' }
  | { kind: 'retry'; index: number; backoffMs: number }
  | { kind: 'fail-pod' };

/** The step after init container `index` exited with `exitCode` (its restartCount is restarts so far). */
export function afterInitExit(pod: Pod, index: number, exitCode: number, restartCount: number, maxBackoffMs: number): InitStep {
  const count = pod.spec.initContainers?.length ?? 0;
  if (exitCode === 0) return index + 1 < count ? { kind: 'next', index: index + 1 } : { kind: 'containers' };
  if ((pod.spec.restartPolicy ?? 'Always') === 'Never') return { kind: 'fail-pod' };
  return { kind: 'retry', index, backoffMs: Math.min(1000 * 2 ** Math.min(restartCount, 10), maxBackoffMs) };
}
