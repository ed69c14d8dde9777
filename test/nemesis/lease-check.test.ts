// Proves the lease checker and the compaction checker before the nemesis suite trusts them: a
// clean record passes, and each planted violation is rejected: an early expiry, keys deleted at
// two revisions, a key that outlives its lease, a put to a revoked lease that succeeded, a lost
// acknowledged put, a renewal after the lease was seen gone, a revoke answered before its
// deletion; reads served after an acknowledged compaction, compacted refusals with the wrong text
// or before any compaction.

import { describe, expect, it } from 'vitest';
import { checkCompaction, type CompactCall, type HistoricalRead } from './compact-check.js';
import type { WatchedEvent } from './kv-client.js';
import { checkLeases, type LeaseCheckInput } from './lease-check.js';
import type { LeaseRecord } from './lease-load.js';
import { COMPACTED_TEXT } from './watch-check.js';

const S = 1e9; // one second in the checker's nanoseconds
const ev = (type: 'PUT' | 'DELETE', key: string, value: string, modRev: number): WatchedEvent => ({ type, key, value, modRev });

/** A lease granted at 0 s with TTL 2, keys a and b put at revisions 10 and 11, renewed at 1 s. */
function lease(over: Partial<LeaseRecord> = {}): LeaseRecord {
  return {
    name: 'lease 7',
    plan: 'expire',
    grant: { call: 0, ret: 0.01 * S, id: '7', ttl: 2 },
    keepAlives: [{ call: 1 * S, ret: 1.01 * S, ttl: 2 }],
    puts: [
      { key: 'n/l0.0.0', value: 'L0.0.0', call: 0.02 * S, ret: 0.03 * S, rev: 10 },
      { key: 'n/l0.0.1', value: 'L0.0.1', call: 0.04 * S, ret: 0.05 * S, rev: 11 },
    ],
    ...over,
  };
}
const keys = [ev('PUT', 'n/l0.0.0', 'L0.0.0', 10), ev('PUT', 'n/l0.0.1', 'L0.0.1', 11)];
const ended = (rev: number): WatchedEvent[] => [ev('DELETE', 'n/l0.0.0', '', rev), ev('DELETE', 'n/l0.0.1', '', rev)];

/** Expired at revision 20, first seen at `seenS` seconds. */
function input(records: LeaseRecord[], events: WatchedEvent[], seenS = 3.5): LeaseCheckInput {
  return { records, events, seen: new Map([[20, seenS * S]]), answers: [{ rev: 25, ret: 4 * S }] };
}

