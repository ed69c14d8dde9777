// The store's change log: the Revs of every write revision from `first` to `last`, in (main,
// sub) order, for watch replay, hashing, export and compaction. Pure data structure.
//
// Flat, not an array per revision: most revisions change one key, and a one-element array costs
// ~56 bytes (its object and its backing store) beside the 8-byte slot that points at it. Under
// etcd's benchmark (60,000 revisions of one key) those arrays were a sixth of the live JS heap.
// Here a revision costs two slots: its Rev in `revs` and its start in `starts`.
import type { Rev } from './store.js';

/** Drop the dead front of the arrays once it is this long and more than half of them. */
const TRIM_AFTER = 1024;

export class RevLog {
  /** Every held Rev; revs[p - revBase] is the one at absolute position p. */
  private revs: (Rev | undefined)[] = [];
  private revBase = 0;
  /** starts[head + i]: absolute position of revision first + i's first Rev. */
  private starts: number[] = [];
  private head = 0;
  private firstRev: number;

  /** An empty log whose next pushed revision is `first`. */
  constructor(first: number) {
    this.firstRev = first;
  }

  /** A log holding `groups[i]` as revision first + i (empty groups allowed). */
  static fromGroups(first: number, groups: readonly (readonly Rev[])[]): RevLog {
    const log = new RevLog(first);
    for (const g of groups) log.push(g);
    return log;
  }

  /** The first revision held. */
  get first(): number {
    return this.firstRev;
  }

  /** How many revisions are held (first .. first + count - 1). */
  get count(): number {
    return this.starts.length - this.head;
  }

  /** Absolute position just past the last Rev. */
  private get end(): number {
    return this.revBase + this.revs.length;
  }

  /** Appends the next revision's changes (first + count). */
  push(group: readonly Rev[]): void {
    this.starts.push(this.end);
    for (let i = 0; i < group.length; i++) this.revs.push(group[i]);
  }

  /** Whether revision rev is held. */
  holds(rev: number): boolean {
    return rev >= this.firstRev && rev < this.firstRev + this.count;
  }

  /** Absolute position of revision rev's first Rev (rev must be held). */
  startOf(rev: number): number {
    return this.starts[this.head + rev - this.firstRev]!;
  }

  /** Absolute position just past revision rev's last Rev (rev must be held). */
  endOf(rev: number): number {
    const i = this.head + rev - this.firstRev + 1;
    return i < this.starts.length ? this.starts[i]! : this.end;
  }

  /** How many changes revisions from..to (both held) hold together. */
  changesBetween(from: number, to: number): number {
    return this.endOf(to) - this.startOf(from);
  }

  /** The Rev at an absolute position inside a held revision. */
  at(pos: number): Rev {
    return this.revs[pos - this.revBase]!;
  }

  /** Calls fn with each of revision rev's changes, if it is held; returns how many there were. */
  forEachAt(rev: number, fn: (r: Rev) => void): number {
    if (!this.holds(rev)) return 0;
    const from = this.startOf(rev);
    const to = this.endOf(rev);
    for (let p = from; p < to; p++) fn(this.at(p));
    return to - from;
  }

  /** A copy of revision rev's changes, or undefined if it is not held. */
  group(rev: number): Rev[] | undefined {
    if (!this.holds(rev)) return undefined;
    return this.revs.slice(this.startOf(rev) - this.revBase, this.endOf(rev) - this.revBase) as Rev[];
  }

  /** Drops the first revision held. */
  dropFirst(): void {
    if (this.count === 0) return;
    const from = this.startOf(this.firstRev) - this.revBase;
    const to = this.endOf(this.firstRev) - this.revBase;
    for (let p = from; p < to; p++) this.revs[p] = undefined;
    this.head++;
    this.firstRev++;
    if (this.head > TRIM_AFTER && this.head * 2 > this.starts.length) {
      this.starts = this.starts.slice(this.head);
      this.head = 0;
      const cut = (this.starts.length > 0 ? this.starts[0]! : this.end) - this.revBase;
      this.revs = this.revs.slice(cut);
      this.revBase += cut;
    }
  }
}
