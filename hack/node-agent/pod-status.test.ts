import { describe, expect, it } from 'vitest';
import type { Pod } from './kube-types.js';
import { buildPodStatus, finalPhaseOf, statusKey } from './pod-status.js';

const pod: Pod = { metadata: { name: 'p', uid: 'u' }, spec: { containers: [{ name: 'c' }] } };
const t0 = '2026-01-01T00:00:00Z';
const t1 = '2026-01-01T00:00:05Z';

describe('buildPodStatus', () => {
  it('is Pending without a running container and Running, Ready once the probe passed', () => {
    const pending = buildPodStatus(pod, { hostIP: 'h', startTime: t0, containers: [{ name: 'c', image: 'i', restartCount: 0, ready: false }] }, t0);
    expect(pending.phase).toBe('Pending');
    expect(pending.podIP).toBeUndefined();
    expect(pending.containerStatuses?.[0]?.state).toEqual({ waiting: { reason: 'ContainerCreating' } });
    const running = buildPodStatus(
      { ...pod, status: pending },
      { podIP: '198.18.1.1', hostIP: 'h', startTime: t0, containers: [{ name: 'c', image: 'i', restartCount: 1, ready: true, runningSince: t1, lastExit: { exitCode: 137, startedAt: t0, finishedAt: t1 } }] },
      t1,
    );
    expect(running.phase).toBe('Running');
    expect(running.podIPs).toEqual([{ ip: '198.18.1.1' }]);
    const ready = running.conditions?.find((c) => c.type === 'Ready');
    expect(ready).toEqual({ type: 'Ready', status: 'True', lastTransitionTime: t1 });
    // An unchanged condition keeps its transition time.
    expect(running.conditions?.find((c) => c.type === 'Initialized')?.lastTransitionTime).toBe(t0);
    expect(running.containerStatuses?.[0]?.lastState.terminated?.exitCode).toBe(137);
    expect(statusKey(running)).not.toBe(statusKey(pending));
  });

  it('ends a pod whose containers are not restarted once all ended: Succeeded when all exited 0, else Failed', () => {
    const ended = (exitCode: number) => ({ name: 'c', image: 'i', restartCount: 0, ready: false, terminated: { exitCode, startedAt: t0, finishedAt: t1, message: '{"ok":true}' } });
    expect(finalPhaseOf([ended(0), { name: 'd', image: 'i', restartCount: 0, ready: false, runningSince: t0 }])).toBeUndefined();
    expect(finalPhaseOf([ended(0), ended(0)])).toBe('Succeeded');
    expect(finalPhaseOf([ended(0), ended(3)])).toBe('Failed');
    const s = buildPodStatus(pod, { hostIP: 'h', startTime: t0, containers: [ended(0)], finalPhase: 'Succeeded' }, t1);
    expect(s.phase).toBe('Succeeded');
    expect(s.containerStatuses?.[0]?.state.terminated).toMatchObject({ exitCode: 0, reason: 'Completed', message: '{"ok":true}' });
  });
});
