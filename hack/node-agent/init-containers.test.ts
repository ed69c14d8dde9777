import { describe, expect, it } from 'vitest';
import { afterInitExit } from './init-containers.js';
import type { Pod } from './kube-types.js';
import { buildPodStatus, initialized, statusKey } from './pod-status.js';

const pod = (restartPolicy?: 'Always' | 'OnFailure' | 'Never'): Pod => ({
  metadata: { name: 'p', uid: 'u' },
  spec: { ...(restartPolicy ? { restartPolicy } : {}), containers: [{ name: 'c' }], initContainers: [{ name: 'a' }, { name: 'b' }] },
});
const t0 = '2026-01-01T00:00:00Z';
const t1 = '2026-01-01T00:00:05Z';

describe('afterInitExit', () => {
  it('runs the init containers in order, then the containers', () => {
    expect(afterInitExit(pod(), 0, 0, 0, 10_000)).toEqual({ kind: 'next', index: 1 });
    expect(afterInitExit(pod(), 1, 0, 0, 10_000)).toEqual({ kind: 'containers' });
  });
  it('retries a failed one with capped back-off, unless restartPolicy is Never: then the pod fails', () => {
    expect(afterInitExit(pod(), 1, 1, 0, 10_000)).toEqual({ kind: 'retry', index: 1, backoffMs: 1000 });
    expect(afterInitExit(pod('OnFailure'), 0, 2, 5, 10_000)).toEqual({ kind: 'retry', index: 0, backoffMs: 10_000 });
    expect(afterInitExit(pod('Never'), 0, 1, 0, 10_000)).toEqual({ kind: 'fail-pod' });
  });
});

describe('buildPodStatus with init containers', () => {
  const c = { name: 'c', image: 'i', restartCount: 0, ready: false, waitingReason: 'PodInitializing' };
  it('is Pending and not Initialized while an init container runs, with its status reported', () => {
    const run = {
      podIP: '198.18.1.2', hostIP: 'h', startTime: t0, containers: [c],
      initContainers: [
        { name: 'a', image: 'i', restartCount: 0, ready: false, terminated: { exitCode: 0, startedAt: t0, finishedAt: t1 } },
        { name: 'b', image: 'i', restartCount: 0, ready: false, runningSince: t1 },
      ],
    };
    expect(initialized(run)).toBe(false);
    const s = buildPodStatus(pod(), run, t1);
    expect(s.phase).toBe('Pending');
    expect(s.conditions?.find((x) => x.type === 'Initialized')?.status).toBe('False');
    expect(s.initContainerStatuses?.map((x) => x.state)).toEqual([
      { terminated: { exitCode: 0, reason: 'Completed', startedAt: t0, finishedAt: t1 } },
      { running: { startedAt: t1 } },
    ]);
    expect(s.containerStatuses?.[0]?.state).toEqual({ waiting: { reason: 'PodInitializing' } });
    // A change of an init container's state is a change of status.
    const done = { ...run, initContainers: [run.initContainers[0]!, { name: 'b', image: 'i', restartCount: 0, ready: false, terminated: { exitCode: 0, startedAt: t1, finishedAt: t1 } }] };
    const s2 = buildPodStatus(pod(), done, t1);
    expect(initialized(done)).toBe(true);
    expect(s2.conditions?.find((x) => x.type === 'Initialized')?.status).toBe('True');
    expect(statusKey(s2)).not.toBe(statusKey(s));
  });
  it('reports a pod failed by its init container as Failed, its init container terminated with the code', () => {
    const s = buildPodStatus(pod('Never'), {
      hostIP: 'h', startTime: t0, containers: [c], finalPhase: 'Failed',
      initContainers: [{ name: 'a', image: 'i', restartCount: 0, ready: false, terminated: { exitCode: 3, startedAt: t0, finishedAt: t1 } }],
    }, t1);
    expect(s.phase).toBe('Failed');
    expect(s.initContainerStatuses?.[0]?.state.terminated).toMatchObject({ exitCode: 3, reason: 'Error' });
  });
});
