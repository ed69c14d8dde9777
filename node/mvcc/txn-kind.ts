// What a txn does, decided from the request alone: whether it only reads (a member may then
// serve it without the log, as etcd's Txn does for IsTxnReadonly) and whether every read in it is
// serializable (then not even a ReadIndex round: etcd's IsTxnSerializable). Ops are told apart by
// which field holds a value, as validate.ts does: a decoded op may carry the others as undefined.

import type { DeleteRangeRequest, PutRequest, RangeRequest, TxnRequest } from './types.js';

type AnyOp = { requestRange?: RangeRequest; requestPut?: PutRequest; requestDeleteRange?: DeleteRangeRequest; requestTxn?: TxnRequest };

/** True if no branch at any depth puts or deletes. */
export function isReadOnlyTxn(t: TxnRequest): boolean {
  return everyOp(t, (op) => op.requestPut == null && op.requestDeleteRange == null);
}

/**
 * True if every op of every branch, at any depth, is a serializable range. The compares do not
 * count, so a txn of compares alone is served from the local state too, as etcd serves it.
 */
export function isSerializableTxn(t: TxnRequest): boolean {
  return everyOp(t, (op) => op.requestRange?.serializable === true);
}

/** `ok` holds for every op of both branches and of the txns nested in them (not asked of a nested txn's op itself). */
function everyOp(t: TxnRequest, ok: (op: AnyOp) => boolean): boolean {
  return branchOk(t.success, ok) && branchOk(t.failure, ok);
}

function branchOk(ops: readonly AnyOp[] | undefined, ok: (op: AnyOp) => boolean): boolean {
  for (const op of ops ?? []) {
    const nested = op.requestTxn;
    if (nested != null ? !everyOp(nested, ok) : !ok(op)) return false;
  }
  return true;
}
