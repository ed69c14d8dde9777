// Seeded random histories that are linearizable by construction, for proving the checker: each
// operation takes effect at its own point on a plain in-memory store (a map and a revision
// counter, written here independently of hack/lincheck's model), and its call and return are
// spread around that point, so operations overlap. Some writes end with an unknown outcome,
// applied or not. The planters then break one operation in a way that is certainly illegal.

import { SimRng } from '../sim/rng.js';
import type { History, Op, OpInput, OpOutput } from './history.js';

interface Version {
  readonly rev: number;
  readonly value: string | null;
}

/** The store, sequentially: every key's versions and the revision counter. */
class PlainStore {
  rev: number;
  private readonly versions = new Map<string, Version[]>();

  constructor(initialRev: number) {
    this.rev = initialRev;
  }

  private at(key: string, rev: number): Version | undefined {
    const vs = this.versions.get(key) ?? [];
    for (let i = vs.length - 1; i >= 0; i--) if (vs[i]!.rev <= rev) return vs[i];
    return undefined;
  }

  private write(key: string, value: string | null): void {
    this.rev++;
    const vs = this.versions.get(key) ?? [];
    vs.push({ rev: this.rev, value });
    this.versions.set(key, vs);
  }

  apply(input: OpInput): OpOutput {
    const cur = this.at(input.key, this.rev);
    const exists = cur !== undefined && cur.value !== null;
    switch (input.kind) {
      case 'put':
        this.write(input.key, input.value!);
        return { rev: this.rev };
      case 'del':
        if (!exists) return { rev: this.rev, deleted: 0 };
        this.write(input.key, null);
        return { rev: this.rev, deleted: 1 };
      case 'cas': {
        const match = input.expect === undefined ? !exists : exists && cur.value === input.expect;
        if (match) this.write(input.key, input.value!);
        return { rev: this.rev, succeeded: match };
      }
      case 'get': {
        const v = this.at(input.key, input.rev ? input.rev : this.rev);
        if (v === undefined || v.value === null) return { rev: this.rev, exists: false };
        return { rev: this.rev, exists: true, value: v.value, modRev: v.rev };
      }
    }
  }

  /** The value a key holds now, for choosing a cas's expectation. */
  value(key: string): string | undefined {
    const v = this.at(key, this.rev);
    return v?.value ?? undefined;
  }
}

export interface GenOptions {
  readonly ops: number;
  readonly clients: number;
  readonly keys: number;
  /** The chance that a write's outcome is unknown. */
  readonly unknownP: number;
  /**
   * As the nemesis suite leaves a history after reading the event log: an unknown write that
   * happened carries its outcome (still with no return time), one that did not is gone.
   */
  readonly patched: boolean;
}

/** A linearizable history from `seed`. */
export function linearizableHistory(seed: number, o: GenOptions): History {
  const rng = new SimRng(seed);
  const initialRev = 1 + rng.intn(5);
  const store = new PlainStore(initialRev);
  const ops: Op[] = [];
  let valueSeq = 0;
  for (let i = 0; i < o.ops; i++) {
    const point = (i + 1) * 100;
    const key = `k${rng.intn(o.keys)}`;
    const roll = rng.intn(100);
    let input: OpInput;
    if (roll < 35) input = { kind: 'put', key, value: `v${++valueSeq}` };
    else if (roll < 45) input = { kind: 'del', key };
    else if (roll < 60) {
      const cur = store.value(key);
      const expect = rng.chance(0.7) ? cur : `v${rng.intn(valueSeq + 1)}`;
      input = { kind: 'cas', key, value: `v${++valueSeq}`, ...(expect !== undefined ? { expect } : {}) };
    } else if (roll < 85 || store.rev === initialRev) input = { kind: 'get', key };
    else input = { kind: 'get', key, rev: initialRev + 1 + rng.intn(store.rev - initialRev) };
    const write = input.kind !== 'get';
    const unknown = write && rng.chance(o.unknownP);
    // An unknown write may never have happened; a known one surely did.
    const applied = !unknown || rng.chance(0.5);
    const output = applied ? store.apply(input) : null;
    // Widths up to 4 points either side: overlaps with neighbours, never a reordering.
    const call = point - rng.range(1, 400);
    const ret = point + rng.range(1, 400);
    if (unknown && o.patched && !applied) continue;
    ops.push({ client: i % o.clients, call, return: unknown ? null : ret, input, output: unknown && !o.patched ? null : output });
  }
  return { initialRev, ops };
}

