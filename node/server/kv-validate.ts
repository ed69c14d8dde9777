// etcd's request checks for the KV service (v3rpc/key.go), done before the backend is asked:
// empty keys, ignore_value/ignore_lease misuse, txn size and duplicate writes, request size.

import type { DeleteRangeRequest, PutRequest, RangeRequest, RequestOp, TxnRequest } from '../mvcc/types.js';
import { EtcdError } from './errors.js';
import type { ServerLimits } from './rpc-context.js';

const EMPTY = new Uint8Array(0);

export function checkRange(r: RangeRequest): void {
  if (r.key.length === 0) throw new EtcdError('emptyKey');
  const order = r.sortOrder ?? 0;
  const target = r.sortTarget ?? 0;
  if (order < 0 || order > 2 || target < 0 || target > 4) throw new EtcdError('invalidSortOption');
}

export function checkPut(r: PutRequest): void {
  if (r.key.length === 0) throw new EtcdError('emptyKey');
  if (r.ignoreValue && (r.value?.length ?? 0) !== 0) throw new EtcdError('valueProvided');
  if (r.ignoreLease && (r.lease ?? 0) !== 0) throw new EtcdError('leaseProvided');
}

export function checkDelete(r: DeleteRangeRequest): void {
  if (r.key.length === 0) throw new EtcdError('emptyKey');
}

/** Validates a txn (recursively) as etcd does; returns true if no branch writes. */
export function checkTxn(t: TxnRequest, limits: ServerLimits): boolean {
  const compare = t.compare ?? [];
  const success = t.success ?? [];
  const failure = t.failure ?? [];
  if (compare.length > limits.maxTxnOps || success.length > limits.maxTxnOps || failure.length > limits.maxTxnOps) {
    throw new EtcdError('tooManyOps');
  }
  for (const c of compare) if (c.key.length === 0) throw new EtcdError('emptyKey');
  let readOnly = true;
  for (const branch of [success, failure]) {
    for (const op of branch) if (!checkOp(op, limits)) readOnly = false;
    checkDuplicateWrites(branch);
  }
  return readOnly;
}

/** Returns true if the op is read-only. */
function checkOp(op: RequestOp, limits: ServerLimits): boolean {
  if ('requestRange' in op && op.requestRange) {
    checkRange(op.requestRange);
    return true;
  }
  if ('requestPut' in op && op.requestPut) {
    checkPut(op.requestPut);
    return false;
  }
  if ('requestDeleteRange' in op && op.requestDeleteRange) {
    checkDelete(op.requestDeleteRange);
    return false;
  }
  if ('requestTxn' in op && op.requestTxn) return checkTxn(op.requestTxn, limits);
  // An empty RequestOp: etcd treats it as a no-op read.
  return true;
}

function keyHex(k: Uint8Array): string {
  return Buffer.from(k.buffer, k.byteOffset, k.byteLength).toString('hex');
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** In [key, end)? end empty: key only; end [0]: everything from key. */
function inRange(k: Uint8Array, key: Uint8Array, end: Uint8Array): boolean {
  if (end.length === 0) return compareBytes(k, key) === 0;
  if (end.length === 1 && end[0] === 0) return compareBytes(k, key) >= 0;
  return compareBytes(k, key) >= 0 && compareBytes(k, end) < 0;
}

interface Writes {
  puts: Uint8Array[];
  dels: Array<[Uint8Array, Uint8Array]>;
}

/** etcd: the same key may not be put twice, nor put and deleted, in one branch. */
function checkDuplicateWrites(ops: readonly RequestOp[]): void {
  const w: Writes = { puts: [], dels: [] };
  // Nested txns' branches are checked on their own (checkTxn recurses).
  for (const op of ops) {
    if ('requestPut' in op && op.requestPut) w.puts.push(op.requestPut.key);
    else if ('requestDeleteRange' in op && op.requestDeleteRange) {
      w.dels.push([op.requestDeleteRange.key, op.requestDeleteRange.rangeEnd ?? EMPTY]);
    }
  }
  if (w.puts.length + w.dels.length < 2) return;
  const seen = new Set<string>();
  for (const k of w.puts) {
    const h = keyHex(k);
    if (seen.has(h)) throw new EtcdError('duplicateKey');
    seen.add(h);
  }
  for (const [key, end] of w.dels) for (const k of w.puts) if (inRange(k, key, end)) throw new EtcdError('duplicateKey');
}

/** Approximate encoded size of a write, to apply --max-request-bytes as etcd does. */
export function putSize(r: PutRequest): number {
  return r.key.length + (r.value?.length ?? 0) + 32;
}

export function txnSize(t: TxnRequest): number {
  let n = 16;
  for (const c of t.compare ?? []) n += c.key.length + (c.rangeEnd?.length ?? 0) + (c.value?.length ?? 0) + 24;
  for (const branch of [t.success ?? [], t.failure ?? []]) {
    for (const op of branch) {
      if ('requestPut' in op && op.requestPut) n += putSize(op.requestPut);
      else if ('requestRange' in op && op.requestRange) n += op.requestRange.key.length + (op.requestRange.rangeEnd?.length ?? 0) + 24;
      else if ('requestDeleteRange' in op && op.requestDeleteRange) {
        n += op.requestDeleteRange.key.length + (op.requestDeleteRange.rangeEnd?.length ?? 0) + 8;
      } else if ('requestTxn' in op && op.requestTxn) n += txnSize(op.requestTxn);
    }
  }
  return n;
}

export function checkSize(bytes: number, limits: ServerLimits): void {
  if (bytes > limits.maxRequestBytes) throw new EtcdError('requestTooLarge');
}
