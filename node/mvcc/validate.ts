// The one request validator: every field of every command (and of a read) that a client can
// get wrong, checked in one place. The server calls it before proposing, so a bad request is
// answered without a Raft round (etcd's api/v3rpc/key.go checks, with etcd's texts; where etcd
// has no check, InvalidArgument with a clear text). The store calls the same function when it
// applies a command, so an entry that reached the log anyway (written by an older member, say)
// gets the same error answer on every member instead of reaching a switch with no case for it.
// Apply must decide alike on every member, so it passes APPLY_MAX_TXN_OPS: --max-txn-ops is a
// per-member flag, checked only at the server.
import type { AlarmRequest, Command, Compare, DeleteRangeRequest, PutRequest, RangeRequest, RequestOp, TxnRequest } from './types.js';
import { AlarmAction, AlarmType, CompareResult, CompareTarget, SortOrder, SortTarget } from './types.js';
import { MvccError, assertNever } from './errors.js';
import { inSkeyRange, skeyOf, skeyRange, type SkeyRange } from './bytes.js';

export const DEFAULT_MAX_TXN_OPS = 128;
/** The op limit apply uses: none (see the file comment). */
export const APPLY_MAX_TXN_OPS = Number.POSITIVE_INFINITY;
/** etcd's MaxLeaseTTL: 9,000,000,000 seconds. */
export const MAX_LEASE_TTL_SEC = 9_000_000_000;

type Problem = MvccError | null;

/** Each enum's values as a set, made once: checked on every request. */
const enumValues = new WeakMap<Record<string, number>, ReadonlySet<unknown>>();

