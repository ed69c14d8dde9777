// Random command generator for codec and determinism tests. Pure, seeded.
import type { Command, Compare, LeaseId, RangeRequest, RequestOp, TxnRequest } from '../types.js';
import type { TestRng } from './rng.js';

const KEYS = ['a', 'ab', 'abc', 'b', 'ba', 'c', 'k/1', 'k/2', 'k/3', '\u00ff', 'z'];
const b = (s: string): Uint8Array => Buffer.from(s, 'latin1');

export interface GenContext {
  revision: number;
  compactRevision: number;
  leases: LeaseId[];
}

function key(rng: TestRng): Uint8Array {
  return b(rng.pick(KEYS));
}

function end(rng: TestRng): Uint8Array | undefined {
  const x = rng.int(4);
  return x === 0 ? undefined : x === 1 ? Uint8Array.of(0) : key(rng);
}

function range(rng: TestRng, ctx: GenContext): RangeRequest {
  return {
    key: key(rng),
    rangeEnd: end(rng) ?? new Uint8Array(0),
    limit: rng.int(3),
    revision: rng.chance(0.3) ? ctx.compactRevision + rng.int(Math.max(1, ctx.revision - ctx.compactRevision)) : 0,
    sortOrder: rng.int(3) as 0 | 1 | 2,
    sortTarget: rng.int(5) as 0 | 1 | 2 | 3 | 4,
    keysOnly: rng.chance(0.2),
    countOnly: rng.chance(0.1),
    serializable: rng.chance(0.5),
    minModRevision: rng.chance(0.1) ? rng.int(ctx.revision) : 0,
    maxModRevision: 0,
    minCreateRevision: 0,
    maxCreateRevision: rng.chance(0.1) ? rng.int(ctx.revision) : 0,
  };
}

/** A client-chosen lease id, often past 2^53 (where a JS number would round) and up to 2^63-1. */
function wideId(rng: TestRng): LeaseId {
  const low = BigInt(1 + rng.int(1e9));
  return rng.chance(0.5) ? low : 2n ** 63n - low;
}

function compare(rng: TestRng, ctx: GenContext): Compare {
  const target = rng.int(5) as 0 | 1 | 2 | 3 | 4;
  const c: Compare = { result: rng.int(4) as 0 | 1 | 2 | 3, target, key: key(rng), rangeEnd: (rng.chance(0.2) ? end(rng) : undefined) ?? new Uint8Array(0) };
  if (target === 0) c.version = rng.int(5);
  else if (target === 1) c.createRevision = rng.int(ctx.revision + 1);
  else if (target === 2) c.modRevision = rng.int(ctx.revision + 1);
  else if (target === 3) c.value = b(`v${rng.int(9)}`);
  else c.lease = rng.chance(0.5) || ctx.leases.length === 0 ? 0n : rng.pick(ctx.leases);
  return c;
}

function ops(rng: TestRng, ctx: GenContext, depth: number): RequestOp[] {
  const out: RequestOp[] = [];
  for (let n = rng.int(4); n > 0; n--) {
    const x = rng.int(10);
    if (x < 3) out.push({ requestRange: range(rng, ctx) });
    else if (x < 7) out.push({ requestPut: { key: key(rng), value: b(`v${rng.int(9)}`), lease: 0n, prevKv: rng.chance(0.5), ignoreValue: false, ignoreLease: false } });
    else if (x < 9) out.push({ requestDeleteRange: { key: key(rng), rangeEnd: end(rng) ?? new Uint8Array(0), prevKv: rng.chance(0.5) } });
    else if (depth < 2) out.push({ requestTxn: txn(rng, ctx, depth + 1) });
  }
  return out;
}

function txn(rng: TestRng, ctx: GenContext, depth: number): TxnRequest {
  const cmp: Compare[] = [];
  for (let n = rng.int(3); n > 0; n--) cmp.push(compare(rng, ctx));
  return { compare: cmp, success: ops(rng, ctx, depth), failure: ops(rng, ctx, depth) };
}

/** A random write command, fully populated (every optional field present), so decode(encode(x)) equals x. */
export function randomCommand(rng: TestRng, ctx: GenContext): Command {
  const x = rng.int(100);
  if (x < 35) {
    const lease = rng.chance(0.2) && ctx.leases.length > 0 ? rng.pick(ctx.leases) : 0n;
    return { type: 'put', req: { key: key(rng), value: b(`v${rng.int(9)}`.repeat(1 + rng.int(3))), lease, prevKv: rng.chance(0.3), ignoreValue: false, ignoreLease: false } };
  }
  if (x < 45) return { type: 'deleteRange', req: { key: key(rng), rangeEnd: end(rng) ?? new Uint8Array(0), prevKv: rng.chance(0.5) } };
  if (x < 75) return { type: 'txn', req: txn(rng, ctx, 0) };
  if (x < 80) return { type: 'compaction', req: { revision: ctx.compactRevision + 1 + rng.int(Math.max(1, ctx.revision - ctx.compactRevision)), physical: rng.chance(0.5) } };
  if (x < 88) return { type: 'leaseGrant', req: { TTL: 1 + rng.int(60), ID: rng.chance(0.2) ? wideId(rng) : 0n } };
  if (x < 95) return { type: 'leaseRevoke', req: { ID: ctx.leases.length > 0 ? rng.pick(ctx.leases) : 5n } };
  if (x < 98) return { type: 'leaseCheckpoint', req: { checkpoints: ctx.leases.slice(0, 3).map((ID) => ({ ID, remainingTTL: rng.int(30) })) } };
  return { type: 'alarm', req: { action: (1 + rng.int(2)) as 1 | 2, memberID: 2n ** 63n + BigInt(rng.int(3)), alarm: 2 as const } };
}
