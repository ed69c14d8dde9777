// What hack/lib/stall-probe.cjs logged in a time window: the event-loop stalls of one member, split
// into time its main thread ran and time it waited for a CPU, and its GC pauses. The bench
// harness's --stalls prints it per member for each measured load (docs/benchmarks/member.md,
// twenty-third stop).
import { readFileSync } from 'node:fs';

export interface StallCensus {
  /** Stalls: a 1 ms timer more than 2 ms late. */
  stalls: number;
  /** Their length past the timer's 1 ms, summed (ms). */
  lateMs: number;
  /** Of the stalls' spans, the main thread's time on a CPU and runnable but waiting (ms). */
  ranMs: number;
  waitedMs: number;
  /** GC pauses by kind: count and milliseconds. */
  gc: Record<string, { count: number; ms: number }>;
}

/** The census of a probe log's lines stamped within [fromMs, toMs) (wall-clock milliseconds). */
export function stallsIn(text: string, fromMs: number, toMs: number): StallCensus {
  const c: StallCensus = { stalls: 0, lateMs: 0, ranMs: 0, waitedMs: 0, gc: {} };
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    const at = Number(f[1]);
    if (!(at >= fromMs && at < toMs)) continue;
    if (f[0] === 'stall' && f.length === 5) {
      c.stalls++;
      c.lateMs += Number(f[2]);
      c.ranMs += Number(f[3]);
      c.waitedMs += Number(f[4]);
    } else if (f[0] === 'gc' && f.length === 4) {
      const g = (c.gc[f[2]!] ??= { count: 0, ms: 0 });
      g.count++;
      g.ms += Number(f[3]);
    }
  }
  return c;
}

/** stallsIn for a file (an empty census if it cannot be read). */
export function stallsLogged(path: string, fromMs: number, toMs: number): StallCensus {
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    // no probe log: the member never started, or --stalls was off
  }
  return stallsIn(text, fromMs, toMs);
}

/** "N stalls (X ms late: ran R, waited for a CPU W); gc minor N/X ms, major ..." */
export function summarizeStalls(c: StallCensus): string {
  const ms = (v: number): string => v.toFixed(1);
  const gc = Object.entries(c.gc).map(([kind, g]) => `${kind} ${g.count}/${ms(g.ms)} ms`);
  return `${c.stalls} stalls (${ms(c.lateMs)} ms late: ran ${ms(c.ranMs)}, waited for a CPU ${ms(c.waitedMs)}); gc ${gc.length ? gc.join(', ') : 'none'}`;
}