describe('checkLeases', () => {
  it('accepts an expiry after the TTL of the last renewal, and a revoke', () => {
    const v = checkLeases(input([lease()], [...keys, ...ended(20)]));
    expect(v.problems).toEqual([]);
    expect(v).toMatchObject({ leases: 1, expired: 1, revoked: 0 });
    expect(v.overshootMs[0]).toBeCloseTo(500);
    const revoke = lease({ plan: 'revoke', revoke: { call: 1.5 * S, ret: 1.6 * S, rev: 20 }, lateput: { key: 'n/l0.0.late', value: 'L0.0.late', call: 1.7 * S, ret: 1.8 * S, error: { code: 5, details: 'etcdserver: requested lease not found' } } });
    expect(checkLeases(input([revoke], [...keys, ...ended(20)], 1.65)).problems).toEqual([]);
  });

  it('rejects an expiry seen before the TTL of the last renewal ran out', () => {
    // Renewed at 1 s with TTL 2: held until 3 s; the deletion was seen at 2.5 s.
    expect(checkLeases(input([lease()], [...keys, ...ended(20)], 2.5)).problems.join('\n')).toMatch(/expired early: .* seen 500 ms before/);
    // The same bound from another answer: a read answered at revision 25 at 2.2 s.
    const i = { ...input([lease()], [...keys, ...ended(20)]), answers: [{ rev: 25, ret: 2.2 * S }] };
    expect(checkLeases(i).problems.join('\n')).toMatch(/expired early/);
  });

  it('rejects keys deleted at two revisions, a key that outlives its lease, and a lost put', () => {
    expect(checkLeases(input([lease()], [...keys, ev('DELETE', 'n/l0.0.0', '', 20), ev('DELETE', 'n/l0.0.1', '', 21)])).problems.join('\n')).toMatch(/deleted at 2 revisions/);
    expect(checkLeases(input([lease()], [...keys, ev('DELETE', 'n/l0.0.0', '', 20)])).problems.join('\n')).toMatch(/n\/l0.0.1 outlived its lease/);
    expect(checkLeases(input([lease()], [keys[0]!, ev('DELETE', 'n/l0.0.0', '', 20)])).problems.join('\n')).toMatch(/acknowledged put of n\/l0.0.1 at revision 11 is not in the log/);
  });

  it('rejects a put to a revoked lease that succeeded or is in the log, and a revoke answered before its deletion', () => {
    const late = { key: 'n/l0.0.late', value: 'L0.0.late', call: 1.7 * S, ret: 1.8 * S };
    const ok = lease({ plan: 'revoke', revoke: { call: 1.5 * S, ret: 1.6 * S, rev: 20 }, lateput: { ...late, rev: 21 } });
    expect(checkLeases(input([ok], [...keys, ...ended(20), ev('PUT', 'n/l0.0.late', 'L0.0.late', 21)], 1.65)).problems.join('\n')).toMatch(/after its revoke was acknowledged succeeded/);
    const unknown = lease({ plan: 'revoke', revoke: { call: 1.5 * S, ret: 1.6 * S, rev: 20 }, lateput: { ...late, error: { code: 4, details: 'Deadline exceeded' } } });
    expect(checkLeases(input([unknown], [...keys, ...ended(20), ev('PUT', 'n/l0.0.late', 'L0.0.late', 21)], 1.65)).problems.join('\n')).toMatch(/outlived its lease|attached at revision 21/);
    const wrongText = lease({ plan: 'revoke', revoke: { call: 1.5 * S, ret: 1.6 * S, rev: 20 }, lateput: { ...late, error: { code: 5, details: 'lease not found' } } });
    expect(checkLeases(input([wrongText], [...keys, ...ended(20)], 1.65)).problems.join('\n')).toMatch(/refused with code 5 "lease not found"/);
    const early = lease({ plan: 'revoke', revoke: { call: 1.5 * S, ret: 1.6 * S, rev: 19 } });
    expect(checkLeases(input([early], [...keys, ...ended(20)], 1.65)).problems.join('\n')).toMatch(/revoke answered at revision 19 but its keys were deleted at 20/);
  });

  it('rejects a renewal sent after the lease was seen gone, and one after a keep-alive answered gone', () => {
    const renewed = lease({ keepAlives: [{ call: 1 * S, ret: 1.01 * S, ttl: 2 }, { call: 3.6 * S, ret: 3.7 * S, ttl: 2 }] });
    expect(checkLeases(input([renewed], [...keys, ...ended(20)])).problems.join('\n')).toMatch(/keep-alive sent 100 ms after its keys were seen deleted/);
    const back = lease({ keepAlives: [{ call: 0.5 * S, ret: 0.6 * S, ttl: 0 }, { call: 1 * S, ret: 1.01 * S, ttl: 2 }] });
    expect(checkLeases(input([back], [...keys, ...ended(20)])).problems.join('\n')).toMatch(/answered TTL 0 \(gone\), then a later one renewed it/);
  });

  it('rejects events of lease keys no lease client wrote', () => {
    expect(checkLeases(input([], [ev('PUT', 'n/l9.9.9', 'x', 5)])).problems.join('\n')).toMatch(/n\/l9.9.9, which no lease client wrote/);
  });
});

describe('checkCompaction', () => {
  const compact = (rev: number, call: number, ok = true): CompactCall => ({ rev, call, ret: call + 1, ok });
  const read = (rev: number, call: number, ok: boolean, details = COMPACTED_TEXT, code = 11): HistoricalRead => ({ rev, call, ret: call + 1, ok, ...(ok ? {} : { error: { code, details } }) });

  it('accepts reads before a compaction, refusals after it, and a read at the compact revision itself', () => {
    expect(checkCompaction([compact(10, 5)], [read(8, 1, true), read(8, 10, false), read(10, 10, true), read(12, 10, true)])).toEqual([]);
    // A read concurrent with the compaction may go either way.
    expect(checkCompaction([compact(10, 5)], [read(8, 5, true), read(8, 4.5, false)])).toEqual([]);
  });

  it('rejects data served after an acknowledged compaction, a refusal before any, and a wrong text', () => {
    expect(checkCompaction([compact(10, 5)], [read(8, 7, true)]).join('\n')).toMatch(/a read at revision 8 answered data after a compaction at 10 was acknowledged/);
    expect(checkCompaction([compact(10, 5)], [read(8, 2, false)]).join('\n')).toMatch(/refused as compacted before any compaction past it was sent/);
    expect(checkCompaction([compact(10, 5)], [read(8, 9, false, 'mvcc: required revision has been compacted')]).join('\n')).toMatch(/not OUT_OF_RANGE/);
    expect(checkCompaction([compact(10, 5)], [read(8, 9, false, COMPACTED_TEXT, 2)]).join('\n')).toMatch(/refused with code 2/);
    const again: CompactCall = { rev: 10, call: 3, ret: 4, ok: false, error: { code: 11, details: COMPACTED_TEXT } };
    expect(checkCompaction([again], []).join('\n')).toMatch(/a compaction at 10 was refused as compacted before any/);
    expect(checkCompaction([compact(12, 1), again], [])).toEqual([]);
  });
});
