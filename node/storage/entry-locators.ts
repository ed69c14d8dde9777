// Where each entry written to the WAL is: for raft's entries read back from disk instead of held in
// memory (storage's readEntries, raft/memory-storage.ts's cold entries). Pure bookkeeping.
//
// One locator per entries record: its segment, its offset there, and the indexes it holds. A
// record is added once its write has completed (its bytes are in the file, or in the page cache),
// in WAL order. A record that starts at or below indexes already located supersedes them (a
// follower's log truncated by a new leader), as replay does: those locators are cut back or dropped.

export interface EntryLocator {
  readonly path: string;
  readonly offset: number;
  readonly first: number;
  /** The last index this record still holds for the log (a later record may have cut it back). */
  last: number;
}

export class EntryLocators {
  private locs: EntryLocator[] = [];

  /** A written entries record (kept as given: add may later cut its `last` back). */
  add(loc: EntryLocator): void {
    const locs = this.locs;
    while (locs.length > 0 && locs[locs.length - 1]!.first >= loc.first) locs.pop();
    const tail = locs[locs.length - 1];
    if (tail !== undefined && tail.last >= loc.first) tail.last = loc.first - 1;
    locs.push(loc);
  }

  /** The highest index located (0 if none). */
  lastIndex(): number {
    return this.locs[this.locs.length - 1]?.last ?? 0;
  }

  /**
   * Forgets the records that hold only indexes below `index` (released: never read again). This
   * covers a purged segment too: it holds only entries below the release limit.
   */
  dropBefore(index: number): void {
    const locs = this.locs;
    let n = 0;
    while (n < locs.length && locs[n]!.last < index) n++;
    if (n > 0) locs.splice(0, n);
  }

  /** The records holding indexes in [lo, hi), in order; they may hold more on either side. */
  covering(lo: number, hi: number): EntryLocator[] {
    const locs = this.locs;
    // First locator whose last >= lo (lasts rise with position).
    let a = 0;
    let b = locs.length;
    while (a < b) {
      const mid = (a + b) >>> 1;
      if (locs[mid]!.last < lo) a = mid + 1;
      else b = mid;
    }
    const out: EntryLocator[] = [];
    for (let i = a; i < locs.length && locs[i]!.first < hi; i++) out.push(locs[i]!);
    return out;
  }
}
