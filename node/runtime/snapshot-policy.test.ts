import { describe, expect, it } from 'vitest';
import { MemoryStorage } from '../raft/memory-storage.js';
import type { Entry } from '../raft/types.js';
import { MIN_LOG_BYTES, STATE_FRACTION, compactIndexAfterSnapshot, firstSnapshotDelay, shouldSnapshot, snapshotTriggerBytes, type SnapshotPolicy } from './snapshot-policy.js';

const MiB = 2 ** 20;
const GiB = 2 ** 30;
const policy: SnapshotPolicy = { count: 100_000, logBytes: GiB, catchUpEntries: 5000, catchUpBytes: 128 * MiB };

describe('the snapshot trigger', () => {
  it('grows with the state between the floor and the ceiling', () => {
    expect(snapshotTriggerBytes(0, GiB)).toBe(MIN_LOG_BYTES);
    expect(snapshotTriggerBytes(100 * MiB, GiB)).toBe(MIN_LOG_BYTES);
    expect(snapshotTriggerBytes(1000 * MiB, GiB)).toBe(1000 * MiB * STATE_FRACTION);
    expect(snapshotTriggerBytes(8 * GiB, GiB)).toBe(GiB);
    // A ceiling below the floor wins (small test settings).
    expect(snapshotTriggerBytes(8 * GiB, MiB)).toBe(MiB);
  });

  it('fires on entries or on bytes, whichever comes first', () => {
    expect(shouldSnapshot(policy, { entries: 0, bytes: 0 }, 0)).toBe(false);
    expect(shouldSnapshot(policy, { entries: 99_999, bytes: 0 }, 0)).toBe(false);
    expect(shouldSnapshot(policy, { entries: 100_000, bytes: 0 }, 0)).toBe(true);
    // 64 KiB values: 1,023 entries stay below the 64 MiB floor, 1,024 reach it.
    expect(shouldSnapshot(policy, { entries: 1023, bytes: 1023 * 64 * 1024 }, 0)).toBe(false);
    expect(shouldSnapshot(policy, { entries: 1024, bytes: 1024 * 64 * 1024 }, 0)).toBe(true);
    // At 1 GiB of state, half of it.
    expect(shouldSnapshot(policy, { entries: 8000, bytes: 500 * MiB }, GiB)).toBe(false);
    expect(shouldSnapshot(policy, { entries: 8192, bytes: 512 * MiB }, GiB)).toBe(true);
    // At 8 GiB, the ceiling.
    expect(shouldSnapshot(policy, { entries: 16_384, bytes: GiB }, 8 * GiB)).toBe(true);
  });

  it('keeps the memory log below its ceiling and the snapshots writing a bounded multiple of the data (a load of 8 GiB)', () => {
    // A member loaded with 64 KiB entries, snapshotting whenever the trigger says (no writes
    // while a snapshot is written, the best case). Memory held: bytes since the last snapshot.
    const entry = 64 * 1024;
    let state = 0;
    let since = 0;
    let written = 0;
    let held = 0;
    for (let i = 0; i < (8 * GiB) / entry; i++) {
      state += entry;
      since += entry;
      held = Math.max(held, since);
      if (shouldSnapshot(policy, { entries: 1, bytes: since }, state)) {
        written += state;
        since = 0;
      }
    }
    expect(held).toBeLessThanOrEqual(GiB);
    // Snapshots rewrote the state at most ~1 / STATE_FRACTION times per byte loaded until the
    // ceiling, then once per GiB: 8 GiB loaded, about 40 GiB written.
    console.log(`8 GiB load: snapshots wrote ${(written / GiB).toFixed(1)} GiB, memory log held at most ${(held / MiB).toFixed(0)} MiB`);
    expect(written).toBeLessThan(48 * GiB);
  });
});

