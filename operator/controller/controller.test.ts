import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../node/log.js';
import { OperatorMetrics } from '../metrics.js';
import { FakeClock } from './clock.js';
import { Controller } from './controller.js';
import { WorkQueue } from './work-queue.js';

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (cond()) return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`never: ${what}`);
}

describe('Controller loop', () => {
  it('reconciles known keys at start and on resync, requeues after, backs off on errors', async () => {
    const clock = new FakeClock(0);
    const queue = new WorkQueue(clock, { baseDelayMs: 100, maxDelayMs: 1000, maxKeys: 100 });
    const calls: string[] = [];
    let fail = true;
    const reconciler = {
      async reconcile(ns: string, name: string) {
        calls.push(`${ns}/${name}@${clock.nowMs()}`);
        if (name === 'bad' && fail) throw new Error('boom');
        return { requeueAfterMs: name === 'busy' ? 500 : null, action: 'none' as const };
      },
    };
    const metrics = new OperatorMetrics({ defaultMetrics: false });
    const c = new Controller(reconciler, queue, clock, silentLogger, metrics, { workers: 2, resyncMs: 10_000 }, () => ['ns/a', 'ns/busy', 'ns/bad']);
    c.start();
    await until(() => calls.length === 3, 'first passes');
    expect(calls.sort()).toEqual(['ns/a@0', 'ns/bad@0', 'ns/busy@0']);
    clock.advance(100); // bad retried after 100ms backoff
    await until(() => calls.length === 4, 'bad retried');
    expect(calls[3]).toBe('ns/bad@100');
    clock.advance(100); // second failure -> 200ms
    await until(() => queue.failuresOf('ns/bad') === 2, 'second failure');
    fail = false;
    clock.advance(300); // busy requeued at 500; bad retried at 400 and succeeds
    await until(() => calls.filter((x) => x.startsWith('ns/busy')).length === 2, 'busy requeued');
    await until(() => queue.failuresOf('ns/bad') === 0, 'bad forgotten');
    const before = calls.filter((x) => x.startsWith('ns/a')).length;
    clock.advance(10_000); // resync
    await until(() => calls.filter((x) => x.startsWith('ns/a')).length === before + 1, 'resync');
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/tsetcd_operator_reconcile_total\{result="error"\} 2/);
    expect(text).toMatch(/tsetcd_operator_reconcile_total\{result="requeue"\} \d+/);
    await c.stop();
  });
});
