import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stallsIn, stallsLogged, summarizeStalls } from './stall-census.js';

// Lines as stall-probe.cjs writes them: stall <wall ms> <late ms> <ran ms> <waited ms>, gc <wall ms> <kind> <ms>.
const LOG = [
  'gc 1000.0 minor 1.20',
  'stall 1500.5 4.27 0.36 3.82',
  'gc 1600.0 minor 0.80',
  'stall 1700.0 2.30 1.90 0.40',
  'gc 1800.0 major 6.00',
  'stall 2500.0 9.00 0.10 8.90',
  'stall garbage',
  '',
].join('\n');

describe('stall census', () => {
  it('counts the stalls and GC pauses inside the window only, and splits the stalls into running and waiting', () => {
    const c = stallsIn(LOG, 1500, 2500);
    expect(c.stalls).toBe(2);
    expect(c.lateMs).toBeCloseTo(6.57);
    expect(c.ranMs).toBeCloseTo(2.26);
    expect(c.waitedMs).toBeCloseTo(4.22);
    expect(c.gc).toEqual({ minor: { count: 1, ms: 0.8 }, major: { count: 1, ms: 6 } });
  });

  it('summarizes in one line', () => {
    expect(summarizeStalls(stallsIn(LOG, 1500, 2500))).toBe('2 stalls (6.6 ms late: ran 2.3, waited for a CPU 4.2); gc minor 1/0.8 ms, major 1/6.0 ms');
    expect(summarizeStalls(stallsIn(LOG, 0, 1))).toBe('0 stalls (0.0 ms late: ran 0.0, waited for a CPU 0.0); gc none');
  });

  it('reads what the real probe logs: a blocked event loop as a stall its main thread ran through, a forced GC as major', () => {
    const dir = mkdtempSync(join(tmpdir(), 'stall-probe-'));
    try {
      // Blocks the loop for 30 ms of wall time once the probe's timer has ticked, then forces a
      // full GC and ends once its own observer has seen it (the probe's observer shares that delivery).
      const script = `
        const { PerformanceObserver, constants } = require('node:perf_hooks');
        setTimeout(() => {
          const end = Date.now() + 30;
          while (Date.now() < end);
          setTimeout(() => {
            const alive = setInterval(() => {}, 1000); // observers alone do not keep a process running
            new PerformanceObserver((l) => {
              if (l.getEntries().some((e) => e.detail.kind === constants.NODE_PERFORMANCE_GC_MAJOR)) setImmediate(() => clearInterval(alive));
            }).observe({ entryTypes: ['gc'] });
            gc();
          }, 5);
        }, 20);`;
      const r = spawnSync(process.execPath, ['--expose-gc', `--require=${join(import.meta.dirname, 'stall-probe.cjs')}`, '-e', script], {
        env: { ...process.env, NODE_OPTIONS: '', TSETCD_STALL_DIR: dir },
        encoding: 'utf8',
      });
      expect(r.status, r.stderr).toBe(0);
      const [file] = readdirSync(dir);
      const c = stallsLogged(join(dir, file!), 0, Number.MAX_SAFE_INTEGER);
      expect(c.stalls).toBeGreaterThanOrEqual(1);
      expect(c.lateMs).toBeGreaterThanOrEqual(28);
      expect(c.ranMs + c.waitedMs).toBeGreaterThan(0);
      expect(c.gc['major']?.count).toBeGreaterThanOrEqual(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