describe('members that started together snapshot at different indexes', () => {
  const count = 10_000;
  const voters = [0x9an, 0x1fn, 0x5cn];

  it('spreads the first snapshot over the count by the member\'s rank among the voters', () => {
    // Sorted: 0x1f, 0x5c, 0x9a.
    expect([0x1fn, 0x5cn, 0x9an].map((id) => firstSnapshotDelay(count, id, voters))).toEqual([0, 3333, 6666]);
    // Five voters: a fifth apart.
    const five = [5n, 1n, 4n, 2n, 3n];
    expect(five.map((id) => firstSnapshotDelay(count, id, five))).toEqual([8000, 0, 6000, 2000, 4000]);
  });

  it('does not delay a lone member, a learner, or a member outside the configuration', () => {
    expect(firstSnapshotDelay(count, 7n, [7n])).toBe(0);
    expect(firstSnapshotDelay(count, 8n, voters)).toBe(0);
    expect(firstSnapshotDelay(count, 7n, [])).toBe(0);
  });

  it('raises the entry trigger only: the byte trigger still bounds the log', () => {
    const p: SnapshotPolicy = { ...policy, count };
    expect(shouldSnapshot(p, { entries: count, bytes: 0 }, 0, 3333)).toBe(false);
    expect(shouldSnapshot(p, { entries: count + 3333, bytes: 0 }, 0, 3333)).toBe(true);
    expect(shouldSnapshot(p, { entries: count, bytes: MIN_LOG_BYTES }, 0, 3333)).toBe(true);
  });

  it('keeps the members apart at every later snapshot, each still --snapshot-count after its own last one', () => {
    // Three members applying the same indexes; each snapshots when the trigger says.
    const p: SnapshotPolicy = { ...policy, count };
    const taken = voters.map((id) => {
      const at: number[] = [];
      let last = 0;
      for (let applied = 1; applied <= 5 * count; applied++) {
        const extra = at.length === 0 ? firstSnapshotDelay(count, id, voters) : 0;
        if (shouldSnapshot(p, { entries: applied - last, bytes: 0 }, 0, extra)) {
          at.push(applied);
          last = applied;
        }
      }
      return at;
    });
    const all = taken.flat().sort((a, b) => a - b);
    for (let i = 1; i < all.length; i++) expect(all[i]! - all[i - 1]!).toBeGreaterThanOrEqual(3333);
    for (const at of taken) for (let i = 1; i < at.length; i++) expect(at[i]! - at[i - 1]!).toBe(count);
  });
});

describe('the catch-up bound after a snapshot', () => {
  // Entries of one size share their payload: only byteLength counts here.
  const payloads = new Map<number, Uint8Array>();
  const e = (index: number, bytes: number): Entry => {
    let data = payloads.get(bytes);
    if (!data) payloads.set(bytes, (data = new Uint8Array(bytes)));
    return { index, term: 1, type: 'normal', data };
  };

  function storage(n: number, bytes: number): MemoryStorage {
    const s = new MemoryStorage();
    s.append(Array.from({ length: n }, (_, i) => e(i + 1, bytes)));
    return s;
  }

  it('keeps at most catchUpEntries entries and at most catchUpBytes bytes behind the snapshot', () => {
    // 20,000 entries of 64 KiB: 5000 entries would be 312 MiB; 128 MiB is 2,048 of them.
    const big = storage(20_000, 64 * 1024);
    const at = compactIndexAfterSnapshot(policy, 18_000, (u, m) => big.indexKeepingBytes(u, m));
    expect(at).toBe(18_000 - 2048);
    expect(big.bytesBetween(at, 18_000)).toBe(128 * MiB);
    // Small entries: the entry count binds, as in etcd.
    const small = storage(20_000, 200);
    expect(compactIndexAfterSnapshot(policy, 18_000, (u, m) => small.indexKeepingBytes(u, m))).toBe(13_000);
    // Nothing to drop: at or below the first index, which the caller leaves alone.
    const few = storage(100, 64 * 1024);
    expect(compactIndexAfterSnapshot(policy, 100, (u, m) => few.indexKeepingBytes(u, m))).toBe(0);
    // catchUpBytes 0 keeps nothing behind the snapshot.
    expect(compactIndexAfterSnapshot({ ...policy, catchUpBytes: 0 }, 18_000, (u, m) => big.indexKeepingBytes(u, m))).toBe(18_000);
  });

  it('after compaction, the log holds the catch-up bytes plus what was applied past the snapshot', () => {
    const s = storage(3000, 64 * 1024);
    const at = compactIndexAfterSnapshot(policy, 2500, (u, m) => s.indexKeepingBytes(u, m));
    s.compact(at);
    expect(s.bytesBetween(0, 2500)).toBeLessThanOrEqual(128 * MiB);
    expect(s.bytes()).toBe(128 * MiB + 500 * 64 * 1024);
  });
});
