// The key index: a B+tree over latin1 "skeys" (see bytes.ts), leaves linked left to right.
//
// Why a B+tree: point lookups go through a Map (O(1)) kept beside it by the store; the tree
// serves ordered work — prefix and [start, end) ranges, limits, from-key scans — in
// O(log n + k) with cache-friendly leaves of up to 64 keys, and inserts a new key in
// O(log n) (a sorted array would move n/2 slots per insert: ~1 ms at 1M keys). Keys enter
// the tree once, on first creation; updates and deletes of an existing key only touch its
// revision list, and the key leaves the tree only when compaction drops its last revision.
// Deletion removes emptied nodes but does not rebalance underfull ones (no merge): with
// churn the tree can be sparser than optimal, never incorrect.
//
// Every node also counts its "live" entries (the store's keys not deleted at the current
// revision), so a range's count at the current revision takes O(log n) rather than a walk of
// the whole range: a list page (limit 500 of 45,000 keys) then visits 501 keys, not 45,000.
// The owner says when an entry turns live or dead (adjustLive); entering and leaving the tree,
// an entry counts as its `isLive` says.

const LEAF_MAX = 64;
const INNER_MAX = 64;

interface Leaf<T> {
  leaf: true;
  /** How many of vals are live. */
  live: number;
  keys: string[];
  vals: T[];
  next: Leaf<T> | null;
  prev: Leaf<T> | null;
}

interface Inner<T> {
  leaf: false;
  /** How many live entries are under it. */
  live: number;
  /** keys[i] is the smallest key under children[i + 1]. */
  keys: string[];
  children: Array<Node<T>>;
}

type Node<T> = Leaf<T> | Inner<T>;

function newLeaf<T>(): Leaf<T> {
  return { leaf: true, live: 0, keys: [], vals: [], next: null, prev: null };
}

