import { describe, expect, it } from 'vitest';
import { buildPodStatus } from './pod-status.js';
import { MAX_MESSAGE_FILE_BYTES, MAX_MESSAGE_LOG_BYTES, terminationMessage } from './termination-message.js';

const fallback = { terminationMessagePolicy: 'FallbackToLogsOnError' as const };

describe('terminationMessage', () => {
  it('gives a failed container the last 80 lines of its log under FallbackToLogsOnError, and nothing otherwise', () => {
    const log = Array.from({ length: 100 }, (_, i) => `line ${i}`).join('\n') + '\n';
    const m = terminationMessage(fallback, 1, log);
    expect(m?.split('\n')).toHaveLength(80);
    expect(m?.startsWith('line 20\n')).toBe(true);
    expect(m?.endsWith('line 99')).toBe(true);
    expect(terminationMessage(fallback, 0, log)).toBeUndefined();
    expect(terminationMessage({}, 1, log)).toBeUndefined();
    expect(terminationMessage({ terminationMessagePolicy: 'File' }, 1, log)).toBeUndefined();
    expect(terminationMessage(fallback, 1, '')).toBeUndefined();
  });
  it('prefers what the container wrote to its termination message file, for any exit, at most 4096 bytes', () => {
    expect(terminationMessage({}, 0, 'log', '{"ok":true}')).toBe('{"ok":true}');
    expect(terminationMessage(fallback, 1, 'log', '{"ok":false}')).toBe('{"ok":false}');
    expect(terminationMessage(fallback, 1, 'the log', '')).toBe('the log');
    expect(Buffer.byteLength(terminationMessage({}, 0, '', 'y'.repeat(9000)) ?? '')).toBe(MAX_MESSAGE_FILE_BYTES);
  });
  it('keeps at most 2048 bytes, the end of the log', () => {
    const m = terminationMessage(fallback, 2, `${'x'.repeat(5000)}\nmember 8e9e05c52164694d has already been bootstrapped`);
    expect(Buffer.byteLength(m ?? '')).toBeLessThanOrEqual(MAX_MESSAGE_LOG_BYTES);
    expect(m?.endsWith('has already been bootstrapped')).toBe(true);
  });
  it('is reported in the container status, where the operator reads it', () => {
    const t = '2026-01-01T00:00:00Z';
    const s = buildPodStatus({ metadata: { name: 'p', uid: 'u' }, spec: { containers: [{ name: 'c' }] } }, {
      hostIP: 'h', startTime: t, containers: [{ name: 'c', image: 'i', restartCount: 1, ready: false, waitingReason: 'CrashLoopBackOff', lastExit: { exitCode: 1, startedAt: t, finishedAt: t, message: 'refused' } }],
    }, t);
    expect(s.containerStatuses?.[0]?.lastState.terminated).toMatchObject({ exitCode: 1, reason: 'Error', message: 'refused' });
  });
});