type Planter = (h: History, rng: SimRng) => History | undefined;

function replaceOp(h: History, i: number, op: Op): History {
  const ops = [...h.ops];
  ops[i] = op;
  return { initialRev: h.initialRev, ops };
}

const knownPut = (op: Op): boolean => op.input.kind === 'put' && op.output !== null && op.return !== null;

/**
 * A stale read: a read of key k that starts after a put w2 of k returned shows the value of an
 * older put w1 (which returned before w2 was called). Every value is written once, so no
 * linearization lets the read see w1's value.
 */
export const plantStaleRead: Planter = (h, rng) => {
  const candidates: Array<[number, Op]> = [];
  h.ops.forEach((r, i) => {
    if (r.input.kind !== 'get' || r.input.rev || r.output === null) return;
    const w2s = h.ops.filter((w) => knownPut(w) && w.input.key === r.input.key && w.return! < r.call);
    for (const w2 of w2s) {
      const w1 = h.ops.find((w) => knownPut(w) && w.input.key === r.input.key && w.return! < w2.call);
      if (w1) candidates.push([i, w1]);
    }
  });
  if (candidates.length === 0) return undefined;
  const [i, w1] = rng.pick(candidates);
  const r = h.ops[i]!;
  return replaceOp(h, i, { ...r, output: { rev: r.output!.rev, exists: true, value: w1.input.value!, modRev: w1.output!.rev } });
};

/**
 * A lost write: a read that starts after a put returned shows the key absent, though nothing
 * deletes it in between: the key sees no other write whose interval ends after the put's call.
 */
export const plantLostWrite: Planter = (h, rng) => {
  const candidates: number[] = [];
  h.ops.forEach((r, i) => {
    if (r.input.kind !== 'get' || r.input.rev || r.output === null) return;
    const sameKeyWrites = h.ops.filter((w) => w !== r && w.input.key === r.input.key && w.input.kind !== 'get');
    const w = sameKeyWrites.find((p) => knownPut(p) && p.return! < r.call);
    if (!w) return;
    // No other write of the key may fall between w and r (unknown writes never return).
    const between = sameKeyWrites.some((p) => p !== w && (p.return === null || p.return >= w.call) && p.call <= r.return!);
    if (!between) candidates.push(i);
  });
  if (candidates.length === 0) return undefined;
  const i = rng.pick(candidates);
  const r = h.ops[i]!;
  return replaceOp(h, i, { ...r, output: { rev: r.output!.rev, exists: false } });
};

/** A wrong revision: a put that starts after another put returned reports the same revision. */
export const plantDuplicateRevision: Planter = (h, rng) => {
  const pairs: Array<[number, number]> = [];
  h.ops.forEach((a, i) => {
    if (!knownPut(a)) return;
    h.ops.forEach((b, j) => {
      if (knownPut(b) && a.return! < b.call) pairs.push([i, j]);
    });
  });
  if (pairs.length === 0) return undefined;
  const [i, j] = rng.pick(pairs);
  const b = h.ops[j]!;
  return replaceOp(h, j, { ...b, output: { rev: h.ops[i]!.output!.rev } });
};

export const PLANTERS: Readonly<Record<string, Planter>> = {
  'stale read': plantStaleRead,
  'lost write': plantLostWrite,
  'duplicate revision': plantDuplicateRevision,
};
