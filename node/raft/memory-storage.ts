// An in-memory RaftStorage. Pure: the runtime (and the simulator) feed it what they have
// persisted, raft reads from it. ents[0] is a dummy entry at the snapshot's index/term.
// It also keeps the running total of the entries' payload bytes (sums[j]: the bytes of ents[1..j]
// plus a base that compaction leaves unchanged), so the runtime can snapshot on bytes as well as
// on entries and keep a bounded number of bytes for slow followers (runtime/snapshot-policy.ts).
//
// Cold entries: the entries kept behind a snapshot for slow followers (etcd: up to 15,000) are
// rarely read again, yet held here they were most of a member's live memory. With a cold source
// set (the WAL they were persisted to), demote(i) drops the payloads of entries up to i and keeps
// their index, term and type; entries() reads payloads back through the source. The runtime
// demotes only entries that are applied and written, so they are never truncated; an append that
// did replace one would only make it hot again.
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
import { ENTRY_OVERHEAD_BYTES, limitSize } from './entry-size.js';
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

/** Reads entries [lo, hi) back from where they were persisted: all of them, in order. */
export type ColdEntrySource = (lo: number, hi: number) => readonly Entry[];

export class MemoryStorage implements RaftStorage {
  private hardState: HardState;
  private snap: Snapshot;
  private ents: Entry[];
  /** sums[j] - sums[i]: the payload bytes of ents[i+1..j]. Same length as ents. */
  private sums: number[];
  private cold: ColdEntrySource | undefined;
  /** Entries below this index hold no payload here (demote): entries() reads them through `cold`. */
  private coldBelow = 0;
  /** Entries read back through the cold source so far. */
  coldEntriesRead = 0;

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
    if (lo >= this.coldBelow) return limitSize(this.ents.slice(lo - offset, hi - offset), maxBytes);
    return limitSize(this.withCold(lo, hi, maxBytes), maxBytes);
  }

  /**
   * Entries [lo, hi) when some are cold: reads back only the cold ones limitSize will keep (it
   * keeps a prefix, counting each entry's payload and ENTRY_OVERHEAD_BYTES, and at least one).
   */
  private withCold(lo: number, hi: number, maxBytes: number): Entry[] {
    const offset = this.offset();
    const coldHi = Math.min(hi, this.coldBelow);
    const base = this.sums[lo - 1 - offset] as number;
    // The largest end in (lo, coldHi] whose entries [lo, end) fit in maxBytes (at least one).
    let a = lo + 1;
    let b = coldHi;
    while (a < b) {
      const mid = (a + b + 1) >>> 1;
      if ((this.sums[mid - 1 - offset] as number) - base + (mid - lo) * ENTRY_OVERHEAD_BYTES <= maxBytes) a = mid;
      else b = mid - 1;
    }
    const end = a;
    const read = (this.cold as ColdEntrySource)(lo, end);
    this.coldEntriesRead += end - lo;
    const out: Entry[] = [];
    for (let i = 0; i < end - lo; i++) {
      const e = read[i];
      const stub = this.ents[lo + i - offset] as Entry;
      if (e === undefined || e.index !== stub.index || e.term !== stub.term || e.type !== stub.type) {
        throw new RaftAssertionError(`cold entry ${stub.index} (term ${stub.term}) read back as ${e === undefined ? 'nothing' : `${e.index} (term ${e.term})`}`);
      }
      out.push(e);
    }
    if (end === coldHi) for (let i = coldHi; i < hi; i++) out.push(this.ents[i - offset] as Entry);
    return out;
  }

  /** Where entries() reads demoted entries back from (the runtime's WAL). */
  setColdSource(source: ColdEntrySource): void {
    this.cold = source;
  }

  /**
   * Drops the payloads of the entries up to and including upTo (they keep index, term and type):
   * entries() reads them back from the cold source. Only entries the source holds for good may be
   * demoted (applied and written). Without a source it does nothing.
   */
  demote(upTo: number): void {
    if (this.cold === undefined) return;
    const offset = this.offset();
    const to = Math.min(upTo, this.lastIndex());
    for (let i = Math.max(this.coldBelow, offset + 1); i <= to; i++) {
      const e = this.ents[i - offset] as Entry;
      this.ents[i - offset] = newEntry(e.term, e.index, e.type, EMPTY_DATA);
    }
    this.coldBelow = Math.max(this.coldBelow, to + 1);
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /** Payload bytes of the entries held (after the dummy). */
  bytes(): number {
    return (this.sums[this.sums.length - 1] as number) - (this.sums[0] as number);
  }

  /** Payload bytes held in memory: those of the entries not demoted. */
  memoryBytes(): number {
    return this.bytesBetween(Math.max(this.coldBelow - 1, this.offset()), this.lastIndex());
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
    this.coldBelow = 0;
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
      // Replaced entries are hot again (the runtime never demotes any raft could replace).
      this.coldBelow = Math.min(this.coldBelow, from);
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