/** First index i with arr[i] >= k. */
function lowerBound(arr: string[], k: string): number {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (arr[mid]! < k) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index i with arr[i] > k. */
function upperBound(arr: string[], k: string): number {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (arr[mid]! <= k) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function sumLive<T>(children: Array<Node<T>>): number {
  let n = 0;
  for (const c of children) n += c.live;
  return n;
}

type Path<T> = Array<{ node: Inner<T>; idx: number }>;

export class KeyIndex<T> {
  private root: Node<T> = newLeaf<T>();
  private count = 0;

  /** `isLive` tells whether an entry counts as live; without it, none does. */
  constructor(private readonly isLive: (v: T) => boolean = () => false) {}

  /** How many entries of `leaf` are live. */
  private leafLive(leaf: Leaf<T>): number {
    let n = 0;
    for (const v of leaf.vals) if (this.isLive(v)) n++;
    return n;
  }

  get size(): number {
    return this.count;
  }

  /** The leaf that holds (or would hold) k; with `path`, also the inner nodes walked through. */
  private findLeaf(k: string, path?: Path<T>): Leaf<T> {
    let n = this.root;
    while (!n.leaf) {
      const idx = upperBound(n.keys, k);
      path?.push({ node: n, idx });
      n = n.children[idx]!;
    }
    return n;
  }

  get(k: string): T | undefined {
    const leaf = this.findLeaf(k);
    const i = lowerBound(leaf.keys, k);
    return leaf.keys[i] === k ? leaf.vals[i] : undefined;
  }

  /** Insert or replace. */
  set(k: string, v: T): void {
    const path: Path<T> = [];
    const leaf = this.findLeaf(k, path);
    const i = lowerBound(leaf.keys, k);
    const delta = this.isLive(v) ? 1 : 0;
    if (leaf.keys[i] === k) {
      const was = this.isLive(leaf.vals[i]!) ? 1 : 0;
      leaf.vals[i] = v;
      if (delta !== was) addLive(path, leaf, delta - was);
      return;
    }
    leaf.keys.splice(i, 0, k);
    leaf.vals.splice(i, 0, v);
    this.count++;
    if (delta !== 0) addLive(path, leaf, delta);
    if (leaf.keys.length <= LEAF_MAX) return;

    // Split the leaf, then propagate separators up the path.
    const half = leaf.keys.length >>> 1;
    const right = newLeaf<T>();
    right.keys = leaf.keys.splice(half);
    right.vals = leaf.vals.splice(half);
    right.live = this.leafLive(right);
    leaf.live -= right.live;
    right.next = leaf.next;
    right.prev = leaf;
    if (leaf.next) leaf.next.prev = right;
    leaf.next = right;
    let sep = right.keys[0]!;
    let newChild: Node<T> = right;
    for (let p = path.length - 1; p >= 0; p--) {
      const { node, idx } = path[p]!;
      node.keys.splice(idx, 0, sep);
      node.children.splice(idx + 1, 0, newChild);
      if (node.children.length <= INNER_MAX) return;
      const h = node.keys.length >>> 1;
      const r: Inner<T> = { leaf: false, live: 0, keys: node.keys.splice(h + 1), children: node.children.splice(h + 1) };
      r.live = sumLive(r.children);
      node.live -= r.live;
      sep = node.keys.pop()!;
      newChild = r;
    }
    this.root = { leaf: false, live: this.root.live + newChild.live, keys: [sep], children: [this.root, newChild] };
  }

  delete(k: string): boolean {
    const path: Path<T> = [];
    const leaf = this.findLeaf(k, path);
    const i = lowerBound(leaf.keys, k);
    if (leaf.keys[i] !== k) return false;
    if (this.isLive(leaf.vals[i]!)) addLive(path, leaf, -1);
    leaf.keys.splice(i, 1);
    leaf.vals.splice(i, 1);
    this.count--;
    if (leaf.keys.length > 0 || path.length === 0) return true;

    // Unlink the empty leaf and remove emptied inner nodes.
    if (leaf.prev) leaf.prev.next = leaf.next;
    if (leaf.next) leaf.next.prev = leaf.prev;
    for (let p = path.length - 1; p >= 0; p--) {
      const { node, idx } = path[p]!;
      node.children.splice(idx, 1);
      if (node.keys.length > 0) node.keys.splice(idx === 0 ? 0 : idx - 1, 1);
      if (node.children.length > 0) break;
    }
    // Collapse a root with a single child.
    while (!this.root.leaf && this.root.children.length === 1) this.root = this.root.children[0]!;
    if (!this.root.leaf && this.root.children.length === 0) this.root = newLeaf<T>();
    return true;
  }

  /**
   * The entry at `k` turned live (+1) or dead (-1): its owner changed what isLive says of it.
   * A key not in the tree is ignored.
   */
  adjustLive(k: string, delta: 1 | -1): void {
    const path: Path<T> = [];
    const leaf = this.findLeaf(k, path);
    if (leaf.keys[lowerBound(leaf.keys, k)] === k) addLive(path, leaf, delta);
  }

  /** Live entries with start <= key < end (end undefined: unbounded). */
  countLive(start: string, end: string | undefined): number {
    if (end !== undefined && end <= start) return 0;
    return (end === undefined ? this.root.live : this.liveBelow(end)) - this.liveBelow(start);
  }

  /** Live entries with key < k: the counts of the subtrees left of the path to k, then its leaf's. */
  private liveBelow(k: string): number {
    let n: Node<T> = this.root;
    let acc = 0;
    while (!n.leaf) {
      const idx = upperBound(n.keys, k);
      for (let j = 0; j < idx; j++) acc += n.children[j]!.live;
      n = n.children[idx]!;
    }
    const stop = lowerBound(n.keys, k);
    for (let j = 0; j < stop; j++) if (this.isLive(n.vals[j]!)) acc++;
    return acc;
  }

  /**
   * Visit entries with start <= key < end in ascending order (end undefined: unbounded).
   * The visitor returns false to stop. Returns false if stopped early.
   * The tree must not be modified during the visit.
   */
  visit(start: string, end: string | undefined, fn: (k: string, v: T) => boolean): boolean {
    let leaf: Leaf<T> | null = this.findLeaf(start);
    let i = lowerBound(leaf.keys, start);
    while (leaf) {
      const keys = leaf.keys;
      for (; i < keys.length; i++) {
        const k = keys[i]!;
        if (end !== undefined && k >= end) return true;
        if (!fn(k, leaf.vals[i]!)) return false;
      }
      leaf = leaf.next;
      i = 0;
    }
    return true;
  }

  /** Check the structure (tests). Throws on a broken invariant. */
  checkInvariants(): void {
    let prev: string | undefined;
    let seen = 0;
    let leaf: Node<T> = this.root;
    while (!leaf.leaf) leaf = leaf.children[0]!;
    for (let l: Leaf<T> | null = leaf; l; l = l.next) {
      if (l.keys.length !== l.vals.length) throw new Error('key-index: keys/vals length mismatch');
      for (const k of l.keys) {
        if (prev !== undefined && !(prev < k)) throw new Error('key-index: keys out of order');
        prev = k;
        seen++;
      }
      if (l.next && l.next.prev !== l) throw new Error('key-index: broken prev link');
    }
    if (seen !== this.count) throw new Error(`key-index: count ${this.count} but ${seen} keys linked`);
    const walk = (n: Node<T>, lo: string | undefined, hi: string | undefined): void => {
      if (n.leaf) {
        for (const k of n.keys) {
          if ((lo !== undefined && k < lo) || (hi !== undefined && k >= hi)) throw new Error('key-index: key outside separators');
        }
        if (n.live !== this.leafLive(n)) throw new Error(`key-index: a leaf counts ${n.live} live, holds ${this.leafLive(n)}`);
        return;
      }
      if (n.children.length !== n.keys.length + 1) throw new Error('key-index: inner arity');
      if (n.live !== sumLive(n.children)) throw new Error(`key-index: a node counts ${n.live} live, its children ${sumLive(n.children)}`);
      n.children.forEach((c, j) => walk(c, j === 0 ? lo : n.keys[j - 1], j === n.keys.length ? hi : n.keys[j]));
    };
    walk(this.root, undefined, undefined);
  }
}

/** Adds delta to the live count of a leaf and of every node on the path to it. */
function addLive<T>(path: Path<T>, leaf: Leaf<T>, delta: number): void {
  leaf.live += delta;
  for (const p of path) p.node.live += delta;
}
