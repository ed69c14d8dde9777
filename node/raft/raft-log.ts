// The node's view of the whole log: the persisted part (RaftStorage) followed by the
// unstable part, plus the commit and apply cursors.
import { CompactedError, RaftAssertionError, UnavailableError, type Entry, type RaftStorage, type Snapshot } from './types.js';
import { UnstableLog } from './unstable-log.js';
import { limitSize } from './entry-size.js';

export const NO_LIMIT = Number.MAX_SAFE_INTEGER;

export class RaftLog {
  readonly storage: RaftStorage;
  readonly unstable: UnstableLog;
  committed: number;
  applied: number;
  /** Cap on the bytes of committed entries handed out in one Ready. */
  readonly maxNextEntsBytes: number;

  constructor(storage: RaftStorage, maxNextEntsBytes: number) {
    this.storage = storage;
    this.maxNextEntsBytes = maxNextEntsBytes;
    const first = storage.firstIndex();
    const last = storage.lastIndex();
    this.unstable = new UnstableLog(last + 1);
    this.committed = first - 1;
    this.applied = first - 1;
  }

  /**
   * The follower's side of the log-matching check. Returns the index of the last new entry
   * when (index, logTerm) matches, else undefined.
   */
  maybeAppend(index: number, logTerm: number, committed: number, ents: readonly Entry[]): number | undefined {
    if (!this.matchTerm(index, logTerm)) return undefined;
    const lastNew = index + ents.length;
    const ci = this.findConflict(ents);
    if (ci !== 0) {
      if (ci <= this.committed) {
        throw new RaftAssertionError(`entry ${ci} conflicts with committed entry [committed(${this.committed})]`);
      }
      const start = ci - (index + 1);
      this.append(start === 0 ? ents : ents.slice(start));
    }
    this.commitTo(Math.min(committed, lastNew));
    return lastNew;
  }

  append(ents: readonly Entry[]): number {
    if (ents.length === 0) return this.lastIndex();
    const after = (ents[0] as Entry).index - 1;
    if (after < this.committed) {
      throw new RaftAssertionError(`after(${after}) is out of range [committed(${this.committed})]`);
    }
    this.unstable.truncateAndAppend(ents);
    return this.lastIndex();
  }

  /**
   * The index of the first entry whose term differs from ours (or that we lack),
   * 0 when every entry is already present.
   */
  findConflict(ents: readonly Entry[]): number {
    for (let i = 0; i < ents.length; i++) {
      const e = ents[i] as Entry;
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0;
  }

  /**
   * Fast backtracking: the largest index <= index whose term is <= term, with that term.
   * Stops at a compacted index (returning it with term 0).
   */
  findConflictByTerm(index: number, term: number): [number, number] {
    for (; index > 0; index--) {
      const t = this.termOrUndefined(index);
      if (t === undefined) return [index, 0];
      if (t <= term) return [index, t];
    }
    return [0, 0];
  }

  /** Unstable entries not yet handed to the application (see UnstableLog.offsetInProgress). */
  entriesToSave(): Entry[] {
    return this.unstable.entriesToSave();
  }

  hasEntriesToSave(): boolean {
    return this.unstable.hasEntriesToSave();
  }

  acceptInProgress(): void {
    this.unstable.acceptInProgress();
  }

  /**
   * The last entry the application may apply: committed, and handed to it in a Ready (persisted or
   * being written). An entry a leader still holds back (RawNode.ready(holdEntries)) is not in
   * its storage yet, so applying it would let the applied index, and a snapshot at it, run ahead
   * of that storage. `handedOut`: count the entries not handed out yet as handed out (they are in
   * the Ready being built).
   */
  maxAppliableIndex(handedOut: boolean): number {
    return handedOut ? this.committed : Math.min(this.committed, this.unstable.offsetInProgress - 1);
  }

  /** Committed entries not yet applied, up to maxAppliableIndex, capped at maxNextEntsBytes (at least one). */
  nextEnts(handedOut = true): Entry[] {
    const off = Math.max(this.applied + 1, this.firstIndex());
    const hi = this.maxAppliableIndex(handedOut);
    if (hi + 1 > off) return this.slice(off, hi + 1, this.maxNextEntsBytes);
    return [];
  }

  hasNextEnts(handedOut = true): boolean {
    const off = Math.max(this.applied + 1, this.firstIndex());
    return this.maxAppliableIndex(handedOut) + 1 > off;
  }

  hasPendingSnapshot(): boolean {
    return this.unstable.snapshot !== undefined;
  }

  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }

  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  commitTo(toCommit: number): void {
    if (this.committed < toCommit) {
      if (this.lastIndex() < toCommit) {
        throw new RaftAssertionError(
          `tocommit(${toCommit}) is out of range [lastIndex(${this.lastIndex()})]. Was the raft log corrupted, truncated, or lost?`,
        );
      }
      this.committed = toCommit;
    }
  }

