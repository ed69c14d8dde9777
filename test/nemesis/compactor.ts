// The compactor: compacts the key space now and then while the load and the watchers run, as
// kube-apiserver does every few minutes, never past what the log keeper already holds (so the
// run's whole event log survives for the checks). Every call is recorded for compact-check.ts.

import { SimRng } from '../sim/rng.js';
import type { CompactCall } from './compact-check.js';
import { monotonicNs } from './history.js';
import { callError, type KvClient } from './kv-client.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function compactor(o: {
  readonly seed: number;
  readonly clients: readonly KvClient[];
  readonly everyMs: number;
  /** The newest revision the log keeper holds. */
  readonly kept: () => number;
  readonly shouldStop: () => boolean;
  readonly out: CompactCall[];
}): Promise<void> {
  const rng = new SimRng(o.seed, 0x636d70);
  let member = 0;
  let sent = 0;
  // Bounded: one call per everyMs/2 at least, until shouldStop.
  while (!o.shouldStop()) {
    await sleep(rng.range(o.everyMs / 2, (o.everyMs * 3) / 2));
    if (o.shouldStop()) break;
    const rev = o.kept() - rng.intn(8);
    if (rev <= sent) continue;
    sent = rev;
    const call = monotonicNs();
    try {
      await o.clients[member]!.compact(rev);
      o.out.push({ rev, call, ret: monotonicNs(), ok: true });
    } catch (e) {
      o.out.push({ rev, call, ret: monotonicNs(), ok: false, error: callError(e) });
      member = (member + 1) % o.clients.length;
    }
  }
}
