// Builds the status the node agent reports for a Pod from what it knows about its processes.
// Pure: the time is passed in. Test infrastructure for the local control plane.
import type { ContainerState, ContainerStatus, Pod, PodCondition } from './kube-types.js';

export interface ContainerRun {
  name: string;
  image: string;
  /** Set while the process runs. */
  runningSince?: string;
  lastExit?: { exitCode: number; startedAt: string; finishedAt: string; message?: string };
  restartCount: number;
  ready: boolean;
  /** Why it does not run, when it does not (e.g. an unresolvable env reference). */
  waitingReason?: string;
  waitingMessage?: string;
  /** Set when the container ran to its end and stays ended (an init container that completed or failed the pod). */
  terminated?: { exitCode: number; startedAt: string; finishedAt: string; message?: string };
}

export interface PodRun {
  podIP?: string;
  hostIP: string;
  startTime: string;
  containers: ContainerRun[];
  /** The pod's init containers, in order; the main containers start once all completed. */
  initContainers?: ContainerRun[];
  /** Set once the Pod is done (restartPolicy Never or OnFailure and all exited). */
  finalPhase?: 'Succeeded' | 'Failed';
}

type Status = NonNullable<Pod['status']>;

function condition(type: string, ok: boolean, previous: PodCondition[] | undefined, now: string): PodCondition {
  const status = ok ? 'True' : 'False';
  const prev = previous?.find((c) => c.type === type);
  return { type, status, lastTransitionTime: prev?.status === status && prev.lastTransitionTime ? prev.lastTransitionTime : now };
}

const exitReason = (exitCode: number): string => (exitCode === 0 ? 'Completed' : 'Error');

function stateOf(c: ContainerRun): ContainerState {
  if (c.runningSince !== undefined) return { running: { startedAt: c.runningSince } };
  if (c.terminated !== undefined) return { terminated: { ...c.terminated, reason: exitReason(c.terminated.exitCode) } };
  return { waiting: { reason: c.waitingReason ?? 'ContainerCreating', ...(c.waitingMessage ? { message: c.waitingMessage } : {}) } };
}

function containerStatus(pod: Pod, c: ContainerRun): ContainerStatus {
  return {
    name: c.name,
    image: c.image,
    imageID: '',
    containerID: `local://${pod.metadata.uid ?? ''}/${c.name}`,
    ready: c.ready,
    started: c.runningSince !== undefined,
    restartCount: c.restartCount,
    state: stateOf(c),
    lastState: c.lastExit
      ? { terminated: { ...c.lastExit, reason: exitReason(c.lastExit.exitCode) } }
      : {},
  };
}

/**
 * The kubelet's rule for a pod whose containers are not restarted (restartPolicy Never, or OnFailure
 * after exit 0): once every container has ended the pod is done, Succeeded when all exited 0.
 * undefined while any container has not ended.
 */
export function finalPhaseOf(containers: readonly ContainerRun[]): 'Succeeded' | 'Failed' | undefined {
  if (containers.length === 0 || containers.some((c) => c.terminated === undefined)) return undefined;
  return containers.every((c) => c.terminated?.exitCode === 0) ? 'Succeeded' : 'Failed';
}

/** The kubelet's rule: a pod is Initialized once every init container has completed (exit 0). */
export function initialized(run: PodRun): boolean {
  return (run.initContainers ?? []).every((c) => c.terminated?.exitCode === 0);
}

export function buildPodStatus(pod: Pod, run: PodRun, now: string): Status {
  const prev = pod.status?.conditions;
  const containerStatuses = run.containers.map((c) => containerStatus(pod, c));
  const inited = initialized(run);
  const allReady = inited && run.containers.length > 0 && run.containers.every((c) => c.ready);
  const anyRunning = inited && run.containers.some((c) => c.runningSince !== undefined);
  const phase = run.finalPhase ?? (anyRunning ? 'Running' : 'Pending');
  const status: Status = {
    phase,
    hostIP: run.hostIP,
    startTime: run.startTime,
    conditions: [
      condition('PodReadyToStartContainers', run.podIP !== undefined, prev, now),
      condition('Initialized', inited, prev, now),
      condition('Ready', allReady, prev, now),
      condition('ContainersReady', allReady, prev, now),
      condition('PodScheduled', true, prev, now),
    ],
    containerStatuses,
  };
  if (run.initContainers !== undefined && run.initContainers.length > 0) status.initContainerStatuses = run.initContainers.map((c) => containerStatus(pod, c));
  if (run.podIP !== undefined) {
    status.podIP = run.podIP;
    status.podIPs = [{ ip: run.podIP }];
  }
  return status;
}

/** The status fields the agent owns, for comparing with what the apiserver holds. */
export function statusKey(s: Status): string {
  return JSON.stringify({
    phase: s.phase,
    podIP: s.podIP,
    conditions: s.conditions?.map((c) => [c.type, c.status]),
    containers: s.containerStatuses?.map((c) => [c.name, c.ready, c.started, c.restartCount, Object.keys(c.state)[0]]),
    init: s.initContainerStatuses?.map((c) => [c.name, c.restartCount, Object.keys(c.state)[0], c.state.terminated?.exitCode]),
  });
}
