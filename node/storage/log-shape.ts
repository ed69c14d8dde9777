// The shape of the saved raft log, without the entries: where it starts (base: the index just
// before the first entry we have), where it ends, and the term of every index as runs
// (terms change rarely, so this stays tiny). The writer keeps one to know where each segment
// starts and whether a snapshot marker keeps or replaces the log; recovery keeps one beside the
// entries it rebuilds. Both apply the same rules, so they always agree.

export type MarkerEffect = 'old' | 'kept' | 'replaced';

export class LogShape {
  /** Runs of equal term: run i covers [starts[i], starts[i+1]) (the last one up to `last`). */
  private starts: number[] = [];
  private terms: number[] = [];

  constructor(
    public base: number,
    public last: number = base,
  ) {}

  clone(): LogShape {
    const c = new LogShape(this.base, this.last);
    c.starts = this.starts.slice();
    c.terms = this.terms.slice();
    return c;
  }

  termAt(index: number): number | undefined {
    if (index <= this.base || index > this.last) return undefined;
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.starts[mid] as number) <= index) lo = mid;
      else hi = mid - 1;
    }
    return this.terms[lo];
  }

  private truncateAfter(index: number): void {
    this.last = index;
    while (this.starts.length > 0 && (this.starts[this.starts.length - 1] as number) > index) {
      this.starts.pop();
      this.terms.pop();
    }
  }

  /**
   * Appends one entry, overwriting the suffix from its index. Returns false (and changes nothing)
   * if it would leave a gap. An index at or below base also overwrites: the log then restarts at
   * it (base = index - 1). This matters after a purge: a replay that starts at a later segment has
   * a higher base than the writer had, and must still see that an overwrite reaching back below
   * it cut off everything after it; otherwise stale entries would survive in the replay.
   */
  append(index: number, term: number): boolean {
    if (index > this.last + 1) return false;
    if (index <= this.base) {
      this.base = index - 1;
      this.last = this.base;
      this.starts = [];
      this.terms = [];
    } else if (index <= this.last) {
      this.truncateAfter(index - 1);
    }
    if (this.terms.length === 0 || this.terms[this.terms.length - 1] !== term) {
      this.starts.push(index);
      this.terms.push(term);
    }
    this.last = index;
    return true;
  }

  /**
   * A snapshot (index, term) became durable. Raft semantics: if the log already holds index with
   * that term, the log is kept (a member's own snapshot of applied state); otherwise the snapshot
   * replaces the whole log (an installed snapshot). Markers at or below base change nothing.
   */
  applySnapshot(index: number, term: number): MarkerEffect {
    if (index <= this.base) return 'old';
    if (this.termAt(index) === term) return 'kept';
    this.base = index;
    this.last = index;
    this.starts = [];
    this.terms = [];
    return 'replaced';
  }
}
