import { describe, expect, it } from 'vitest';
import { createLogger } from './log.js';

describe('log', () => {
  it('writes one JSON object per line with component, level and fields, filtered by level', () => {
    const lines: string[] = [];
    const log = createLogger({ component: 'runtime', level: 'info', sink: (l) => lines.push(l), nowMs: () => 0, fields: { member: 'a' } });
    log.debug('hidden');
    log.info('hello', { n: 1, err: new Error('boom'), big: 5n, buf: new Uint8Array(3) });
    log.child('transport').warn('w');
    expect(lines).toHaveLength(2);
    expect(lines.every((l) => l.endsWith('\n'))).toBe(true);
    const first = JSON.parse(lines[0]!);
    expect(first).toMatchObject({ level: 'info', component: 'runtime', msg: 'hello', member: 'a', n: 1, big: '5', buf: '<3 bytes>' });
    expect(first.err.message).toBe('boom');
    expect(first.ts).toBe('1970-01-01T00:00:00.000Z');
    expect(JSON.parse(lines[1]!)).toMatchObject({ level: 'warn', component: 'transport', member: 'a' });
  });
});
