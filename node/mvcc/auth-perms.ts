// Key permissions of a user, merged over the user's roles, and the checks etcd makes with them
// (server/auth/range_perm_cache.go over pkg/adt's interval tree). Keys are skeys (latin1, one
// char per byte, so string order is bytes order).
//
// etcd compares interval ends as "affine" bytes: the empty string is larger than every key,
// so an end of '' means "no upper bound". A permission:
//   - with no range end is the single key k: the interval [k, k + "\0");
//   - with range end "\0" is every key from k on: [k, '');
//   - otherwise [key, rangeEnd).
// A request over one key (no range end) is allowed when some interval holds the key; a request
// over a range is allowed when the intervals, merged, cover all of it.

export const PermType = { READ: 0, WRITE: 1, READWRITE: 2 } as const;
export type PermType = (typeof PermType)[keyof typeof PermType];

export interface Permission {
  readonly permType: PermType;
  /** skey */
  readonly key: string;
  /** skey; '' = the single key `key`; '\0' = every key from `key` on */
  readonly rangeEnd: string;
}

interface Interval {
  readonly begin: string;
  /** '' = unbounded */
  readonly end: string;
}

/** etcd's BytesAffineComparable: '' is the largest value. */
function cmp(a: string, b: string): number {
  if (a === b) return 0;
  if (a === '') return 1;
  if (b === '') return -1;
  return a < b ? -1 : 1;
}

/** adt's Interval.Compare == 0: q overlaps x. */
function overlaps(q: Interval, x: Interval): boolean {
  if (cmp(q.begin, x.begin) < 0 && cmp(q.end, x.begin) <= 0) return false; // q left of x
  if (cmp(q.begin, x.end) >= 0) return false; // q right of x
  return true;
}

function intervalOf(p: Permission): Interval {
  if (p.rangeEnd === '') return { begin: p.key, end: p.key + '\u0000' };
  return { begin: p.key, end: p.rangeEnd === '\u0000' ? '' : p.rangeEnd };
}

/** The union of a set of intervals, for point and range checks. */
export class IntervalSet {
  private readonly sorted: Interval[];
  constructor(intervals: Interval[]) {
    this.sorted = intervals.slice().sort((a, b) => cmp(a.begin, b.begin) || cmp(a.end, b.end));
  }

  /** adt's Intersects(point): some interval holds the key. */
  holdsKey(key: string): boolean {
    const q = { begin: key, end: key + '\u0000' };
    return this.sorted.some((x) => overlaps(q, x));
  }

  /** adt's Contains: the overlapping intervals, in begin order, leave no gap and span q. */
  covers(q: Interval): boolean {
    let minBegin: string | undefined;
    let maxEnd = '';
    for (const x of this.sorted) {
      if (!overlaps(q, x)) continue;
      if (minBegin === undefined) {
        minBegin = x.begin;
        maxEnd = x.end;
        continue;
      }
      if (cmp(maxEnd, x.begin) < 0) return false;
      if (cmp(x.end, maxEnd) > 0) maxEnd = x.end;
    }
    return minBegin !== undefined && cmp(maxEnd, q.end) >= 0 && cmp(minBegin, q.begin) <= 0;
  }
}

export interface MergedPerms {
  readonly read: IntervalSet;
  readonly write: IntervalSet;
}

export function mergePerms(perms: Iterable<Permission>): MergedPerms {
  const read: Interval[] = [];
  const write: Interval[] = [];
  for (const p of perms) {
    const ivl = intervalOf(p);
    // etcd stores any permission type a client sends; one it does not know grants nothing.
    if (p.permType === PermType.READ || p.permType === PermType.READWRITE) read.push(ivl);
    if (p.permType === PermType.WRITE || p.permType === PermType.READWRITE) write.push(ivl);
  }
  return { read: new IntervalSet(read), write: new IntervalSet(write) };
}

/** etcd's isRangeOpPermitted, given the user's merged permissions. */
export function rangeAllowed(perms: MergedPerms, write: boolean, key: string, rangeEnd: string): boolean {
  const set = write ? perms.write : perms.read;
  if (rangeEnd === '') return set.holdsKey(key);
  return set.covers({ begin: key, end: rangeEnd === '\u0000' ? '' : rangeEnd });
}

/** etcd's isValidPermissionRange: a key, and a range end after it (or none, or "\0"). */
export function validPermissionRange(key: string, rangeEnd: string): boolean {
  if (key === '') return false;
  if (rangeEnd === '') return true;
  if (cmp(key, rangeEnd) < 0) return true;
  return rangeEnd === '\u0000';
}
