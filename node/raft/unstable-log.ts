// The tail of the log (and maybe an incoming snapshot) that the application has not yet
// persisted. entries[i] has index offset + i. Entries in [offset, offsetInProgress) have been
// handed to the application in a Ready and are being written; a later Ready does not hand them
// out again (etcd-io/raft's offsetInProgress), so a leader can take that Ready before the write ends.
import { RaftAssertionError, type Entry, type Snapshot } from './types.js';

export class UnstableLog {
  snapshot: Snapshot | undefined = undefined;
  entries: Entry[] = [];
  offset: number;
  offsetInProgress: number;

  constructor(offset: number) {
    this.offset = offset;
    this.offsetInProgress = offset;
  }

  /** Entries not yet handed to the application for writing. */
  entriesToSave(): Entry[] {
    return this.entries.slice(this.offsetInProgress - this.offset);
  }

  hasEntriesToSave(): boolean {
    return this.offset + this.entries.length > this.offsetInProgress;
  }

  /** The entries entriesToSave() returned are being written. */
  acceptInProgress(): void {
    this.offsetInProgress = this.offset + this.entries.length;
  }

  /** Index of the first possible entry, if the unstable part holds a snapshot. */
  maybeFirstIndex(): number | undefined {
    return this.snapshot === undefined ? undefined : this.snapshot.metadata.index + 1;
  }

  maybeLastIndex(): number | undefined {
    if (this.entries.length > 0) return this.offset + this.entries.length - 1;
    if (this.snapshot !== undefined) return this.snapshot.metadata.index;
    return undefined;
  }

  /** Term of entry i if this part knows it. */
  maybeTerm(i: number): number | undefined {
    if (i < this.offset) {
      if (this.snapshot !== undefined && this.snapshot.metadata.index === i) return this.snapshot.metadata.term;
      return undefined;
    }
    const last = this.maybeLastIndex();
    if (last === undefined || i > last) return undefined;
    return (this.entries[i - this.offset] as Entry).term;
  }

  /** Entries up to (index, term) are now persisted. */
  stableTo(index: number, term: number): void {
    const t = this.maybeTerm(index);
    if (t === undefined || t !== term || index < this.offset) return; // stale: replaced by a newer leader's entries
    const n = index + 1 - this.offset;
    if (n >= this.entries.length) this.entries = [];
    else this.entries = this.entries.slice(n);
    this.offset = index + 1;
    if (this.offsetInProgress < this.offset) this.offsetInProgress = this.offset;
  }

  stableSnapTo(index: number): void {
    if (this.snapshot !== undefined && this.snapshot.metadata.index === index) this.snapshot = undefined;
  }

  restore(s: Snapshot): void {
    this.offset = s.metadata.index + 1;
    this.offsetInProgress = this.offset;
    this.entries = [];
    this.snapshot = s;
  }

  truncateAndAppend(ents: readonly Entry[]): void {
    if (ents.length === 0) return;
    const after = (ents[0] as Entry).index;
    if (after === this.offset + this.entries.length) {
      for (let i = 0; i < ents.length; i++) this.entries.push(ents[i] as Entry);
    } else if (after <= this.offset) {
      // Replaces everything unstable; the storage part is truncated by the app when it appends.
      this.offset = after;
      this.offsetInProgress = after;
      this.entries = ents.slice();
    } else {
      // Entries being written from `after` on are replaced: the new ones must be written too.
      if (this.offsetInProgress > after) this.offsetInProgress = after;
      this.entries = this.entries.slice(0, after - this.offset);
      for (let i = 0; i < ents.length; i++) this.entries.push(ents[i] as Entry);
    }
  }

  /** Entries in [lo, hi). */
  slice(lo: number, hi: number): Entry[] {
    if (lo > hi) throw new RaftAssertionError(`invalid unstable.slice ${lo} > ${hi}`);
    const upper = this.offset + this.entries.length;
    if (lo < this.offset || hi > upper) {
      throw new RaftAssertionError(`unstable.slice[${lo},${hi}) out of bound [${this.offset},${upper}]`);
    }
    return this.entries.slice(lo - this.offset, hi - this.offset);
  }
}
