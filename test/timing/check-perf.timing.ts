// Timing check (make bench): `etcdctl check perf --load=s` (60 s of puts, 50 clients, 150/s
// target) PASSes against a 3-member tsetcd cluster of real processes. Its slowest-request bound
// (500 ms) is wall-clock, so it lives here and not in `make test`; run it on a quiet machine.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, etcdctl, requireTools } from '../integration/harness.js';

const tools = requireTools();
const d = tools.ok ? describe.sequential : describe.skip;

let cluster: Cluster;

d('etcdctl check perf', () => {
  beforeAll(async () => {
    cluster = await Cluster.start({ size: 3, label: 'perf' });
  }, 90_000);

  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail') cluster?.printLogs();
  });

  afterAll(async () => {
    await cluster?.stop();
  }, 30_000);

  it('--load=s passes', async () => {
    const r = await etcdctl(cluster.endpoints(), ['check', 'perf', '--load=s'], { timeoutMs: 150_000 });
    // The progress bar rewrites its line with \r; the verdict lines follow it.
    const summary = (r.stdout + r.stderr)
      .split(/[\r\n]+/)
      .map((l) => l.replace(/^.*?(PASS|FAIL)/, '$1').trim())
      .filter((l) => /^(PASS|FAIL)/.test(l))
      .join('\n');
    console.log(`check perf --load=s:\n${summary}`);
    expect(r.code, r.stderr).toBe(0);
    expect(summary).toMatch(/PASS: Throughput/);
    expect(summary.trim().endsWith('PASS')).toBe(true);
  }, { timeout: 180_000 });
});
