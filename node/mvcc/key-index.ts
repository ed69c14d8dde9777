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

const LEAF_MAX = 64;
const INNER_MAX = 64;

interface Leaf<T> {
  leaf: true;
  keys: string[];
  vals: T[];
  next: Leaf<T> | null;
  prev: Leaf<T> | null;
}

interface Inner<T> {
  leaf: false;
  /** keys[i] is the smallest key under children[i + 1]. */
  keys: string[];
  children: Array<Node<T>>;
}

type Node<T> = Leaf<T> | Inner<T>;

function newLeaf<T>(): Leaf<T> {
  return { leaf: true, keys: [], vals: [], next: null, prev: null };
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

export class KeyIndex<T> {
  private root: Node<T> = newLeaf<T>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** The leaf that holds (or would hold) k; with `path`, also the inner nodes walked through. */
  private findLeaf(k: string, path?: Array<{ node: Inner<T>; idx: number }>): Leaf<T> {
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
    const path: Array<{ node: Inner<T>; idx: number }> = [];
    const leaf = this.findLeaf(k, path);
    const i = lowerBound(leaf.keys, k);
    if (leaf.keys[i] === k) {
      leaf.vals[i] = v;
      return;
    }
    leaf.keys.splice(i, 0, k);
    leaf.vals.splice(i, 0, v);
    this.count++;
    if (leaf.keys.length <= LEAF_MAX) return;

    // Split the leaf, then propagate separators up the path.
    const half = leaf.keys.length >>> 1;
    const right = newLeaf<T>();
    right.keys = leaf.keys.splice(half);
    right.vals = leaf.vals.splice(half);
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
      const r: Inner<T> = { leaf: false, keys: node.keys.splice(h + 1), children: node.children.splice(h + 1) };
      sep = node.keys.pop()!;
      newChild = r;
    }
    this.root = { leaf: false, keys: [sep], children: [this.root, newChild] };
  }

  delete(k: string): boolean {
    const path: Array<{ node: Inner<T>; idx: number }> = [];
    const leaf = this.findLeaf(k, path);
    const i = lowerBound(leaf.keys, k);
    if (leaf.keys[i] !== k) return false;
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
        return;
      }
      if (n.children.length !== n.keys.length + 1) throw new Error('key-index: inner arity');
      n.children.forEach((c, j) => walk(c, j === 0 ? lo : n.keys[j - 1], j === n.keys.length ? hi : n.keys[j]));
    };
    walk(this.root, undefined, undefined);
  }
}