function isEnum(values: Record<string, number>, v: unknown): boolean {
  let set = enumValues.get(values);
  if (!set) enumValues.set(values, (set = new Set(Object.values(values))));
  return set.has(v);
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

/** A lease id is etcd's int64 (the wire decoders give a bigint in range; anything else is a bug upstream). */
function isInt64(n: bigint | undefined): boolean {
  return n === undefined || (typeof n === 'bigint' && n >= INT64_MIN && n <= INT64_MAX);
}

/** A member id is etcd's uint64. */
function isUint64(n: bigint): boolean {
  return typeof n === 'bigint' && n >= 0n && n <= UINT64_MAX;
}

function checkRange(r: RangeRequest): Problem {
  if (r.key.length === 0) return new MvccError('emptyKey');
  if (!isEnum(SortOrder, r.sortOrder ?? 0) || !isEnum(SortTarget, r.sortTarget ?? 0)) return new MvccError('invalidSortOption');
  return null;
}

function checkPut(p: PutRequest): Problem {
  if (p.key.length === 0) return new MvccError('emptyKey');
  if (p.ignoreValue && p.value !== undefined && p.value.length !== 0) return new MvccError('valueProvided');
  if (p.ignoreLease && p.lease !== undefined && p.lease !== 0n) return new MvccError('leaseProvided');
  if (!isInt64(p.lease)) return new MvccError('leaseNotFound');
  return null;
}

function checkDelete(d: DeleteRangeRequest): Problem {
  return d.key.length === 0 ? new MvccError('emptyKey') : null;
}

function checkCompare(c: Compare): Problem {
  if (c.key.length === 0) return new MvccError('emptyKey');
  if (!isEnum(CompareResult, c.result)) return new MvccError('invalidRequest', `compare result ${String(c.result)} is not one of ${Object.keys(CompareResult).join(', ')}`);
  if (!isEnum(CompareTarget, c.target)) return new MvccError('invalidRequest', `compare target ${String(c.target)} is not one of ${Object.keys(CompareTarget).join(', ')}`);
  return null;
}

/** Which member of the RequestOp oneof is set, if exactly one is. */
export type OpKind = 'requestRange' | 'requestPut' | 'requestDeleteRange' | 'requestTxn';
const OP_KINDS: readonly OpKind[] = ['requestRange', 'requestPut', 'requestDeleteRange', 'requestTxn'];

function opKinds(op: RequestOp): OpKind[] {
  const o = op as Partial<Record<OpKind, unknown>>;
  return OP_KINDS.filter((k) => o[k] !== undefined && o[k] !== null);
}

/**
 * etcd's checkTxnRequest: the longest of compare/success/failure counts against the limit, and
 * a nested txn gets what its parent left (limit minus the parent's count), so nesting cannot
 * multiply the work one request does.
 */
function checkTxnShape(t: TxnRequest, maxTxnOps: number): Problem {
  const cmp = t.compare ?? [];
  const used = Math.max(cmp.length, t.success?.length ?? 0, t.failure?.length ?? 0);
  if (used > maxTxnOps) return new MvccError('tooManyOps');
  for (const c of cmp) {
    const bad = checkCompare(c);
    if (bad) return bad;
  }
  for (const ops of [t.success ?? [], t.failure ?? []]) {
    for (const op of ops) {
      const bad = checkOp(op, maxTxnOps - used);
      if (bad) return bad;
    }
  }
  return null;
}

function checkOp(op: RequestOp, maxTxnOps: number): Problem {
  const kinds = opKinds(op);
  // etcd: an empty op (or a nil entry) is "key not found".
  if (kinds.length === 0) return new MvccError('keyNotFound');
  if (kinds.length > 1) return new MvccError('invalidRequest', `a request op sets ${kinds.join(' and ')}; exactly one is allowed`);
  const o = op as { requestRange: RangeRequest; requestPut: PutRequest; requestDeleteRange: DeleteRangeRequest; requestTxn: TxnRequest };
  const kind = kinds[0]!;
  switch (kind) {
    case 'requestRange':
      return checkRange(o.requestRange);
    case 'requestPut':
      return checkPut(o.requestPut);
    case 'requestDeleteRange':
      return checkDelete(o.requestDeleteRange);
    case 'requestTxn':
      return checkTxnShape(o.requestTxn, maxTxnOps);
    default:
      return assertNever(kind);
  }
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

export function validateTxn(t: TxnRequest, maxTxnOps: number): Problem {
  // Shape first: the interval check assumes every op is well formed (etcd's order too).
  const shape = checkTxnShape(t, maxTxnOps);
  if (shape) return shape;
  const a = checkIntervals(t.success ?? []);
  if (a instanceof MvccError) return a;
  const b = checkIntervals(t.failure ?? []);
  return b instanceof MvccError ? b : null;
}

function checkAlarm(a: AlarmRequest): Problem {
  if (!isEnum(AlarmAction, a.action)) return new MvccError('invalidRequest', `alarm action ${String(a.action)} is not one of ${Object.keys(AlarmAction).join(', ')}`);
  if (!isEnum(AlarmType, a.alarm)) return new MvccError('invalidRequest', `alarm type ${String(a.alarm)} is not one of ${Object.keys(AlarmType).join(', ')}`);
  if (!isUint64(a.memberID)) return new MvccError('invalidRequest', 'alarm member ID must be a uint64');
  return null;
}

/** The error to answer a write with, or null. maxTxnOps: the server's --max-txn-ops. */
export function validateCommand(cmd: Command, maxTxnOps: number): Problem {
  switch (cmd.type) {
    case 'put':
      return checkPut(cmd.req);
    case 'deleteRange':
      return checkDelete(cmd.req);
    case 'txn':
      return validateTxn(cmd.req, maxTxnOps);
    case 'leaseGrant':
      if (!isInt64(cmd.req.ID)) return new MvccError('invalidRequest', 'lease ID must be an int64');
      return cmd.req.TTL > MAX_LEASE_TTL_SEC ? new MvccError('leaseTtlTooLarge') : null;
    case 'leaseRevoke':
      return isInt64(cmd.req.ID) ? null : new MvccError('leaseNotFound');
    case 'alarm':
      return checkAlarm(cmd.req);
    case 'compaction':
    case 'leaseCheckpoint':
      return null;
    default:
      return assertNever(cmd);
  }
}

/** The error to answer a read with, or null (the server calls it before ReadIndex). */
export function validateRange(r: RangeRequest): Problem {
  return checkRange(r);
}
