// --max-request-bytes for writes, as etcd applies it before proposing ("etcdserver: request is
// too large"). Every other request check is node/mvcc/validate.ts, called through checkCommand.

import type { PutRequest, TxnRequest } from '../mvcc/types.js';
import { EtcdError } from './errors.js';
import type { ServerLimits } from './rpc-context.js';

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
