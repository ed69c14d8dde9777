// An in-memory RaftStorage. Pure: the runtime (and the simulator) feed it what they have
// persisted, raft reads from it. ents[0] is a dummy entry at the snapshot's index/term.
// It also keeps the running total of the entries' payload bytes (sums[j]: the bytes of ents[1..j]
// plus a base that compaction leaves unchanged), so the runtime can snapshot on bytes as well as
// on entries and keep a bounded number of bytes for slow followers (runtime/snapshot-policy.ts).
import {
  CompactedError,
  EMPTY_HARD_STATE,
  RaftAssertionError,
  SnapOutOfDateError,
  UnavailableError,
  type ConfState,
  type Entry,
  type HardState,
  type RaftStorage,
  type Snapshot,
} from './types.js';
import { limitSize } from './entry-size.js';
import { newEntry } from './entry.js';

const EMPTY_DATA = new Uint8Array(0);

export const EMPTY_SNAPSHOT: Snapshot = Object.freeze({
  data: EMPTY_DATA,
  metadata: Object.freeze({ index: 0, term: 0, confState: Object.freeze({ voters: [], learners: [] }) }),
});

/**
 * The dummy entry at the snapshot's index. Built by newEntry like every other entry, so it shares
 * their hidden class: raft's optimized code inlines ents[0].index, and a dummy of its own class
 * once deoptimized most of raft after each snapshot (entry.ts).
 */
function dummy(index: number, term: number): Entry {
  return newEntry(term, index, 'normal', EMPTY_DATA);
}

export class MemoryStorage implements RaftStorage {
  private hardState: HardState;
  private snap: Snapshot;
  private ents: Entry[];
  /** sums[j] - sums[i]: the payload bytes of ents[i+1..j]. Same length as ents. */
  private sums: number[];

  constructor(snapshot?: Snapshot, hardState?: HardState, entries?: Entry[]) {
    this.snap = snapshot ?? EMPTY_SNAPSHOT;
    this.hardState = hardState ?? EMPTY_HARD_STATE;
    this.ents = [dummy(this.snap.metadata.index, this.snap.metadata.term)];
    this.sums = [0];
    if (entries !== undefined && entries.length > 0) this.append(entries);
  }

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: this.hardState, confState: this.snap.metadata.confState };
  }

  setHardState(hs: HardState): void {
    this.hardState = hs;
  }

  private offset(): number {
    return (this.ents[0] as Entry).index;
  }

  firstIndex(): number {
    return this.offset() + 1;
  }

  lastIndex(): number {
    return this.offset() + this.ents.length - 1;
  }

  term(i: number): number {
    const offset = this.offset();
    if (i < offset) throw new CompactedError();
    if (i - offset >= this.ents.length) throw new UnavailableError();
    return (this.ents[i - offset] as Entry).term;
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    const offset = this.offset();
    if (lo <= offset) throw new CompactedError();
    if (hi > this.lastIndex() + 1) {
      throw new RaftAssertionError(`entries' hi(${hi}) is out of bound lastindex(${this.lastIndex()})`);
    }
    if (this.ents.length === 1) throw new UnavailableError();
    return limitSize(this.ents.slice(lo - offset, hi - offset), maxBytes);
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /** Payload bytes of the entries held (after the dummy). */
  bytes(): number {
    return (this.sums[this.sums.length - 1] as number) - (this.sums[0] as number);
  }

  /** Payload bytes of the held entries with index in (after, upTo]; the range is clamped to what is held. */
  bytesBetween(after: number, upTo: number): number {
    const offset = this.offset();
    const lo = Math.max(after, offset) - offset;
    const hi = Math.min(upTo, this.lastIndex()) - offset;
    return hi > lo ? (this.sums[hi] as number) - (this.sums[lo] as number) : 0;
  }

  /**
   * The lowest index i (at or above the dummy's) such that the entries in (i, upTo] hold at most
   * maxBytes: compacting to i keeps no more than maxBytes behind upTo (upTo is clamped to the last
   * index; an upTo at or below the dummy's gives the dummy's index).
   */
  indexKeepingBytes(upTo: number, maxBytes: number): number {
    const offset = this.offset();
    const hi = Math.min(upTo, this.lastIndex()) - offset;
    if (hi <= 0) return offset;
    const top = this.sums[hi] as number;
    // sums is non-decreasing: binary search for the first j with top - sums[j] <= maxBytes.
    let lo = 0;
    let up = hi;
    while (lo < up) {
      const mid = (lo + up) >>> 1;
      if (top - (this.sums[mid] as number) <= maxBytes) up = mid;
      else lo = mid + 1;
    }
    return offset + lo;
  }

  /** Replaces everything with the snapshot. A snapshot older than the current one is refused. */
  applySnapshot(s: Snapshot): void {
    if (s.metadata.index < this.snap.metadata.index) throw new SnapOutOfDateError();
    this.snap = s;
    this.ents = [dummy(s.metadata.index, s.metadata.term)];
    this.sums = [0];
  }

  /**
   * Records a snapshot of the state machine at index (which must be applied by the caller).
   * Does not discard entries; call compact() for that.
   */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Snapshot {
    if (index <= this.snap.metadata.index) throw new SnapOutOfDateError();
    if (index > this.lastIndex()) {
      throw new RaftAssertionError(`snapshot ${index} is out of bound lastindex(${this.lastIndex()})`);
    }
    const term = (this.ents[index - this.offset()] as Entry).term;
    this.snap = { data, metadata: { index, term, confState } };
    return this.snap;
  }

  /** Discards all entries up to and including index (index becomes the new dummy). */
  compact(index: number): void {
    const offset = this.offset();
    if (index <= offset) throw new CompactedError();
    if (index > this.lastIndex()) {
      throw new RaftAssertionError(`compact ${index} is out of bound lastindex(${this.lastIndex()})`);
    }
    const i = index - offset;
    const kept: Entry[] = [dummy(index, (this.ents[i] as Entry).term)];
    for (let j = i + 1; j < this.ents.length; j++) kept.push(this.ents[j] as Entry);
    this.ents = kept;
    this.sums = this.sums.slice(i);
  }

  /**
   * Appends entries, which must be contiguous. Entries already compacted are skipped; an
   * overlapping suffix with a different term is truncated and replaced.
   */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    let start = 0;
    const firstNew = (entries[0] as Entry).index;
    if (firstNew + entries.length - 1 < first) return; // all compacted
    if (first > firstNew) start = first - firstNew;
    const from = (entries[start] as Entry).index;
    const offset = this.offset();
    const at = from - offset;
    if (at > this.ents.length) {
      throw new RaftAssertionError(`missing log entry [last: ${this.lastIndex()}, append at: ${from}]`);
    }
    if (at < this.ents.length) {
      // truncate the conflicting (or re-sent) suffix
      this.ents.length = at;
      this.sums.length = at;
    }
    let sum = this.sums[this.sums.length - 1] as number;
    for (let j = start; j < entries.length; j++) {
      const e = entries[j] as Entry;
      this.ents.push(e);
      sum += e.data.byteLength;
      this.sums.push(sum);
    }
  }
}
