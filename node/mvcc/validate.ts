// Request checks etcd makes before a write is proposed (api/v3rpc/key.go checks and
// etcdserver's checkIntervals). The server calls validateCommand before proposing, to
// answer bad requests without a Raft round; apply runs the same checks, so a bad command
// that reaches the log fails identically on every member.
import type { Command, DeleteRangeRequest, PutRequest, RangeRequest, RequestOp, TxnRequest } from './types.js';
import { MvccError, assertNever } from './errors.js';
import { inSkeyRange, skeyOf, skeyRange, type SkeyRange } from './bytes.js';

export const DEFAULT_MAX_TXN_OPS = 128;
/** etcd's MaxLeaseTTL: 9,000,000,000 seconds. */
export const MAX_LEASE_TTL_SEC = 9_000_000_000;

function checkRange(r: RangeRequest): MvccError | null {
  return r.key.length === 0 ? new MvccError('emptyKey') : null;
}

function checkPut(p: PutRequest): MvccError | null {
  if (p.key.length === 0) return new MvccError('emptyKey');
  if (p.ignoreValue && p.value !== undefined && p.value.length !== 0) return new MvccError('valueProvided');
  if (p.ignoreLease && p.lease !== undefined && p.lease !== 0) return new MvccError('leaseProvided');
  return null;
}

function checkDelete(d: DeleteRangeRequest): MvccError | null {
  return d.key.length === 0 ? new MvccError('emptyKey') : null;
}

function checkTxnShape(t: TxnRequest, maxTxnOps: number): MvccError | null {
  const cmp = t.compare ?? [];
  const succ = t.success ?? [];
  const fail = t.failure ?? [];
  if (cmp.length > maxTxnOps || succ.length > maxTxnOps || fail.length > maxTxnOps) return new MvccError('tooManyOps');
  for (const c of cmp) if (c.key.length === 0) return new MvccError('emptyKey');
  for (const ops of [succ, fail]) {
    for (const op of ops) {
      const e = checkOp(op, maxTxnOps);
      if (e) return e;
    }
  }
  return null;
}

function checkOp(op: RequestOp, maxTxnOps: number): MvccError | null {
  if ('requestRange' in op) return checkRange(op.requestRange);
  if ('requestPut' in op) return checkPut(op.requestPut);
  if ('requestDeleteRange' in op) return checkDelete(op.requestDeleteRange);
  if ('requestTxn' in op) return checkTxnShape(op.requestTxn, maxTxnOps);
  return assertNever(op);
}

function intersectsPoint(dels: SkeyRange[], skey: string): boolean {
  for (const d of dels) if (inSkeyRange(d, skey)) return true;
  return false;
}

interface Intervals {
  puts: Set<string>;
  dels: SkeyRange[];
}

/**
 * etcd's checkIntervals: a txn may not put one key twice, nor put a key that a delete in
 * the same txn covers (at the same level or in nested txns). Puts in the success and the
 * failure branch of one nested txn may overlap (only one branch runs).
 */
function checkIntervals(ops: RequestOp[]): Intervals | MvccError {
  const dels: SkeyRange[] = [];
  for (const op of ops) {
    if ('requestDeleteRange' in op) dels.push(skeyRange(op.requestDeleteRange.key, op.requestDeleteRange.rangeEnd));
  }
  const puts = new Set<string>();
  for (const op of ops) {
    if (!('requestTxn' in op)) continue;
    const then = checkIntervals(op.requestTxn.success ?? []);
    if (then instanceof MvccError) return then;
    const els = checkIntervals(op.requestTxn.failure ?? []);
    if (els instanceof MvccError) return els;
    for (const k of then.puts) {
      if (puts.has(k) || intersectsPoint(dels, k)) return new MvccError('duplicateKey');
      puts.add(k);
    }
    for (const k of els.puts) {
      if (puts.has(k) && !then.puts.has(k)) return new MvccError('duplicateKey');
      if (intersectsPoint(dels, k)) return new MvccError('duplicateKey');
      puts.add(k);
    }
    dels.push(...then.dels, ...els.dels);
  }
  for (const op of ops) {
    if (!('requestPut' in op)) continue;
    const k = skeyOf(op.requestPut.key);
    if (puts.has(k) || intersectsPoint(dels, k)) return new MvccError('duplicateKey');
    puts.add(k);
  }
  return { puts, dels };
}

export function validateTxn(t: TxnRequest, maxTxnOps = DEFAULT_MAX_TXN_OPS): MvccError | null {
  const shape = checkTxnShape(t, maxTxnOps);
  if (shape) return shape;
  const a = checkIntervals(t.success ?? []);
  if (a instanceof MvccError) return a;
  const b = checkIntervals(t.failure ?? []);
  if (b instanceof MvccError) return b;
  return null;
}

/** The checks etcd makes before proposing. Returns the error to answer with, or null. */
export function validateCommand(cmd: Command, maxTxnOps = DEFAULT_MAX_TXN_OPS): MvccError | null {
  switch (cmd.type) {
    case 'put':
      return checkPut(cmd.req);
    case 'deleteRange':
      return checkDelete(cmd.req);
    case 'txn':
      return validateTxn(cmd.req, maxTxnOps);
    case 'leaseGrant':
      return cmd.req.TTL > MAX_LEASE_TTL_SEC ? new MvccError('leaseTtlTooLarge') : null;
    case 'compaction':
    case 'leaseRevoke':
    case 'leaseCheckpoint':
    case 'alarm':
      return null;
    default:
      return assertNever(cmd);
  }
}

/** Validation of a read (the server calls it before ReadIndex). */
export function validateRange(r: RangeRequest): MvccError | null {
  return checkRange(r);
}
