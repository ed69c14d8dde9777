// The event-log checks of patch.ts on small hand-made runs: an acknowledged write missing from
// the log, or at another revision, is a durability problem; a gap in the log is a problem;
// unknown writes are resolved from the log (present: applied there; absent: dropped), and unknown
// deletes of one key take the key's unexplained delete events in call order.

import { describe, expect, it } from 'vitest';
import type { History, Op } from './history.js';
import type { WatchedEvent } from './kv-client.js';
import { patchHistory } from './patch.js';

const put = (call: number, key: string, value: string, rev: number | null): Op =>
  ({ client: 0, call, return: rev === null ? null : call + 1, input: { kind: 'put', key, value }, output: rev === null ? null : { rev } });
const del = (call: number, key: string): Op => ({ client: 1, call, return: null, input: { kind: 'del', key }, output: null });
const ev = (type: 'PUT' | 'DELETE', key: string, value: string, modRev: number): WatchedEvent => ({ type, key, value, modRev });

describe('patchHistory', () => {
  it('accepts a log that holds every acknowledged write, and resolves unknown ones from it', () => {
    const h: History = { initialRev: 1, ops: [put(0, 'a', 'x', 2), put(5, 'a', 'y', null), put(6, 'b', 'z', null), del(7, 'a'), del(8, 'a')] };
    const r = patchHistory(h, [ev('PUT', 'a', 'x', 2), ev('PUT', 'a', 'y', 3), ev('DELETE', 'a', '', 4)], 4);
    expect(r.problems).toEqual([]);
    expect(r.resolved).toEqual({ applied: 2, dropped: 2 });
    // The unknown put of y happened at 3; the earlier-called delete took revision 4.
    expect(r.history.ops.find((o) => o.input.value === 'y')?.output).toEqual({ rev: 3 });
    expect(r.history.ops.filter((o) => o.input.kind === 'del')).toEqual([{ ...del(7, 'a'), output: { rev: 4, deleted: 1 } }]);
  });

  it('reports an acknowledged write that is lost or moved, and a gap', () => {
    const h: History = { initialRev: 1, ops: [put(0, 'a', 'x', 2), put(2, 'a', 'y', 3)] };
    expect(patchHistory(h, [ev('PUT', 'a', 'x', 2)], 3).problems.join('\n')).toMatch(/acknowledged put\(a, y\) at revision 3 is not in the log/);
    expect(patchHistory(h, [ev('PUT', 'a', 'y', 2), ev('PUT', 'a', 'x', 3)], 3).problems.join('\n')).toMatch(/acknowledged put\(a, x\) at revision 2 is in the log at revision 3/);
    expect(patchHistory(h, [ev('PUT', 'a', 'x', 2), ev('PUT', 'a', 'y', 4)], 4).problems.join('\n')).toMatch(/the log has revision 4 where 3 belongs/);
  });

  it('reports an event that no client made', () => {
    const h: History = { initialRev: 1, ops: [put(0, 'a', 'x', 2)] };
    expect(patchHistory(h, [ev('PUT', 'a', 'x', 2), ev('DELETE', 'a', '', 3)], 3).problems.join('\n')).toMatch(/a DELETE of a at revision 3 that no client made/);
  });

  it('skips the revisions other writers took, and reports an event of the history at one', () => {
    const h: History = { initialRev: 1, ops: [put(0, 'a', 'x', 2), put(2, 'a', 'y', 5)] };
    const log = [ev('PUT', 'a', 'x', 2), ev('PUT', 'a', 'y', 5)];
    const r = patchHistory(h, log, 5, new Set([3, 4]));
    expect(r.problems).toEqual([]);
    expect(r.history.foreign).toEqual([3, 4]);
    expect(patchHistory(h, log, 5, new Set([3])).problems.join('\n')).toMatch(/the log has revision 5 where 4 belongs/);
    expect(patchHistory(h, log, 5, new Set([2, 3, 4])).problems.join('\n')).toMatch(/a PUT of a at revision 2, which another writer took/);
  });
});

