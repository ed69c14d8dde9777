// One property order for every raft entry a member holds. V8 gives objects built with the same
// properties in the same order one hidden class; raft's optimized code (MemoryStorage.offset(),
// inlined into most of raft) checks that class on the dummy entry. When the dummy had its own
// order, the first compaction stored a decoded term into it and changed its class, and every
// optimized raft function deoptimized at once, after each snapshot (memory-storage.ts, dummy()).
import { describe, expect, it } from 'vitest';
import { MemoryStorage } from '../raft/memory-storage.js';
import { SeededRng } from '../raft/rand.js';
import { RawNode } from '../raft/raw-node.js';
import type { Entry } from '../raft/types.js';
import { decodeEntry, encodeEntry } from '../storage/codec.js';
import { decodeMessage, encodeMessage } from '../transport/codec.js';

const data = new TextEncoder().encode('v');

/** Entries 1..5 at term 2, as the WAL hands them back at restart. */
function walEntries(): Entry[] {
  return [1, 2, 3, 4, 5].map((index) => decodeEntry(encodeEntry({ term: 2, index, type: 'normal', data })));
}

/** The same entries as a follower receives them in an append. */
function wireEntries(): Entry[] {
  const m = decodeMessage(
    encodeMessage({ type: 'app', to: 2n, from: 1n, term: 2, logTerm: 0, index: 0, entries: walEntries(), commit: 0, reject: false, rejectHint: 0 }),
  );
  return m.entries;
}

/** MemoryStorage's dummy entry (ents[0]: the snapshot's index and term). */
function dummyOf(s: MemoryStorage): Entry {
  return (s as unknown as { ents: Entry[] })['ents'][0]!;
}

/** The entries a single-voter leader makes: its no-op, then one proposal, stamped by raft. */
function leaderEntries(): Entry[] {
  const st = new MemoryStorage({ data: new Uint8Array(), metadata: { index: 0, term: 0, confState: { voters: [1n], learners: [] } } });
  const rn = new RawNode({ id: 1n, electionTick: 10, heartbeatTick: 1, storage: st, rng: new SeededRng(1), preVote: false });
  rn.campaign();
  const made: Entry[] = [];
  for (let round = 0; round < 2; round++) {
    const rd = rn.ready();
    if (rd.hardState) st.setHardState(rd.hardState);
    st.append(rd.entries);
    made.push(...rd.entries);
    rn.advance();
    if (round === 0) rn.propose(data);
  }
  return made;
}

describe('the shape of raft entries', () => {
  it('raft makes its own entries (the no-op and stamped proposals) in the decoders\' order', () => {
    const made = leaderEntries();
    expect(made.map((e) => e.index)).toEqual([1, 2]);
    for (const e of made) expect(Object.keys(e)).toEqual(Object.keys(walEntries()[0]!));
  });

  it('MemoryStorage keeps its dummy entry in the property order of the entries the WAL and the transport decode', () => {
    const order = Object.keys(walEntries()[0]!);
    expect(Object.keys(wireEntries()[0]!)).toEqual(order);
    const s = new MemoryStorage();
    expect(Object.keys(dummyOf(s))).toEqual(order);
    s.append(wireEntries());
    s.createSnapshot(3, { voters: [1n], learners: [] }, new Uint8Array(0));
    s.compact(3);
    expect(dummyOf(s).index).toBe(3);
    expect(Object.keys(dummyOf(s))).toEqual(order);
  });
});
