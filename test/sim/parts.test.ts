// The simulator's building blocks: seeded randomness, the event queue, the network and the disk.
import { describe, expect, it } from 'vitest';
import type { Entry, Message, Snapshot } from '../../node/raft/types.js';
import { EventQueue } from './event-queue.js';
import { NO_FAULTS, SimNetwork } from './network.js';
import { SimRng } from './rng.js';
import { SimDisk } from './sim-disk.js';

const msg = (from: number, to: number): Message => ({
  type: 'app', to: BigInt(to), from: BigInt(from), term: 1, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0,
});
const ent = (index: number, term: number): Entry => ({ index, term, type: 'normal', data: new Uint8Array([index]) });
const snap = (index: number, term: number): Snapshot => ({
  data: new Uint8Array(), metadata: { index, term, confState: { voters: [1n, 2n, 3n], learners: [] } },
});

describe('SimRng', () => {
  it('replays the same sequence for the same seed and differs across seeds', () => {
    const a = new SimRng(42), b = new SimRng(42), c = new SimRng(43);
    const sa = Array.from({ length: 20 }, () => a.nextU32());
    expect(Array.from({ length: 20 }, () => b.nextU32())).toEqual(sa);
    expect(Array.from({ length: 20 }, () => c.nextU32())).not.toEqual(sa);
  });
  it('intn stays in range and covers it', () => {
    const r = new SimRng(7);
    const seen = new Set<number>();
    for (let i = 0; i < 1000; i++) {
      const v = r.intn(5);
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThan(5);
      seen.add(v);
    }
    expect(seen.size).toBe(5);
  });
});

describe('EventQueue', () => {
  it('pops by time, then in insertion order', () => {
    const q = new EventQueue<string>();
    q.push(5, 'c'); q.push(1, 'a'); q.push(5, 'd'); q.push(3, 'b'); q.push(1, 'a2');
    const out: string[] = [];
    for (let x = q.pop(); x !== undefined; x = q.pop()) out.push(x.ev);
    expect(out).toEqual(['a', 'a2', 'b', 'c', 'd']);
  });
});

describe('SimNetwork', () => {
  it('delivers everything once with no faults', () => {
    const n = new SimNetwork(new SimRng(1), NO_FAULTS);
    for (let i = 0; i < 100; i++) expect(n.send(msg(1, 2), 10)).toHaveLength(1);
  });
  it('drops, duplicates and reorders at the configured rates', () => {
    const n = new SimNetwork(new SimRng(2), { dropRate: 0.2, dupRate: 0.1, minDelay: 1, maxDelay: 50, longDelayRate: 0.05, longDelayMax: 500 });
    let total = 0, long = 0;
    const times: number[] = [];
    for (let i = 0; i < 10_000; i++) {
      const d = n.send(msg(1, 2), 0);
      total += d.length;
      for (const x of d) { times.push(x.at); if (x.at > 50) long++; }
    }
    expect(n.stats.dropped).toBeGreaterThan(1700);
    expect(n.stats.dropped).toBeLessThan(2300);
    expect(n.stats.duplicated).toBeGreaterThan(600);
    expect(total).toBe(10_000 - n.stats.dropped + n.stats.duplicated);
    expect(long).toBeGreaterThan(200);
    // Later sends can arrive earlier: reordering.
    expect(times.some((t, i) => i > 0 && t < (times[i - 1] as number))).toBe(true);
  });
  it('cuts links one way and both ways, and heals', () => {
    const n = new SimNetwork(new SimRng(3), NO_FAULTS);
    n.cutOneWay(1n, 2n);
    expect(n.admit(1n, 2n)).toBe(false);
    expect(n.admit(2n, 1n)).toBe(true);
    n.partition([[1n], [2n, 3n]]);
    expect(n.admit(3n, 1n)).toBe(false);
    expect(n.admit(2n, 3n)).toBe(true);
    n.heal();
    expect(n.admit(1n, 2n)).toBe(true);
  });
});

describe('SimDisk', () => {
  it('keeps synced writes and loses unsynced ones on crash', () => {
    const d = new SimDisk(snap(0, 0));
    d.writeHardState({ term: 1, vote: 1n, commit: 0 });
    d.writeEntries([ent(1, 1), ent(2, 1)]);
    d.sync();
    d.writeHardState({ term: 1, vote: 1n, commit: 2 });
    d.writeEntries([ent(3, 1)]);
    d.crash();
    const s = d.durable();
    expect(s.hardState).toEqual({ term: 1, vote: 1n, commit: 0 });
    expect(s.entries.map((x) => x.index)).toEqual([1, 2]);
  });
  it('a crash may keep a prefix of the unsynced writes', () => {
    const d = new SimDisk(snap(0, 0));
    d.writeEntries([ent(1, 1)]);
    d.writeHardState({ term: 1, vote: 0n, commit: 1 });
    d.crash(1);
    expect(d.durable().entries).toHaveLength(1);
    expect(d.durable().hardState.commit).toBe(0);
  });
  it('truncates a conflicting suffix and compacts under a snapshot', () => {
    const d = new SimDisk(snap(0, 0));
    d.writeEntries([ent(1, 1), ent(2, 1), ent(3, 1)]);
    d.writeEntries([ent(2, 2)]);
    d.sync();
    expect(d.durable().entries.map((x) => `${x.index}/${x.term}`)).toEqual(['1/1', '2/2']);
    d.writeSnapshot(snap(1, 1), true);
    d.sync();
    expect(d.durable().entries.map((x) => x.index)).toEqual([2]);
    d.writeSnapshot(snap(5, 3), false);
    d.sync();
    expect(d.durable().entries).toEqual([]);
    expect(d.durable().snapshot.metadata.index).toBe(5);
  });
  it('the lying disk loses a synced hard state on crash', () => {
    const d = new SimDisk(snap(0, 0), { lieAboutSync: true });
    d.writeHardState({ term: 2, vote: 3n, commit: 0 });
    d.sync();
    d.crash();
    expect(d.durable().hardState.term).toBe(0);
  });
});