  appliedTo(i: number): void {
    if (i === 0) return;
    if (this.committed < i || i < this.applied) {
      throw new RaftAssertionError(`applied(${i}) is out of range [prevApplied(${this.applied}), committed(${this.committed})]`);
    }
    this.applied = i;
  }

  stableTo(i: number, t: number): void {
    this.unstable.stableTo(i, t);
  }

  stableSnapTo(i: number): void {
    this.unstable.stableSnapTo(i);
  }

  /** The last index the application has persisted (the log before the unstable tail). */
  lastStableIndex(): number {
    if (this.unstable.entries.length > 0) return this.unstable.offset - 1;
    return this.lastIndex();
  }

  lastTerm(): number {
    return this.term(this.lastIndex());
  }

  /** Term of entry i: 0 when i is beyond the log, CompactedError when it is compacted. */
  term(i: number): number {
    const dummyIndex = this.firstIndex() - 1;
    if (i < dummyIndex || i > this.lastIndex()) {
      if (i < dummyIndex) throw new CompactedError();
      return 0;
    }
    const t = this.unstable.maybeTerm(i);
    if (t !== undefined) return t;
    return this.storage.term(i);
  }

  termOrUndefined(i: number): number | undefined {
    try {
      return this.term(i);
    } catch (err: unknown) {
      if (err instanceof CompactedError || err instanceof UnavailableError) return undefined;
      throw err;
    }
  }

  /** Entries from i, at most maxBytes (at least one). */
  entries(i: number, maxBytes: number): Entry[] {
    if (i > this.lastIndex()) return [];
    return this.slice(i, this.lastIndex() + 1, maxBytes);
  }

  allEntries(): Entry[] {
    return this.entries(this.firstIndex(), NO_LIMIT);
  }

  /** Is a candidate's log (lastIndex, term) at least as up to date as ours? */
  isUpToDate(lasti: number, term: number): boolean {
    const ourTerm = this.lastTerm();
    return term > ourTerm || (term === ourTerm && lasti >= this.lastIndex());
  }

  matchTerm(i: number, term: number): boolean {
    const t = this.termOrUndefined(i);
    return t !== undefined && t === term;
  }

  /** Commits maxIndex if its entry is of term (the current-term-only commit rule). */
  maybeCommit(maxIndex: number, term: number): boolean {
    if (maxIndex > this.committed && this.termOrUndefined(maxIndex) === term) {
      this.commitTo(maxIndex);
      return true;
    }
    return false;
  }

  restore(s: Snapshot): void {
    this.committed = s.metadata.index;
    this.unstable.restore(s);
  }

  /** Entries in [lo, hi), at most maxBytes (at least one). Throws CompactedError below firstIndex. */
  slice(lo: number, hi: number, maxBytes: number): Entry[] {
    this.mustCheckOutOfBounds(lo, hi);
    if (lo === hi) return [];
    let ents: Entry[] = [];
    const uoff = this.unstable.offset;
    if (lo < uoff) {
      const stored = this.storage.entries(lo, Math.min(hi, uoff), maxBytes);
      // Storage returned fewer than asked: the size cap was hit.
      if (stored.length < Math.min(hi, uoff) - lo) return stored;
      ents = stored;
    }
    if (hi > uoff) {
      const unstable = this.unstable.slice(Math.max(lo, uoff), hi);
      // concat: never push into an array the storage handed us.
      ents = ents.length > 0 ? ents.concat(unstable) : unstable;
    }
    return maxBytes >= NO_LIMIT ? ents : limitSize(ents, maxBytes);
  }

  private mustCheckOutOfBounds(lo: number, hi: number): void {
    if (lo > hi) throw new RaftAssertionError(`invalid slice ${lo} > ${hi}`);
    const fi = this.firstIndex();
    if (lo < fi) throw new CompactedError();
    const length = this.lastIndex() + 1 - fi;
    if (hi > fi + length) throw new RaftAssertionError(`slice[${lo},${hi}) out of bound [${fi},${this.lastIndex()}]`);
  }
}

